"""Differential testing: the same playbook under ansible-playbook and under orch, on two fresh fleets.

A case is `cases/<name>.yml`, a playbook for `hosts: all` (the fleets have h1 and h2 in group
`lab`). Optional sidecar `cases/<name>.meta.yml`:

    extra_vars: {k: v}        passed to both tools with -e (as JSON)
    args: [--tags, x]         more command-line options for both tools (the same words)
    expect_rc: 2              exit code both tools must return (int, or [converge, no-op]);
                              default: both runs must return 0
    ignore_paths: [etc/foo*]  more paths (fnmatch globs, relative to /) left out of the comparison
    check: true               also run both in check mode first, on the fresh fleet
    runs: 1                   only converge (no second no-op run), e.g. for cases that fail on purpose
                              with output that differs by nature the second time (default 2)

Each tool runs twice (converge, then no-op) on its own fleet; the two tools run in parallel
threads. Compared, for every run: the exit code and the PLAY RECAP counters per host; at the end:
the state of every host, i.e. every entry of its overlay upper directory that really differs from
the image (path, type, mode, uid, gid, content sha256, link target), minus DEFAULT_IGNORE.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.lab.testing import LabSession, run_orch

CASES_DIR = Path(__file__).resolve().parent / "cases"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

# Paths that differ between two runs by nature (caches, logs, temp files, host identity, tool
# scratch space), relative to the host's /. Keep this list short and explained.
DEFAULT_IGNORE: tuple[str, ...] = (
    "tmp", "tmp/*", "var/tmp", "var/tmp/*",  # scratch space of both tools
    "root/.ansible", "root/.ansible/*", "home/*/.ansible", "home/*/.ansible/*",  # Ansible's remote tmp
    "root/.cache", "root/.cache/*", "home/*/.cache", "home/*/.cache/*",
    "var/log/*",  # logs carry timestamps
    "var/cache/*", "var/lib/apt/*", "var/lib/dpkg/lock*", "var/lib/dpkg/*-old",
    "var/lib/dpkg/triggers/Lock", "var/lib/dpkg/updates/*", "etc/ld.so.cache",  # apt/dpkg caches
    "etc/ssh/ssh_host_*",  # host keys: the lab writes them per fleet
    "etc/hosts", "etc/hostname", "etc/resolv.conf",  # written by the lab for each fleet
    "var/lib/sudo/*", "run/*",  # sudo timestamps, runtime state
    "*.pyc", "*/__pycache__", "*/__pycache__/*",  # bytecode Ansible's python leaves behind
)

# One run of one tool: os_hardening's ~150 tasks took over 10 minutes under ansible-playbook on a
# shared 2-core machine under load (80 s when idle).
RUN_TIMEOUT = 1800

RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counters>(?:\w+=\d+\s*)+)$")


@dataclass(frozen=True)
class Meta:
    extra_vars: dict[str, Any] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    expect_rc: tuple[int, int] = (0, 0)
    ignore_paths: tuple[str, ...] = ()
    check: bool = False
    runs: int = 2

    @classmethod
    def load(cls, playbook: Path) -> Meta:
        path = playbook.with_name(playbook.name[: -len(".yml")] + ".meta.yml")
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text()) or {}
        unknown = set(data) - {"extra_vars", "args", "expect_rc", "ignore_paths", "check", "runs"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        rc = data.get("expect_rc", 0)
        rcs = (int(rc), int(rc)) if isinstance(rc, int) else (int(rc[0]), int(rc[-1]))
        return cls(
            extra_vars=dict(data.get("extra_vars") or {}),
            args=tuple(str(a) for a in data.get("args") or ()),
            expect_rc=rcs,
            ignore_paths=tuple(data.get("ignore_paths") or ()),
            check=bool(data.get("check", False)),
            runs=int(data.get("runs", 2)),
        )


@dataclass
class RunResult:
    label: str  # "converge", "no-op", "check"
    rc: int
    recap: dict[str, dict[str, int]]
    output: str


@dataclass(frozen=True)
class Entry:
    kind: str  # file, dir, link, deleted, other
    mode: str
    uid: int
    gid: int
    sha256: str = ""
    target: str = ""

    def describe(self) -> str:
        extra = f" sha256={self.sha256[:12]}" if self.sha256 else ""
        extra += f" -> {self.target}" if self.target else ""
        return f"{self.kind} {self.mode} {self.uid}:{self.gid}{extra}"


def list_cases() -> list[Path]:
    return sorted(p for p in CASES_DIR.glob("*.yml") if not p.name.endswith(".meta.yml"))


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host (the last recap in the output)."""
    recap: dict[str, dict[str, int]] = {}
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("PLAY RECAP")]
    if not starts:
        return recap
    for line in lines[starts[-1] + 1 :]:
        match = RECAP_LINE.match(line.strip())
        if not match:
            if recap and line.strip():
                break
            continue
        counters = dict(pair.split("=") for pair in match["counters"].split())
        recap[match["host"]] = {k: int(v) for k, v in counters.items()}
    return recap


# ---- running the tools ---------------------------------------------------------------------------


def ansible_env(scratch: Path) -> dict[str, str]:
    """Ansible as a user would run it, minus what makes it slow or noisy in a test."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(scratch / "ansible.cfg"),  # never pick up a stray ansible.cfg
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_HOST_KEY_CHECKING="True",  # the inventory points at the fleet's known_hosts
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(scratch / "cp"),
        ANSIBLE_LOCAL_TEMP=str(scratch / "tmp"),
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_FORKS="10",
    )
    (scratch / "ansible.cfg").write_text("[defaults]\n")
    (scratch / "cp").mkdir(exist_ok=True)
    (scratch / "tmp").mkdir(exist_ok=True)
    return env


def _tool_args(meta: Meta, check: bool) -> list[str]:
    args = list(meta.args)
    if meta.extra_vars:
        args += ["-e", json.dumps(meta.extra_vars)]
    if check:
        args.append("--check")
    return args


def run_ansible(playbook: Path, inventory: Path, meta: Meta, scratch: Path, *, check: bool = False) -> tuple[int, str]:
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook), *_tool_args(meta, check)],
        cwd=playbook.parent,
        env=ansible_env(scratch),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=RUN_TIMEOUT,
    )
    return proc.returncode, proc.stdout + proc.stderr


def run_orch_play(playbook: Path, inventory: Path, meta: Meta, *, check: bool = False) -> tuple[int, str]:
    proc = run_orch(
        "play", str(playbook), "-i", str(inventory), *_tool_args(meta, check), cwd=playbook.parent,
        env={"NO_COLOR": "1", "COLUMNS": "160"},
        timeout=RUN_TIMEOUT,
    )
    return proc.returncode, proc.stdout + proc.stderr


# ---- end state -----------------------------------------------------------------------------------


def _entry(path: Path, replace: Iterable[tuple[bytes, bytes]]) -> Entry:
    st = path.lstat()
    mode = f"{stat.S_IMODE(st.st_mode):04o}"
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return Entry("deleted", "-", 0, 0)  # an overlayfs whiteout
    if stat.S_ISLNK(st.st_mode):
        return Entry("link", mode, st.st_uid, st.st_gid, target=os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return Entry("dir", mode, st.st_uid, st.st_gid)
    if stat.S_ISREG(st.st_mode):
        data = path.read_bytes()
        for old, new in replace:
            data = data.replace(old, new)
        return Entry("file", mode, st.st_uid, st.st_gid, sha256=hashlib.sha256(data).hexdigest())
    return Entry("other", mode, st.st_uid, st.st_gid)


def _ignored(rel: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns)


def snapshot(session: LabSession, host: str, ignore: Iterable[str]) -> dict[str, Entry]:
    """What really changed on a host: upper dir entries that differ from the image.

    Directories only copied up because something below them changed are left out (they equal the
    image), as are files rewritten with the same content and attributes. The fleet's address
    (127.0.x.) is replaced in file contents, so a file naming the host compares equal across fleets.
    """
    patterns = tuple(ignore)
    upper = session.upper_dir(host)
    lower = session.fleet.rootfs_dir
    replace = [(f"{session.net}.".encode(), b"<net>.")]
    state: dict[str, Entry] = {}
    for root, dirs, files in os.walk(upper):
        for name in sorted(dirs + files):
            path = Path(root) / name
            rel = str(path.relative_to(upper))
            if _ignored(rel, patterns):
                continue
            entry = _entry(path, replace)
            below = lower / rel
            exists_below = below.exists() or below.is_symlink()
            if entry.kind != "deleted" and exists_below and _entry(below, ()) == entry and not _opaque(path):
                continue  # copied up, but equal to the image
            state["/" + rel] = entry
        dirs[:] = [d for d in dirs if not _ignored(str((Path(root) / d).relative_to(upper)), patterns)]
    return state


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


# ---- one case ------------------------------------------------------------------------------------


@dataclass
class CaseOutcome:
    name: str
    ansible: list[RunResult]
    orch: list[RunResult]
    ansible_state: dict[str, dict[str, Entry]]
    orch_state: dict[str, dict[str, Entry]]
    meta: Meta
    ansible_check_state: dict[str, dict[str, Entry]] = field(default_factory=dict)
    orch_check_state: dict[str, dict[str, Entry]] = field(default_factory=dict)

    def differences(self) -> list[str]:
        problems: list[str] = []
        for a, o in zip(self.ansible, self.orch, strict=True):
            if a.rc != o.rc:
                problems.append(f"{a.label}: exit code ansible={a.rc} orch={o.rc}")
            for host in sorted(set(a.recap) | set(o.recap)):
                ra, ro = a.recap.get(host), o.recap.get(host)
                if ra != ro:
                    problems.append(f"{a.label}: recap {host}: ansible={_counters(ra)} orch={_counters(ro)}")
        expected = {"converge": self.meta.expect_rc[0], "no-op": self.meta.expect_rc[1]}
        for a in self.ansible:
            if a.label in expected and a.rc != expected[a.label]:
                problems.append(f"{a.label}: ansible exit code {a.rc}, the case expects {expected[a.label]}")
        problems += _state_differences("after check", self.ansible_check_state, self.orch_check_state)
        problems += _state_differences("end", self.ansible_state, self.orch_state)
        return problems

    def report(self) -> str:
        problems = self.differences()
        parts = [f"case {self.name}: {len(problems)} difference(s)", *("  " + p for p in problems)]
        for a, o in zip(self.ansible, self.orch, strict=True):
            parts.append(f"\n===== ansible {a.label} (rc={a.rc}) =====\n{_tail(a.output)}")
            parts.append(f"\n===== orch {o.label} (rc={o.rc}) =====\n{_tail(o.output)}")
        return "\n".join(parts)


def _state_differences(
    label: str, ansible: dict[str, dict[str, Entry]], orch: dict[str, dict[str, Entry]]
) -> list[str]:
    problems = []
    for host in sorted(set(ansible) | set(orch)):
        sa, so = ansible.get(host, {}), orch.get(host, {})
        for path in sorted(set(sa) | set(so)):
            ea, eo = sa.get(path), so.get(path)
            if ea != eo:
                problems.append(
                    f"{label} state {host}:{path}: ansible={ea.describe() if ea else 'unchanged'}"
                    f" orch={eo.describe() if eo else 'unchanged'}"
                )
    return problems


def _counters(counters: dict[str, int] | None) -> str:
    if counters is None:
        return "(no recap line)"
    return " ".join(f"{k}={v}" for k, v in counters.items())


def _tail(text: str, lines: int = 80) -> str:
    all_lines = text.rstrip().splitlines()
    return "\n".join(all_lines[-lines:])


def _runs(
    run: Callable[[bool], tuple[int, str]], meta: Meta, after_check: Callable[[], Any]
) -> list[RunResult]:
    results = []
    plan = [("check", True)] if meta.check else []
    plan += [("converge", False), ("no-op", False)][: meta.runs]
    for label, check in plan:
        rc, output = run(check)
        results.append(RunResult(label, rc, parse_recap(output), output))
        if check:
            after_check()
    return results


def run_case(
    playbook: Path,
    ansible_lab: LabSession,
    orch_lab: LabSession,
    scratch: Path,
    ignore_paths: tuple[str, ...] = (),
    prepare: Callable[[LabSession], Any] | None = None,
) -> CaseOutcome:
    """Reset both fleets, run both tools (in parallel), snapshot both fleets. `ignore_paths` adds
    to the sidecar's (for cases whose playbook dir cannot hold a sidecar); `prepare` runs on each
    fresh fleet (both alike) before the tools."""
    meta = Meta.load(playbook)
    _parallel(ansible_lab.reset_all, orch_lab.reset_all)
    if prepare is not None:
        _parallel(lambda: prepare(ansible_lab), lambda: prepare(orch_lab))
    ignore = DEFAULT_IGNORE + meta.ignore_paths + ignore_paths
    hosts = [h.name for h in orch_lab.hosts]
    results: dict[str, list[RunResult]] = {}
    checked: dict[str, dict[str, dict[str, Entry]]] = {}

    def state(lab: LabSession) -> dict[str, dict[str, Entry]]:
        return {h: snapshot(lab, h, ignore) for h in hosts}

    def ansible_side() -> None:
        results["ansible"] = _runs(
            lambda check: run_ansible(playbook, ansible_lab.inventory_path, meta, scratch, check=check),
            meta,
            lambda: checked.__setitem__("ansible", state(ansible_lab)),
        )

    def orch_side() -> None:
        results["orch"] = _runs(
            lambda check: run_orch_play(playbook, orch_lab.inventory_path, meta, check=check),
            meta,
            lambda: checked.__setitem__("orch", state(orch_lab)),
        )

    _parallel(ansible_side, orch_side)
    return CaseOutcome(
        name=playbook.stem if playbook.stem != "site" else playbook.parent.name,
        ansible=results["ansible"],
        orch=results["orch"],
        ansible_state=state(ansible_lab),
        orch_state=state(orch_lab),
        meta=meta,
        ansible_check_state=checked.get("ansible", {}),
        orch_check_state=checked.get("orch", {}),
    )


def _parallel(*calls: Callable[[], Any]) -> None:
    errors: list[BaseException] = []

    def wrap(call: Callable[[], Any]) -> None:
        try:
            call()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
