"""`orch play` / `orch run` / `orch inventory` end to end against real lab hosts (issue 2).

Every test runs the real CLI in a subprocess, the way an operator or a script would, and checks
what it printed, its exit code, and what is (or is not) on the hosts afterwards.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from orchestrator.lab.testing import REPO_ROOT, LabSession

RECAP_LINE = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
    r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)",
    re.M,
)
COUNTERS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host, parsed the way tools written for Ansible parse them."""
    return {
        m[1]: dict(zip(COUNTERS, map(int, m.groups()[1:]), strict=True)) for m in RECAP_LINE.finditer(stdout)
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def exists_on(lab: LabSession, host: str, path: str) -> bool:
    return lab.ssh(host, f"test -e {path}").returncode == 0


@pytest.fixture
def play(lab: LabSession, run_orch, tmp_path: Path):
    """play(yaml_text, *args) -> CompletedProcess of `orch play` on the lab inventory."""

    def run(
        text: str, *args: str, inventory: Path | None = None, **kwargs
    ) -> subprocess.CompletedProcess[str]:
        path = write(tmp_path / f"play{len(list(tmp_path.glob('play*.yml')))}.yml", text)
        return run_orch("play", str(path), "-i", str(inventory or lab.inventory_path), *args, **kwargs)

    return run


CONVERGE = """
    - hosts: lab
      gather_facts: false
      tasks:
        - name: app directory
          file: {path: /srv/app, state: directory, mode: "0750"}
        - name: config
          copy:
            dest: /srv/app/app.conf
            content: |
              name={{ inventory_hostname }}
              port=8080
            mode: "0640"
        - name: read it back
          command: cat /srv/app/app.conf
          register: conf
          changed_when: false
        - assert:
            that: "'name=' ~ inventory_hostname in conf.stdout"
"""


def test_converge_then_noop_on_every_host(fresh_lab: LabSession, play) -> None:
    first = play(CONVERGE)
    assert first.returncode == 0, first.stdout + first.stderr
    counts = recap(first.stdout)
    assert sorted(counts) == [h.name for h in fresh_lab.hosts]
    for host in fresh_lab.hosts:
        assert counts[host.name] == {**dict.fromkeys(COUNTERS, 0), "ok": 4, "changed": 2}
        out = fresh_lab.ssh(host.name, "stat -c '%a %U' /srv/app /srv/app/app.conf; cat /srv/app/app.conf")
        assert out.stdout == f"750 root\n640 root\nname={host.name}\nport=8080\n"
    second = play(CONVERGE)
    assert second.returncode == 0
    assert all(c["changed"] == 0 and c["ok"] == 4 for c in recap(second.stdout).values())
    assert "PLAY RECAP" in second.stdout


def test_check_mode_reports_and_touches_nothing(fresh_lab: LabSession, play) -> None:
    before = {h.name: sorted(p.name for p in fresh_lab.upper_dir(h.name).iterdir()) for h in fresh_lab.hosts}
    # the first two tasks only: in check mode `command` is skipped, so the assert would fail (as in Ansible)
    result = play(CONVERGE.split("        - name: read it back")[0], "--check", "--diff", "-l", "h1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout)["h1"]["changed"] == 2
    assert "+name=h1" in result.stdout  # the diff of the file that would be written
    assert not exists_on(fresh_lab, "h1", "/srv/app")
    after = {h.name: sorted(p.name for p in fresh_lab.upper_dir(h.name).iterdir()) for h in fresh_lab.hosts}
    assert "srv" not in after["h1"]
    assert before.keys() == after.keys()


def test_diff_mode_shows_before_and_after(fresh_lab: LabSession, play) -> None:
    fresh_lab.ssh("h1", "mkdir -p /srv/app && printf 'name=old\\nport=8080\\n' > /srv/app/app.conf")
    result = play(CONVERGE, "--diff", "-l", "h1")
    assert result.returncode == 0
    assert "-name=old" in result.stdout and "+name=h1" in result.stdout
    assert " port=8080" in result.stdout  # unchanged context line


def test_json_output_has_every_task_on_every_host(fresh_lab: LabSession, play, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    result = play(CONVERGE, "--json", str(out))
    assert result.returncode == 0
    doc = json.loads(out.read_text())
    assert doc["exit_code"] == 0
    hosts = sorted(h.name for h in fresh_lab.hosts)
    assert sorted(doc["stats"]) == hosts
    tasks = doc["plays"][0]["tasks"]
    assert [t["task"]["name"] for t in tasks] == ["app directory", "config", "read it back", "assert"]
    for task in tasks:
        assert sorted(task["hosts"]) == hosts
    config = tasks[1]["hosts"]["h1"]
    assert config["status"] == "changed" and config["dest"] == "/srv/app/app.conf"
    assert tasks[2]["hosts"]["h2"]["stdout"] == "name=h2\nport=8080"
    assert doc["stats"]["h1"] == {
        "ok": 4,
        "changed": 2,
        "unreachable": 0,
        "failures": 0,
        "skipped": 0,
        "rescued": 0,
        "ignored": 0,
    }
    assert out.stat().st_mode & 0o777 == 0o600


def test_failed_host_drops_out_while_others_go_on(lab: LabSession, play) -> None:
    result = play(
        """
        - hosts: lab
          gather_facts: false
          tasks:
            - command: "false"
              when: inventory_hostname == 'h1'
            - debug: msg=after
        """
    )
    assert result.returncode == 2
    counts = recap(result.stdout)
    assert counts["h1"]["failed"] == 1 and counts["h1"]["ok"] == 0
    for host in lab.hosts[1:]:
        assert counts[host.name] == {**dict.fromkeys(COUNTERS, 0), "ok": 1, "skipped": 1}
    # the failure is shown as readable fields, not a JSON blob
    assert "fatal: [h1]: FAILED! =>" in result.stdout
    assert "rc: 1" in result.stdout


def _inventory_with_ghost(lab: LabSession, tmp_path: Path) -> Path:
    """The lab inventory plus `ghost`, an address nothing listens on."""
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["all"]["children"]["lab"]["hosts"]["ghost"] = {"ansible_host": f"{lab.net}.250"}
    path = tmp_path / "with-ghost.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unreachable_host_exit_4_and_wins_over_failed(lab: LabSession, play, tmp_path: Path) -> None:
    inventory = _inventory_with_ghost(lab, tmp_path)
    text = """
        - hosts: lab
          gather_facts: false
          tasks:
            - ping:
            - command: "false"
              when: inventory_hostname == 'h1'
    """
    result = play(text, "-T", "3", inventory=inventory)
    assert result.returncode == 4, result.stdout + result.stderr
    counts = recap(result.stdout)
    assert counts["ghost"]["unreachable"] == 1
    assert counts["h1"]["failed"] == 1
    assert counts["h2"] == {**dict.fromkeys(COUNTERS, 0), "ok": 1, "skipped": 1}
    assert "UNREACHABLE!" in result.stdout


def test_host_killed_mid_run_is_unreachable_and_does_not_hold_up_others(
    lab: LabSession, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "slow.yml",
        """
        - hosts: lab
          gather_facts: false
          tasks:
            - ping:
            - shell: touch /tmp/started; sleep 4
            - copy: {content: done, dest: /tmp/finished}
        """,
    )
    env = {"PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "play", str(path), "-i", str(lab.inventory_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, **env},
    )
    for _ in range(200):  # wait until h2 is inside the sleep
        if exists_on(lab, "h2", "/tmp/started"):
            break
        time.sleep(0.1)
    lab.kill("h2")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 4, stdout + stderr
    counts = recap(stdout)
    assert counts["h2"]["unreachable"] == 1
    for host in ("h1", "h3"):
        assert counts[host]["failed"] == 0 and counts[host]["unreachable"] == 0
        assert exists_on(lab, host, "/tmp/finished")


BECOME = """
    - hosts: h1
      gather_facts: false
      tasks:
        - command: id -un
          register: who
          become: true
        - copy: {content: secret-free, dest: /root/became, mode: "0600"}
          become: true
        - debug: msg="ran as {{ who.stdout }}"
"""


def test_become_without_password(fresh_lab: LabSession, play) -> None:
    result = play(BECOME, "-e", "ansible_user=deploy")  # -e: the inventory's ansible_user beats -u
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ran as root" in result.stdout
    assert fresh_lab.ssh("h1", "stat -c %U /root/became").stdout.strip() == "root"


def test_become_with_password_never_shows_it(fresh_lab: LabSession, play, tmp_path: Path) -> None:
    report = tmp_path / "become.json"
    # the password through -K (read from stdin when there is no terminal)
    asked = play(BECOME, "-e", "ansible_user=ops", "-K", "-vvv", "--json", str(report), input="ops-pass\n")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "ran as root" in asked.stdout
    # and through ansible_become_password in the inventory
    host_vars = tmp_path / "inv" / "host_vars" / "h1.yml"
    write(host_vars, "ansible_user: ops\nansible_become_password: ops-pass\n")
    inventory = tmp_path / "inv" / "hosts.yml"
    inventory.write_text(fresh_lab.inventory_path.read_text())
    from_vars = play(BECOME, "-vvv", inventory=inventory)
    assert from_vars.returncode == 0, from_vars.stdout + from_vars.stderr
    for text in (asked.stdout, asked.stderr, report.read_text(), from_vars.stdout, from_vars.stderr):
        assert "ops-pass" not in text


def test_wrong_become_password_fails_the_host(lab: LabSession, play) -> None:
    result = play(BECOME, "-e", "ansible_user=ops", "-K", input="not-the-password\n")
    assert result.returncode == 2
    assert recap(result.stdout)["h1"]["failed"] == 1
    assert "password" in result.stdout.lower()
    assert "not-the-password" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("h1,h3", ["h1", "h3"]),
        ("h1:h2", ["h1", "h2"]),
        ("lab:!h2", ["h1", "h3", "h4"]),
        ("lab:&h2,h3", ["h3"]),  # what `ansible --list-hosts` answers
        ("lab[1:2]", ["h2", "h3"]),
        ("~h[13]", ["h1", "h3"]),
        ("h*", ["h1", "h2", "h3", "h4"]),
    ],
)
def test_limit_patterns_select_hosts(lab: LabSession, play, limit: str, expected: list[str]) -> None:
    if len(lab.hosts) < 4:
        pytest.skip("needs 4 lab hosts")
    result = play("- hosts: all\n  gather_facts: false\n  tasks: [ping: ]\n", "--list-hosts", "-l", limit)
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^\s{6}(\S+)$", result.stdout, re.M)
    assert listed == expected


def test_limit_from_retry_file_runs_only_those_hosts(lab: LabSession, play, tmp_path: Path) -> None:
    retry = tmp_path / "failed.retry"
    retry.write_text("h2\nh3\n")
    result = play("- hosts: all\n  gather_facts: false\n  tasks: [ping: ]\n", "-l", f"@{retry}")
    assert result.returncode == 0
    assert sorted(recap(result.stdout)) == ["h2", "h3"]


def test_serial_batches_stop_at_max_fail_percentage(lab: LabSession, play) -> None:
    result = play(
        """
        - hosts: lab
          gather_facts: false
          serial: 2
          max_fail_percentage: 0
          tasks:
            - command: "false"
              when: inventory_hostname == 'h1'
            - debug: msg=batch
        """
    )
    assert result.returncode == 2
    counts = recap(result.stdout)
    assert counts["h1"]["failed"] == 1
    assert "h3" not in counts and "h4" not in counts  # the second batch never started
    assert counts["h2"]["ok"] == 0 or counts["h2"]["skipped"] == 1


def test_hosts_run_in_parallel(lab: LabSession, play) -> None:
    result = play(
        """
        - hosts: lab
          gather_facts: false
          tasks:
            - shell: date +%s.%N; sleep 2; date +%s.%N
              register: t
            - debug: msg="{{ t.stdout_lines | join(' ') }}"
        """,
        "--json",
        str(Path(lab.inventory_path).parent / "parallel.json"),
    )
    assert result.returncode == 0
    doc = json.loads((Path(lab.inventory_path).parent / "parallel.json").read_text())
    spans = [tuple(map(float, r["stdout_lines"])) for r in doc["plays"][0]["tasks"][0]["hosts"].values()]
    assert len(spans) == len(lab.hosts)
    # every host was inside its sleep at the same moment
    assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_invalid_playbook_is_rejected_before_any_host_is_contacted(fresh_lab: LabSession, play) -> None:
    result = play(
        """
        - hosts: lab
          gather_facts: false
          tasks:
            - copy: {content: x, dest: /tmp/should-not-exist}
            - file: {path: /tmp/y, stat: directory}
        """
    )
    assert result.returncode == 3
    assert re.search(r"play\d+\.yml:5:\d+: .*'stat'.*did you mean 'state'", result.stderr), result.stderr
    assert not exists_on(fresh_lab, "h1", "/tmp/should-not-exist")
    bad_yaml = play("- hosts: lab\n  tasks:\n    - debug: msg=[unclosed\n   - ping:\n")
    assert bad_yaml.returncode == 3
    assert re.search(r"play\d+\.yml:\d+:\d+: YAML syntax error", bad_yaml.stderr), bad_yaml.stderr


def test_invalid_inventory_names_file_and_line(run_orch, tmp_path: Path) -> None:
    inventory = write(tmp_path / "bad.ini", "[web]\nh1 ansible_host=127.0.0.1\n[web:vars\nx=1\n")
    result = run_orch("inventory", "-i", str(inventory), "--list")
    assert result.returncode == 3
    assert re.search(r"bad\.ini:3", result.stderr), result.stderr


def test_bad_options_exit_5_and_version(run_orch) -> None:
    assert run_orch("play", "x.yml", "--no-such-option").returncode == 5
    version = run_orch("--version")
    assert version.returncode == 0 and version.stdout.startswith("orch ")


def test_extra_vars_forms_and_precedence(lab: LabSession, play, tmp_path: Path) -> None:
    extra = write(tmp_path / "extra.yml", "from_file: file\nshared: file\n")
    result = play(
        """
        - hosts: h1
          gather_facts: false
          vars: {shared: play, kv: play}
          tasks:
            - debug: msg="{{ kv }}/{{ from_json }}/{{ from_file }}/{{ shared }}"
        """,
        "-e",
        "kv=cli",
        "-e",
        '{"from_json": [1, 2]}',
        "-e",
        f"@{extra}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "msg: cli/[1, 2]/file/file" in result.stdout


def test_adhoc_one_line_and_exit_codes(lab: LabSession, run_orch) -> None:
    ok = run_orch(
        "run", "lab", "-i", str(lab.inventory_path), "-m", "shell", "-a", "echo hi; echo there", "-o"
    )
    assert ok.returncode == 0
    for host in lab.hosts:
        assert f"{host.name} | CHANGED | rc=0 | (stdout) hi\\nthere" in ok.stdout
    ping = run_orch("run", "h1", "-i", str(lab.inventory_path), "-m", "ping")
    assert ping.returncode == 0 and '"ping": "pong"' in ping.stdout
    failed = run_orch("run", "h2", "-i", str(lab.inventory_path), "-a", "ls /nonexistent", "-o")
    assert failed.returncode == 2
    assert "h2 | FAILED | rc=2 | (stdout)  (stderr) ls: cannot access" in failed.stdout
    bad = run_orch("run", "h1", "-i", str(lab.inventory_path), "-m", "copy", "-a", "contnt=x dest=/tmp/x")
    assert bad.returncode == 3 and "did you mean 'content'" in bad.stderr


def test_inventory_commands(lab: LabSession, run_orch) -> None:
    graph = run_orch("inventory", "-i", str(lab.inventory_path), "--graph")
    assert graph.stdout.startswith("@all:\n")
    assert "  |--@lab:\n  |  |--h1\n" in graph.stdout
    listing = json.loads(run_orch("inventory", "-i", str(lab.inventory_path), "--list").stdout)
    assert listing["lab"]["hosts"] == [h.name for h in lab.hosts]
    host = json.loads(run_orch("inventory", "-i", str(lab.inventory_path), "--host", "h2").stdout)
    assert host["ansible_host"] == lab.address("h2")


def test_localhost_runs_on_the_controller(play, tmp_path: Path) -> None:
    marker = tmp_path / "local-marker"
    result = play(
        f"""
        - hosts: localhost
          gather_facts: false
          tasks:
            - copy: {{content: here, dest: "{marker}"}}
            - command: cat "{marker}"
              register: out
            - assert: {{that: "out.stdout == 'here'"}}
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert marker.read_text() == "here"


def test_changed_host_key_is_refused_with_its_fingerprint(lab: LabSession, play, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    real = lab.known_hosts_path.read_text().splitlines()
    # h1's entry gets another host's key: exactly what a man in the middle looks like
    other_key = next(line for line in real if line.split()[0] == lab.address("h2")).split(None, 1)[1]
    known.write_text(
        "\n".join(
            f"{lab.address('h1')} {other_key}" if line.split()[0] == lab.address("h1") else line
            for line in real
        )
        + "\n"
    )
    planted = known.read_text()
    result = play(
        "- hosts: h1,h2\n  gather_facts: false\n  tasks: [ping: ]\n",
        "--known-hosts",
        str(known),
        "-e",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={known}'",
    )
    assert result.returncode == 4, result.stdout + result.stderr
    counts = recap(result.stdout)
    assert counts["h1"]["unreachable"] == 1 and counts["h2"]["ok"] == 1
    assert re.search(r"SHA256:[A-Za-z0-9+/]{20,}", result.stdout), result.stdout
    assert "changed" in result.stdout.lower()
    assert known.read_text() == planted  # the bad entry was not "fixed" silently


def test_ctrl_c_exits_99(lab: LabSession, tmp_path: Path) -> None:
    path = write(
        tmp_path / "long.yml", "- hosts: h1\n  gather_facts: false\n  tasks:\n    - command: sleep 30\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "play", str(path), "-i", str(lab.inventory_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(100):
        if lab.ssh("h1", "pgrep -f 'sleep 30'").returncode == 0:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 99, stderr
