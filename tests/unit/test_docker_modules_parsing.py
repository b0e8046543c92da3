"""Pure parts of the Docker modules: Compose event parsing, check-mode prediction, image refs."""

from __future__ import annotations

import json

import pytest

from orchestrator.modules.docker_common import iter_labels, json_lines, sections_of
from orchestrator.modules.library.docker_compose_v2 import DockerComposeV2, has_changes, parse_events, predict
from orchestrator.modules.library.docker_image import split_ref
from orchestrator.modules.spec import validate_args
from orchestrator.modules.wire import new_token, parse

# Real `docker compose --ansi never` stderr (Compose 2.26, recorded in a lab host).
UP_FRESH = """ Network demo_default  Creating
 Network demo_default  Created
 Container p-app-1  Creating
 Container p-app-1  Created
 Container p-app-1  Starting
 Container p-app-1  Started
"""
UP_NOOP = " Container p-app-1  Running\n"
RECREATE = """ Container p-app-1  Recreate
 Container p-app-1  Recreated
 Container p-app-1  Starting
 Container p-app-1  Started
 Container p-app-1  Waiting
container p-app-1 is unhealthy
"""


def test_parse_events() -> None:
    actions = parse_events(UP_FRESH)
    assert actions[0] == {"what": "network", "id": "demo_default", "status": "Creating"}
    assert [a["status"] for a in actions] == [
        "Creating",
        "Created",
        "Creating",
        "Created",
        "Starting",
        "Started",
    ]
    assert has_changes(actions)
    assert parse_events(UP_NOOP) == [{"what": "container", "id": "p-app-1", "status": "Running"}]
    assert not has_changes(parse_events(UP_NOOP))
    assert not has_changes(parse_events('Warning: No resource found to remove for project "p".\n'))
    recreate = parse_events(RECREATE)
    assert "Recreated" in [a["status"] for a in recreate] and has_changes(recreate)
    assert parse_events(" web Pulled\n") == [{"what": "service", "id": "web", "status": "Pulled"}]


def _args(**kw: object) -> dict:
    args, errors = validate_args(DockerComposeV2.spec, {"project_src": "/srv/p", **kw})
    assert not errors
    return args


def _container(service: str, state: str, config_hash: str, image: str) -> dict:
    labels = f"com.docker.compose.config-hash={config_hash},com.docker.compose.image={image},com.docker.compose.service={service}"
    return {"Name": f"p-{service}-1", "Service": service, "State": state, "Labels": labels, "Image": "x"}


PARTS = {
    "hash": "web h1\ndb h2",
    "config": json.dumps({"services": {"web": {"image": "app:2"}, "db": {"image": "pg:16"}}}),
    "images": "app:2 sha256:new\npg:16 sha256:pg",
}


@pytest.mark.parametrize(
    ("kw", "containers", "expected"),
    [
        ({}, [], {"web": "Created", "db": "Created"}),
        (
            {},
            [
                _container("web", "running", "h1", "sha256:new"),
                _container("db", "running", "h2", "sha256:pg"),
            ],
            {"p-web-1": "Running", "p-db-1": "Running"},
        ),
        (
            {},
            [
                _container("web", "running", "h1", "sha256:old"),
                _container("db", "running", "h2", "sha256:pg"),
            ],
            {"p-web-1": "Recreated", "p-db-1": "Running"},
        ),
        (
            {},
            [
                _container("web", "running", "OLD", "sha256:new"),
                _container("db", "exited", "h2", "sha256:pg"),
            ],
            {"p-web-1": "Recreated", "p-db-1": "Started"},
        ),
        (
            {"recreate": "never"},
            [_container("web", "running", "OLD", "sha256:old")],
            {"p-web-1": "Running", "db": "Created"},
        ),
        (
            {"recreate": "always", "services": ["web"]},
            [_container("web", "running", "h1", "sha256:new")],
            {"p-web-1": "Recreated"},
        ),
        (
            {"state": "stopped"},
            [_container("web", "running", "h1", "x"), _container("db", "exited", "h2", "x")],
            {"p-web-1": "Stopped"},
        ),
        ({"state": "absent"}, [_container("web", "exited", "h1", "x")], {"p-web-1": "Removed"}),
        (
            {"remove_orphans": True},
            [_container("old", "running", "h9", "x")],
            {"web": "Created", "db": "Created", "p-old-1": "Removed"},
        ),
    ],
)
def test_predict(kw: dict, containers: list, expected: dict) -> None:
    actions = predict(_args(**kw), PARTS, containers)
    assert {a["id"]: a["status"] for a in actions} == expected


def test_command_words() -> None:
    cmd = DockerComposeV2()._command(
        _args(
            pull="always",
            build="never",
            recreate="always",
            wait=True,
            wait_timeout=30,
            remove_orphans=True,
            dependencies=False,
            services=["web"],
            timeout=5,
        )
    )
    assert cmd == [
        "docker",
        "compose",
        "up",
        "--detach",
        "--no-color",
        "--quiet-pull",
        "--pull",
        "always",
        "--no-build",
        "--force-recreate",
        "--no-deps",
        "--remove-orphans",
        "--wait",
        "--wait-timeout",
        "30",
        "--timeout",
        "5",
        "web",
    ]
    down = DockerComposeV2()._command(
        _args(state="absent", remove_volumes=True, remove_images="local", services=["web"])
    )
    assert down == ["docker", "compose", "down", "--volumes", "--rmi", "local"]


def test_spec_rejects_bad_input() -> None:
    _, errors = validate_args(DockerComposeV2.spec, {"project_src": "/p", "state": "up"})
    assert errors == ["parameter 'state' must be one of: absent, stopped, restarted, present; got 'up'"]
    _, errors = validate_args(DockerComposeV2.spec, {"project_source": "/p"})
    assert "unsupported parameter 'project_source' (did you mean 'project_src'?)" in errors


def test_split_ref_and_labels_and_sections() -> None:
    assert split_ref("app", "1.0") == ("app", "1.0")
    assert split_ref("app:2.0", "latest") == ("app", "2.0")
    assert split_ref("registry:5000/app", "3") == ("registry:5000/app", "3")
    assert split_ref("registry:5000/app:4", "latest") == ("registry:5000/app", "4")
    assert dict(iter_labels("a=1,b=x=y")) == {"a": "1", "b": "x=y"}
    assert json_lines('{"a": 1}\n{"a": 2}\n') == [{"a": 1}, {"a": 2}]
    assert json_lines('[{"a": 1}]') == [{"a": 1}]
    token = new_token()
    out = f"head\n\n{token} ps\n{{}}\n\n{token} images\nx y\n"
    assert sections_of(parse(out, token)) == {"": "head", "ps": "{}", "images": "x y"}
