"""Modules: one file per module in library/, each a declared ArgSpec plus its remote script."""

from orchestrator.modules.base import Module, ModuleFailed, get_module, module_names, register
from orchestrator.modules.spec import ArgSpec, Param, validate_args

__all__ = [
    "ArgSpec",
    "Module",
    "ModuleFailed",
    "Param",
    "get_module",
    "module_names",
    "register",
    "validate_args",
]
