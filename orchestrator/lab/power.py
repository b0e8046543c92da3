"""Reboot and power-off for lab hosts, which have no init system.

A lab host is a PID namespace whose init is sshd. `reboot`, `shutdown`, `poweroff` and `halt`
in a host are small scripts (bind-mounted read-only over /usr/local/sbin, first on root's PATH)
that call reboot(2), as a real init would at the end of a shutdown. In a PID namespace the kernel
answers reboot(2) by killing every process of the namespace and reporting the init as killed by
SIGHUP (restart) or SIGINT (power off / halt). The lab's supervisor loop (SUPERVISE) starts the
host again after SIGHUP, with the same disk (overlay upper dir), fresh /run and new processes:
what a reboot is. perl-base (Essential in Debian) makes the system call; no compiler needed.
"""

from __future__ import annotations

import platform
from pathlib import Path

from orchestrator.lab.system import write_atomic

# reboot(2) numbers per machine architecture (asm-generic: 142; x86_64: 169; older ABIs: 88).
_SYSCALL = {"x86_64": 169, "amd64": 169, "aarch64": 142, "arm64": 142, "riscv64": 142, "loongarch64": 142}
SIGHUP_EXIT = 129  # how sh reports a child killed by SIGHUP

# Runs unshare (and so the host) again whenever it ends by SIGHUP, i.e. the host rebooted.
SUPERVISE = r"""
while :; do
  "$@"; rc=$?
  [ "$rc" -eq 129 ] || exit "$rc"
  echo "--- orch lab: $0 rebooted at $(date)"
done
"""

_SHIM = r"""#!/bin/sh
# orch lab host: no init system here. This ends every process of the host through reboot(2),
# as an init does at the end of a shutdown; the lab then starts the host again (reboot) or
# leaves it off (poweroff/halt). See orchestrator/lab/power.py.
me=${0##*/} action=off delay=0 force=
case "$me" in reboot) action=restart ;; esac
for arg in "$@"; do
  case "$arg" in
    -r|--reboot) action=restart ;;
    -h|-P|-H|--halt|--poweroff) action=off ;;
    -f|--force|-ff) force=1 ;;
    -c) echo "$me: no shutdown is scheduled" >&2; exit 0 ;;
    now|0|+0) delay=0 ;;
    +[0-9]*) delay=$(( ${arg#+} * 60 )) ;;
    [0-9]*) case "$arg" in *:*) delay=0 ;; *) delay=$(( arg * 60 )) ;; esac ;;
  esac
done
cmd=0x4321fedc; [ "$action" = restart ] && cmd=0x01234567
go() { sync; exec perl -e "syscall(@SYSCALL@, 0xfee1dead, 672274793, $cmd) == 0 or die \"$me: \$!\\n\""; }
if [ -n "$force" ] && [ "$delay" = 0 ]; then go; fi
# Like systemd's shutdown: return at once, the host goes down a moment later.
[ "$delay" -gt 0 ] && echo "Shutdown scheduled in $((delay / 60)) minute(s), use '$me -c' to cancel." >&2
( trap '' HUP; sleep $((delay > 0 ? delay : 1)); go ) </dev/null >/dev/null 2>&1 &
exit 0
"""


def reboot_syscall() -> int:
    machine = platform.machine().lower()
    return _SYSCALL.get(machine, 88)


def ensure_power_commands(directory: Path) -> Path:
    """Write reboot/shutdown/poweroff/halt into `directory` (idempotent); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    text = _SHIM.replace("@SYSCALL@", str(reboot_syscall())).encode()
    for name in ("reboot", "shutdown", "poweroff", "halt"):
        path = directory / name
        if not path.is_file() or path.read_bytes() != text:
            write_atomic(path, text, 0o755)
    return directory
