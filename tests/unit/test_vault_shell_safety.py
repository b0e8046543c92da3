"""Shell-safety regressions found while reviewing modules for issue 6 (secrets and safety).

Pure script-generation checks run against the local /bin/sh; the lab-host properties live in
tests/integration/test_security_shell.py.
"""

from __future__ import annotations


def test_reboot_search_paths_are_data(tmp_path) -> None:
    """A search path that names a command substitution must not run it (local /bin/sh)."""
    import subprocess

    from orchestrator.modules.library.reboot import Reboot

    canary = tmp_path / "pwned"
    script = Reboot._command(
        {
            "reboot_command": None,
            "pre_reboot_delay": 0,
            "msg": "m",
            "search_paths": [f'/nope"$(touch {canary})"'],
        }
    )
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True)
    assert done.returncode == 1 and "Unable to find command" in done.stderr
    assert not canary.exists()
