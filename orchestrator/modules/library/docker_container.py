"""docker_container: one container, the common subset of community.docker.docker_container.

Idempotence: the wanted configuration (image reference, command, env, ports, volumes, ...) is
hashed on the controller and kept on the container as the label `orch.config-hash`; the
container is recreated when that hash or the image ID behind `image` changed (or `recreate`).
A container made by other tools has no such label and is recreated once. Then the state is
converged: started (running), stopped, present (exists, not started when created) or absent.
One round trip: the query inspects container and image, apply does only what is needed.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.docker_common import DOCKER_PARAMS, docker_prelude, first_json, sections_of
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

HASH_LABEL = "orch.config-hash"
# What changes the container itself (and so forces a recreate when it differs).
CONFIG_KEYS = (
    "image",
    "command",
    "entrypoint",
    "env",
    "labels",
    "network_mode",
    "published_ports",
    "volumes",
    "restart_policy",
    "user",
    "working_dir",
    "hostname",
)


@register
class DockerContainer(Module):
    """Manage one Docker container: create, (re)start, stop, recreate or remove it."""

    name = "docker_container"
    aliases = ("community.docker.docker_container",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True),
            "image": Param("str", help="Image reference; needed to create the container."),
            "state": Param("str", default="started", choices=("absent", "present", "stopped", "started")),
            "command": Param("raw", help="Command: a string (split like a shell) or a list."),
            "entrypoint": Param("list", elements="str"),
            "env": Param("dict", help="Environment variables (values are turned into strings)."),
            "labels": Param("dict"),
            "network_mode": Param("str", help="bridge, host, none, container:<name> or a network name."),
            "published_ports": Param("list", elements="str", aliases=("ports",)),
            "volumes": Param("list", elements="str", help="host:container[:mode] binds or named volumes."),
            "restart_policy": Param("str", choices=("no", "on-failure", "always", "unless-stopped")),
            "user": Param("str"),
            "working_dir": Param("str"),
            "hostname": Param("str"),
            "recreate": Param("bool", default=False, help="Recreate even when nothing changed."),
            "restart": Param("bool", default=False, help="Restart a running container."),
            "pull": Param("bool", default=False, help="Pull the image even when it is present."),
            "detach": Param("bool", default=True),
            "force_kill": Param("bool", default=False, aliases=("forcekill",)),
            "keep_volumes": Param("bool", default=True),
            "stop_timeout": Param("int"),
            **DOCKER_PARAMS,
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        state = args["state"]
        if state != "absent" and not args.get("image"):
            raise ModuleFailed(f"docker_container: state={state} needs `image`")
        if not args["detach"]:
            raise ModuleFailed("docker_container: detach=false is not supported (use command or shell)")
        config = {k: args.get(k) for k in CONFIG_KEYS}
        wanted_hash = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[
            :32
        ]
        head = docker_prelude(args) + (
            f"name={quote(args['name'])} image={quote(args.get('image') or '')} want={wanted_hash}\n"
            'info=$("$DOCKER" container inspect --format '
            f"'{{{{.State.Status}}}} {{{{.Image}}}} {{{{index .Config.Labels \"{HASH_LABEL}\"}}}}' "
            '"$name" 2>/dev/null) || info=\n'
            "set -- $info; status=${1:-absent} have_image=${2:-} have_hash=${3:-}\n"
            'img=\n[ -n "$image" ] && img=$("$DOCKER" image inspect --format "{{.Id}}" "$image" 2>/dev/null)\n'
        )
        query = head + (
            'orch_kv status "$status"; orch_kv have_hash "$have_hash"\n'
            + self._decide(args)
            + '\n[ -z "$todo" ] || orch_kv todo "$todo"'  # a field: before the first section
            + '\norch_section container\n"$DOCKER" container inspect "$name" 2>/dev/null || echo "[]"\n'
            '[ -z "$todo" ] || return 10'
        )
        apply = (
            head
            + self._decide(args)
            + "\n"
            + self._apply(args)
            + (
                '\norch_section container\n"$DOCKER" container inspect "$name" 2>/dev/null || echo "[]"'
            )
        )
        converged = ctx.converge(query, apply)
        fields = converged.fields()
        output = converged.apply if converged.applied else converged.query
        container = first_json(sections_of(output).get("container", "")) or {}
        before, todo = fields.get("status", "absent"), fields.get("todo", "").split()
        if converged.changed and ctx.diff_mode:
            after = (
                "absent" if state == "absent" else ("running" if state == "started" else "created/stopped")
            )
            ctx.add_diff(
                f"container {args['name']}: {before}\n",
                f"container {args['name']}: {after} ({', '.join(todo)})\n",
                "before",
                "after",
            )
        return {"changed": converged.changed, "container": container, "actions": todo}

    @staticmethod
    def _decide(args: Mapping[str, Any]) -> str:
        """Shell that sets $todo: the words of what must happen (empty = nothing)."""
        state = args["state"]
        if state == "absent":
            return 'todo=; [ "$status" = absent ] || todo=remove'
        lines = ["todo="]
        lines.append('if [ -z "$img" ] || [ ' + ("1" if args["pull"] else "0") + " = 1 ]; then todo=pull; fi")
        recreate = "1" if args["recreate"] else "0"
        lines.append(
            'if [ "$status" = absent ]; then todo="$todo create"\n'
            f'elif [ {recreate} = 1 ] || [ "$have_hash" != "$want" ] || {{ [ -n "$img" ] && [ "$have_image" != "$img" ]; }}; '
            'then todo="$todo recreate"; fi'
        )
        if state == "started":
            lines.append(
                'case "$todo" in *create*) todo="$todo start";; *) '
                'if [ "$status" != running ]; then todo="$todo start"; '
                + ('else todo="$todo restart"; ' if args["restart"] else "")
                + "fi;; esac"
            )
        elif state == "stopped":
            lines.append(
                'case "$todo" in *create*) :;; *) [ "$status" = running ] && todo="$todo stop";; esac'
            )
        lines.append("todo=$(echo $todo)")
        return "\n".join(lines)

    @staticmethod
    def _apply(args: Mapping[str, Any]) -> str:
        stop = ["--time", str(args["stop_timeout"])] if args.get("stop_timeout") is not None else []
        remove_opts = "" if args["keep_volumes"] else "--volumes "
        create = ["create", "--name", args["name"]]
        create += ["--label", f"{HASH_LABEL}=__HASH__"]
        for key, value in sorted((args.get("labels") or {}).items()):
            create += ["--label", f"{key}={value}"]
        for key, value in sorted((args.get("env") or {}).items()):
            create += ["--env", f"{key}={'' if value is None else value}"]
        if args.get("network_mode"):
            create += ["--network", args["network_mode"]]
        for port in args.get("published_ports") or []:
            create += ["--publish", port]
        for volume in args.get("volumes") or []:
            create += ["--volume", volume]
        if args.get("restart_policy"):
            create += ["--restart", args["restart_policy"]]
        for flag, key in (("--user", "user"), ("--workdir", "working_dir"), ("--hostname", "hostname")):
            if args.get(key):
                create += [flag, str(args[key])]
        if args.get("entrypoint"):
            # docker takes one --entrypoint word; the rest of the list goes before the command.
            create += ["--entrypoint", args["entrypoint"][0]]
        if args.get("stop_timeout") is not None:
            create += ["--stop-timeout", str(args["stop_timeout"])]
        create.append("__IMAGE__")
        if args.get("entrypoint"):
            create += list(args["entrypoint"][1:])
        command = args.get("command")
        if isinstance(command, str):
            create += shlex.split(command)
        elif isinstance(command, list):
            create += [str(c) for c in command]
        words = " ".join(
            '"$image"'
            if w == "__IMAGE__"
            else (f"{HASH_LABEL}=$want" if w == f"{HASH_LABEL}=__HASH__" else quote(w))
            for w in create
        )
        stop_words = " ".join(quote(w) for w in stop)
        kill = (
            '"$DOCKER" kill "$name" >/dev/null'
            if args["force_kill"]
            else f'"$DOCKER" stop {stop_words} "$name" >/dev/null'
        )
        return f"""for step in $todo; do
  case "$step" in
    pull) "$DOCKER" pull "$image" >&2 ;;
    remove) "$DOCKER" rm --force {remove_opts}"$name" >/dev/null ;;
    recreate) "$DOCKER" rm --force {remove_opts}"$name" >/dev/null; "$DOCKER" {words} >/dev/null ;;
    create) "$DOCKER" {words} >/dev/null ;;
    start) "$DOCKER" start "$name" >/dev/null ;;
    restart) "$DOCKER" restart {stop_words} "$name" >/dev/null ;;
    stop) {kill} ;;
  esac
done"""
