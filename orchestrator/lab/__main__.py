"""`python -m orchestrator.lab up 3`: the lab commands without the rest of the CLI."""

import sys

from orchestrator.lab.cli import main

sys.exit(main())
