"""community.docker modules (docker_image, docker_compose_v2, docker_container) against a real
dockerd inside a lab host, with the demo app's images built offline on the controller.

Each module gets the cycle: run -> changed; again -> ok; check mode -> reports the change and
touches nothing (verified with the docker CLI over the system ssh client); diff mode -> shows it;
bad input -> a clear error with file:line before any host is contacted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from orchestrator.lab.testing import REPO_ROOT, LabSession, run_orch

pytestmark = pytest.mark.lab
BUILD = REPO_ROOT / "playbooks" / "files" / "demo-app" / "build_image.py"


@pytest.fixture(scope="module")
def docker_host(
    operator_docker: tuple[LabSession, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[LabSession, Path, Path]:
    """The shared operator fleet limited to h3, with Docker running (operator_docker) and images
    `modtest:1.0.0` / `:2.0.0` built offline (their own repository, so the demo app deployed on
    the host is never touched)."""
    lab, inventory = operator_docker
    images = tmp_path_factory.mktemp("docker-images")
    for version in ("1.0.0", "2.0.0"):
        subprocess.run(
            [sys.executable, str(BUILD), version, "--out", str(images), "--repo", "modtest"],
            check=True,
            capture_output=True,
        )
    return lab, inventory, images


def play(inventory: Path, tmp_path: Path, tasks: str, *extra: str) -> CompletedProcess[str]:
    path = tmp_path / "play.yml"
    path.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n" + tasks)
    return run_orch("play", str(path), "-i", str(inventory), "--limit", "h3", *extra, timeout=600)


def changed(result: CompletedProcess[str]) -> int:
    m = re.search(r"changed=(\d+)", result.stdout)
    assert m and result.returncode == 0, result.stdout + result.stderr
    return int(m[1])


def sh(lab: LabSession, cmd: str) -> str:
    return lab.ssh(3, cmd, check=True).stdout


def test_docker_image_cycle(docker_host: tuple[LabSession, Path, Path], tmp_path: Path) -> None:
    lab, inventory, images = docker_host
    tasks = f"""
    - copy: {{src: "{images}/modtest_1.0.0.tar", dest: /root/app-1.tar}}
    - community.docker.docker_image:
        name: modtest
        tag: "1.0.0"
        source: load
        load_path: /root/app-1.tar
        repository: demo/app:current
"""
    sh(lab, "docker rmi -f modtest:1.0.0 demo/app:current >/dev/null 2>&1 || true")
    checked = play(inventory, tmp_path, tasks, "--check", "--diff")
    assert changed(checked) == 2
    assert "modtest:1.0.0: absent" in checked.stdout
    assert (
        sh(lab, "docker images -q modtest; ls /root | grep app- || true") == ""
    )  # nothing loaded, nothing copied
    first = play(inventory, tmp_path, tasks, "--diff")
    assert changed(first) == 2
    assert "+Loaded image modtest:1.0.0 from /root/app-1.tar" in first.stdout
    assert "+Tagged image modtest:1.0.0 as demo/app:current" in first.stdout
    ids = sh(
        lab, "docker images --no-trunc -q modtest:1.0.0; docker images --no-trunc -q demo/app:current"
    ).split()
    assert len(ids) == 2 and ids[0] == ids[1]
    assert changed(play(inventory, tmp_path, tasks)) == 0
    # Loading the same archive again (force_source) gives the same ID: not a change.
    forced = tasks.replace("source: load", "source: load\n        force_source: true")
    assert changed(play(inventory, tmp_path, forced)) == 0
    absent = """
    - community.docker.docker_image: {name: "demo/app:current", state: absent}
"""
    assert changed(play(inventory, tmp_path, absent, "--check")) == 1
    assert sh(lab, "docker images -q demo/app:current") != ""
    assert changed(play(inventory, tmp_path, absent)) == 1
    assert sh(lab, "docker images -q demo/app:current") == ""
    assert changed(play(inventory, tmp_path, absent)) == 0
    missing = play(inventory, tmp_path, "    - community.docker.docker_image: {name: nope, source: local}\n")
    assert (
        missing.returncode == 2
        and "image nope:latest does not exist locally" in missing.stdout + missing.stderr
    )


def test_docker_compose_v2_cycle(docker_host: tuple[LabSession, Path, Path], tmp_path: Path) -> None:
    lab, inventory, images = docker_host
    address = lab.address(3)
    setup = f"""
    - copy: {{src: "{images}/modtest_2.0.0.tar", dest: /root/app-2.tar}}
    - community.docker.docker_image: {{name: modtest, tag: "2.0.0", source: load, load_path: /root/app-2.tar}}
    - file: {{path: /srv/proj, state: directory}}
    - copy:
        dest: /srv/proj/compose.yml
        content: |
          services:
            web:
              image: "modtest:${{APP_VERSION}}"
              network_mode: host
              environment: {{APP_PORT: "8181", APP_BIND: "{address}"}}
    - copy: {{dest: /srv/proj/.env, content: "APP_VERSION=1.0.0\\n"}}
"""
    assert play(inventory, tmp_path, setup).returncode == 0
    up = """
    - community.docker.docker_compose_v2: {project_src: /srv/proj, state: present}
      register: r
    - debug: {msg: "ACTIONS {{ r.actions | map(attribute='status') | join(',') }}"}
"""
    checked = play(inventory, tmp_path, up, "--check", "--diff")
    assert changed(checked) == 1 and "ACTIONS Created" in checked.stdout
    assert sh(lab, "docker ps -aq --filter label=com.docker.compose.project=proj") == ""
    first = play(inventory, tmp_path, up, "--diff")
    assert changed(first) == 1 and "ACTIONS Creat" in first.stdout
    assert "+container proj-web-1: Started" in first.stdout
    assert '"version":"1.0.0"' in sh(lab, f"curl -s http://{address}:8181/health")
    again = play(inventory, tmp_path, up)
    assert changed(again) == 0 and "ACTIONS Running" in again.stdout
    assert changed(play(inventory, tmp_path, up, "--check")) == 0

    # A new image version: check mode predicts the recreate and leaves 1.0.0 running.
    sh(lab, "echo APP_VERSION=2.0.0 > /srv/proj/.env")
    predicted = play(inventory, tmp_path, up, "--check")
    assert changed(predicted) == 1 and "ACTIONS Recreated" in predicted.stdout
    assert '"version":"1.0.0"' in sh(lab, f"curl -s http://{address}:8181/health")
    recreated = play(inventory, tmp_path, up)
    assert changed(recreated) == 1 and "Recreated" in recreated.stdout
    assert '"version":"2.0.0"' in sh(lab, f"curl -s http://{address}:8181/health")

    for state, first_changed in (
        ("stopped", 1),
        ("stopped", 0),
        ("present", 1),
        ("restarted", 1),
        ("absent", 1),
        ("absent", 0),
    ):
        task = f"    - community.docker.docker_compose_v2: {{project_src: /srv/proj, state: {state}}}\n"
        assert changed(play(inventory, tmp_path, task, "--check")) == first_changed, state
        assert changed(play(inventory, tmp_path, task)) == first_changed, state
    assert sh(lab, "docker ps -aq --filter label=com.docker.compose.project=proj") == ""

    ps = play(inventory, tmp_path, up + '    - debug: {msg: "STATE {{ r.containers[0].State }}"}\n')
    assert "STATE running" in ps.stdout


def test_docker_compose_v2_errors(docker_host: tuple[LabSession, Path, Path], tmp_path: Path) -> None:
    _, inventory, _ = docker_host
    bad = play(
        inventory, tmp_path, "    - community.docker.docker_compose_v2: {project_src: /srv/proj, state: up}\n"
    )
    assert bad.returncode != 0
    assert (
        re.search(r"play\.yml:4:\d+", bad.stdout + bad.stderr)
        and "must be one of: absent" in bad.stdout + bad.stderr
    )
    typo = play(
        inventory, tmp_path, "    - community.docker.docker_compose_v2: {project_source: /srv/proj}\n"
    )
    assert typo.returncode != 0 and "did you mean 'project_src'" in typo.stdout + typo.stderr
    empty = play(inventory, tmp_path, "    - community.docker.docker_compose_v2: {project_src: /tmp}\n")
    assert empty.returncode == 2 and "no Compose file" in empty.stdout


def test_docker_container_cycle(docker_host: tuple[LabSession, Path, Path], tmp_path: Path) -> None:
    lab, inventory, _ = docker_host
    address = lab.address(3)
    task = f"""
    - community.docker.docker_container:
        name: probe
        image: modtest:2.0.0
        network_mode: host
        env: {{APP_PORT: "8282", APP_BIND: "{address}"}}
        restart_policy: unless-stopped
"""
    checked = play(inventory, tmp_path, task, "--check", "--diff")
    assert changed(checked) == 1 and "+container probe: running (pull, create, start)" not in checked.stdout
    assert "+container probe: running (create, start)" in checked.stdout
    assert sh(lab, "docker ps -aq --filter name=probe") == ""
    assert changed(play(inventory, tmp_path, task)) == 1
    assert '"version":"2.0.0"' in sh(lab, f"curl -s http://{address}:8282/health")
    assert changed(play(inventory, tmp_path, task)) == 0
    sh(lab, "docker stop probe")
    assert changed(play(inventory, tmp_path, task, "--check")) == 1
    assert sh(lab, "docker inspect --format '{{.State.Status}}' probe").strip() == "exited"
    assert changed(play(inventory, tmp_path, task)) == 1
    # A changed setting recreates the container.
    moved = task.replace('"8282"', '"8283"')
    assert changed(play(inventory, tmp_path, moved)) == 1
    assert '"version":"2.0.0"' in sh(lab, f"curl -s http://{address}:8283/health")
    gone = "    - community.docker.docker_container: {name: probe, state: absent}\n"
    assert changed(play(inventory, tmp_path, gone)) == 1
    assert changed(play(inventory, tmp_path, gone)) == 0
    assert sh(lab, "docker ps -aq --filter name=probe") == ""


def test_docker_exec_in_lab_host(docker_host: tuple[LabSession, Path, Path]) -> None:
    """`docker exec` (and so `docker compose exec`) works in a lab host: runc joins the container's
    mount namespace with setns(), which needs the host's root to be its namespace's root mount;
    the lab enters hosts with pivot_root for that (orchestrator/lab/fleet.py). Under chroot every
    exec failed with `stat /app/demo-app: no such file or directory`."""
    lab, _, images = docker_host
    address = lab.address(3)
    lab.docker_load(3, images / "modtest_1.0.0.tar")
    sh(lab, "docker rm -f exec-probe >/dev/null 2>&1 || true")
    sh(lab, f"docker run -d --name exec-probe --network host -e APP_PORT=8284 -e APP_BIND={address} modtest:1.0.0")
    try:
        sh(lab, f"for i in $(seq 50); do curl -sf http://{address}:8284/health && exit 0; sleep 0.2; done; exit 1")
        # The container's own binary, with the container's environment: checks its server.
        ok = lab.ssh(3, "docker exec exec-probe /app/demo-app check")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        # Really executed inside: pointed at a port nothing serves, the same check fails.
        bad = lab.ssh(3, "docker exec -e APP_PORT=1 exec-probe /app/demo-app check")
        assert bad.returncode != 0 and "no such file" not in bad.stderr, bad.stderr
    finally:
        sh(lab, "docker rm -f exec-probe >/dev/null")
