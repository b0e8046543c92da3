"""command, shell: run a command on the host (Ansible's semantics for creates/removes/chdir/stdin)."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import printf_literal, quote

COMMON_PARAMS = {
    "_raw_params": Param("str", aliases=("cmd",), help="The command to run."),
    "chdir": Param("path", help="Change into this directory first."),
    "creates": Param("path", help="A path (glob); when it exists, the command is not run."),
    "removes": Param("path", help="A path (glob); when it does NOT exist, the command is not run."),
    "stdin": Param("str", help="Data passed to the command's standard input."),
    "stdin_add_newline": Param("bool", default=True),
    "strip_empty_ends": Param("bool", default=True),
}

# Returns 0 (go on) or prints why it skips and exits 0 with the skip marker.
_GUARD = """
orch_exists() {
  orch_tilde "$1"; IFS='
'
  for __f in $__tl; do [ -e "$__f" ] && { unset IFS; return 0; }; done
  unset IFS; return 1
}
"""


class CommandBase(Module):
    supports_check = True
    chdir_before_checks = True

    def command_line(self, args: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def display_cmd(self, args: Mapping[str, Any]) -> Any:
        """The `cmd` result key: Ansible gives a list for command and a string for shell."""
        return args["_raw_params"]

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        line = self.command_line(args)
        # A leading ~ of chdir, creates, removes is the home of the user the command runs as.
        # command/shell go into chdir first and check creates/removes there, as Ansible's
        # modules do; Ansible's script action checks them before, where the login starts.
        cd = ""
        if args.get("chdir"):
            cd = (
                f"orch_tilde {quote(args['chdir'])}; cd -- \"$__tl\" 2>/dev/null || "
                'orch_fail "Unable to change directory before execution: $__tl"\n'
            )
        guard = cd if self.chdir_before_checks else ""
        if args.get("creates"):
            guard += f"orch_exists {quote(args['creates'])} && {{ orch_kv skip creates; exit 0; }}\n"
        if args.get("removes"):
            guard += f"orch_exists {quote(args['removes'])} || {{ orch_kv skip removes; exit 0; }}\n"
        # The guard is the query; the command is the write step, run only if the engine allows
        # (in the same shell: the cd holds).
        query = _GUARD + guard + "return 10"
        apply = "" if self.chdir_before_checks else cd
        apply += f"eval {quote(line)}"  # parsed when it runs, as its own script would be
        stdin = None
        if args.get("stdin") is not None:
            stdin = str(args["stdin"]) + ("\n" if args["stdin_add_newline"] else "")
        started = datetime.now()
        t0 = time.monotonic()
        result = ctx.converge(
            query, apply, stdin=stdin.encode() if stdin is not None else None, apply_is_result=True, last=True
        )
        delta = time.monotonic() - t0
        out, err = result.apply_out, result.stderr
        which = result.fields().get("skip")
        if which in ("creates", "removes"):
            verb = "exists" if which == "creates" else "does not exist"
            return {
                "changed": False,
                "rc": 0,
                "stdout": f"skipped, since {args[which]} {verb}",
                "stdout_lines": [f"skipped, since {args[which]} {verb}"],
                "stderr": "",
                "stderr_lines": [],
                "msg": f"Did not run command since '{args[which]}' {verb}",
            }
        if not result.applied:
            if not guard:
                return {"changed": False, "skipped": True, "msg": "Command would have run if not in check mode"}
            return {"changed": True, "msg": "Command would have run if not in check mode"}
        if args["strip_empty_ends"]:
            out, err = out.rstrip("\r\n"), err.rstrip("\r\n")
        data = {
            "changed": True,
            "cmd": self.display_cmd(args),
            "rc": result.rc,
            "stdout": out,
            "stderr": err,
            "stdout_lines": out.splitlines(),
            "stderr_lines": err.splitlines(),
            "start": started.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "end": datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
            "delta": _delta(delta),
            "msg": "",
        }
        if result.rc != 0:
            del data["msg"]
            raise ModuleFailed("non-zero return code", **data)
        return data


def _delta(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:09.6f}"


@register
class Command(CommandBase):
    """Run a command without a shell: no pipes, redirects or variable expansion (use shell)."""

    name = "command"
    aliases = ("ansible.legacy.command",)
    free_form = "_raw_params"
    spec = ArgSpec(
        params={
            **COMMON_PARAMS,
            "argv": Param("list", elements="str", help="The command as a list; no splitting, no shell."),
            "expand_argument_vars": Param("bool", default=True),
        },
        mutually_exclusive=(("_raw_params", "argv"),),
        required_one_of=(("_raw_params", "argv"),),
    )

    def display_cmd(self, args: Mapping[str, Any]) -> Any:
        return list(args["argv"]) if args.get("argv") else shlex.split(args["_raw_params"])

    def command_line(self, args: Mapping[str, Any]) -> str:
        words = args["argv"] if args.get("argv") else shlex.split(args["_raw_params"])
        if not words:
            raise ModuleFailed("no command given")
        # Each word quoted: the shell that carries it only execs, as a shell-less command would.
        # expand_argument_vars (default on, as Ansible) keeps $VAR, ${VAR} and a leading ~ live.
        expand = args.get("expand_argument_vars", True)
        return "exec " + " ".join(expand_word(str(w)) if expand else quote(str(w)) for w in words)


_VAR = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")
_TILDE = re.compile(r"^~[A-Za-z0-9_.-]*(?:/|$)")


def expand_word(word: str) -> str:
    """One shell word that expands like Python's expanduser(expandvars(word)), as Ansible's
    command does: defined variables are substituted (never split or globbed), undefined ones
    stay literal; everything else is quoted."""
    out = []
    tilde = _TILDE.match(word)
    pos = 0
    if tilde:
        out.append(tilde.group(0))  # unquoted: the shell's tilde expansion
        pos = tilde.end()
    for m in _VAR.finditer(word, pos):
        if m.start() > pos:
            out.append(quote(word[pos : m.start()]))
        name = m.group(1) or m.group(2)
        literal = m.group(0).replace("$", "\\$").replace("}", "\\}")  # kept as is when unset
        out.append(f'"${{{name}-{literal}}}"')
        pos = m.end()
    if pos < len(word) or not out:
        out.append(quote(word[pos:]))
    return "".join(out)


@register
class Shell(CommandBase):
    """Run a command through a shell (/bin/sh unless `executable` says otherwise)."""

    name = "shell"
    aliases = ("ansible.legacy.shell",)
    free_form = "_raw_params"
    spec = ArgSpec(
        params={**COMMON_PARAMS, "executable": Param("path", help="The shell to use, e.g. /bin/bash.")},
        required_one_of=(("_raw_params",),),
    )

    def command_line(self, args: Mapping[str, Any]) -> str:
        if args.get("executable"):
            return f"exec {quote(args['executable'])} -c {quote(args['_raw_params'])}"
        return f"eval {quote(args['_raw_params'])}"


@register
class Raw(Module):
    """Run a raw command over SSH: no creates/chdir, no checks; works before anything is set up."""

    name = "raw"
    aliases = ("ansible.legacy.raw",)
    free_form = "_raw_params"
    supports_check = False
    spec = ArgSpec(params={"_raw_params": Param("str", required=True), "executable": Param("path")})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        line = args["_raw_params"]
        if args.get("executable"):
            line = f"exec {quote(args['executable'])} -c {quote(line)}"
        result = ctx.change(line)
        assert result is not None  # supports_check is False: the engine never runs raw in check mode
        data = {
            "changed": True,
            "rc": result.rc,
            "stdout": result.out,
            "stderr": result.err,
            "stdout_lines": result.out.splitlines(),
            "stderr_lines": result.err.splitlines(),
        }
        if result.rc != 0:
            raise ModuleFailed(f"non-zero return code {result.rc}", **data)
        return data


@register
class Script(CommandBase):
    """Transfer a local script and run it on the host (inline in the one round trip)."""

    name = "script"
    aliases = ("ansible.legacy.script",)
    free_form = "_raw_params"
    chdir_before_checks = False
    spec = ArgSpec(
        params={
            "_raw_params": Param("str", aliases=("cmd",), help="Local script path, then its arguments."),
            "chdir": Param("path"),
            "creates": Param("path"),
            "removes": Param("path"),
            "executable": Param("str", help="Run the script with this interpreter instead of its #! line."),
            "decrypt": Param("bool", default=True),
        },
        required_one_of=(("_raw_params",),),
    )

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        self._ctx = ctx
        result = super().run(ctx, {**args, "stdin_add_newline": True, "strip_empty_ends": True})
        if "rc" in result and result.get("msg", "").startswith("Did not run command"):
            # Ansible's script action reports a creates/removes guard as a skip, not as ok.
            which = "creates" if "exists" in result["msg"] and args.get("creates") else "removes"
            verb = "exists, matching creates option" if which == "creates" else "does not exist, matching removes option"
            return {"changed": False, "skipped": True, "msg": f"{args[which]} {verb}"}
        return result

    def display_cmd(self, args: Mapping[str, Any]) -> Any:
        return args["_raw_params"]

    def command_line(self, args: Mapping[str, Any]) -> str:
        assert self._ctx is not None
        raw = args["_raw_params"].strip()
        parts = shlex.split(raw)
        if not parts:
            raise ModuleFailed("script requires a path to a local script")
        local = self._ctx.find_file(parts[0])
        rest = raw[raw.find(parts[0]) + len(parts[0]):] if parts[0] in raw else " ".join(map(quote, parts[1:]))
        with open(local, "rb") as handle:
            body = handle.read()
        runner = f"{quote(args['executable'])} " if args.get("executable") else ""
        # The arguments go through the shell, as Ansible's script action passes them.
        return (
            "__s=$(mktemp /tmp/.orch-script.XXXXXX) || exit 1\n"
            f'printf {printf_literal(body)} > "$__s"; chmod 700 "$__s"\n'
            f'{runner}"$__s"{rest}; __rc=$?; rm -f -- "$__s"; exit $__rc'
        )
