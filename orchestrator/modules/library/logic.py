"""Modules that run on the controller and never touch a host: debug, set_fact, fail, assert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param


@register
class Debug(Module):
    """Print a message or a variable's value."""

    name = "debug"
    remote = False
    spec = ArgSpec(
        params={
            "msg": Param("raw", help="Message to print (any type)."),
            "var": Param("str", help="A variable name or expression to print."),
            "verbosity": Param("int", default=0),
        },
        mutually_exclusive=(("msg", "var"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args.get("var"):
            expression = args["var"]
            try:
                value = ctx.templar.evaluate(expression, ctx.variables)
            except Exception:
                value = "VARIABLE IS NOT DEFINED!"
            return {"changed": False, expression: value, "_ansible_verbose_always": True}
        msg = args["msg"] if args.get("msg") is not None else "Hello world!"
        return {"changed": False, "msg": msg, "_ansible_verbose_always": True}


@register
class SetFact(Module):
    """Set host variables that last for the rest of the run (the executor stores them)."""

    name = "set_fact"
    remote = False
    free_form = "_raw_params"
    spec = None  # type: ignore[assignment]  # any key is a variable name

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        facts = {k: v for k, v in args.items() if k not in ("cacheable", "_raw_params")}
        if not facts:
            raise ModuleFailed("set_fact needs at least one variable to set")
        return {"changed": False, "ansible_facts": facts}


@register
class Fail(Module):
    """Fail the host with a message."""

    name = "fail"
    remote = False
    spec = ArgSpec(params={"msg": Param("raw", default="Failed as requested from task")})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        raise ModuleFailed(str(args["msg"]))


@register
class Assert(Module):
    """Fail unless every condition in `that` holds."""

    name = "assert"
    remote = False
    spec = ArgSpec(
        params={
            # raw: one string is one condition (Ansible), never split on its commas
            "that": Param("raw", required=True),
            "fail_msg": Param("raw", aliases=("msg",)),
            "success_msg": Param("raw", default="All assertions passed"),
            "quiet": Param("bool", default=False),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        that = args["that"]
        for condition in that if isinstance(that, list) else [that]:
            if not ctx.templar.is_true(condition, ctx.variables):
                msg = args.get("fail_msg") or f"Assertion failed: {condition}"
                raise ModuleFailed(str(msg), assertion=condition, evaluated_to=False)
        return {"changed": False, "msg": args["success_msg"]}


@register
class AddHost(Module):
    """Add a host (and its groups and variables) to the in-memory inventory of this run.

    Like Ansible, it runs once (for the first host of the batch) unless it loops; the executor
    applies the returned `add_host` to the inventory and sets `changed` from what that changed.
    """

    name = "add_host"
    remote = False
    spec = None  # type: ignore[assignment]  # any other key is a host variable

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        name = args.get("name", args.get("hostname", args.get("host")))
        if not name:
            raise ModuleFailed("name, host or hostname needs to be provided")
        groups = args.get("groupname", args.get("groups", args.get("group", "")))
        if isinstance(groups, str):
            groups = [g.strip() for g in groups.split(",") if g.strip()]
        elif not isinstance(groups, list):
            raise ModuleFailed("Groups must be specified as a list.")
        special = {"name", "hostname", "host", "groupname", "groups", "group"}
        host_vars = {k: v for k, v in args.items() if k not in special}
        return {
            "changed": False,
            "add_host": {"host_name": str(name), "groups": list(dict.fromkeys(map(str, groups))), "host_vars": host_vars},
        }


@register
class GroupBy(Module):
    """Put the host in a group named by `key` (created if needed) under `parents`."""

    name = "group_by"
    remote = False
    spec = ArgSpec(params={"key": Param("str", required=True), "parents": Param("list", elements="str", default=["all"])})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "changed": False,
            "add_group": str(args["key"]).replace(" ", "-"),
            "parent_groups": [str(p).replace(" ", "-") for p in args["parents"]],
        }
