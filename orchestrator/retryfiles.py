"""Ansible's .retry files (ansible.cfg retry_files_enabled / retry_files_save_path): after a run
with failed or unreachable hosts, PLAYBOOK.retry lists them, one per line, for
`--limit @PLAYBOOK.retry`. Off by default, as in Ansible since 2.8."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

from orchestrator.results import HostStats


def retry_file_path(playbook_path: str, save_path: str | None) -> str:
    basedir = save_path or os.path.dirname(os.path.abspath(playbook_path))
    stem = os.path.splitext(os.path.basename(playbook_path))[0]
    return os.path.join(os.path.expanduser(basedir), f"{stem}.retry")


def write_retry_file(playbook_path: str, stats: Mapping[str, HostStats], save_path: str | None) -> str | None:
    """Write the retry file when some host failed or was unreachable; its path, else None."""
    hosts = sorted(host for host, st in stats.items() if st.failed or st.unreachable)
    if not hosts:
        return None
    path = retry_file_path(playbook_path, save_path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".orch-retry-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(f"{host}\n" for host in hosts))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
