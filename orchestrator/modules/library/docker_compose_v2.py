"""docker_compose_v2: drive a Docker Compose v2 project (`docker compose`) like community.docker.

`changed` is true only when Compose created, recreated, started, restarted, stopped, removed,
pulled or built something: the module reads the event lines Compose prints (" Container x
Started", " Network y Created", ...) the way community.docker does. `Running` (nothing to do)
is not a change.

Check mode does not trust `docker compose --dry-run` (2.2x prints events for work it would not
do): one read-only round trip collects `config --hash`, the resolved config, the project's
containers and the local image IDs, and the controller predicts what `up`/`stop`/`restart`/
`down` would do from Compose's own labels (com.docker.compose.config-hash and .image).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.docker_common import (
    DOCKER_PARAMS,
    docker_prelude,
    fail_from,
    iter_labels,
    json_lines,
    sections_of,
)
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import CommandResult, printf_literal, quote

# Event statuses that mean Compose did something (community.docker's notion of a change).
CHANGE_STATUSES = {
    "Created",
    "Recreated",
    "Started",
    "Restarted",
    "Stopped",
    "Killed",
    "Removed",
    "Pulled",
    "Built",
}
_EVENT = re.compile(
    r"^\s*(?:DRY-RUN MODE -\s+)?(?P<what>Container|Network|Volume|Image|Service)\s+(?P<id>\S+)\s+(?P<status>[A-Z][a-z]+)\s*$"
)
_SERVICE_EVENT = re.compile(
    r"^\s*(?P<id>[A-Za-z0-9_.-]+)\s+(?P<status>Pulled|Built|Skipped|Pulling|Building)\s*$"
)


def parse_events(text: str) -> list[dict[str, str]]:
    """Compose's progress lines (stderr, --ansi never) as community.docker's `actions` entries."""
    actions = []
    for line in text.splitlines():
        m = _EVENT.match(line)
        if m:
            actions.append({"what": m["what"].lower(), "id": m["id"], "status": m["status"]})
            continue
        m = _SERVICE_EVENT.match(line)
        if m:
            actions.append({"what": "service", "id": m["id"], "status": m["status"]})
    return actions


def has_changes(actions: list[dict[str, str]]) -> bool:
    return any(a["status"] in CHANGE_STATUSES for a in actions)


@register
class DockerComposeV2(Module):
    """Manage a multi-container Docker application with Compose v2 (`docker compose`)."""

    name = "docker_compose_v2"
    aliases = ("community.docker.docker_compose_v2",)
    spec = ArgSpec(
        params={
            "project_src": Param("path", help="Directory holding the Compose file(s)."),
            "project_name": Param("str", help="Project name (default: the directory's name)."),
            "files": Param("list", elements="path", help="Compose files, relative to project_src."),
            "definition": Param(
                "dict", help="The Compose file as data (written to a temp file on the host)."
            ),
            "env_files": Param("list", elements="path", help="--env-file arguments."),
            "profiles": Param("list", elements="str", help="Profiles to enable."),
            "state": Param("str", default="present", choices=("absent", "stopped", "restarted", "present")),
            "dependencies": Param("bool", default=True, help="false: --no-deps (only the named services)."),
            "pull": Param("str", default="policy", choices=("always", "missing", "never", "policy")),
            "build": Param("str", default="policy", choices=("always", "never", "policy")),
            "recreate": Param("str", default="auto", choices=("always", "never", "auto")),
            "remove_images": Param("str", choices=("all", "local")),
            "remove_orphans": Param("bool", default=False),
            "remove_volumes": Param("bool", default=False),
            "services": Param("list", elements="str", help="Only these services (default: all)."),
            "scale": Param("dict", help="Service name -> number of containers."),
            "timeout": Param("int", help="Seconds to wait for containers to stop before killing them."),
            "wait": Param("bool", default=False, help="Wait until services are running/healthy (up --wait)."),
            "wait_timeout": Param("int", help="Maximum seconds for `wait`."),
            "check_files_existing": Param("bool", default=True),
            "assume_yes": Param("bool", default=False),
            **DOCKER_PARAMS,
        },
        required_one_of=(("project_src", "definition"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args.get("definition") is not None and not args.get("project_name"):
            raise ModuleFailed("docker_compose_v2: `definition` requires `project_name`")
        if args.get("wait_timeout") is not None and not args.get("wait"):
            raise ModuleFailed("docker_compose_v2: `wait_timeout` needs `wait: true`")
        setup = docker_prelude(args) + self._setup(args)
        # Compose's own run is the write step; when the engine does not allow it (check mode),
        # a read-only query (config, ps) lets predict() say what it would do.
        step = ctx.converge("return 10", setup + self._action(args), apply_is_result=True)
        applied = step.applied
        if applied:
            result = CommandResult(step.rc, step.apply.head, step.stderr.encode())
            parts = sections_of(step.apply)
        else:
            reply = ctx.query(setup + self._query())
            result, parts = reply, sections_of(reply.wire)
        if result.rc != 0:
            raise fail_from(result, f"docker compose failed (rc {result.rc})", cmd=self._command(args))
        try:
            containers = json_lines(parts.get("ps", ""))
        except ValueError as exc:
            raise ModuleFailed(
                f"could not parse `docker compose ps` output: {exc}", stdout=result.out
            ) from None
        # Check mode predicts from labels; a real run reads what Compose reports it did.
        actions = parse_events(result.err) if applied else predict(args, parts, containers)
        if has_changes(actions) and ctx.diff_mode:
            ctx.add_diff(
                "".join(f"{c.get('Name')}: {c.get('State')} {c.get('Image')}\n" for c in containers)
                if not applied
                else "",
                "".join(
                    f"{a['what']} {a['id']}: {a['status']}\n"
                    for a in actions
                    if a["status"] in CHANGE_STATUSES
                ),
                "containers before",
                "what Compose did" if applied else "what Compose would do",
            )
        data: dict[str, Any] = {
            "changed": has_changes(actions),
            "actions": actions,
            "containers": containers,
            "images": sorted({c.get("Image", "") for c in containers if c.get("Image")}),
            "rc": result.rc,
            "stdout": parts.get("", ""),
            "stderr": result.err,
            "cmd": self._command(args),
        }
        return data

    # ---- script pieces -----------------------------------------------------------------------

    def _setup(self, args: Mapping[str, Any]) -> str:
        """cd into the project, define `compose` with every global option, check the CLI."""
        lines = []
        if args.get("project_src"):
            lines.append(f"cd {quote(args['project_src'])} || exit 2")
        globals_ = ["--ansi", "never"]
        if args.get("project_name"):
            globals_ += ["--project-name", args["project_name"]]
        files = list(args.get("files") or [])
        if args.get("definition") is not None:
            content = json.dumps(args["definition"], indent=2).encode()
            lines.append(
                "__def=$(mktemp /tmp/.orch-compose.XXXXXX) || exit 2; trap 'rm -f -- \"$__def\"' EXIT"
            )
            lines.append(f'printf {printf_literal(content)} > "$__def"')
            files = ["__DEF__"]
        for f in files:
            globals_ += ["--file", f]
        for env_file in args.get("env_files") or []:
            globals_ += ["--env-file", env_file]
        for profile in args.get("profiles") or []:
            globals_ += ["--profile", profile]
        words = " ".join('"$__def"' if w == "__DEF__" else quote(w) for w in globals_)
        lines.append(f'compose() {{ "$DOCKER" compose {words} "$@"; }}')
        lines.append(
            'compose version >/dev/null 2>&1 || { echo "Docker Compose v2 is not available '
            '(`docker compose version` failed); install the compose plugin" >&2; exit 3; }'
        )
        if args["check_files_existing"] and args.get("project_src") and not files:
            lines.append(
                "__found=; for __f in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; "
                'do [ -f "$__f" ] && __found=1; done; [ -n "$__found" ] || '
                f"{{ echo {quote('no Compose file (compose.yaml, compose.yml, docker-compose.y(a)ml) in ' + str(args['project_src']))} >&2; exit 2; }}"
            )
        return "\n".join(lines) + "\n"

    def _action(self, args: Mapping[str, Any]) -> str:
        """The real command; its events go to stderr, then `ps` for the result."""
        services = " ".join(quote(s) for s in args.get("services") or [])
        cmd = self._command(args)
        words = " ".join(quote(w) for w in cmd[2:])
        if args["state"] == "stopped":
            # `compose stop` prints Stopped even for stopped containers: only run it when needed.
            run = f'if [ -n "$(compose ps --quiet --status running {services})" ]; then compose {words}; fi'
        elif args["state"] == "restarted":
            run = f'if [ -n "$(compose ps --all --quiet {services})" ]; then compose {words}; fi'
        else:
            run = f"compose {words}"
        return f"""{run}
__rc=$?
orch_section ps
compose ps --all --format json {services} 2>/dev/null || :
exit $__rc
"""

    def _query(self) -> str:
        """Read-only: what check mode needs to predict the outcome."""
        return """orch_section hash
compose config --hash '*' || exit $?
orch_section config
compose config --format json || exit $?
orch_section ps
compose ps --all --format json || exit $?
orch_section images
"$DOCKER" images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' || exit $?
"""

    def _command(self, args: Mapping[str, Any]) -> list[str]:
        """The compose subcommand with its options (for the script and the `cmd` result key)."""
        state = args["state"]
        services = list(args.get("services") or [])
        timeout = ["--timeout", str(args["timeout"])] if args.get("timeout") is not None else []
        if state == "present":
            words = ["up", "--detach", "--no-color", "--quiet-pull"]
            if args["pull"] != "policy":
                words += ["--pull", args["pull"]]
            if args["build"] == "always":
                words.append("--build")
            elif args["build"] == "never":
                words.append("--no-build")
            if args["recreate"] == "always":
                words.append("--force-recreate")
            elif args["recreate"] == "never":
                words.append("--no-recreate")
            if not args["dependencies"]:
                words.append("--no-deps")
            if args["remove_orphans"]:
                words.append("--remove-orphans")
            for service, count in (args.get("scale") or {}).items():
                words += ["--scale", f"{service}={int(count)}"]
            if args["wait"]:
                words.append("--wait")
                if args.get("wait_timeout") is not None:
                    words += ["--wait-timeout", str(args["wait_timeout"])]
            words += timeout
        elif state == "stopped":
            words = ["stop", *timeout]
        elif state == "restarted":
            words = ["restart", *timeout]
            if not args["dependencies"]:
                words.append("--no-deps")
        else:
            words = ["down", *timeout]
            if args["remove_orphans"]:
                words.append("--remove-orphans")
            if args["remove_volumes"]:
                words.append("--volumes")
            if args.get("remove_images"):
                words += ["--rmi", args["remove_images"]]
            services = []  # down takes no services
        return ["docker", "compose", *words, *services]


def predict(
    args: Mapping[str, Any], parts: Mapping[str, str], containers: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """What the real command would report, from Compose's labels (check mode)."""
    hashes = dict(line.split(None, 1) for line in parts.get("hash", "").splitlines() if " " in line)
    try:
        config = json.loads(parts.get("config") or "{}")
    except ValueError:
        config = {}
    image_ids = {}
    for line in parts.get("images", "").splitlines():
        ref, _, image_id = line.rpartition(" ")
        image_ids[ref] = image_id
    by_service: dict[str, list[dict[str, Any]]] = {}
    for c in containers:
        by_service.setdefault(str(c.get("Service", "")), []).append(c)
    wanted = list(args.get("services") or hashes)
    state = args["state"]
    actions: list[dict[str, str]] = []

    def act(what: str, ident: str, status: str) -> None:
        actions.append({"what": what, "id": ident, "status": status})

    if state == "absent":
        for c in containers:
            act("container", str(c.get("Name")), "Removed")
        return actions
    for service in wanted:
        current = by_service.get(service, [])
        if state == "stopped":
            for c in current:
                if c.get("State") == "running":
                    act("container", str(c.get("Name")), "Stopped")
            continue
        if state == "restarted":
            for c in current:
                act("container", str(c.get("Name")), "Restarted")
            continue
        if not current:
            act("container", service, "Created")
            continue
        image = (config.get("services", {}).get(service) or {}).get("image", "")
        want_image = image_ids.get(image) or image_ids.get(f"{image}:latest") if image else None
        for c in current:
            labels = dict(iter_labels(c.get("Labels")))
            stale = labels.get("com.docker.compose.config-hash") != hashes.get(service) or (
                want_image is not None and labels.get("com.docker.compose.image") != want_image
            )
            if args["recreate"] == "always" or (args["recreate"] == "auto" and stale):
                act("container", str(c.get("Name")), "Recreated")
            elif c.get("State") != "running":
                act("container", str(c.get("Name")), "Started")
            else:
                act("container", str(c.get("Name")), "Running")
    if state == "present" and args["remove_orphans"]:
        for service, current in by_service.items():
            if service not in hashes:
                for c in current:
                    act("container", str(c.get("Name")), "Removed")
    return actions
