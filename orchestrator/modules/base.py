"""What a module is: a declared ArgSpec plus the work it does on a host.

Remote modules describe their work as shell fragments: a read-only `query` that inspects the
host and an `apply` that makes the change. The ENGINE (ModuleContext.converge) decides whether
`apply` runs, so check mode cannot be forgotten by a module, and both travel in one script:
a no-op task is one round trip. Controller-side modules (debug, set_fact) never touch a host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from orchestrator.errors import ModuleFailed
from orchestrator.modules.spec import ArgSpec

# ModuleFailed is part of the module API; its home is the one error hierarchy (errors.py).
__all__ = ["Module", "ModuleFailed", "get_module", "module_names", "register"]

if TYPE_CHECKING:
    from orchestrator.modules.context import ModuleContext


class Module:
    """Subclass per module; register with @register."""

    name: ClassVar[str]  # short name: "copy"
    aliases: ClassVar[tuple[str, ...]] = ()  # FQCNs and legacy names: "ansible.builtin.copy"
    spec: ClassVar[ArgSpec]
    # Modules that take a free-form string (`command: ls -l`) name the parameter it fills.
    free_form: ClassVar[str | None] = None
    # False for modules that run only on the controller (debug, set_fact, assert, ...).
    remote: ClassVar[bool] = True
    # Whether the module can report what it would do in check mode (else: skipped in check mode).
    supports_check: ClassVar[bool] = True
    # For a module that cannot ask the host what it would do (reboot): what check mode reports,
    # without running the module at all.
    check_result: ClassVar[Mapping[str, Any] | None] = None

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        """Do the work and return the Ansible-compatible result dict (changed, msg, rc, ...).

        Raise ModuleFailed for a failure with a message and optional result keys.
        """
        raise NotImplementedError


_REGISTRY: dict[str, type[Module]] = {}


def register(cls: type[Module]) -> type[Module]:
    """Add a module to the registry under its name, ansible.builtin.<name> and its aliases.

    Only modules: the language's own actions (meta, include_*, import_*) are in
    playbook/actions.py with their handlers."""
    for key in (cls.name, f"ansible.builtin.{cls.name}", *cls.aliases):
        _REGISTRY[key] = cls
    return cls


def get_module(name: str) -> type[Module] | None:
    _load_all()
    return _REGISTRY.get(name)


def module_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def _load_all() -> None:
    # Importing the package registers every module file in it.
    import orchestrator.modules.library  # noqa: F401
