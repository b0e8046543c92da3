"""package: the generic package module; dispatches to the host's package manager (apt here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.library.apt import Apt
from orchestrator.modules.spec import ArgSpec, Param, validate_args

# Package managers orch has a module for, by Ansible's pkg_mgr fact name.
BACKENDS: dict[str, type[Module]] = {"apt": Apt}


@register
class Package(Module):
    """Install or remove packages with whatever manager the host uses."""

    name = "package"
    aliases = ("ansible.legacy.package",)
    # As in Ansible, any other argument goes to the backend module, which checks it when the task
    # runs (a role may pass yum's `enablerepo` in a task that only runs on Red Hat hosts).
    spec = None  # type: ignore[assignment]
    own_spec = ArgSpec(
        params={
            "name": Param("list", elements="str", required=True),
            "state": Param("str", required=True),
            "use": Param("str", default="auto"),
        }
    )

    def run(self, ctx: ModuleContext, raw: Mapping[str, Any]) -> dict[str, Any]:
        args, errors = validate_args(self.own_spec, {k: v for k, v in raw.items() if k in ("name", "state", "use")})
        if errors:
            raise ModuleFailed("; ".join(errors))
        passed = {k: v for k, v in raw.items() if k not in ("name", "state", "use")}
        manager = args["use"]
        if manager == "auto":
            facts = ctx.variables.get("ansible_facts") or {}
            manager = facts.get("pkg_mgr") if hasattr(facts, "get") else None
            if not manager:  # facts not gathered: ask the host (one extra round trip)
                probe = ctx.query(
                    "for m in apt-get dnf yum zypper apk pacman; do "
                    "command -v $m >/dev/null 2>&1 && { echo $m; break; }; done"
                )
                manager = {"apt-get": "apt"}.get(probe.out.strip(), probe.out.strip() or "unknown")
        backend = BACKENDS.get(str(manager))
        if backend is None:
            raise ModuleFailed(
                f"Could not find a module for {manager}. (orch's package module supports: {', '.join(BACKENDS)})"
            )
        backend_args, errors = validate_args(
            backend.spec, {**passed, "name": args["name"], "state": args["state"]}
        )
        if errors:
            raise ModuleFailed("; ".join(errors))
        return backend().run(ctx, backend_args)
