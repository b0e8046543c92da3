"""Shared pieces of the Docker modules (docker_compose_v2, docker_image, docker_container).

They drive the `docker` CLI on the host (no Python, no Docker SDK there): a script runs the CLI,
prints its machine-readable output in sections (orch_section), and the controller parses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from orchestrator.modules.base import ModuleFailed
from orchestrator.modules.spec import Param
from orchestrator.modules.wire import WireOutput
from orchestrator.transport.shell import quote

DOCKER_PARAMS = {
    "docker_host": Param(
        "str",
        aliases=("docker_url",),
        help="The Docker daemon to talk to (DOCKER_HOST); default: the local socket.",
    ),
    "docker_cli": Param("path", help="Path of the docker CLI (default: `docker` from PATH)."),
}


def docker_prelude(args: Mapping[str, Any]) -> str:
    """Shell lines that pick the CLI and daemon and fail clearly when Docker is missing or down."""
    cli = args.get("docker_cli") or "docker"
    lines = [f"DOCKER={quote(cli)}"]
    if args.get("docker_host"):
        lines.append(f"DOCKER_HOST={quote(args['docker_host'])}; export DOCKER_HOST")
    lines.append(
        'command -v "$DOCKER" >/dev/null 2>&1 || { echo "docker CLI not found ($DOCKER); install Docker first" >&2; exit 3; }'
    )
    return "\n".join(lines) + "\n"


def sections_of(output: WireOutput) -> dict[str, str]:
    """A docker script's output by section (orch_section NAME before each), "" for what came
    first; each trimmed of surrounding newlines (JSON, one document per line)."""
    parts = {"": output.head_text.strip("\n")}
    for name, data in output.sections:
        parts[name] = data.decode("utf-8", "replace").strip("\n")
    return parts


def json_lines(text: str) -> list[Any]:
    """Parse JSON printed as one document per line, or as one array (both Compose formats)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def first_json(text: str) -> Any:
    """The first JSON document of `docker inspect` output (an array), or None."""
    try:
        items = json_lines(text)
    except ValueError:
        return None
    return items[0] if items else None


def fail_from(result: Any, msg: str, **extra: Any) -> ModuleFailed:
    """A ModuleFailed carrying the command output, with the CLI's own error as the message."""
    err = (result.err or "").strip()
    if result.rc == 3 and "docker CLI not found" in err:
        msg = err
    elif err:
        msg = f"{msg}: {err.splitlines()[-1]}"
    return ModuleFailed(msg, rc=result.rc, stdout=result.out, stderr=result.err, **extra)


def iter_labels(labels: Any) -> Iterator[tuple[str, str]]:
    """Labels as Compose's `ps --format json` gives them: a "k=v,k=v" string or a mapping."""
    if isinstance(labels, Mapping):
        yield from ((str(k), str(v)) for k, v in labels.items())
        return
    for part in str(labels or "").split(","):
        key, sep, value = part.partition("=")
        if sep:
            yield key, value
