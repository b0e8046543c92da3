"""System modules on real lab hosts: every module through the cycle check -> converge -> no-op.

cycle(): check mode with --diff first (must report a change, show a diff, and leave the host's
overlay upper dir exactly as it was), then a real run (changed), then the same run again (ok).
Hosts have no systemd (the sysvinit paths run here) and reach the Debian mirror (apt).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.lab.testing import LabSession

RECAP_LINE = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Paths a login or a run touches by nature: not state a module manages.
VOLATILE = ("var/log", "run", "tmp", "var/tmp", "root/.ansible", "var/lib/sudo", "var/cache")

Play = Callable[..., subprocess.CompletedProcess[str]]


def recap(stdout: str, host: str) -> dict[str, int]:
    for m in RECAP_LINE.finditer(stdout):
        if m[1] == host:
            return {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
    raise AssertionError(f"no recap for {host} in:\n{stdout}")


def snapshot(lab: LabSession, host: str) -> dict[str, tuple[int, int, int, str]]:
    """Every entry of the host's upper dir: path -> (mode, uid, gid, content hash or link target)."""
    upper = lab.upper_dir(host)
    out: dict[str, tuple[int, int, int, str]] = {}
    for root, dirs, files in os.walk(upper):
        rel_root = os.path.relpath(root, upper)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel_root, d)) not in VOLATILE]
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if os.path.islink(path):
                what = "->" + os.readlink(path)
            elif os.path.isfile(path):
                what = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            else:
                what = "dir"
            if what != "dir":  # parents of volatile paths come and go; files and links are state
                out[os.path.normpath(os.path.join(rel_root, name))] = (st.st_mode, st.st_uid, st.st_gid, what)
    return out


def cycle(
    lab: LabSession, play: Play, host: str, tasks: str, *, diff: bool = True
) -> subprocess.CompletedProcess[str]:
    """check+diff (reports, touches nothing) -> run (changed) -> run again (no change)."""
    before = snapshot(lab, host)
    checked = play(host, tasks, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert recap(checked.stdout, host)["changed"] > 0, checked.stdout
    assert snapshot(lab, host) == before, "check mode changed the host"
    if diff:
        assert re.search(r"^\+\+\+ ", checked.stdout, re.M), checked.stdout
    first = play(host, tasks)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout, host)["changed"] > 0, first.stdout
    again = play(host, tasks)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout, host)["changed"] == 0, again.stdout
    return first


# ---- facts ------------------------------------------------------------------------------------------


def test_facts_as_ansible_facts_and_ansible_vars(hosts: LabSession, play: Play) -> None:
    result = play(
        "h1",
        """
        - assert:
            that:
              - ansible_facts['distribution'] == 'Debian' and ansible_distribution == 'Debian'
              - ansible_distribution_major_version == '12' and ansible_os_family == 'Debian'
              - ansible_distribution_release == 'bookworm'
              - ansible_facts['pkg_mgr'] == 'apt' and ansible_service_mgr == 'sysvinit'
              - ansible_hostname == 'h1' and ansible_fqdn != ''
              - ansible_memtotal_mb > 0 and ansible_processor_vcpus > 0
              - ansible_mounts | selectattr('mount', 'equalto', '/') | map(attribute='size_available') | first > 0
              - ansible_python.version.major == 3
              - ansible_env.HOME == '/root' and ansible_user_id == 'root'
              - ansible_architecture in ['x86_64', 'aarch64']
              - ansible_date_time.epoch | int > 0
              - ansible_all_ipv4_addresses is iterable and ansible_default_ipv4 is mapping
        """,
        gather=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    minimal = play("h1", "- assert: {that: [ansible_distribution == 'Debian', ansible_mounts is not defined]}",
                   gather=True, extra="  gather_subset: ['!all']\n")  # fmt: skip
    assert minimal.returncode == 0, minimal.stdout + minimal.stderr


# ---- accounts ----------------------------------------------------------------------------------------

KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHtxX89vbT7BruNtHdSxnJn1i0sq6q4IRyhpSCbZHT1 alice@laptop"
KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBgpSlwVwIsH/tfCCJqv+6sPh3sU/mtL6wjjbh2Hbdb"
KEY3 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 deploy@ci"
HASH = "$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g."


def test_group_user_authorized_key_cycle(hosts: LabSession, play: Play) -> None:
    accounts = f"""
    - group: {{name: devs, gid: 2345}}
    - user: {{name: alice, uid: 2001, group: devs, groups: [adm], shell: /bin/bash, comment: Alice, password: "{HASH}"}}
    - user: {{name: svc, system: true, create_home: false, shell: /usr/sbin/nologin}}
    - user: {{name: alice, generate_ssh_key: true, ssh_key_type: ed25519, ssh_key_comment: "alice@h1 $(id)"}}
    """
    first = cycle(hosts, play, "h1", accounts)
    keyfiles = hosts.ssh(
        "h1",
        "stat -c '%a %U %n' /home/alice/.ssh/id_ed25519*; cut -d' ' -f3- /home/alice/.ssh/id_ed25519.pub",
    )
    assert keyfiles.stdout == (
        "600 alice /home/alice/.ssh/id_ed25519\n644 alice /home/alice/.ssh/id_ed25519.pub\nalice@h1 $(id)\n"
    ), keyfiles.stdout
    # In check mode a key for a user that does not exist yet fails (as Ansible): keys come second.
    keys = f"""
    - authorized_key:
        user: alice
        key: |
          {KEY1}
          {KEY2}
    - authorized_key: {{user: alice, key: "{KEY3}", key_options: 'no-pty,from="10.0.0.1,10.0.0.2"'}}
    """
    cycle(hosts, play, "h1", keys)
    assert HASH not in first.stdout
    out = hosts.ssh("h1", "getent passwd alice svc; getent group devs; id -nG alice; "
                    "stat -c '%a %U' /home/alice/.ssh /home/alice/.ssh/authorized_keys; "
                    "cat /home/alice/.ssh/authorized_keys; getent shadow alice | cut -d: -f2").stdout  # fmt: skip
    assert "alice:x:2001:2345:Alice:/home/alice:/bin/bash" in out
    assert re.search(r"^svc:x:\d{3}:\d+::/home/svc:/usr/sbin/nologin$", out, re.M)
    assert "devs:x:2345:" in out and "devs adm" in out
    assert "700 alice" in out and "600 alice" in out
    # Ansible's serialisation: a comment-less key keeps a trailing space; options come first.
    assert f'{KEY1}\n{KEY2} \nno-pty,from="10.0.0.1,10.0.0.2" {KEY3}\n' in out
    assert HASH in out
    # append keeps the groups, state=absent removes user and group
    more = play("h1", "- user: {name: alice, groups: [sudo], append: true}\n- user: {name: svc, state: absent}\n"
                      "- group: {name: nothere, state: absent}")  # fmt: skip
    assert recap(more.stdout, "h1")["changed"] == 2, more.stdout
    assert hosts.ssh("h1", "id -nG alice").stdout.split() == ["devs", "adm", "sudo"]
    assert hosts.ssh("h1", "getent passwd svc").returncode != 0


def test_cron_cycle_writes_ansible_markers(hosts: LabSession, play: Play) -> None:
    tasks = """
    - cron: {name: backup, minute: "0", hour: "3", job: "/usr/local/bin/backup > /dev/null"}
    - cron: {name: MAILTO, env: true, job: ops@example.com}
    - cron: {name: cleanup, cron_file: orch-cleanup, user: root, special_time: daily, job: "find /tmp -mtime +7 -delete"}
    - cron: {name: weekly report, user: deploy, weekday: "1", minute: "30", hour: "6", job: report, disabled: true}
    """
    cycle(hosts, play, "h2", tasks)
    root = hosts.ssh("h2", "crontab -l").stdout
    assert 'MAILTO="ops@example.com"\n#Ansible: backup\n0 3 * * * /usr/local/bin/backup > /dev/null\n' in root
    assert hosts.ssh("h2", "cat /etc/cron.d/orch-cleanup").stdout == (
        "#Ansible: cleanup\n@daily root find /tmp -mtime +7 -delete\n"
    )
    assert "#Ansible: weekly report\n#30 6 * * 1 report\n" in hosts.ssh("h2", "crontab -u deploy -l").stdout
    gone = play(
        "h2",
        "- cron: {name: cleanup, cron_file: orch-cleanup, state: absent}\n- cron: {name: backup, state: absent}",
    )
    assert recap(gone.stdout, "h2")["changed"] == 2
    assert hosts.ssh("h2", "test -e /etc/cron.d/orch-cleanup").returncode != 0
    assert "backup" not in hosts.ssh("h2", "crontab -l").stdout


def test_sysctl_file_and_reload(hosts: LabSession, play: Play) -> None:
    cycle(hosts, play, "h2", """
    - sysctl: {name: vm.swappiness, value: "10", sysctl_file: /etc/sysctl.d/60-orch.conf, reload: false}
    - sysctl: {name: net.core.somaxconn, value: "1024", sysctl_file: /etc/sysctl.d/60-orch.conf, reload: false}
    """)  # fmt: skip
    assert (
        hosts.ssh("h2", "cat /etc/sysctl.d/60-orch.conf").stdout
        == "vm.swappiness=10\nnet.core.somaxconn=1024\n"
    )
    # The lab shares the machine's kernel: reload only with the value the kernel already has.
    current = hosts.ssh("h2", "sysctl -n net.ipv4.ip_forward").stdout.strip()
    applied = play(
        "h2",
        f"- sysctl: {{name: net.ipv4.ip_forward, value: '{current}', sysctl_file: /etc/sysctl.d/61-orch.conf}}",
    )
    assert applied.returncode == 0 and recap(applied.stdout, "h2")["changed"] == 1, applied.stdout
    bad = play("h2", "- sysctl: {name: no.such.key, value: '1', sysctl_file: /etc/sysctl.d/62-orch.conf}")
    assert bad.returncode == 2 and "Failed to reload sysctl" in bad.stdout, bad.stdout
    tolerant = play(
        "h2",
        "- sysctl: {name: no.such.key2, value: '1', sysctl_file: /etc/sysctl.d/63-orch.conf, ignoreerrors: true}",
    )
    assert tolerant.returncode == 0, tolerant.stdout


def test_hostname_and_timezone_cycle(hosts: LabSession, play: Play) -> None:
    cycle(
        hosts,
        play,
        "h3",
        "- hostname: {name: web-03.example.com}\n- community.general.timezone: {name: Europe/Paris}",
    )
    out = hosts.ssh(
        "h3", "hostname; cat /etc/hostname /etc/timezone; readlink /etc/localtime; date +%Z"
    ).stdout.split()
    assert out[:4] == [
        "web-03.example.com",
        "web-03.example.com",
        "Europe/Paris",
        "/usr/share/zoneinfo/Europe/Paris",
    ]
    assert out[4] in ("CET", "CEST")
    bad = play("h3", "- timezone: {name: Mars/Olympus}")
    assert bad.returncode == 2 and 'given timezone "Mars/Olympus" is not available' in bad.stdout


def test_service_with_init_scripts(hosts: LabSession, play: Play) -> None:
    cycle(hosts, play, "h3", "- service: {name: cron, state: started, enabled: true}")
    assert hosts.ssh("h3", "pgrep -x cron").returncode == 0
    assert hosts.ssh("h3", "ls /etc/rc2.d").stdout.count("S01cron") == 1
    stopped = play("h3", "- ansible.builtin.systemd_service: {name: cron, state: stopped, enabled: false}")
    assert recap(stopped.stdout, "h3")["changed"] == 1
    assert (
        hosts.ssh("h3", "pgrep -x cron").returncode != 0
        and "K01cron" in hosts.ssh("h3", "ls /etc/rc2.d").stdout
    )
    restarted = play(
        "h3", "- service: {name: cron, state: restarted}\n- service: {name: cron, state: restarted}"
    )
    assert recap(restarted.stdout, "h3")["changed"] == 2
    missing = play("h3", "- service: {name: no-such-service, state: started}")
    assert (
        missing.returncode == 2 and "Could not find the requested service no-such-service" in missing.stdout
    )


# ---- packages ------------------------------------------------------------------------------------------


def test_apt_install_cycle_and_remove(hosts: LabSession, play: Play) -> None:
    tasks = "- apt: {name: tree, update_cache: true, cache_valid_time: 3600}"
    cycle(hosts, play, "h4", tasks)
    assert hosts.ssh("h4", "dpkg-query -W -f '${Status}' tree").stdout == "install ok installed"
    removed = play("h4", "- package: {name: tree, state: absent}", "--diff")
    assert recap(removed.stdout, "h4")["changed"] == 1 and "Remv tree" in removed.stdout
    assert hosts.ssh("h4", "command -v tree").returncode != 0
    missing = play("h4", "- apt: {name: no-such-package-xyz}")
    assert (
        missing.returncode == 2 and "No package matching 'no-such-package-xyz' is available" in missing.stdout
    )


class _Server(http.server.ThreadingHTTPServer):
    hits: dict[str, int]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        hits = self.server.hits
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/key.gpg":
            body, kind, code = KEY_BYTES, "application/octet-stream", 200
        elif self.path == "/flaky" and hits[self.path] < 3:
            body, kind, code = b"warming up", "text/plain", 503
        else:
            body, kind, code = json.dumps({"path": self.path, "ok": True}).encode(), "application/json", 200
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"got": json.loads(data), "auth": self.headers.get("Authorization")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


KEY_BYTES = b"\x99\x01\x0d\x04orch-test-key-bytes"  # served as a binary (non-armored) key


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    """An HTTP server on the machine; lab hosts share its loopback network."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.hits = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_apt_sources_deb822_and_one_line(hosts: LabSession, play: Play, web: str) -> None:
    tasks = f"""
    - deb822_repository:
        name: docker
        types: [deb]
        uris: ["{web}/debian"]
        suites: [bookworm]
        components: [stable]
        signed_by: "{web}/key.gpg"
        enabled: false
    - apt_repository:
        repo: "deb [signed-by=/etc/apt/keyrings/docker.gpg]  {web}/debian bookworm stable"
        filename: docker-legacy
        update_cache: false
    """
    cycle(hosts, play, "h4", tasks, diff=True)
    assert hosts.ssh("h4", "cat /etc/apt/sources.list.d/docker.sources").stdout == (
        f"Components: stable\nEnabled: no\nX-Repolib-Name: docker\nSigned-By: /etc/apt/keyrings/docker.gpg\n"
        f"Suites: bookworm\nTypes: deb\nURIs: {web}/debian\n"
    )
    assert hosts.ssh(
        "h4", "stat -c %a /etc/apt/keyrings/docker.gpg; cat /etc/apt/sources.list.d/docker-legacy.list"
    ).stdout == (f"644\ndeb [signed-by=/etc/apt/keyrings/docker.gpg] {web}/debian bookworm stable\n")
    assert hosts.upper_dir("h4").joinpath("etc/apt/keyrings/docker.gpg").read_bytes() == KEY_BYTES
    removed = play("h4", f"- apt_repository: {{repo: 'deb [signed-by=/etc/apt/keyrings/docker.gpg] {web}/debian bookworm stable', state: absent, update_cache: false}}\n"
                         "- deb822_repository: {name: docker, state: absent}")  # fmt: skip
    assert recap(removed.stdout, "h4")["changed"] == 2
    left = hosts.ssh("h4", "ls /etc/apt/sources.list.d /etc/apt/keyrings").stdout.split()
    assert left == ["/etc/apt/keyrings:", "/etc/apt/sources.list.d:", "debian.sources"], left


# ---- uri, wait_for, pause -------------------------------------------------------------------------------


def test_uri_json_status_and_until(hosts: LabSession, play: Play, web: str) -> None:
    result = play(
        "h1",
        f"""
        - uri: {{url: "{web}/health"}}
          register: health
        - uri:
            url: "{web}/items"
            method: POST
            body_format: json
            body: {{name: web, replicas: 2}}
            status_code: [201]
            url_username: deploy
            url_password: s3cret-pass
            force_basic_auth: true
          register: created
        - uri: {{url: "{web}/flaky", return_content: true}}
          register: flaky
          until: flaky.status == 200
          retries: 5
          delay: 0
        - uri: {{url: "{web}/health", status_code: [204]}}
          register: wrong
          ignore_errors: true
        - assert:
            that:
              - health.status == 200 and health.json.ok and health.json.path == '/health'
              - created.status == 201 and created.json.got.replicas == 2
              - created.json.auth == 'Basic ZGVwbG95OnMzY3JldC1wYXNz'
              - flaky.attempts == 3 and flaky.content is defined
              - wrong.failed and wrong.msg.startswith('Status code was 200 and not [204]')
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s3cret-pass" not in result.stdout
    assert recap(result.stdout, "h1")["changed"] == 0


def test_wait_for_ports_files_and_timeouts(hosts: LabSession, play: Play, web: str) -> None:
    port = web.rsplit(":", 1)[1]
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    result = play(
        "h1",
        f"""
        - wait_for: {{port: {port}, timeout: 10}}
        - wait_for: {{port: 22, host: {hosts.address("h1")}, search_regex: OpenSSH, timeout: 10, connect_timeout: 1}}
        - wait_for: {{port: {closed}, state: stopped, timeout: 5}}
        - shell: (sleep 2; echo service ready > /tmp/orch-flag) > /dev/null 2>&1 &
        - wait_for: {{path: /tmp/orch-flag, search_regex: "ready", timeout: 20}}
          register: waited
        - wait_for: {{path: /tmp/orch-none, state: absent, timeout: 5}}
        - wait_for: {{port: {closed}, timeout: 2}}
          register: late
          ignore_errors: true
        - pause: {{seconds: 1}}
          register: paused
        - assert:
            that:
              - waited.elapsed >= 1
              - late.failed and late.msg == 'Timeout when waiting for 127.0.0.1:{closed}'
              - paused.stdout.startswith('Paused for')
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---- reboot -----------------------------------------------------------------------------------------------


def test_reboot_restarts_the_host_and_waits_on_a_fresh_connection(hosts: LabSession, play: Play) -> None:
    pid1 = hosts.ssh("h2", "sed 's/.*) //' /proc/1/stat | cut -d' ' -f20").stdout.strip()
    checked = play("h2", "- reboot:", "--check")
    assert recap(checked.stdout, "h2")["changed"] == 1
    assert hosts.ssh("h2", "sed 's/.*) //' /proc/1/stat | cut -d' ' -f20").stdout.strip() == pid1
    result = play(
        "h2",
        """
        - shell: touch /run/orch-before; echo kept > /root/orch-kept
        - reboot: {msg: "orch test", test_command: "test -f /root/orch-kept"}
          register: rebooted
        - command: cat /root/orch-kept
          register: kept
        - stat: {path: /run/orch-before}
          register: runfile
        - assert: {that: [rebooted.rebooted, kept.stdout == 'kept', not runfile.stat.exists]}
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert hosts.ssh("h2", "sed 's/.*) //' /proc/1/stat | cut -d' ' -f20").stdout.strip() != pid1


# ---- no python, bad input -------------------------------------------------------------------------------


def test_system_modules_work_on_a_host_without_python(hosts: LabSession, play: Play, web: str) -> None:
    hosts.reset("h3")
    assert hosts.ssh("h3", "rm -f /usr/bin/python3* && ! command -v python3").returncode == 0
    result = play(
        "h3",
        f"""
        - group: {{name: ops2}}
        - user: {{name: bob, groups: [ops2]}}
        - authorized_key: {{user: bob, key: "{KEY1}"}}
        - cron: {{name: tick, job: "true"}}
        - sysctl: {{name: vm.swappiness, value: "5", sysctl_file: /etc/sysctl.d/70-orch.conf, reload: false}}
        - service: {{name: cron, state: started}}
        - hostname: {{name: nopy}}
        - timezone: {{name: Asia/Tokyo}}
        - uri: {{url: "{web}/health"}}
        - wait_for: {{path: /etc/hostname}}
        - apt_repository: {{repo: "deb {web}/x stable main", update_cache: false}}
        - assert: {{that: [ansible_python is not defined, ansible_distribution == 'Debian']}}
        """,
        gather=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout, "h3")["changed"] == 9  # all but uri and wait_for
    hosts.reset("h3")


def test_bad_parameters_are_rejected_before_any_host_is_contacted(
    tmp_path: Path, run_orch: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("ghost ansible_host=127.0.0.254 ansible_port=1\n")
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        "- hosts: all\n  tasks:\n"
        "    - apt: {name: tree, upgrade: dist}\n"
        "    - cron: {name: x, job: 'true', special_time: sometimes}\n"
        "    - user: {nme: alice}\n"
    )
    result = run_orch("play", str(playbook), "-i", str(inventory))
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "bad.yml:3" in text and "mutually exclusive" in text
    assert "UNREACHABLE" not in text and "ghost" not in text.replace(str(inventory), "")


def test_apt_installs_a_deb_from_the_controller(hosts: LabSession, play: Play, tmp_path: Path) -> None:
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb is needed on the controller to build the test package")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: orch-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: orch <orch@example.com>\n"
        "Description: orch test package\n"
    )
    (root / "usr/share/orch-hello").mkdir(parents=True)
    (root / "usr/share/orch-hello/README").write_text("hello\n")
    deb = tmp_path / "orch-hello_1.0_all.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True
    )
    cycle(hosts, play, "h4", f"- apt: {{deb: {deb}}}")
    assert (
        hosts.ssh("h4", "cat /usr/share/orch-hello/README; ls /tmp | grep -c orch-deb || true").stdout
        == "hello\n0\n"
    )


def test_a_no_op_run_costs_one_round_trip_per_task(
    hosts: LabSession, play: Play, web: str, tmp_path: Path
) -> None:
    tasks = f"""
    - group: {{name: rt}}
    - user: {{name: rtuser, group: rt, shell: /bin/sh}}
    - authorized_key: {{user: rtuser, key: "{KEY1}"}}
    - cron: {{name: rt, job: /bin/true}}
    - sysctl: {{name: vm.swappiness, value: "7", sysctl_file: /etc/sysctl.d/80-rt.conf, reload: false}}
    - hostname: {{name: rt-host}}
    - timezone: {{name: Europe/Berlin}}
    - service: {{name: cron, enabled: false}}
    - apt: {{name: sl, state: absent}}
    - apt_repository: {{repo: "deb {web}/rt stable main", update_cache: false}}
    - wait_for: {{path: /etc/hostname}}
    - uri: {{url: "{web}/rt"}}
    """
    assert play("h1", tasks).returncode == 0
    out = tmp_path / "rt.json"
    again = play("h1", tasks, "--json", str(out), "--no-pipelining")
    assert again.returncode == 0 and recap(again.stdout, "h1")["changed"] == 0, again.stdout
    figures = json.loads(out.read_text())["transport"]["h1"]
    assert figures["round_trips"] == 12, figures
    # pipelined (the default, docs/pipelining.md): the first ten tasks in one batch, but hostname
    # returns facts, so the four after it are planned (and sent) again; then wait_for and uri
    # (a run of one) by themselves
    again = play("h1", tasks, "--json", str(out))
    assert again.returncode == 0 and recap(again.stdout, "h1")["changed"] == 0, again.stdout
    figures = json.loads(out.read_text())["transport"]["h1"]
    assert figures["round_trips"] == 4, figures
