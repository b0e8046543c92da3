"""orch's exit codes, ansible-playbook's where it has one; one table for the code and the help."""

from __future__ import annotations

EXIT_OK = 0
EXIT_NO_HOSTS = 1  # --limit (or an ad-hoc pattern with --limit) leaves no host: ansible-playbook's 1
EXIT_FAILED = 2
EXIT_INVALID = 3  # playbook, inventory, config or vault error found before any host was touched
EXIT_UNREACHABLE = 4
EXIT_BAD_OPTIONS = 5
EXIT_INTERRUPTED = 99
EXIT_INTERNAL = 250  # an orch bug ended the run (Ansible's code for an unexpected error)

# For `--help` epilogs and the README: (code, meaning).
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "every host ok (or changed)"),
    (EXIT_NO_HOSTS, "--limit leaves no host to target (nothing was run)"),
    (EXIT_FAILED, "a task failed on a host"),
    (EXIT_INVALID, "invalid playbook, inventory, ansible.cfg, -e value or vault secret (nothing was run)"),
    (EXIT_UNREACHABLE, "a host was unreachable (wins over 2)"),
    (EXIT_BAD_OPTIONS, "bad command-line options"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C, SIGTERM, SIGHUP): recap, --json and run record written"),
    (EXIT_INTERNAL, "internal error, an orch bug (the traceback is in the run record: orch history show)"),
)
