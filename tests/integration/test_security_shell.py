"""Hostile values through the modules, against a real lab host: what lands is exactly what was
asked, and nothing else runs.

Property-based (hypothesis): paths, file contents, lines, command arguments, user names and
template results are built from shell-meaningful fragments (quotes, `$()`, backticks, `;`,
newlines, globs, leading dashes, `%` printf escapes, non-UTF-8 bytes, NUL where a file may hold
it) mixed with random text. Every fragment that would run something touches a canary file; a
successful injection anywhere would create it. One SSH connection serves every example.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.errors import OrchError
from orchestrator.executor.connections import ConnectionDefaults, connection_spec
from orchestrator.inventory import load_inventory
from orchestrator.lab.testing import LabSession
from orchestrator.modules.base import ModuleFailed, get_module
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import validate_args
from orchestrator.templating import Templar
from orchestrator.transport.base import BecomeSpec, Connection
from orchestrator.transport.shell import quote
from orchestrator.transport.ssh import SSHConnection

BASE = "/var/orch-hyp"
CANARY = "/var/orch-pwned"
PAYLOADS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"; touch {CANARY};",
    f"' ; touch {CANARY} ; '",
    f'" ; touch {CANARY} ; "',
    f"\ntouch {CANARY}\n",
    f"| touch {CANARY}",
    f"&& touch {CANARY}",
    f"${{IFS}}touch${{IFS}}{CANARY}",
]
FRAGMENTS = [
    *PAYLOADS,
    "'",
    '"',
    "\\",
    "*",
    "?",
    "[a-z]",
    "-",
    "--",
    "-rf",
    "%s",
    "%n",
    "%%",
    "\t",
    " ",
    "\n",
    "!",
    "#",
    "{a,b}",
    ">x",
    "<x",
    "&",
    "\udcff\udcfe",
    "é",
    "$HOME",
    "$",
    "\\n",
    "\x1b[31m",
]

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: CI failures reproduce
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def hostile_text(alphabet: st.SearchStrategy[str] | None = None, min_size: int = 1) -> st.SearchStrategy[str]:
    other = alphabet if alphabet is not None else st.text(min_size=1, max_size=8)
    pieces = st.one_of(st.sampled_from(FRAGMENTS), other)
    return st.lists(pieces, min_size=min_size, max_size=6).map("".join)


def _valid_name(name: str) -> bool:
    raw = name.encode("utf-8", "surrogateescape") if _encodable(name) else b""
    return (
        bool(raw)
        and b"/" not in raw
        and b"\0" not in raw
        and name not in (".", "..")
        and len(raw) < 200
        and not name.startswith("~")
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


NAMES = hostile_text().filter(_valid_name)
CONTENT = st.one_of(
    hostile_text(min_size=0).filter(_encodable).map(lambda s: s.encode("utf-8", "surrogateescape")),
    st.binary(max_size=300),  # any bytes, NUL and invalid UTF-8 included
)
ARGS = hostile_text().filter(lambda s: _encodable(s) and "\0" not in s)


class Host:
    """One lab host over one SSH connection, and a module runner that works like the executor's."""

    def __init__(self, conn: Connection, name: str) -> None:
        self.conn = conn
        self.name = name

    def sh(self, script: str) -> bytes:
        result = self.conn.run(script)
        assert result.rc == 0, result.err
        return result.stdout

    def module(
        self,
        action: str,
        args: Mapping[str, Any],
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        module = get_module(action)()
        checked, errors = validate_args(module.spec, args)
        assert not errors, errors
        ctx = ModuleContext(
            host=self.name,
            conn=self.conn,
            become=become,
            check_mode=False,
            diff_mode=True,
            variables={},
            templar=Templar(),
            search_dirs=[],
            env=env or {},
        )
        try:
            return module.run(ctx, checked)
        except ModuleFailed as exc:
            return {**exc.result, "failed": True, "msg": exc.msg}
        except OrchError as exc:  # e.g. BecomeError: the executor fails the task the same way
            return {"failed": True, "msg": str(exc)}

    def fresh(self) -> None:
        self.sh(f"rm -rf {BASE} && mkdir -p {BASE} && test ! -e {CANARY}")

    def entries(self) -> list[bytes]:
        listing = self.sh(f"find {BASE} -mindepth 1 -print0")
        return sorted(p for p in listing.split(b"\0") if p)

    def read(self, path: str) -> bytes:
        return self.sh(f"cat -- {quote(path)}")

    def assert_no_injection(self) -> None:
        assert self.conn.run(f"test -e {CANARY}").rc != 0, "a hostile value ran a command on the host"


@pytest.fixture(scope="module")
def host(lab: LabSession) -> Iterator[Host]:
    target = lab.hosts[-1].name
    inventory = load_inventory([str(lab.inventory_path)])
    spec = connection_spec(target, inventory.host_vars(target), ConnectionDefaults())
    conn = SSHConnection(spec)
    try:
        h = Host(conn, target)
        h.sh(f"rm -f {CANARY}")
        yield h
        h.sh(f"rm -rf {BASE}")
    finally:
        conn.close()
    assert not (lab.upper_dir(target) / CANARY.lstrip("/")).exists()


def _path(name: str) -> str:
    return f"{BASE}/{name}"


def _raw(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


@SETTINGS
@given(name=NAMES, content=CONTENT)
@example(name="-rf", content=b"-n -e \\c %s\0\xff")  # printf once took a leading "-" as an option
def test_copy_writes_exactly_the_content_under_exactly_the_name(
    host: Host, name: str, content: bytes
) -> None:
    host.fresh()
    text = content.decode("utf-8", "surrogateescape")
    result = host.module("copy", {"content": text, "dest": _path(name), "mode": "0600"})
    assert not result.get("failed"), result
    assert host.entries() == [_raw(_path(name))]
    assert host.read(_path(name)) == content
    assert host.sh(f"stat -c %a -- {quote(_path(name))}") == b"600\n"
    again = host.module("copy", {"content": text, "dest": _path(name), "mode": "0600"})
    assert again["changed"] is False
    host.assert_no_injection()


@SETTINGS
@given(name=NAMES, state=st.sampled_from(["touch", "directory"]))
def test_file_creates_exactly_the_named_path(host: Host, name: str, state: str) -> None:
    host.fresh()
    result = host.module("file", {"path": _path(name), "state": state, "mode": "0750"})
    assert not result.get("failed"), result
    assert host.entries() == [_raw(_path(name))]
    kind = "directory" if state == "directory" else "regular empty file"
    assert host.sh(f"stat -c '%F %a' -- {quote(_path(name))}").decode() == f"{kind} 750\n"
    host.assert_no_injection()


@SETTINGS
@example(line="-")
@given(line=hostile_text().filter(lambda s: _encodable(s) and not re.search(r"[\n\r\0]", s)))
def test_lineinfile_writes_the_line_verbatim(host: Host, line: str) -> None:
    host.fresh()
    args = {"path": _path("conf"), "line": line, "create": True}
    result = host.module("lineinfile", args)
    assert not result.get("failed"), result
    assert host.read(_path("conf")) == _raw(line) + b"\n"
    assert host.module("lineinfile", args)["changed"] is False
    host.assert_no_injection()


def _hex_of_arg() -> list[str]:
    return ["sh", "-c", 'printf %s "$1" | od -An -tx1 -v', "sh"]


@SETTINGS
@given(arg=ARGS, expand=st.booleans())
def test_command_argv_reaches_the_program_as_one_word(host: Host, arg: str, expand: bool) -> None:
    result = host.module("command", {"argv": [*_hex_of_arg(), arg], "expand_argument_vars": expand})
    assert result["rc"] == 0, result
    received = bytes.fromhex("".join(result["stdout"].split()))
    if not expand or ("$" not in arg and not arg.startswith("~")):
        assert received == _raw(arg)
    host.assert_no_injection()


@SETTINGS
@given(value=ARGS.filter(lambda s: not re.search(r"\{[{%#]", s)))
def test_template_results_are_data_not_code(host: Host, value: str) -> None:
    host.fresh()
    templar = Templar()
    args = templar.render(
        {"content": "A={{ x }}\n", "dest": BASE + "/{{ x | replace('/', '_') }}.env"}, {"x": value}
    )
    name = value.replace("/", "_") + ".env"
    result = host.module("copy", args)
    assert not result.get("failed"), result
    assert host.read(_path(name)) == b"A=" + _raw(value) + b"\n"
    host.assert_no_injection()


@SETTINGS
@given(
    user=hostile_text(st.text(alphabet="abcxyz-_.$", min_size=1, max_size=6)).filter(
        lambda s: _encodable(s) and "\0" not in s and s not in ("root", "-")
    )
)
def test_hostile_user_names_fail_cleanly(host: Host, user: str) -> None:
    host.fresh()
    owned = host.module("file", {"path": _path("owned"), "state": "touch", "owner": user})
    assert owned.get("failed"), owned
    if not re.search("[\udc80-\udcff]", user):  # YAML cannot produce lone surrogates
        became = host.module("command", {"argv": ["id", "-un"]}, become=BecomeSpec(user=user))
        assert became.get("failed") or became.get("rc") != 0, became
    host.assert_no_injection()


SPY = """#!/bin/sh
for target; do :; done
printf '%s|%s\\n' "$*" "$(stat -c '%s' -- "$target" 2>/dev/null)" >> /var/orch-spy/log
exec /bin/chmod "$@"
"""


@pytest.mark.parametrize("existing", [None, "0644"])
def test_secret_file_is_never_readable_by_others(host: Host, existing: str | None) -> None:
    """Every chmod the write makes is logged by a spy `chmod` first in PATH: once the temp file
    holds content, no chmod may give it group/other bits when 0600 was asked."""
    host.fresh()
    host.sh(
        f"rm -rf /var/orch-spy && mkdir /var/orch-spy && printf %s {quote(SPY)} > /var/orch-spy/chmod"
        " && /bin/chmod 755 /var/orch-spy/chmod && : > /var/orch-spy/log"
    )
    dest = _path("app.env")
    if existing:
        host.sh(f"printf old > {dest} && /bin/chmod {existing} {dest}")
    result = host.module(
        "copy",
        {"content": "DB_PASSWORD=s3cr3t\n", "dest": dest, "mode": "0600"},
        env={"PATH": "/var/orch-spy:/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    assert result["changed"], result
    log = host.sh("cat /var/orch-spy/log").decode().splitlines()
    on_tmp = [line for line in log if ".orch-tmp" in line]
    assert on_tmp, log  # the spy saw the write (else this test would prove nothing)
    for line in on_tmp:
        command, size = line.rsplit("|", 1)
        mode = command.split()[-2]
        if int(size or 0) > 0 and re.fullmatch(r"[0-7]{3,4}", mode):
            assert int(mode, 8) & 0o077 == 0, f"content readable by others: chmod {command}"
    assert host.sh(f"stat -c %a {dest}") == b"600\n"
    host.sh("rm -rf /var/orch-spy")


def test_service_arguments_are_words_not_shell(host: Host) -> None:
    init = "#!/bin/sh\nprintf '%s\\n' \"$@\" > /var/orch-svc-args\n"
    host.sh(f"printf %s {quote(init)} > /etc/init.d/orchtest && chmod 755 /etc/init.d/orchtest")
    try:
        hostile = f"--x '$(touch {CANARY})' ; touch {CANARY} `touch {CANARY}`"
        result = host.module("service", {"name": "orchtest", "state": "restarted", "arguments": hostile})
        assert not result.get("failed"), result
        received = host.sh("cat /var/orch-svc-args").decode().splitlines()
        assert received[1:] == ["--x", f"$(touch {CANARY})", ";", "touch", CANARY, "`touch", f"{CANARY}`"]
        host.assert_no_injection()
    finally:
        host.sh("rm -f /etc/init.d/orchtest /var/orch-svc-args")


def test_get_url_rejects_line_breaks_in_config_values(host: Host) -> None:
    host.fresh()
    result = host.module(
        "get_url",
        {
            "url": "http://127.0.0.1:9/x",
            "dest": _path("x"),
            "headers": {"X-A": "v\noutput_document = /etc/passwd"},
        },
    )
    assert result.get("failed") and "line breaks" in result["msg"], result
    assert host.entries() == []


def test_sysctl_name_is_data(host: Host) -> None:
    host.fresh()
    name = f"kernel.orch$(touch {CANARY})"
    result = host.module(
        "sysctl",
        {"name": name, "value": "1", "sysctl_set": True, "sysctl_file": _path("s.conf"), "reload": False},
    )
    assert result.get("failed"), result
    host.assert_no_injection()
