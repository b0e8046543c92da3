"""File and command modules on real lab hosts: the cycle for every module (changed, then ok;
check mode reports and touches nothing; diff mode shows before/after), atomic writes with backup
and validate, hostile paths, bad parameters, and a host without Python.

Every test drives the real `orch play` CLI and checks the hosts with the system ssh client.
"""

from __future__ import annotations

import functools
import http.server
import re
import socketserver
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from orchestrator.lab.testing import LabSession, run_orch

RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)


def counters(out: str, host: str = "h1") -> dict[str, int]:
    for m in RECAP.finditer(out):
        if m[1] == host:
            return dict(
                zip(
                    ("ok", "changed", "unreachable", "failed", "skipped"),
                    map(int, m.groups()[1:]),
                    strict=True,
                )
            )
    raise AssertionError(f"no recap for {host} in:\n{out}")


Play = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A playbook directory with files/ and templates/ fixtures."""
    base = tmp_path_factory.mktemp("files-modules")
    (base / "files" / "tree" / "sub").mkdir(parents=True)
    (base / "files" / "tree" / "a.txt").write_text("alpha\n")
    (base / "files" / "tree" / "sub" / "b.txt").write_text("beta\n")
    (base / "files" / "static.txt").write_text("static\n")
    (base / "files" / "run.sh").write_text('#!/bin/sh\necho "ran with $1"\necho "$1" > "$2"\n')
    (base / "templates").mkdir()
    (base / "templates" / "app.j2").write_text(
        "name={{ inventory_hostname }}\n{% for p in ports | default([80, 443]) %}port={{ p }}\n{% endfor %}"
    )
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("pkg/one.txt", b"one\n"), ("pkg/two.txt", b"two\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1700000000
            tf.addfile(info, io.BytesIO(data))
    (base / "files" / "pkg.tgz").write_bytes(buf.getvalue())
    return base


@pytest.fixture(scope="module")
def play(lab: LabSession, workdir: Path) -> Play:
    """play(tasks_yaml, *args, host='h1', vars=None) -> CompletedProcess of `orch play`."""
    counter = iter(range(10**6))

    def run(
        tasks: str, *args: str, host: str = "h1", vars: str = "", inventory: Path | None = None
    ) -> CompletedProcess[str]:
        body = textwrap.indent(textwrap.dedent(tasks).strip(), "    ")
        extra = f"  vars:\n{textwrap.indent(textwrap.dedent(vars).strip(), '    ')}\n" if vars else ""
        path = workdir / f"play{next(counter)}.yml"
        path.write_text(f"- hosts: {host}\n  gather_facts: false\n{extra}  tasks:\n{body}\n")
        return run_orch("play", str(path), "-i", str(inventory or lab.inventory_path), *args, cwd=workdir)

    return run


def sh(lab: LabSession, cmd: str, host: str = "h1") -> str:
    result = lab.ssh(host, cmd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def state(lab: LabSession, cmd: str, host: str = "h1") -> str:
    """Whatever a probe prints (errors included): compared before and after a run."""
    result = lab.ssh(host, cmd)
    return f"{result.returncode}\n{result.stdout}{result.stderr}"


# name -> (setup tasks, the task under test, probe command printing the state it touches)
CYCLE: dict[str, tuple[str, str, str]] = {
    "copy": (
        "- file: {path: /srv/mt/copy, state: directory}",
        '- copy: {content: "hello\\n", dest: /srv/mt/copy/f.txt, mode: "0640", owner: deploy}',
        "stat -c '%a %U' /srv/mt/copy/f.txt; cat /srv/mt/copy/f.txt",
    ),
    "copy_dir": (
        "- file: {path: /srv/mt/copydir, state: directory}",
        "- copy: {src: tree/, dest: /srv/mt/copydir/, directory_mode: '0750'}",
        "cd /srv/mt/copydir && find . -printf '%p %m\\n' | sort",
    ),
    "template": (
        "- file: {path: /srv/mt/template, state: directory}\n"
        '- copy: {content: "old\\n", dest: /srv/mt/template/app.conf}',
        "- template: {src: app.j2, dest: /srv/mt/template/app.conf, mode: 'u=rw,g=r,o='}",
        "stat -c '%a' /srv/mt/template/app.conf; cat /srv/mt/template/app.conf",
    ),
    "file": (
        "- file: {path: /srv/mt/file, state: absent}",
        "- file: {path: /srv/mt/file/a/b, state: directory, mode: '0700'}",
        "ls -la /srv/mt/file 2>&1 | tail -n +2 || true",
    ),
    "file_recurse": (
        "- file: {path: /srv/mt/rec/x/y, state: directory}\n- copy: {content: 'z', dest: /srv/mt/rec/x/f}",
        "- file: {path: /srv/mt/rec, state: directory, recurse: true, owner: deploy, mode: 'u=rwX,go='}",
        "find /srv/mt/rec -printf '%p %m %u\\n' | sort",
    ),
    "file_link": (
        "- file: {path: /srv/mt/link, state: directory}",
        "- file: {src: /etc/hostname, path: /srv/mt/link/l, state: link}",
        "ls -l /srv/mt/link | tail -n +2",
    ),
    "lineinfile": (
        "- file: {path: /srv/mt/lif, state: directory}\n"
        '- copy: {content: "a=1\\nb=2\\n", dest: /srv/mt/lif/f, force: false}',
        "- lineinfile: {path: /srv/mt/lif/f, regexp: '^b=', line: 'b=3'}",
        "cat /srv/mt/lif/f",
    ),
    "blockinfile": (
        "- file: {path: /srv/mt/bif, state: directory}\n"
        '- copy: {content: "top\\n", dest: /srv/mt/bif/f, force: false}',
        '- blockinfile: {path: /srv/mt/bif/f, block: "x=1\\ny=2", insertbefore: BOF}',
        "cat /srv/mt/bif/f",
    ),
    "replace": (
        "- file: {path: /srv/mt/rep, state: directory}\n"
        '- copy: {content: "port 80\\nport 81\\n", dest: /srv/mt/rep/f, force: false}',
        "- replace: {path: /srv/mt/rep/f, regexp: '^port (\\d+)$', replace: 'listen \\1'}",
        "cat /srv/mt/rep/f",
    ),
    "unarchive": (
        "- file: {path: /srv/mt/unar, state: directory}",
        "- unarchive: {src: pkg.tgz, dest: /srv/mt/unar}",
        "cd /srv/mt/unar && find . | sort",
    ),
    "script": (
        "- file: {path: /srv/mt/script, state: directory}",
        "- script: run.sh hello /srv/mt/script/out\n  args: {creates: /srv/mt/script/out}",
        "ls /srv/mt/script",
    ),
    "command": (
        "- file: {path: /srv/mt/cmd, state: directory}",
        "- command: touch /srv/mt/cmd/made\n  args: {creates: /srv/mt/cmd/made}",
        "ls /srv/mt/cmd",
    ),
}
DIFFS = {"copy", "template", "lineinfile", "blockinfile", "replace", "file"}


@pytest.mark.parametrize("name", sorted(CYCLE))
def test_cycle_changed_ok_check_diff(lab: LabSession, play: Play, name: str) -> None:
    setup, task, probe = CYCLE[name]
    done = play(setup)
    assert done.returncode == 0, done.stdout + done.stderr
    before = state(lab, probe)
    check = play(task, "--check", "--diff")
    assert check.returncode == 0, check.stdout + check.stderr
    assert counters(check.stdout)["changed"] == 1, check.stdout
    assert state(lab, probe) == before, "check mode changed the host"
    first = play(task, "--diff")
    assert first.returncode == 0, first.stdout + first.stderr
    assert counters(first.stdout)["changed"] == 1, first.stdout
    assert state(lab, probe) != before
    if name in DIFFS:
        assert "--- before" in first.stdout and "+++ after" in first.stdout, first.stdout
    again = play(task)
    assert counters(again.stdout) == {**counters(again.stdout), "changed": 0, "failed": 0}, again.stdout
    check_again = play(task, "--check")
    assert counters(check_again.stdout)["changed"] == 0, check_again.stdout


def test_backup_and_validate_are_atomic(lab: LabSession, play: Play) -> None:
    play(
        "- file: {path: /srv/mt/atomic, state: directory}\n- copy: {content: \"v1\\n\", dest: /srv/mt/atomic/f, mode: '0600'}"
    )
    bad = play(
        "- copy: {content: \"v2\\n\", dest: /srv/mt/atomic/f, validate: 'grep -q nope %s', backup: true}"
    )
    assert bad.returncode == 2 and "failed to validate" in bad.stdout, bad.stdout
    assert sh(lab, "cat /srv/mt/atomic/f; ls -A /srv/mt/atomic") == "v1\nf\n"  # no temp file, no backup left
    good = play(
        "- copy: {content: \"v2\\n\", dest: /srv/mt/atomic/f, validate: 'grep -q v2 %s', backup: true}\n"
        "  register: r\n- debug: {var: r.backup_file}"
    )
    assert good.returncode == 0, good.stdout
    backup = re.search(r"r\.backup_file: (\S+)", good.stdout)
    assert backup and re.fullmatch(r"/srv/mt/atomic/f\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", backup[1]), (
        good.stdout
    )
    assert sh(lab, f"cat /srv/mt/atomic/f {backup[1]}; stat -c %a /srv/mt/atomic/f") == "v2\nv1\n600\n"
    lif = play("- lineinfile: {path: /srv/mt/atomic/f, line: v3, backup: true, validate: 'grep -q v3 %s'}")
    assert counters(lif.stdout)["changed"] == 1
    assert sh(lab, "ls /srv/mt/atomic | wc -l") == "3\n"


def test_registered_results_have_ansible_keys(play: Play, tmp_path: Path) -> None:
    out = play(
        """
        - copy: {content: "abc\\n", dest: /srv/mt/keys.txt}
          register: c
        - stat: {path: /srv/mt/keys.txt}
          register: s
        - stat: {path: /srv/mt/nothing}
          register: n
        - find: {paths: /srv/mt, patterns: 'keys.*'}
          register: f
        - slurp: {src: /srv/mt/keys.txt}
          register: sl
        - command: {argv: [cat, /srv/mt/keys.txt]}
          register: cmd
        - assert:
            that:
              - c.checksum == '03cfd743661f07975fa2f1220c5194cbaff48451'
              - c.dest == '/srv/mt/keys.txt'
              - s.stat.exists and s.stat.isreg and not s.stat.isdir and not s.stat.islnk
              - s.stat.checksum == c.checksum
              - s.stat.mode == '0644' and s.stat.pw_name == 'root' and s.stat.size == 4
              - not n.stat.exists
              - f.matched == 1 and f.files[0].path == '/srv/mt/keys.txt' and f.files[0].size == 4
              - sl.content == 'YWJjCg==' and sl.encoding == 'base64'
              - cmd.rc == 0 and cmd.stdout == 'abc' and cmd.stdout_lines == ['abc'] and cmd.cmd == ['cat', '/srv/mt/keys.txt']
        - fetch: {src: /srv/mt/keys.txt, dest: "%s"}
          register: fe
        - fetch: {src: /srv/mt/keys.txt, dest: "%s/flat.txt", flat: true}
        """.replace("%s", str(tmp_path))
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "h1" / "srv" / "mt" / "keys.txt").read_text() == "abc\n"
    assert (tmp_path / "flat.txt").read_text() == "abc\n"
    again = play(f"- fetch: {{src: /srv/mt/keys.txt, dest: {tmp_path}}}")
    assert counters(again.stdout)["changed"] == 0


HOSTILE = "/srv/mt/hostile/-a b'c\"$(touch /tmp/pwned)`id`;x\n\\ *"


def test_hostile_paths_are_quoted_everywhere(lab: LabSession, play: Play) -> None:
    sh(lab, "rm -f /tmp/pwned")
    path = HOSTILE.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    tasks = f"""
    - file: {{path: "{path}", state: directory}}
    - copy: {{content: "x\\n", dest: "{path}/f $(id)", force: false}}
    - template: {{src: app.j2, dest: "{path}/t"}}
    - lineinfile: {{path: "{path}/f $(id)", line: "$(touch /tmp/pwned)"}}
    - blockinfile: {{path: "{path}/f $(id)", block: "'`id`'"}}
    - replace: {{path: "{path}/f $(id)", regexp: '^x$', replace: 'y'}}
    - file: {{src: "{path}/t", path: "{path}/-link", state: link}}
    - stat: {{path: "{path}/-link"}}
      register: st
    - find: {{paths: "{path}", file_type: any}}
      register: fd
    - slurp: {{src: "{path}/f $(id)"}}
      register: sl
    - command: {{argv: [cat, "{path}/t"]}}
      changed_when: false
    - assert:
        that:
          - st.stat.islnk and st.stat.lnk_target == "{path}/t"
          - fd.matched == 3
          - (sl.content | b64decode) == "y\\n$(touch /tmp/pwned)\\n# BEGIN ANSIBLE MANAGED BLOCK\\n'`id`'\\n# END ANSIBLE MANAGED BLOCK\\n"
    """
    out = play(tasks, vars="ports: [1]")
    assert out.returncode == 0, out.stdout + out.stderr
    assert counters(out.stdout)["changed"] == 7
    again = play(tasks, vars="ports: [1]")
    assert counters(again.stdout)["changed"] == 0, again.stdout
    assert lab.ssh("h1", "test -e /tmp/pwned").returncode == 1, "a path was run as a command"
    listing = sh(lab, "cd /srv/mt/hostile && ls -A | od -c | head -3")
    assert "-   a       b   '   c" in listing


def test_bad_parameters_rejected_before_any_host(play: Play, lab: LabSession, tmp_path: Path) -> None:
    ghost = tmp_path / "ghost.yml"
    ghost.write_text("all:\n  hosts:\n    h1: {ansible_host: 127.0.0.254, ansible_port: 1}\n")
    cases = {
        "- lineinfile: {path: /x, line: y, insertafter: EOF, insertbefore: BOF}": "mutually exclusive",
        "- copy: {content: x, src: y, dest: /z}": "mutually exclusive",
        "- lineinfile: {pth: /x, line: y}": "did you mean 'path'",
        "- file: {path: /x, state: bogus}": "must be one of",
        "- stat: {path: /x, checksum_algorithm: crc}": "must be one of",
        "- find: {paths: /x, file_type: fifo}": "must be one of",
        "- template: {dest: /x}": "src",
        "- get_url: {url: http://x/}": "dest",
        "- copy: {content: x}": "dest",
    }
    for task, needle in cases.items():
        out = play(task, inventory=ghost)
        text = out.stdout + out.stderr
        assert out.returncode not in (0, 2, 4), text  # rejected at load time, never unreachable
        assert needle in text and re.search(r"play\d+\.yml:\d+", text), text


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTP server on the controller; the lab hosts share its loopback network."""
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_get_url_cycle_checksum_and_force(lab: LabSession, play: Play, web: tuple[str, Path]) -> None:
    url, root = web
    (root / "p.txt").write_text("payload\n")
    digest = "d4e4877bac978b7952f0d544fc52ebff5411d351d129f1f056fa43f11da9af2b"
    play("- file: {path: /srv/mt/dl, state: directory}")
    task = f"- get_url: {{url: '{url}/p.txt', dest: /srv/mt/dl/p.txt, mode: '0600', checksum: 'sha256:{digest}'}}"
    check = play(task, "--check")
    assert (
        counters(check.stdout)["changed"] == 1 and lab.ssh("h1", "test -e /srv/mt/dl/p.txt").returncode == 1
    )
    first = play(task)
    assert counters(first.stdout)["changed"] == 1, first.stdout
    assert sh(lab, "stat -c %a /srv/mt/dl/p.txt; cat /srv/mt/dl/p.txt") == "600\npayload\n"
    assert counters(play(task).stdout)["changed"] == 0
    forced = f"- get_url: {{url: '{url}/p.txt', dest: /srv/mt/dl/p.txt, force: true}}"
    assert counters(play(forced).stdout)["changed"] == 0  # downloaded, same content: not changed
    (root / "p.txt").write_text("new payload\n")
    assert counters(play(forced).stdout)["changed"] == 1
    wrong = play(f"- get_url: {{url: '{url}/p.txt', dest: /srv/mt/dl/q.txt, checksum: 'sha256:{digest}'}}")
    assert wrong.returncode == 2 and "did not match" in wrong.stdout
    assert lab.ssh("h1", "test -e /srv/mt/dl/q.txt").returncode == 1
    missing = play(f"- get_url: {{url: '{url}/nothing', dest: /srv/mt/dl/n.txt}}")
    assert missing.returncode == 2 and "404" in missing.stdout


def test_modules_work_without_python_on_the_host(lab: LabSession, play: Play, web: tuple[str, Path]) -> None:
    url, root = web
    (root / "np.txt").write_text("np\n")
    host = "h4" if len(lab.hosts) >= 4 else "h2"
    sh(lab, "rm -f /usr/bin/python3* /usr/bin/python; ! command -v python3", host=host)
    try:
        tasks = f"""
        - file: {{path: /srv/np, state: directory}}
        - copy: {{src: tree, dest: /srv/np/}}
        - template: {{src: app.j2, dest: /srv/np/app.conf}}
        - lineinfile: {{path: /srv/np/edit.conf, line: extra, create: true}}
        - blockinfile: {{path: /srv/np/edit.conf, block: blk}}
        - copy: {{content: "port 1\\n", dest: /srv/np/r.conf, force: false}}
        - replace: {{path: /srv/np/r.conf, regexp: '^port', replace: listen}}
        - stat: {{path: /srv/np/app.conf}}
          register: st
        - find: {{paths: /srv/np/tree, recurse: true}}
          register: fd
        - slurp: {{src: /srv/np/app.conf}}
        - unarchive: {{src: pkg.tgz, dest: /srv/np}}
        - get_url: {{url: '{url}/np.txt', dest: /srv/np/np.txt}}
        - script: run.sh x /srv/np/script.out
        - command: cat /srv/np/np.txt
        - assert: {{that: [st.stat.exists, fd.matched == 2]}}
        """
        out = play(tasks, host=host, vars="ports: [80]")
        assert out.returncode == 0, out.stdout + out.stderr
        again = play(tasks, host=host, vars="ports: [80]")
        assert counters(again.stdout, host)["changed"] == 2, again.stdout  # script and command
    finally:
        lab.reset(host)
