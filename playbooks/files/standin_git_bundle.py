#!/usr/bin/env python3
"""A git bundle of a stand-in app's source, for deploying a Python app from a git ref offline.

    python3 standin_git_bundle.py NAME [--out DIR] [--entry PATH] [--server FILE]

Writes DIR/<NAME>.bundle (default DIR: ~/.cache/orch/git) holding one commit per version,
tagged 1.0.0, 2.0.0 and broken, each with the stand-in server (orchestrator/lab/images/standin.py,
the same one the lab's stand-in images run) at --entry, a VERSION file and a config check
(development/validate_config.py, as the AI-DIY runbook runs before starting). Dates and authors
are fixed, so the same input always gives the same commits. Prints the bundle's path. Needs git.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ("1.0.0", "2.0.0", "broken")
VALIDATE = '''"""Configuration check (the runbook: python development/validate_config.py before starting)."""
import os
import sys

missing = [k for k in ("APP_NAME", "APP_ENV") if not os.environ.get(k)]
if missing:
    sys.exit(f"configuration invalid: {', '.join(missing)} not set")
print("configuration OK")
'''


def build(name: str, out: Path, entry: str, server: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"{name}.bundle"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "orch",
        "GIT_AUTHOR_EMAIL": "orch@localhost",
        "GIT_COMMITTER_NAME": "orch",
        "GIT_COMMITTER_EMAIL": "orch@localhost",
        "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)

        git("init", "--quiet", "--initial-branch=main")
        (work / entry).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server, work / entry)
        (work / "development").mkdir(exist_ok=True)
        (work / "development" / "validate_config.py").write_text(VALIDATE)
        for version in VERSIONS:
            (work / "VERSION").write_text(version + "\n")
            git("add", "--all")
            git("commit", "--quiet", "--message", f"{name} {version}")
            git("tag", version)
        tmp_bundle = bundle.with_suffix(".bundle.tmp")
        git("bundle", "create", "--quiet", str(tmp_bundle), "--all")
        tmp_bundle.replace(bundle)
    return bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--out", default=os.path.expanduser("~/.cache/orch/git"))
    parser.add_argument("--entry", default="development/src/main_secure.py")
    parser.add_argument("--server", default=str(REPO_ROOT / "orchestrator" / "lab" / "images" / "standin.py"))
    args = parser.parse_args()
    print(build(args.name, Path(args.out), args.entry, Path(args.server)))


if __name__ == "__main__":
    main()
