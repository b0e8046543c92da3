"""docker_image: make an image present (load from a tarball, pull, build) or absent, and tag it.

Like community.docker.docker_image, an image that is already present under name:tag is left
alone unless `force_source` is set; a forced load/build/pull reports a change only when the
image ID it gives differs from the one before. `repository` adds a tag (a new name) to the
image. One round trip: the query inspects the image (and the tag), apply does the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.docker_common import DOCKER_PARAMS, docker_prelude, first_json, sections_of
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


def split_ref(name: str, tag: str) -> tuple[str, str]:
    """`repo:tag` in `name` wins over `tag` (a registry port's colon is not a tag)."""
    base, sep, maybe_tag = name.rpartition(":")
    if sep and "/" not in maybe_tag and not name.startswith("sha256:"):
        return base, maybe_tag
    return name, tag


@register
class DockerImage(Module):
    """Manage Docker images: load from an archive, pull, build, tag or remove."""

    name = "docker_image"
    aliases = ("community.docker.docker_image",)
    spec = ArgSpec(
        params={
            "name": Param(
                "str", required=True, help="Image name (repo or repo:tag), or an ID for state=absent."
            ),
            "tag": Param("str", default="latest"),
            "source": Param("str", choices=("build", "load", "pull", "local")),
            "load_path": Param("path", help="Tarball made by `docker save` (on the host) for source=load."),
            "build": Param("dict", help="path, dockerfile, args, nocache, pull, target, network, labels."),
            "pull": Param("dict", help="platform: the platform to pull."),
            "state": Param("str", default="present", choices=("present", "absent")),
            "force_source": Param("bool", default=False, help="Load/build/pull even when the image exists."),
            "force_absent": Param("bool", default=False, help="Remove even when containers use it (rmi -f)."),
            "force_tag": Param(
                "bool", default=False, help="Move `repository` even when it names another image."
            ),
            "repository": Param("str", help="Also tag the image as this repo[:tag]."),
            **DOCKER_PARAMS,
        },
        required_if=(("source", "load", ("load_path",)),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        name, tag = split_ref(args["name"], args["tag"])
        ref = name if name.startswith("sha256:") else f"{name}:{tag}"
        state = args["state"]
        source = args.get("source")
        if state == "present" and source is None:
            raise ModuleFailed("docker_image: state=present needs `source` (build, load, pull or local)")
        if source == "build" and not (args.get("build") or {}).get("path"):
            raise ModuleFailed("docker_image: source=build needs build.path")
        repo_ref = ""
        if args.get("repository"):
            r_name, r_tag = split_ref(args["repository"], tag)
            repo_ref = f"{r_name}:{r_tag}"
        inspect = 'orch_section image\n"$DOCKER" image inspect "$ref" 2>/dev/null || echo "[]"'
        head = docker_prelude(args) + f"ref={quote(ref)} repo_ref={quote(repo_ref)}\n"
        head += 'cur=$("$DOCKER" image inspect --format "{{.Id}}" "$ref" 2>/dev/null) || cur=\n'
        if state == "absent":
            query = f'orch_kv before "$cur"\n[ -n "$cur" ] && return 10\n{inspect}\nreturn 0'
            force = "--force " if args["force_absent"] else ""
            apply = f'"$DOCKER" rmi {force}"$ref" >&2\necho "after="\norch_section image\necho "[]"'
        else:
            need = '[ -z "$cur" ]' + (" || true" if args["force_source"] else "")
            tag_check = ""
            if repo_ref:
                tag_check = (
                    'rid=$("$DOCKER" image inspect --format "{{.Id}}" "$repo_ref" 2>/dev/null) || rid=\n'
                    'orch_kv repo_before "$rid"\n'
                    + (
                        '[ -n "$rid" ] && [ "$rid" != "$cur" ] && orch_fail "$repo_ref already names another '
                        'image ($rid); use force_tag: true to move it"\n'
                        if not args["force_tag"]
                        else ""
                    )
                    + '[ "$rid" = "$cur" ] || return 10\n'
                )
            query = f'orch_kv before "$cur"\nif {need}; then return 10; fi\n{tag_check}{inspect}\nreturn 0'
            apply = (
                f"if {need}; then\n{self._fetch(args, source, ref)}\nfi\n"
                'new=$("$DOCKER" image inspect --format "{{.Id}}" "$ref" 2>/dev/null) || '
                'orch_fail "image $ref is not present after '
                + {
                    "load": "loading $__load (the archive holds: $__loaded)",
                    "local": "all: it does not exist locally",
                }.get(source or "", f"{source}")
                + '"\n'
                'echo "after=$new"\n'
            )
            if repo_ref:
                apply += (
                    'rid=$("$DOCKER" image inspect --format "{{.Id}}" "$repo_ref" 2>/dev/null) || rid=\n'
                    'if [ "$rid" != "$new" ]; then "$DOCKER" tag "$ref" "$repo_ref" && echo "tagged=$repo_ref"; fi\n'
                )
            apply += inspect
        converged = ctx.converge(head + query, head + apply)
        before = converged.fields().get("before", "")
        after_fields = converged.apply.fields
        output = converged.apply if converged.applied else converged.query
        image = first_json(sections_of(output).get("image", "")) or {}
        actions: list[str] = []
        changed = converged.changed
        if state == "absent":
            if changed:
                actions.append(f"Removed image {ref}")
        elif converged.applied:
            after = after_fields.get("after", "")
            if after != before:
                actions.append(_verb(source, ref, args))
            if "tagged" in after_fields:
                actions.append(f"Tagged image {ref} as {after_fields['tagged']}")
            changed = bool(actions)
        elif changed:
            actions.append(_verb(source, ref, args) if not before else f"Would tag {ref} as {repo_ref}")
        if changed and ctx.diff_mode:
            ctx.add_diff(
                f"{ref}: {before or 'absent'}\n",
                "".join(f"{action}\n" for action in actions),
                "image before",
                "image after",
            )
        return {"changed": changed, "image": image, "actions": actions}

    @staticmethod
    def _fetch(args: Mapping[str, Any], source: str | None, ref: str) -> str:
        if source == "load":
            return (
                f"__load={quote(args['load_path'])}\n"
                '[ -f "$__load" ] || orch_fail "load_path $__load does not exist on the host"\n'
                '__loaded=$("$DOCKER" load --input "$__load" 2>&1) || orch_fail "docker load failed: $__loaded"\n'
                "printf '%s\\n' \"$__loaded\" >&2"
            )
        if source == "pull":
            platform = (args.get("pull") or {}).get("platform")
            opt = f"--platform {quote(platform)} " if platform else ""
            return f'"$DOCKER" pull {opt}"$ref" >&2'
        if source == "build":
            build = args.get("build") or {}
            words = ["build", "--tag", ref]
            if build.get("dockerfile"):
                words += ["--file", str(build["dockerfile"])]
            for key, value in (build.get("args") or {}).items():
                words += ["--build-arg", f"{key}={value}"]
            for key, value in (build.get("labels") or {}).items():
                words += ["--label", f"{key}={value}"]
            if build.get("nocache"):
                words.append("--no-cache")
            if build.get("pull"):
                words.append("--pull")
            if build.get("target"):
                words += ["--target", str(build["target"])]
            if build.get("network"):
                words += ["--network", str(build["network"])]
            words.append(str(build["path"]))
            return '"$DOCKER" ' + " ".join(quote(w) for w in words) + " >&2"
        return 'orch_fail "image $ref does not exist locally (source: local)"'


def _verb(source: str | None, ref: str, args: Mapping[str, Any]) -> str:
    if source == "load":
        return f"Loaded image {ref} from {args['load_path']}"
    if source == "pull":
        return f"Pulled image {ref}"
    if source == "build":
        return f"Built image {ref} from {(args.get('build') or {}).get('path')}"
    return f"Found image {ref}"
