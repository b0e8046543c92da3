"""Pure parts of the system modules, on captured output and against ansible-core's own code.

Where Ansible's module exposes pure functions (authorized_key's key parsing and serialisation),
orch's implementation is compared with it on generated inputs; elsewhere the cases follow the
behaviour read from ansible-core 2.19 / ansible.posix / community.general.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.modules.base import ModuleFailed, get_module
from orchestrator.modules.library import authorized_key as ak
from orchestrator.modules.library import cron, service, sysctl, user
from orchestrator.modules.library.apt_repository import normalise, suggest_filename, target_file
from orchestrator.modules.library.deb822_repository import render, slug_of
from orchestrator.modules.library.uri import build_body, parse_headers
from orchestrator.modules.spec import validate_args
from orchestrator.modules.wire import WireOutput

FIXTURES = Path(__file__).parent / "fixtures" / "system"

# ---- names and parameter validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "apt", "ansible.builtin.apt", "apt_key", "apt_repository", "ansible.builtin.deb822_repository",
        "package", "service", "ansible.builtin.service", "systemd", "ansible.builtin.systemd",
        "ansible.builtin.systemd_service", "user", "group", "authorized_key", "ansible.posix.authorized_key",
        "cron", "sysctl", "ansible.posix.sysctl", "hostname", "timezone", "community.general.timezone",
        "reboot", "wait_for", "uri", "pause", "ansible.builtin.pause", "setup", "ansible.builtin.gather_facts",
    ],
)  # fmt: skip
def test_short_names_and_fqcns_resolve(name: str) -> None:
    assert get_module(name) is not None


@pytest.mark.parametrize(
    ("module", "args", "error"),
    [
        ("apt", {"name": "tree", "upgrade": "dist"}, "mutually exclusive"),
        ("apt", {"state": "present"}, "one of these parameters is required"),
        ("apt", {"name": "tree", "state": "installed"}, "must be one of"),
        ("apt", {"name": "tree", "update_cach": True}, "did you mean 'update_cache'"),
        ("cron", {"name": "x", "job": "true", "special_time": "sometimes"}, "must be one of"),
        ("cron", {"name": "x", "insertafter": "A", "insertbefore": "B"}, "mutually exclusive"),
        ("sysctl", {"name": "vm.swappiness"}, "state=present requires: value"),
        ("user", {"uid": 5}, "missing required parameter 'name'"),
        ("user", {"name": "a", "uid": "many"}, "parameter 'uid'"),
        ("group", {"name": "g", "non_unique": True}, "non_unique=True requires: gid"),
        ("service", {"name": "cron"}, "one of these parameters is required: state, enabled"),
        ("systemd", {"name": "cron", "state": "running"}, "must be one of"),
        ("wait_for", {"port": 80, "path": "/tmp/x"}, "mutually exclusive"),
        ("uri", {"url": "http://x", "body": "a", "src": "b"}, "mutually exclusive"),
        ("timezone", {}, "one of these parameters is required: hwclock, name"),
        ("pause", {"seconds": 1, "minutes": 1}, "mutually exclusive"),
        ("authorized_key", {"user": "root"}, "missing required parameter 'key'"),
        ("deb822_repository", {"name": "x", "types": ["rpm"]}, "must be one of"),
    ],
)
def test_bad_parameters_are_rejected_by_the_spec(module: str, args: dict, error: str) -> None:
    cls = get_module(module)
    assert cls is not None
    _, errors = validate_args(cls.spec, args)
    assert any(error in e for e in errors), errors


# ---- authorized_key: byte-for-byte with ansible.posix ---------------------------------------------

posix = pytest.importorskip("ansible_collections.ansible.posix.plugins.modules.authorized_key")

KEYS = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHtxX89vbT7BruNtHdSxnJn1i0sq6q4IRyhpSCbZHT1",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlz",
]
line = st.one_of(
    st.builds(
        lambda opts, key, comment: f"{opts}{key}{comment}",
        st.sampled_from(["", "no-pty ", 'from="10.0.0.1,10.0.0.2",no-agent-forwarding ', 'command="x y" ']),
        st.sampled_from(KEYS),
        st.sampled_from(["", " user@host", " two words", "  spaced  "]),
    ),
    # (a bare "ssh-ed25519" line crashes ansible.posix with IndexError; orch keeps it as a comment)
    st.sampled_from(["# a comment", "#nospace", "", "garbage line", "   ", "x ssh-rsa AAAA y"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(line, max_size=8), st.booleans())
def test_parse_and_serialize_match_ansible_posix(lines: list[str], final_newline: bool) -> None:
    content = "\n".join(lines) + ("\n" if final_newline and lines else "")
    ours = ak.serialize(ak.parse_keys(content))
    theirs = posix.serialize(posix.parsekeys(None, content))
    assert ours == theirs


def test_enforce_follows_ansible_rules() -> None:
    k1, k2 = KEYS[0], KEYS[1]
    existing = f"# keep me\n{k1} old@comment\n"
    # same key, other comment: rewritten (moved to the end), comment line kept
    assert ak.enforce(existing, f"{k1} new@comment", state="present", key_options=None, comment=None,
                      exclusive=False) == f"# keep me\n{k1} new@comment\n"  # fmt: skip
    # already there: nothing to write
    assert ak.enforce(existing, f"{k1} old@comment", state="present", key_options=None, comment=None,
                      exclusive=False) is None  # fmt: skip
    # key_options and comment override; a comment-less key keeps Ansible's trailing space
    assert ak.enforce("", k2, state="present", key_options="no-pty", comment=None, exclusive=False) == (
        f"no-pty {k2} \n"
    )
    # exclusive drops everything else, comments included
    assert (
        ak.enforce(existing, k2, state="present", key_options=None, comment="c", exclusive=True)
        == f"{k2} c\n"
    )
    # absent matches on the key blob alone
    assert ak.enforce(existing, f"{k1} whatever", state="absent", key_options=None, comment=None,
                      exclusive=False) == "# keep me\n"  # fmt: skip
    with pytest.raises(ModuleFailed, match="invalid key specified"):
        ak.enforce("", "not-a-key AAAA", state="present", key_options=None, comment=None, exclusive=False)


# ---- cron: Ansible's CronTab rules ----------------------------------------------------------------


def cron_args(**kw: object) -> dict:
    spec = get_module("cron").spec  # type: ignore[union-attr]
    args, errors = validate_args(spec, kw)
    assert not errors
    return args


def test_cron_adds_updates_and_adopts_like_ansible() -> None:
    header = (
        "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
        "# (/tmp/crontab.abc installed on Mon Nov 23 10:00:00 2026)\n"
        "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n"
    )
    tab = cron.CronTab(header + "MAILTO=ops\n", user=None, cron_file=None)
    assert tab.lines == ["MAILTO=ops"] and tab.existing == "MAILTO=ops\n"
    changed, _ = cron.plan(tab, cron_args(name="backup", minute="0", hour="3", job="/bin/backup"))
    assert changed and tab.render() == "MAILTO=ops\n#Ansible: backup\n0 3 * * * /bin/backup\n"
    # an identical unmarked job is adopted (marker inserted), not duplicated
    tab = cron.CronTab("0 3 * * * /bin/backup\n", user=None, cron_file=None)
    changed, _ = cron.plan(tab, cron_args(name="backup", minute="0", hour="3", job="/bin/backup"))
    assert changed and tab.render() == "#Ansible: backup\n0 3 * * * /bin/backup\n"
    changed, _ = cron.plan(tab, cron_args(name="backup", minute="0", hour="3", job="/bin/backup"))
    assert not changed
    # env goes first; cron_file lines carry the user; special_time; disabled
    tab = cron.CronTab("", user="root", cron_file="/etc/cron.d/x")
    cron.plan(tab, cron_args(name="nightly", special_time="daily", job="run", user="root", cron_file="x"))
    cron.plan(tab, cron_args(name="off", job="run2", disabled=True, user="root", cron_file="x"))
    cron.plan(tab, cron_args(name="PATH", env=True, job="/bin", user="root", cron_file="x"))
    assert (
        tab.render()
        == 'PATH="/bin"\n#Ansible: nightly\n@daily root run\n#Ansible: off\n#* * * * * root run2\n'
    )
    # removing the last job of a cron_file removes the file
    tab = cron.CronTab("#Ansible: a\n* * * * * root true\n", user="root", cron_file="/etc/cron.d/x")
    assert cron.plan(tab, cron_args(name="a", state="absent", cron_file="x")) == (True, True)
    # a file without a final newline is rewritten even when nothing else changes (as Ansible)
    tab = cron.CronTab("#Ansible: a\n* * * * * true", user=None, cron_file=None)
    assert cron.plan(tab, cron_args(name="a", job="true"))[0]


# ---- sysctl ----------------------------------------------------------------------------------------


def sysctl_args(**kw: object) -> dict:
    args, errors = validate_args(get_module("sysctl").spec, kw)  # type: ignore[union-attr]
    assert not errors
    return args


def test_sysctl_normalises_the_file_like_ansible_posix() -> None:
    text = "# comment\nvm.swappiness = 10\n\nkernel.x=1\nvm.swappiness=20\n"
    out = sysctl.plan(text, "60", sysctl_args(name="vm.swappiness", value="60"))
    assert out.changed and out.content == "# comment\nvm.swappiness=60\n\nkernel.x=1\n"
    same = sysctl.plan("vm.swappiness=60\n", "60", sysctl_args(name="vm.swappiness", value="60"))
    assert not same.changed and same.content is None
    # file right, kernel differs: a reload is due (changed), the file is left alone
    reload = sysctl.plan("vm.swappiness=60\n", "30", sysctl_args(name="vm.swappiness", value="60"))
    assert reload.changed and reload.content is None
    absent = sysctl.plan("a.b=1\nc.d=2\n", None, sysctl_args(name="a.b", state="absent"))
    assert absent.changed and absent.content == "c.d=2\n"
    assert sysctl.plan(None, "1", sysctl_args(name="x.y", value="yes", reload=False)).content == "x.y=1\n"
    setp = sysctl.plan("x.y=1\n", "0", sysctl_args(name="x.y", value="1", sysctl_set=True, reload=False))
    assert setp.changed and setp.set_proc


# ---- service / systemd: captured `systemctl show` ---------------------------------------------------


def test_systemd_state_parsed_from_captured_systemctl_show() -> None:
    show = (FIXTURES / "systemctl_show_ssh.txt").read_text()
    state = service.parse_state(WireOutput.of("manager=systemd\n", show=show, is_enabled="enabled\nrc=0\n"))
    assert state.manager == "systemd" and state.found and state.running and state.enabled
    assert not state.masked and state.status["MainPID"] == "742"
    assert service.plan(state, {"state": "started", "enabled": True}) == []
    assert service.plan(state, {"state": "stopped", "enabled": False}) == ["disable", "stop"]
    assert service.plan(state, {"state": "reloaded"}) == ["reload"]
    cmds = service.action_commands(state, "ssh", ["disable", "stop"], {"no_block": True, "scope": "system"})
    assert cmds == ["systemctl disable 'ssh'", "systemctl stop --no-block 'ssh'"]
    missing = service.parse_state(
        WireOutput.of("manager=systemd\n", show="LoadState=not-found\nActiveState=inactive\n", is_enabled="rc=1\n")
    )
    assert not missing.found
    masked = service.parse_state(
        WireOutput.of("manager=systemd\n", show="LoadState=masked\nUnitFileState=masked\n", is_enabled="masked\nrc=1\n")
    )
    assert masked.masked and not masked.enabled
    assert service.plan(masked, {"masked": False, "state": "started"}) == ["unmask", "start"]


def test_sysvinit_state_and_commands() -> None:
    stopped = service.parse_state(WireOutput.of("manager=sysvinit\n", sysv="script=1\nstatus_rc=3\n"))
    assert stopped.found and stopped.running is False and stopped.enabled is False
    assert service.plan(stopped, {"state": "reloaded"}) == ["start"]
    cmds = service.action_commands(stopped, "cron", ["enable", "start"], {"arguments": ""})
    assert cmds[0].startswith("update-rc.d 'cron' defaults") and cmds[1] == "/etc/init.d/'cron' start"
    with pytest.raises(ModuleFailed, match="only supported with systemd"):
        service.action_commands(stopped, "cron", ["mask"], {})


# ---- user -------------------------------------------------------------------------------------------


def user_args(**kw: object) -> dict:
    args, errors = validate_args(get_module("user").spec, kw)  # type: ignore[union-attr]
    assert not errors
    return args


def account(passwd: str = "", shadow: str = "", member: str = "", group: str = "", home: str = "") -> user.Account:
    """parse_account on the sections the user module's read script prints."""
    found = {"passwd": passwd, "shadow": shadow, "member": member, "group": group, "home": home}
    return user.parse_account(WireOutput(b"", tuple((k, v.encode()) for k, v in found.items())))


def test_user_commands_like_ansible() -> None:
    acct = account(
        passwd="alice:x:2001:2001:Alice:/home/alice:/bin/sh\n",
        shadow="alice:$6$x$y:19000:0:99999:7:::\n",
        member="adm\n",
        group="adm:x:4:alice\nsudo:x:27:\n",
        home="yes\n",
    )
    assert acct.exists and acct.uid == 2001 and acct.member_of == ["adm"] and acct.groups["sudo"] == 27
    assert user.modify_command(user_args(name="alice", shell="/bin/sh", groups=["adm"]), acct) is None
    assert user.modify_command(user_args(name="alice", groups=["sudo"], append=True), acct) == [
        "usermod", "-a", "-G", "sudo", "--", "alice"
    ]  # fmt: skip
    assert user.modify_command(user_args(name="alice", groups=["sudo"]), acct) == [
        "usermod",
        "-G",
        "sudo",
        "--",
        "alice",
    ]
    # same hash: only the lock; another hash: -p with the lock mark (as Ansible's usermod call)
    assert user.modify_command(user_args(name="alice", password="$6$x$y", password_lock=True), acct) == [
        "usermod", "-L", "--", "alice"
    ]  # fmt: skip
    assert user.modify_command(user_args(name="alice", password="$6$z$w", password_lock=True), acct) == [
        "usermod", "-p", "!$6$z$w", "--", "alice"
    ]  # fmt: skip
    fresh = account(group="bob:x:1500:\n")
    assert user.create_command(user_args(name="bob", system=True, create_home=False), fresh) == [
        "useradd", "-N", "-M", "-r", "--", "bob"
    ]  # fmt: skip
    with pytest.raises(ModuleFailed, match="Group nosuch does not exist"):
        user.modify_command(user_args(name="alice", group="nosuch"), acct)


# ---- apt sources, uri --------------------------------------------------------------------------------


def test_apt_repository_names_and_normalisation_like_ansible() -> None:
    repo = "deb  [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc]  https://download.docker.com/linux/debian bookworm stable # x"
    assert normalise(repo) == (
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable"
    )
    assert suggest_filename(normalise(repo)) == "download_docker_com_linux_debian"
    assert (
        target_file(None, normalise(repo)) == "/etc/apt/sources.list.d/download_docker_com_linux_debian.list"
    )
    assert target_file("docker", repo) == "/etc/apt/sources.list.d/docker.list"


def test_deb822_rendering_like_ansible() -> None:
    args, _ = validate_args(
        get_module("deb822_repository").spec,  # type: ignore[union-attr]
        {"name": "Docker CE", "uris": ["https://download.docker.com/linux/debian"], "suites": ["bookworm"],
         "components": ["stable"], "architectures": ["amd64"], "enabled": True},
    )  # fmt: skip
    assert slug_of("Docker CE") == "docker-ce"
    assert render(args, "/etc/apt/keyrings/docker-ce.asc") == (
        "Architectures: amd64\nComponents: stable\nEnabled: yes\nX-Repolib-Name: Docker CE\n"
        "Signed-By: /etc/apt/keyrings/docker-ce.asc\nSuites: bookworm\nTypes: deb\n"
        "URIs: https://download.docker.com/linux/debian\n"
    )
    inline = render(
        args, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n"
    )
    assert "Signed-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    mQINBF\n" in inline


def test_uri_bodies_and_headers() -> None:
    headers: dict[str, str] = {}
    assert build_body({"body": {"a": 1}, "body_format": "json"}, headers) == b'{"a": 1}'
    assert headers == {"Content-Type": "application/json"}
    form: dict[str, str] = {}
    assert (
        build_body({"body": {"a": "x y", "b": "2"}, "body_format": "form-urlencoded"}, form) == b"a=x+y&b=2"
    )
    reason, parsed = parse_headers(
        "HTTP/1.1 301 Moved\r\nLocation: /b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "X-Request-Id: 7\r\nSet-Cookie: a=1\r\n\r\n"
    )
    assert reason == "OK" and parsed == {
        "content_type": "application/json",
        "x_request_id": "7",
        "set_cookie": "a=1",
    }


def test_apt_operations_map_to_apt_get_like_ansible() -> None:
    from orchestrator.modules.library.apt import Apt

    def op(**kw: object) -> tuple[str, str] | None:
        args, errors = validate_args(Apt.spec, kw)
        assert not errors, errors
        upgrade = None if args["upgrade"] in (None, "no") else args["upgrade"]
        return Apt._operation(args, [n for n in args.get("name") or []], upgrade, args.get("deb"))

    assert op(upgrade="dist") == ("all=1", "dist-upgrade")
    assert op(upgrade="full") == ("all=1", "dist-upgrade")
    assert op(upgrade="safe") == ("all=1", "upgrade --with-new-pkgs")
    assert op(autoremove=True) == ("all=1", "autoremove")
    assert op(update_cache=True) is None
    assert op(name=["tree"], state="latest") == ("targets='tree'", "install")
    present = op(name=["tree", "sl=5.02-1"])
    assert present is not None and present[1] == "install" and "*=*) targets=" in present[0]
    absent = op(name=["tree"], state="absent", purge=True)
    assert absent is not None and absent[1] == "remove" and "|rc)" in absent[0]
    args, _ = validate_args(
        Apt.spec, {"name": ["tree"], "install_recommends": False, "force": True, "purge": True}
    )
    options = Apt._options(args, "-o DPkg::Lock::Timeout=60")
    assert "-o APT::Install-Recommends=no" in options and "--allow-downgrades" in options
    assert "-o 'Dpkg::Options::=--force-confdef' -o 'Dpkg::Options::=--force-confold'" in options
    assert options.endswith("--purge")


def test_user_names_that_would_be_options_or_break_passwd_are_refused() -> None:
    """`user name=-h` must never reach useradd as an option (issue 12)."""
    for bad in ["-h", "--help", "", "a:b", "a b", "a/b", "a,b", "..", "a\nb", "a\x00b"]:
        with pytest.raises(ModuleFailed, match="invalid user name"):
            user.check_account_name(bad)
    for good in ["alice", "svc-app", "www-data", "user.name", "backup$", "_apt"]:
        user.check_account_name(good)
    fresh = account()
    argv = user.create_command(user_args(name="carol"), fresh)
    assert argv[-2:] == ["--", "carol"]  # operands after --, in every command built from user values
