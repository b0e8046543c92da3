#!/usr/bin/env python3
"""Check an app described in inventory variables and turn it into what a host runs.

    python3 app_model.py < settings.json          (the playbooks pass their variables as JSON)

Runs on the controller, before any host is touched (deploy.yml's first play). Input: the app_*
variables (docs/playbooks.md#the-app-model). Output, JSON on stdout:

    {"errors": ["app_services.api.health.type: ...", ...]}            (exit 1)
    {"kind": "compose", "compose": "<compose.yml text or ''>", "compose_files": [...],
     "order": [...], "images": [...], "scripts": {"start.sh": ..., "health.sh": ..., "hooks.sh": ...}}

Every error names the variable it is about. The scripts are plain sh, every value quoted with
shlex.quote; a release directory keeps them, so a rollback runs the release's own start and
health checks, not today's settings.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

IMAGE_SOURCES = ("pull", "archive", "demo", "lab", "local", "build")
HEALTH_TYPES = ("http", "tcp", "command", "docker", "running", "none")
HOOK_POINTS = ("pre_deploy", "post_deploy", "on_rollback")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
SERVICE_KEYS = {
    "image",
    "image_source",
    "image_archive",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "health",
    "cpus",
    "mem_limit",
    "log_max_size",
    "log_max_file",
    "scale",
    "profiles",
    "network_mode",
    "restart",
    "user",
    "working_dir",
    "container_name",
    "extra",
}
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
Q = shlex.quote


class Problems(list[str]):
    def add(self, where: str, text: str) -> None:
        self.append(f"{where}: {text}")


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


def argv_text(value: Any) -> str:
    """A command given as a string (run by sh -c) or a list (argv) -> one shell-quoted string."""
    if isinstance(value, list):
        return " ".join(Q(str(v)) for v in value)
    return str(value)


# ---- checking -------------------------------------------------------------------------------


def check_health(where: str, health: Any, problems: Problems) -> dict[str, Any]:
    if health is None:
        return {"type": "running"}
    if not isinstance(health, dict):
        problems.add(where, "must be a mapping such as {type: http, url: ...}")
        return {"type": "none"}
    kind = health.get("type", "running")
    if kind not in HEALTH_TYPES:
        problems.add(f"{where}.type", f"{kind!r} is not one of {', '.join(HEALTH_TYPES)}")
        return {"type": "none"}
    need = {"http": ["url"], "tcp": ["port"], "command": ["command"]}.get(kind, [])
    for key in need:
        if not health.get(key):
            problems.add(f"{where}.{key}", f"required for a {kind} check")
    for key in ("deadline", "interval", "status", "port"):
        if key in health and not str(health[key]).isdigit():
            problems.add(f"{where}.{key}", f"must be a whole number, not {health[key]!r}")
    if "body_regex" in health:
        try:
            re.compile(str(health["body_regex"]))
        except re.error as exc:
            problems.add(f"{where}.body_regex", f"not a regular expression: {exc}")
    json_field = health.get("json_field")
    if json_field is not None and not (
        isinstance(json_field, dict) and "path" in json_field and "equals" in json_field
    ):
        problems.add(f"{where}.json_field", "must be {path: a.b, equals: value}")
    return health


def image_source(svc: dict[str, Any]) -> str:
    """Where a service's image comes from: image_source, else `build` when it has build:, else pull."""
    return str(svc.get("image_source") or ("build" if svc.get("build") else "pull"))


def check_service(name: str, svc: Any, problems: Problems, compose_given: bool) -> dict[str, Any]:
    where = f"app_services.{name}"
    if not NAME.match(name):
        problems.add(where, "service names are lower-case letters, digits, '_', '.', '-'")
    if not isinstance(svc, dict):
        problems.add(where, "must be a mapping (image, health, ...)")
        return {}
    if not compose_given:
        unknown = sorted(set(svc) - SERVICE_KEYS)
        if unknown:
            problems.add(
                where, f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(SERVICE_KEYS))}"
            )
        if not svc.get("image") and not svc.get("build"):
            problems.add(where, "needs image: (repository:tag) or build:")
    source = image_source(svc)
    if source == "build":
        if not svc.get("build"):
            problems.add(
                f"{where}.build", "required with image_source: build (context: DIR, dockerfile: ...)"
            )
        if not svc.get("image"):
            problems.add(
                f"{where}.image",
                "required with build: the tag the built image gets (a release records its image ID)",
            )
        build = svc.get("build")
        if build is not None and not isinstance(build, (str, dict)):
            problems.add(
                f"{where}.build", "must be a directory (the context) or {context: DIR, dockerfile: ...}"
            )
    if svc.get("image") and source not in IMAGE_SOURCES:
        problems.add(f"{where}.image_source", f"{source!r} is not one of {', '.join(IMAGE_SOURCES)}")
    if source == "archive" and not svc.get("image_archive"):
        problems.add(
            f"{where}.image_archive",
            "required with image_source: archive (a docker save tarball on the controller)",
        )
    if svc.get("image") and ":" not in str(svc["image"]).rsplit("/", 1)[-1]:
        problems.add(f"{where}.image", f"{svc['image']!r} needs an explicit tag (repository:tag)")
    scale = svc.get("scale", 1)
    if not str(scale).isdigit():
        problems.add(f"{where}.scale", f"must be a whole number, not {scale!r}")
    for key in ("ports", "volumes", "profiles"):
        if key in svc and not isinstance(svc[key], list):
            problems.add(f"{where}.{key}", "must be a list")
    if "environment" in svc and not isinstance(svc["environment"], dict):
        problems.add(f"{where}.environment", "must be a mapping KEY: value")
    deps = svc.get("depends_on", {})
    if isinstance(deps, list):
        deps = {d: {"condition": "service_started"} for d in deps}
    if not isinstance(deps, dict):
        problems.add(f"{where}.depends_on", "must be a list of services or {service: {condition: ...}}")
        deps = {}
    for dep, spec in deps.items():
        cond = (
            (spec or {}).get("condition", "service_started")
            if isinstance(spec, dict) or spec is None
            else spec
        )
        if cond not in CONDITIONS:
            problems.add(
                f"{where}.depends_on.{dep}.condition", f"{cond!r} is not one of {', '.join(CONDITIONS)}"
            )
    svc = dict(svc)
    svc["depends_on"] = deps
    svc["health"] = check_health(f"{where}.health", svc.get("health"), problems)
    return svc


def start_order(services: dict[str, dict[str, Any]], problems: Problems) -> list[str]:
    """Services in dependency order (a dependency before the services that need it)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            problems.add(f"app_services.{name}.depends_on", f"dependency cycle: {' -> '.join([*path, name])}")
            return
        state[name] = "visiting"
        for dep in services[name].get("depends_on", {}):
            if dep not in services:
                problems.add(f"app_services.{name}.depends_on", f"unknown service {dep!r}")
                continue
            visit(dep, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in sorted(services):
        visit(name, [])
    return order


def check_hooks(hooks: Any, services: dict[str, Any], problems: Problems) -> dict[str, list[dict[str, Any]]]:
    if not hooks:
        return {}
    if not isinstance(hooks, dict):
        problems.add("app_hooks", f"must be a mapping with {', '.join(HOOK_POINTS)}")
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for point, items in hooks.items():
        if point not in HOOK_POINTS:
            problems.add(f"app_hooks.{point}", f"unknown hook point; known: {', '.join(HOOK_POINTS)}")
            continue
        out[point] = []
        for i, hook in enumerate(as_list(items)):
            where = f"app_hooks.{point}[{i}]"
            if not isinstance(hook, dict):
                problems.add(
                    where,
                    "must be a mapping: {run: SERVICE, command: ...}, {exec: SERVICE, command: ...} or {shell: ...}",
                )
                continue
            kinds = [k for k in ("run", "exec", "shell") if k in hook]
            if len(kinds) != 1:
                problems.add(where, "needs exactly one of run: SERVICE, exec: SERVICE, shell: COMMAND")
                continue
            if kinds[0] in ("run", "exec"):
                if hook[kinds[0]] not in services:
                    problems.add(f"{where}.{kinds[0]}", f"unknown service {hook[kinds[0]]!r}")
                if "command" not in hook:
                    problems.add(f"{where}.command", "required with run:/exec:")
            out[point].append(hook)
    return out


def check_config_templates(items: Any, problems: Problems) -> None:
    """app_config_templates: [{src: template on the controller, dest: file name in the release}]."""
    for i, item in enumerate(as_list(items)):
        where = f"app_config_templates[{i}]"
        if not isinstance(item, dict) or not item.get("src") or not item.get("dest"):
            problems.add(
                where, "must be {src: TEMPLATE, dest: NAME} (NAME: a path inside the release directory)"
            )
            continue
        dest = str(item["dest"])
        if dest.startswith("/") or ".." in dest.split("/"):
            problems.add(
                f"{where}.dest", f"{dest!r} must stay inside the release directory (relative, no '..')"
            )
        if not Path(str(item["src"])).is_file():
            problems.add(f"{where}.src", f"no such template on the controller: {item['src']}")


def load_compose_files(files: list[str], problems: Problems) -> dict[str, Any]:
    """The services of the user's own compose files (later files override earlier ones)."""
    merged: dict[str, Any] = {}
    for i, name in enumerate(files):
        path = Path(name)
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            problems.add(f"app_compose_files[{i}]", f"cannot read {name}: {exc.strerror}")
            continue
        except yaml.YAMLError as exc:
            problems.add(f"app_compose_files[{i}]", f"{name} is not valid YAML: {exc}")
            continue
        services = (data or {}).get("services") if isinstance(data, dict) else None
        if not isinstance(services, dict):
            problems.add(f"app_compose_files[{i}]", f"{name} has no services: mapping")
            continue
        for svc_name, svc in services.items():
            merged.setdefault(svc_name, {}).update(svc or {})
    return merged


# ---- generating -----------------------------------------------------------------------------


def compose_service(name: str, svc: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("image", "command", "entrypoint", "user", "working_dir", "container_name"):
        if svc.get(key) not in (None, ""):
            out[key] = svc[key]
    if svc.get("build"):
        out["build"] = build_in_source(svc["build"], settings)
    network = svc.get("network_mode", settings.get("app_network_mode", "host"))
    if network == "host":
        out["network_mode"] = "host"
    elif svc.get("ports"):
        out["ports"] = [str(p) for p in svc["ports"]]
    out["restart"] = svc.get("restart", "unless-stopped")
    out["env_file"] = [".env", *as_list(svc.get("env_file"))]
    if svc.get("environment"):
        out["environment"] = {str(k): str(v) for k, v in svc["environment"].items()}
    if svc.get("volumes"):
        out["volumes"] = [str(v) for v in svc["volumes"]]
    if svc.get("depends_on"):
        out["depends_on"] = {
            dep: {
                "condition": (spec or {}).get("condition", "service_started")
                if isinstance(spec, dict) or spec is None
                else spec
            }
            for dep, spec in svc["depends_on"].items()
        }
    if svc.get("healthcheck"):
        out["healthcheck"] = svc["healthcheck"]
    if svc.get("profiles"):
        out["profiles"] = svc["profiles"]
    limits = {k: str(svc[k]) for k in ("cpus", "mem_limit") if svc.get(k)}
    if "cpus" in limits:
        out["cpus"] = limits["cpus"]
    if "mem_limit" in limits:
        out["mem_limit"] = limits["mem_limit"]
    out["logging"] = {
        "driver": "json-file",
        "options": {
            "max-size": str(svc.get("log_max_size", "10m")),
            "max-file": str(svc.get("log_max_file", 3)),
        },
    }
    out.update(svc.get("extra") or {})
    return out


def source_dir(settings: dict[str, Any]) -> str:
    """The checkout of app_git_repo on the host (deploy.yml's git task keeps it at the ref)."""
    return f"{settings.get('app_dir') or '/opt/' + str(settings.get('app_name'))}/source"


def build_in_source(build: str | dict[str, Any], settings: dict[str, Any]) -> str | dict[str, Any]:
    """With app_git_repo, a relative build context is a directory of the checkout."""
    spec = {"context": build} if isinstance(build, str) else dict(build)
    context = str(spec.get("context", "."))
    if settings.get("app_git_repo") and not context.startswith("/") and "://" not in context:
        spec["context"] = str(Path(source_dir(settings)) / context)
    return spec


def health_probe(svc_name: str, health: dict[str, Any], version: str, port_from: str = "") -> str:
    """sh that exits 0 when the service is healthy now, else prints why on stdout. `port_from`:
    the port in the URL is replaced by $BG_PORT (blue/green: the color being started)."""
    kind = health.get("type", "running")
    if kind == "none":
        return "true"
    if kind == "running":
        return f"probe_running {Q(svc_name)}"
    if kind == "docker":
        return f"probe_docker {Q(svc_name)}"
    if kind == "tcp":
        host = str(health.get("host", "127.0.0.1"))
        return f"probe_tcp {Q(host)} {Q(str(health['port']))}"
    if kind == "command":
        return f"probe_command {Q(svc_name)} {Q(argv_text(health['command']))}"
    want_version = version if health.get("version") else ""
    field = health.get("json_field") or {}
    url = Q(str(health["url"]))
    if port_from:
        before, _, after = str(health["url"]).partition(f":{port_from}")
        url = f'{Q(before + ":")}"$BG_PORT"{Q(after) if after else ""}'
    return f"probe_http {url} " + " ".join(
        Q(str(x))
        for x in (
            health.get("status", 200),
            health.get("body_regex", ""),
            field.get("path", ""),
            field.get("equals", ""),
            want_version,
        )
    )


# blue/green: BG_COLOR, BG_OTHER, BG_PORT of the release (deploy.yml writes bg.env).
BG_ENV = "[ ! -f bg.env ] || . ./bg.env\n"

SCRIPT_LIBRARY = r"""
# Each probe prints why it failed (one line) and returns non-zero.
probe_running() {
  ids=$(compose ps --quiet --status running "$1" 2>/dev/null)
  [ -n "$ids" ] || { echo "no running container"; return 1; }
}
probe_docker() {
  ids=$(compose ps --quiet --all "$1" 2>/dev/null)
  [ -n "$ids" ] || { echo "no container"; return 1; }
  for id in $ids; do
    st=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}' "$id")
    [ "$st" = healthy ] || { echo "docker health status: $st"; return 1; }
  done
}
probe_tcp() {  # bash's /dev/tcp (bash is essential on Debian/Ubuntu; sh is dash there)
  if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; then return 0; fi
  echo "nothing listens on $1:$2"; return 1
}
probe_command() {
  out=$(compose exec -T "$1" sh -c "$2" 2>&1) && return 0
  echo "$2 failed: $(printf '%s' "$out" | tail -n 1)"; return 1
}
probe_http() {  # url status body_regex json_path json_equals version
  body=$(curl --silent --show-error --max-time 5 --output - --write-out '\n%{http_code}' "$1" 2>&1) || {
    echo "$1: $(printf '%s' "$body" | tail -n 1)"; return 1; }
  code=$(printf '%s' "$body" | tail -n 1); body=$(printf '%s' "$body" | sed '$d')
  [ "$code" = "$2" ] || { echo "$1 answered $code, wanted $2"; return 1; }
  if [ -n "$3" ] && ! printf '%s' "$body" | grep -Eq -- "$3"; then echo "$1 body does not match /$3/"; return 1; fi
  if [ -n "$4" ]; then
    got=$(printf '%s' "$body" | jq -r --arg p "$4" 'getpath($p | split(".")) | tostring' 2>/dev/null)
    [ "$got" = "$5" ] || { echo "$1 field $4 is ${got:-missing}, wanted $5"; return 1; }
  fi
  if [ -n "$6" ] && ! printf '%s' "$body" | grep -Fq -- "$6"; then echo "$1 body does not name version $6"; return 1; fi
}
# wait_healthy SERVICE DEADLINE INTERVAL PROBE...: probe until it passes or the deadline passes;
# then name the service, say why, and show its last log lines.
wait_healthy() {
  svc=$1 deadline=$2 interval=$3; shift 3
  end=$(( $(date +%s) + deadline ))
  while :; do
    why=$("$@") && { echo "healthy: $svc"; return 0; }
    [ "$(date +%s)" -lt "$end" ] || break
    sleep "$interval"
  done
  echo "service $svc is not healthy after ${deadline}s: $why" >&2
  echo "--- last $LOG_LINES log lines of $svc:" >&2
  show_logs "$svc" >&2 2>&1 || true
  return 1
}
"""


def script_header(settings: dict[str, Any], compose_files: list[str]) -> str:
    args = []
    for f in compose_files:
        args += ["--file", f]
    for p in as_list(settings.get("app_compose_profiles")):
        args += ["--profile", str(p)]
    args += ["--env-file", ".env"]

    return (
        "#!/bin/sh\n# Written by orch's deploy.yml (playbooks/files/app_model.py); part of the release record.\n"
        'set -u\ncd "$(dirname "$0")"\n'
        + BG_ENV
        + f"PROJECT={Q(settings['app_project_name'])}\n"
        # The app's own compose files can name the version: image: app:${APP_VERSION}.
        + f"APP_VERSION={Q(str(settings.get('app_version', '')))}\nexport APP_VERSION\n"
        # ... and build from the checkout of app_git_repo: build: {context: ${APP_SOURCE_DIR}/api}.
        + f"APP_SOURCE_DIR={Q(source_dir(settings))}\nexport APP_SOURCE_DIR\n"
        + f'compose() {{ docker compose --ansi never --project-name "$PROJECT" {" ".join(Q(a) for a in args)} "$@"; }}\n'
        f"LOG_LINES={int(settings.get('app_health_log_lines', 20))}\n"
        + (
            f'show_logs() {{ tail -n "$LOG_LINES" {Q(str(settings.get("app_service_log", "")))}; }}\n'
            if settings.get("app_kind") == "service"
            # Compose 2.26 writes an erase-line escape before each log line even with --ansi never.
            else 'show_logs() { compose logs --no-color --no-log-prefix --tail "$LOG_LINES" "$1" 2>&1 | sed \'s/\\x1b\\[[0-9;]*[A-Za-z]//g\'; }\n'
        )
        + SCRIPT_LIBRARY
    )


def hooks_script(header: str, hooks: dict[str, list[dict[str, Any]]], bg_service: str = "") -> str:
    def target(service: str) -> str:  # blue/green: the color being deployed
        return f'"{service}-$BG_COLOR"' if service == bg_service else Q(service)

    hook_text = [
        header,
        '# Hooks: hooks.sh POINT runs that point\'s hooks in order; the first failure stops it.\ncase "${1:-}" in\n',
    ]
    for point in HOOK_POINTS:
        lines = []
        for hook in hooks.get(point, []):
            label = hook.get("name") or next(str(hook[k]) for k in ("run", "exec", "shell") if k in hook)
            if "run" in hook:
                # A string is split into words as Compose splits a service's `command:` string.
                words = (
                    hook["command"]
                    if isinstance(hook["command"], list)
                    else shlex.split(str(hook["command"]))
                )
                cmd = f"compose run --rm --no-TTY --no-deps {target(str(hook['run']))} {argv_text(words)}"
            elif "exec" in hook:
                cmd = f"compose exec -T {target(str(hook['exec']))} sh -c {Q(argv_text(hook['command']))}"
            else:
                cmd = f"sh -c {Q(argv_text(hook['shell']))}"
            failed = Q(f"hook {point} failed: {label}")
            lines.append(
                f"  echo {Q(f'hook {point}: {label}')}\n"
                f'  out=$({cmd} 2>&1) || {{ {{ echo {failed}; printf "%s\\n" "$out" | tail -n "$LOG_LINES"; }} >&2; exit 1; }}\n'
                '  [ -z "$out" ] || printf "%s\\n" "$out"\n'
            )
        hook_text.append(f"  {point})\n{''.join(lines) or '  :'}\n  ;;\n")
    hook_text.append('  *) echo "usage: hooks.sh pre_deploy|post_deploy|on_rollback" >&2; exit 2 ;;\nesac\n')
    return "".join(hook_text)


def active_services(services: dict[str, dict[str, Any]], profiles: list[str]) -> list[str]:
    return [
        n for n, s in services.items() if not s.get("profiles") or set(as_list(s["profiles"])) & set(profiles)
    ]


def scripts(
    settings: dict[str, Any],
    services: dict[str, dict[str, Any]],
    order: list[str],
    hooks: dict[str, list[dict[str, Any]]],
    compose_files: list[str],
    blue_green: dict[str, Any] | None = None,
) -> dict[str, str]:
    version = str(settings.get("app_version", ""))
    header = script_header(settings, compose_files)
    profiles = [str(p) for p in as_list(settings.get("app_compose_profiles"))]
    active = [n for n in order if n in active_services(services, profiles)]
    default_deadline = int(settings.get("app_service_deadline", 60))

    # pre_deploy hooks (migrations) run once the services they need are up and healthy: before the
    # first service a `run:` hook runs (its dependencies start before it), after every service
    # an `exec:` hook runs in. Only `start.sh deploy` runs them (a rollback starts a release plain).
    hook_at = 0
    for hook in hooks.get("pre_deploy", []):
        if hook.get("run") in active:
            hook_at = max(hook_at, active.index(hook["run"]))
        if hook.get("exec") in active:
            hook_at = max(hook_at, active.index(hook["exec"]) + 1)
    run_hooks = 'if [ "${1:-}" = deploy ]; then sh ./hooks.sh pre_deploy || exit 1; fi\n'
    start = [header, "# Start the services in dependency order, each healthy before the next.\n"]
    check = [header, "# One health check of every service (health.yml); no waiting.\nrc=0\n"]
    for i, name in enumerate(active):
        if hooks.get("pre_deploy") and i == hook_at:
            start.append(run_hooks)
        svc = services[name]
        health = svc["health"]
        if blue_green and name in (blue_green["service"], blue_green["proxy"]):
            bg_start, bg_check = bg_scripts(name, health, version, blue_green, default_deadline)
            start.append(bg_start)
            check.append(bg_check)
            continue
        scale = int(svc.get("scale", 1))
        scale_arg = f" --scale {Q(name)}={scale}" if scale != 1 else ""
        start.append(
            f"echo 'starting: {name}'\ncompose up --detach --no-deps{scale_arg} {Q(name)} 2>&1 || exit 1\n"
        )
        probe = health_probe(name, health, version)
        deadline = int(health.get("deadline", default_deadline))
        interval = int(health.get("interval", 1))
        start.append(f"wait_healthy {Q(name)} {deadline} {interval} {probe} || exit 1\n")
        check.append(
            f"if why=$({probe}); then echo {Q(name)}' ok'; else echo {Q(name)}\" FAIL $why\"; rc=1; fi\n"
        )
    if hooks.get("pre_deploy") and hook_at >= len(active):
        start.append(run_hooks)
    if settings.get("app_remove_orphans"):
        start.append("compose up --detach --no-recreate --remove-orphans 2>&1 || exit 1\n")
    check.append("exit $rc\n")

    bg_service = blue_green["service"] if blue_green else ""
    out = {
        "start.sh": "".join(start),
        "health.sh": "".join(check),
        "hooks.sh": hooks_script(header, hooks, bg_service),
    }
    # Images built on the host (image_source: build), before anything starts: a failed build
    # fails the deploy with the running release untouched.
    builds = [n for n in active if image_source(services[n]) == "build"]
    if builds:
        names = " ".join(f'"{n}-$BG_COLOR"' if n == bg_service else Q(n) for n in builds)
        out["build.sh"] = (
            header + f"# Build the images of {', '.join(builds)} from source.\ncompose build {names} 2>&1\n"
        )
    return out


BG_DEFAULTS = {"proxy": "nginx", "ports": {"blue": 8080, "green": 8081}, "port_env": "PORT", "drain": 2}


def check_blue_green(
    settings: dict[str, Any], services: dict[str, dict[str, Any]], problems: Problems, user_files: bool
) -> dict[str, Any] | None:
    """deploy_strategy: blue_green: app_blue_green names the web service and the nginx in front."""
    strategy = settings.get("deploy_strategy", "recreate")
    if strategy not in ("recreate", "blue_green"):
        problems.add("deploy_strategy", f"{strategy!r} is not one of recreate, blue_green")
        return None
    if strategy != "blue_green":
        return None
    given = settings.get("app_blue_green") or {}
    if not isinstance(given, dict):
        problems.add(
            "app_blue_green", "must be a mapping {service: ..., proxy: nginx, ports: {blue: N, green: M}}"
        )
        return None
    bg = {**BG_DEFAULTS, **given}
    if user_files:
        problems.add(
            "deploy_strategy", "blue_green needs services described in app_services (not app_compose_files)"
        )
    for key in ("service", "proxy"):
        if bg.get(key) not in services:
            problems.add(f"app_blue_green.{key}", f"{bg.get(key)!r} is not a service of app_services")
    ports = bg.get("ports")
    if not (
        isinstance(ports, dict)
        and set(ports) == {"blue", "green"}
        and all(str(p).isdigit() for p in ports.values())
    ):
        problems.add("app_blue_green.ports", "must be {blue: PORT, green: PORT}")
        return None
    if ports["blue"] == ports["green"]:
        problems.add("app_blue_green.ports", "blue and green need different ports (they run side by side)")
    if not bg.get("address"):
        problems.add(
            "app_blue_green.address", "required: the address the service listens on (nginx's upstream)"
        )
    if not bg.get("proxy_config"):
        problems.add(
            "app_blue_green.proxy_config", "required: the nginx server config, a file of app_config_templates"
        )
    service = services.get(str(bg.get("service")), {})
    url = str((service.get("health") or {}).get("url", ""))
    if service and service.get("health", {}).get("type") != "http":
        problems.add(f"app_services.{bg['service']}.health.type", "blue_green needs an http check")
    elif service and f":{ports['blue']}" not in url:
        problems.add(f"app_services.{bg['service']}.health.url", f"must name the blue port :{ports['blue']}")
    if problems:
        return None
    return {
        **bg,
        "image": str(service.get("image", "")),
        "proxy_dir": f"{settings.get('app_dir', '/opt/' + str(settings.get('app_name')))}/proxy",
    }


def bg_compose(doc: dict[str, Any], bg: dict[str, Any], settings: dict[str, Any]) -> None:
    """The web service becomes <service>-blue and <service>-green (images from bg.env, ports from
    app_blue_green.ports); nginx reads its config from app_dir/proxy (switched between colors)."""
    services = doc["services"]
    name = bg["service"]
    base = services.pop(name)
    for color in ("blue", "green"):
        # deploy.yml writes each color's image in place of the token (the old color keeps its own).
        svc = {**copy.deepcopy(base), "image": f"__BG_IMAGE_{color.upper()}__"}
        svc["environment"] = {**base.get("environment", {}), bg["port_env"]: str(bg["ports"][color])}
        services[f"{name}-{color}"] = svc
    proxy = services[bg["proxy"]]
    proxy["volumes"] = [*proxy.get("volumes", []), f"{bg['proxy_dir']}:/etc/nginx/conf.d:ro"]
    for svc in services.values():
        deps = svc.get("depends_on")
        if isinstance(deps, dict) and name in deps:
            deps.pop(name)
            if not deps:
                svc.pop("depends_on")


def bg_scripts(
    name: str, health: dict[str, Any], version: str, bg: dict[str, Any], default_deadline: int
) -> tuple[str, str]:
    """start.sh / health.sh for the blue/green service (start the new color beside the old one,
    wait until it is healthy) and for its proxy (point nginx's upstream at the new color, reload
    gracefully, wait, stop the old color)."""
    deadline = int(health.get("deadline", default_deadline))
    interval = int(health.get("interval", 1))
    if name == bg["service"]:
        probe = health_probe(f"{name}-$BG_COLOR", health, version, port_from=str(bg["ports"]["blue"]))
        svc = f'"{name}-$BG_COLOR"'
        # Switching an app to blue/green: its container from before (one service, no color) holds
        # the port; it goes once, with a short interruption.
        plain = (
            'docker ps --all --quiet --filter label=com.docker.compose.project="$PROJECT"'
            f" --filter label=com.docker.compose.service={Q(name)}"
        )
        start = (
            f'for id in $({plain}); do docker rm --force "$id" >/dev/null; echo "removed {name} (before blue/green)"; done\n'
            f'echo "starting: {name}-$BG_COLOR (beside {name}-$BG_OTHER)"\n'
            f"compose up --detach --no-deps {svc} 2>&1 || exit 1\n"
            f"wait_healthy {svc} {deadline} {interval} {probe} || exit 1\n"
        )
        check = f'if why=$({probe}); then echo {svc}" ok"; else echo {svc}" FAIL $why"; rc=1; fi\n'
        return start, check
    proxy_dir = Q(bg["proxy_dir"])
    probe = health_probe(name, health, version)
    upstream = "upstream app_upstream {\\n    server %s:%s;\\n    keepalive 16;\\n}\\n"
    start = (
        f'echo "switching: {name} -> {bg["service"]}-$BG_COLOR"\n'
        f"mkdir -p {proxy_dir}\n"
        f"cp ./{Q(str(bg['proxy_config']))} {proxy_dir}/.app.conf.tmp && mv -f {proxy_dir}/.app.conf.tmp {proxy_dir}/app.conf || exit 1\n"
        f'printf {Q(upstream)} {Q(str(bg["address"]))} "$BG_PORT" > {proxy_dir}/.upstream.tmp'
        f" && mv -f {proxy_dir}/.upstream.tmp {proxy_dir}/upstream.conf || exit 1\n"
        # A running nginx with the same settings is left as it is (up is a no-op) and reloads its
        # configuration gracefully: workers finish their requests, new ones go to the new color.
        f"compose up --detach --no-deps {Q(name)} 2>&1 || exit 1\n"
        f"compose exec -T {Q(name)} nginx -t 2>&1 && compose exec -T {Q(name)} nginx -s reload 2>&1 || exit 1\n"
        f"wait_healthy {Q(name)} {deadline} {interval} {probe} || exit 1\n"
        f"sleep {int(bg['drain'])}  # the old color finishes the requests it has\n"
        f'compose stop "{bg["service"]}-$BG_OTHER" 2>&1 || exit 1\n'
    )
    check = f"if why=$({probe}); then echo {Q(name)}' ok'; else echo {Q(name)}\" FAIL $why\"; rc=1; fi\n"
    return start, check


def image_entry(name: str, svc: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Where a service's image comes from. `archive_argv` (demo, lab, archive) runs on the controller
    and prints the docker-archive tarball's path on its last line; the host then loads that."""
    ref = str(svc["image"])
    source = image_source(svc)
    entry: dict[str, Any] = {"service": name, "ref": ref, "source": source}
    python = str(settings.get("python", "python3"))
    if source == "demo":
        repo, _, tag = ref.rpartition(":")
        entry["archive_argv"] = [
            python,
            f"{settings.get('playbook_dir', '.')}/files/demo-app/build_image.py",
            tag,
            "--out",
            str(settings.get("app_demo_build_dir")),
            "--repo",
            repo,
        ]
    elif source == "lab":
        # `orch lab image NAME:VERSION --out DIR` (docs/lab-images.md) names images without orch-lab/.
        command = as_list(settings.get("app_lab_image_command")) or [
            python,
            "-m",
            "orchestrator.cli",
            "lab",
            "image",
        ]
        name = ref.removeprefix("orch-lab/")
        entry["archive_argv"] = [*map(str, command), name, "--out", str(settings.get("app_lab_image_dir"))]
    elif source == "archive":
        entry["archive_argv"] = ["printf", "%s\\n", str(svc["image_archive"])]
    return entry


SERVICE_KIND_KEYS = {"command", "environment", "health", "python_requirements"}


def plan_service(settings: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """app_kind: service: one Python app from a git ref in a virtualenv, run by the init system.

    run.sh (the service's ExecStart / init script runs it from app_dir/current) exports the
    environment and execs the command with the release's virtualenv first on PATH; start.sh waits
    for its health check after deploy.yml restarted the service (service module)."""
    declared = settings.get("app_services") or {}
    if not isinstance(declared, dict) or len(declared) != 1:
        problems.add(
            "app_services", "app_kind: service runs exactly one service: {NAME: {command: ..., health: ...}}"
        )
        return {"errors": problems}
    ((name, svc),) = declared.items()
    where = f"app_services.{name}"
    if not isinstance(svc, dict):
        problems.add(where, "must be a mapping (command, environment, health)")
        return {"errors": problems}
    unknown = sorted(set(svc) - SERVICE_KIND_KEYS)
    if unknown:
        problems.add(
            where,
            f"unknown setting(s) {', '.join(unknown)} for app_kind: service; known: {', '.join(sorted(SERVICE_KIND_KEYS))}",
        )
    if not svc.get("command"):
        problems.add(
            f"{where}.command",
            "required: the command that runs the app, from the checkout (e.g. python app/main.py)",
        )
    if "environment" in svc and not isinstance(svc["environment"], dict):
        problems.add(f"{where}.environment", "must be a mapping KEY: value")
    health = check_health(f"{where}.health", svc.get("health"), problems)
    if health.get("type") in ("command", "docker"):
        problems.add(f"{where}.health.type", "app_kind: service is checked over http or tcp (no container)")
    if not settings.get("app_git_repo") and not settings.get("app_git_bundle_argv"):
        problems.add(
            "app_git_repo",
            "required with app_kind: service (the repository the host clones), or app_git_bundle_argv",
        )
    hooks = check_hooks(settings.get("app_hooks"), {}, problems)
    if any("run" in h or "exec" in h for items in hooks.values() for h in items):
        problems.add("app_hooks", "app_kind: service has no containers: use {shell: ...} hooks")
    if problems:
        return {"errors": problems}
    env = "".join(f"export {k}={Q(str(v))}\n" for k, v in sorted((svc.get("environment") or {}).items()))
    run = (
        "#!/bin/sh\n# Written by orch's deploy.yml: the service runs this from app_dir/current.\n"
        'set -eu\ncd "$(dirname "$(readlink -f "$0")")/src"\n'
        "set -a\n. ../.env\nset +a\n"
        f"{env}"
        'PATH="$(dirname "$PWD")/venv/bin:$PATH"\nexport PATH\n'
        f"exec {argv_text(svc['command'])}\n"
    )
    header = script_header(settings, [])
    probe = health_probe(name, health, version=str(settings.get("app_version", "")))
    deadline = int(health.get("deadline", int(settings.get("app_service_deadline", 60))))
    start = header + f"wait_healthy {Q(name)} {deadline} {int(health.get('interval', 1))} {probe} || exit 1\n"
    check = (
        header
        + f"if why=$({probe}); then echo {Q(name)}' ok'; else echo {Q(name)}\" FAIL $why\"; exit 1; fi\n"
    )
    return {
        "kind": "service",
        "compose": "",
        "compose_files": [],
        "source_files": [],
        "order": [name],
        "images": [],
        "python_requirements": str(svc.get("python_requirements", "")),
        "scripts": {
            "run.sh": run,
            "start.sh": start,
            "health.sh": check,
            "hooks.sh": hooks_script(header, hooks),
        },
    }


def plan(settings: dict[str, Any]) -> dict[str, Any]:
    problems = Problems()
    kind = settings.get("app_kind", "compose")
    version = str(settings.get("app_version", ""))
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", version):
        problems.add("app_version", f"{version!r}: say which version to deploy, e.g. -e app_version=1.2.3")
    if kind == "service":
        return plan_service(settings, problems)
    if kind != "compose":
        problems.add("app_kind", f"{kind!r} is not one of compose, service")
        return {"errors": problems}
    if not NAME.match(str(settings.get("app_project_name", ""))):
        problems.add(
            "app_project_name", f"{settings.get('app_project_name')!r}: lower-case letters, digits, '_', '-'"
        )
    user_files = [str(f) for f in as_list(settings.get("app_compose_files"))]
    declared = settings.get("app_services") or {}
    if not isinstance(declared, dict):
        problems.add("app_services", "must be a mapping: service name -> settings")
        declared = {}
    if not isinstance(settings.get("app_compose_profiles", []), list):
        problems.add("app_compose_profiles", "must be a list")
    services: dict[str, dict[str, Any]] = {}
    if user_files:
        from_files = load_compose_files(user_files, problems)
        for name in declared:
            if name not in from_files:
                problems.add(
                    f"app_services.{name}",
                    f"not a service of app_compose_files ({', '.join(sorted(from_files))})",
                )
        for name, svc in from_files.items():
            merged = {
                **{
                    k: v for k, v in svc.items() if k in ("depends_on", "profiles", "image", "scale", "build")
                },
                **(declared.get(name) or {}),
            }
            services[name] = check_service(name, merged, problems, compose_given=True)
    else:
        if not declared:
            problems.add("app_services", "describe at least one service (or give app_compose_files)")
        for name, svc in declared.items():
            services[name] = check_service(str(name), svc, problems, compose_given=False)
    hooks = check_hooks(settings.get("app_hooks"), services, problems)
    check_config_templates(settings.get("app_config_templates"), problems)
    blue_green = check_blue_green(settings, services, problems, bool(user_files))
    order = start_order(services, problems)
    if problems:
        return {"errors": problems}

    images = []
    for name in order:
        svc = services[name]
        undeclared = user_files and name not in declared and "image_source" not in svc
        if svc.get("image") and not (undeclared and image_source(svc) != "build"):
            images.append(image_entry(name, svc, settings))
    compose_text = ""
    compose_files = [Path(f).name for f in user_files]
    if not user_files:
        doc = {"services": {n: compose_service(n, services[n], settings) for n in order}}
        if blue_green:
            bg_compose(doc, blue_green, settings)
        compose_text = (
            f"# Written by orch's deploy.yml from app_services (release of {version}).\n"
            "# Edits are lost at the next deploy; change the inventory instead.\n"
            + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
        )
        compose_files = ["compose.yml"]
    return {
        "kind": "compose",
        "compose": compose_text,
        "compose_files": compose_files,
        "source_files": user_files,
        "order": order,
        "images": images,
        "scripts": scripts(settings, services, order, hooks, compose_files, blue_green),
        "blue_green": blue_green,
    }


def main() -> int:
    try:
        settings = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(json.dumps({"errors": [f"(internal) settings are not JSON: {exc}"]}))
        return 1
    result = plan(settings)
    print(json.dumps(result))
    return 1 if result.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
