"""user: local accounts with useradd/usermod/userdel, Ansible's parameters and result keys.

One round trip reads the account (passwd, shadow, group membership, the groups asked for); the
controller decides which useradd/usermod arguments are needed (a pure function, unit-tested);
only a real change costs a second round trip, which also reads the account back for the result.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import WireOutput
from orchestrator.transport.shell import quote

_HASH = re.compile(r"^(\$[0-9a-z]+\$|\$2[aby]\$|[./0-9A-Za-z]{13}$|!|\*)")

# Sections passwd, shadow, member (groups listing the user), group (each group asked for), home.
# Builtin reads of the local files (orch_getent, orch_groups_of): no process starts on a no-op.
_READ_SH = r"""
orch_section passwd; orch_getent passwd "$n" 2>/dev/null || :
orch_section shadow; orch_getent shadow "$n" 2>/dev/null || :
orch_section member; orch_groups_of "$n"
orch_section group; for __g in $want_groups; do orch_getent group "$__g" || echo "?$__g"; done
orch_section home
if [ -n "$home" ]; then __h=$home; else
  orch_ent passwd "$n" 2>/dev/null || :; __h=$__ent
  case "$__h" in *:*:*:*:*:*) __h=${__h#*:*:*:*:*:}; __h=${__h%%:*} ;; *) __h= ;; esac; fi
if [ -n "$__h" ] && [ -d "$__h" ]; then echo yes; fi
"""


@dataclass
class Account:
    """What the host says about a user (None fields: unknown / absent)."""

    exists: bool = False
    uid: int | None = None
    gid: int | None = None
    comment: str = ""
    home: str = ""
    shell: str = ""
    password: str | None = None  # the shadow hash (needs root to read)
    expires: int | None = None  # days since epoch, -1 for never
    max_days: int | None = None
    min_days: int | None = None
    warn_days: int | None = None
    member_of: list[str] = field(default_factory=list)
    groups: dict[str, int | None] = field(default_factory=dict)  # asked-for group (name or gid) -> gid
    group_names: dict[str, str] = field(default_factory=dict)  # asked-for group -> its name
    home_exists: bool = False


def parse_account(output: WireOutput) -> Account:
    sections = {
        name: [line for line in data.decode("utf-8", "replace").splitlines() if line] for name, data in output.sections
    }
    acct = Account()
    passwd = sections.get("passwd", [])
    if passwd:
        fields = passwd[0].split(":")
        if len(fields) >= 7:
            acct.exists = True
            acct.uid, acct.gid = int(fields[2]), int(fields[3])
            acct.comment, acct.home, acct.shell = fields[4], fields[5], fields[6]
    shadow = sections.get("shadow", [])
    if shadow:
        fields = shadow[0].split(":")
        if len(fields) >= 8:
            acct.password = fields[1]
            acct.min_days = _int_or_none(fields[3])
            acct.max_days = _int_or_none(fields[4])
            acct.warn_days = _int_or_none(fields[5])
            acct.expires = _int_or_none(fields[7])
    acct.member_of = sections.get("member", [])
    for line in sections.get("group", []):
        if line.startswith("?"):
            acct.groups[line[1:]] = None
            continue
        fields = line.split(":")
        if len(fields) >= 3:
            gid = int(fields[2])
            # The group was asked for by name or by gid; remember it under both.
            for key in (fields[0], fields[2]):
                acct.groups.setdefault(key, gid)
                acct.group_names.setdefault(key, fields[0])
    acct.home_exists = bool(sections.get("home"))
    return acct


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().lstrip("-").isdigit() else None


def wanted_groups(args: Mapping[str, Any]) -> list[str] | None:
    """The `groups` list (None: not managed; [] : no supplementary groups)."""
    groups = args.get("groups")
    if groups is None:
        return None
    return [g.strip() for g in groups if g and g.strip()]


def create_command(args: Mapping[str, Any], acct: Account) -> list[str]:
    """useradd arguments (Ansible's order and choices)."""
    cmd = ["useradd"]
    if args.get("uid") is not None:
        cmd += ["-u", str(args["uid"])]
        if args["non_unique"]:
            cmd.append("-o")
    if args.get("group"):
        cmd += ["-g", args["group"]]
    elif acct.groups.get(args["name"]) is not None:  # a group named like the user exists: reuse it
        cmd.append("-N")
    groups = wanted_groups(args)
    if groups:
        cmd += ["-G", ",".join(groups)]
    if args.get("comment") is not None:
        cmd += ["-c", args["comment"]]
    if args.get("home"):
        cmd += ["-d", args["home"]]
    if args.get("shell"):
        cmd += ["-s", args["shell"]]
    if args.get("expires") is not None:
        cmd += ["-e", _expire_date(args["expires"])]
    if args.get("password") is not None:
        cmd += ["-p", ("!" if args.get("password_lock") else "") + args["password"]]
    if args["create_home"]:
        cmd.append("-m")
        if args.get("skeleton"):
            cmd += ["-k", args["skeleton"]]
        if args.get("umask"):
            cmd += ["-K", f"UMASK={args['umask']}"]
    else:
        cmd.append("-M")
    if args["system"]:
        cmd.append("-r")
    if args.get("uid_min") is not None:
        cmd += ["-K", f"UID_MIN={args['uid_min']}"]
    if args.get("uid_max") is not None:
        cmd += ["-K", f"UID_MAX={args['uid_max']}"]
    return [*cmd, "--", args["name"]]


def modify_command(args: Mapping[str, Any], acct: Account) -> list[str] | None:
    """usermod arguments for what differs, or None when the account already matches."""
    cmd: list[str] = []
    if args.get("uid") is not None and acct.uid != args["uid"]:
        cmd += ["-u", str(args["uid"])]
        if args["non_unique"]:
            cmd.append("-o")
    if args.get("group"):
        gid = acct.groups.get(args["group"])
        if gid is None:
            raise ModuleFailed(f"Group {args['group']} does not exist")
        if acct.gid != gid:
            cmd += ["-g", str(gid)]
    groups = wanted_groups(args)
    if groups is not None:
        names = []
        for g in groups:
            if acct.groups.get(g) is None:
                raise ModuleFailed(f"Group {g} does not exist")
            names.append(acct.group_names[g])
        current = set(acct.member_of)
        if args["append"]:
            missing = [g for g in names if g not in current]
            if missing:
                cmd += ["-a", "-G", ",".join(names)]
        elif set(names) != current:
            cmd += ["-G", ",".join(names)]
    if args.get("comment") is not None and acct.comment != args["comment"]:
        cmd += ["-c", args["comment"]]
    if args.get("home") and acct.home != args["home"]:
        cmd += ["-d", args["home"]]
        if args["move_home"]:
            cmd.append("-m")
    if args.get("shell") and acct.shell != args["shell"]:
        cmd += ["-s", args["shell"]]
    if args.get("expires") is not None:
        want = _expire_days(args["expires"])
        have = acct.expires if acct.expires is not None else -1
        if want != have:
            cmd += ["-e", _expire_date(args["expires"])]
    current_hash = acct.password or ""
    if args.get("password_lock") and not current_hash.startswith("!"):
        cmd.append("-L")
    elif args.get("password_lock") is False and current_hash.startswith("!"):
        cmd.append("-U")
    password = args.get("password")
    if (
        args["update_password"] == "always"
        and password is not None
        and current_hash.lstrip("!") != password.lstrip("!")
    ):
        cmd = [c for c in cmd if c not in ("-L", "-U")]
        cmd += ["-p", ("!" if args.get("password_lock") else "") + password]
    return ["usermod", *cmd, "--", args["name"]] if cmd else None


def chage_command(args: Mapping[str, Any], acct: Account) -> list[str] | None:
    cmd: list[str] = []
    for param, flag, have in (
        ("password_expire_max", "-M", acct.max_days),
        ("password_expire_min", "-m", acct.min_days),
        ("password_expire_warn", "-W", acct.warn_days),
    ):
        if args.get(param) is not None and args[param] != have:
            cmd += [flag, str(args[param])]
    return ["chage", *cmd, "--", args["name"]] if cmd else None


def _expire_days(expires: float) -> int:
    return -1 if expires < 0 else int(expires // 86400)


def _expire_date(expires: float) -> str:
    return "" if expires < 0 else time.strftime("%Y-%m-%d", time.gmtime(expires))


def _shell_line(argv: list[str]) -> str:
    return " ".join(quote(a) for a in argv)


@register
class User(Module):
    """Create, change or remove a local user account."""

    name = "user"
    aliases = ("ansible.legacy.user",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True, aliases=("user",)),
            "state": Param("str", default="present", choices=("absent", "present")),
            "uid": Param("int"),
            "non_unique": Param("bool", default=False),
            "group": Param("str"),
            "groups": Param("list", elements="str"),
            "append": Param("bool", default=False),
            "comment": Param("str"),
            "home": Param("path"),
            "shell": Param("path"),
            "password": Param("str", no_log=True),
            "update_password": Param("str", default="always", choices=("always", "on_create")),
            "password_lock": Param("bool"),
            "password_expire_max": Param("int"),
            "password_expire_min": Param("int"),
            "password_expire_warn": Param("int"),
            "expires": Param("float"),
            "create_home": Param("bool", default=True, aliases=("createhome",)),
            "move_home": Param("bool", default=False),
            "skeleton": Param("str"),
            "system": Param("bool", default=False),
            "force": Param("bool", default=False),
            "remove": Param("bool", default=False),
            "umask": Param("str"),
            "uid_min": Param("int"),
            "uid_max": Param("int"),
            "local": Param("bool"),
            "login_class": Param("str"),
            "hidden": Param("bool"),
            "seuser": Param("str"),
            "generate_ssh_key": Param("bool"),
            "ssh_key_bits": Param("int", default=0),
            "ssh_key_type": Param("str", default="rsa"),
            "ssh_key_file": Param("path"),
            "ssh_key_comment": Param("str"),
            "ssh_key_passphrase": Param("str", no_log=True),
            "profile": Param("str"),
            "authorization": Param("str"),
            "role": Param("str"),
            "password_expire_account_disable": Param("int"),
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        check_account_name(args["name"])
        result = self._account(ctx, args)
        if args.get("generate_ssh_key") and args["state"] == "present" and "uid" in result:
            key = self._ssh_key(ctx, args)
            result["changed"] = result["changed"] or key.pop("changed")
            result.update(key)
        return result

    def _account(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        name = args["name"]
        if args.get("password") and not _HASH.match(args["password"]):
            ctx.warnings.append(
                "The input password appears not to have been hashed. The 'password' argument must be "
                "encrypted for this module to work properly."
            )
        asked = [g for g in [args.get("group"), *(wanted_groups(args) or [])] if g]
        header = (
            f"n={quote(name)} home={quote(args.get('home') or '')} "
            f"want_groups={quote(' '.join([*asked, name]))}\nset -f\n"
        )
        read = ctx.query(header + _READ_SH)
        if read.rc != 0:
            raise ModuleFailed(read.err.strip() or "cannot read the user database", rc=read.rc)
        acct = parse_account(read.wire)
        result: dict[str, Any] = {"name": name, "state": args["state"]}
        if args["state"] == "absent":
            if not acct.exists:
                return {**result, "changed": False}
            argv = ["userdel", *(["-f"] if args["force"] else []), *(["-r"] if args["remove"] else []), "--", name]
            applied, _ = self._apply(ctx, [argv], header)
            ctx.add_diff(f"user: {name}\nstate: present\n", f"user: {name}\nstate: absent\n", name, name)
            if not applied:
                return {"changed": True}
            return {**result, "changed": True, "force": args["force"], "remove": args["remove"]}

        commands: list[list[str]] = []
        created = not acct.exists
        if created:
            if args.get("group"):
                ctx.require(acct.groups.get(args["group"]) is not None, f"Group {args['group']} does not exist")
            commands.append(create_command(args, acct))
        else:
            modify = modify_command(args, acct)
            if modify:
                commands.append(modify)
            home = args.get("home") or acct.home
            if args["create_home"] and home and not acct.home_exists:
                commands.append(["__orch_mkhome", home])
        chage = chage_command(args, acct) if acct.exists else chage_command(args, Account())
        if chage:
            commands.append(chage)
        if not commands:
            return {
                **result,
                "changed": False,
                **self._info(args, acct),
                "append": args["append"],
                "move_home": args["move_home"],
                **self._password_key(args),
            }
        key_step = bool(args.get("generate_ssh_key"))
        applied, after = self._apply(ctx, commands, header, last=not key_step)
        ctx.add_diff(
            _describe(acct, name),
            _describe(after, name) if after else f"user: {name}\n(would change)\n",
            name,
            name,
        )
        if not applied and created:
            return {"changed": True}
        final = after if after is not None and after.exists else acct
        extra = (
            {"system": args["system"], "create_home": args["create_home"]}
            if created
            else {"append": args["append"], "move_home": args["move_home"]}
        )
        return {**result, "changed": True, **extra, **self._info(args, final), **self._password_key(args)}

    @staticmethod
    def _ssh_key(ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        """generate_ssh_key: ssh-keygen as Ansible runs it, unless the key exists (or force)."""
        key_type = args["ssh_key_type"]
        rel = args.get("ssh_key_file") or f".ssh/id_{key_type}"
        # Ansible's default names the host; a given comment is data, quoted.
        comment = (
            quote(args["ssh_key_comment"])
            if args.get("ssh_key_comment")
            else '"ansible-generated on $(hostname)"'
        )
        keygen = f"ssh-keygen -q -t {quote(key_type)}"
        if args["ssh_key_bits"] > 0:
            keygen += f" -b {int(args['ssh_key_bits'])}"
        # -N puts a passphrase in ssh-keygen's argv for its (short) lifetime; there is no
        # other non-interactive way without a pty on the host.
        keygen += f' -C {comment} -f "$f" -N {quote(args.get("ssh_key_passphrase") or "")}'
        header = (
            f"n={quote(args['name'])} rel={quote(rel)} force={int(args['force'])}\n"
            '__pw=$(getent passwd "$n"); __home=$(printf %s "$__pw" | cut -d: -f6)\n'
            'ids="$(printf %s "$__pw" | cut -d: -f3):$(printf %s "$__pw" | cut -d: -f4)"\n'
            'case "$rel" in /*) f=$rel ;; *) f="$__home/$rel" ;; esac\n'
            'orch_kv ssh_key_file "$f"\n'
        )
        query = header + (
            '[ -e "$f" ] || [ -e "$f.pub" ] || return 10\n'
            '[ "$force" = 1 ] && return 10\n'
            'orch_kv fingerprint "$(ssh-keygen -l -f "$f.pub" 2>&1)"; orch_kv public "$(cat "$f.pub" 2>/dev/null)"\n'
            "return 0"
        )
        apply = header + (
            '__d=$(dirname -- "$f"); [ -d "$__d" ] || { mkdir -m 0700 -p -- "$__d"; chown "$ids" "$__d"; }\n'
            'rm -f -- "$f" "$f.pub"\n'
            f"{keygen} </dev/null\n"
            'chown "$ids" "$f" "$f.pub"\n'
            'orch_kv fingerprint "$(ssh-keygen -l -f "$f.pub" 2>&1)"; orch_kv public "$(cat "$f.pub")"\n'
        )
        converged = ctx.converge(query, apply)
        fields = converged.fields()
        fields.update(converged.apply.fields)
        out: dict[str, Any] = {"changed": converged.changed, "ssh_key_file": fields.get("ssh_key_file", rel)}
        if "fingerprint" in fields:
            out["ssh_fingerprint"] = fields["fingerprint"]
            out["ssh_public_key"] = fields.get("public", "")
        return out

    @staticmethod
    def _password_key(args: Mapping[str, Any]) -> dict[str, Any]:
        return {"password": "NOT_LOGGING_PASSWORD"} if args.get("password") is not None else {}

    @staticmethod
    def _info(args: Mapping[str, Any], acct: Account) -> dict[str, Any]:
        if not acct.exists:
            return {}
        info: dict[str, Any] = {
            "uid": acct.uid,
            "group": acct.gid,
            "comment": acct.comment,
            "home": acct.home,
            "shell": acct.shell,
        }
        groups = wanted_groups(args)
        if groups is not None:
            info["groups"] = ",".join(groups)
        return info

    @staticmethod
    def _apply(
        ctx: ModuleContext, commands: list[list[str]], header: str, *, last: bool = True
    ) -> tuple[bool, Account | None]:
        """Run the commands (if the engine allows writes), then read the account back:
        (whether they ran, the account after). `last`: no ssh key step follows."""
        lines = []
        for argv in commands:
            if argv[0] == "__orch_mkhome":
                # An existing user whose home is missing: make it from the skeleton, owned by the user.
                home = quote(argv[1])
                lines.append(
                    f"mkdir -p -- {home} && cp -a /etc/skel/. {home} 2>/dev/null; "
                    f'chown -R "$(id -u "$n"):$(id -g "$n")" {home}'
                )
            else:
                lines.append(f'__o=$({_shell_line(argv)} 2>&1) || orch_fail "$__o"')
        converged = ctx.converge("return 10", header + "\n".join(lines) + "\n" + _READ_SH, last=last)
        return converged.applied, parse_account(converged.apply) if converged.applied else None


# What a login name may not hold: a leading '-' would be read as an option by useradd, id and
# friends; ':' ',' '/' and whitespace would break /etc/passwd, group lists or paths. shadow's
# useradd refuses most of these too, but only once it runs: refuse them before anything is sent.
_BAD_NAME = re.compile(r"^-|[:,/\s\x00]|^\.{1,2}$")


def check_account_name(name: str) -> None:
    if not name or _BAD_NAME.search(name):
        raise ModuleFailed(
            f"invalid user name {name!r}: it may not be empty, start with '-', be '.' or '..', "
            "or contain ':', ',', '/', whitespace or NUL"
        )


def _describe(acct: Account, name: str) -> str:
    if not acct.exists:
        return f"user: {name}\nstate: absent\n"
    groups = ",".join(sorted(acct.member_of))
    return (
        f"user: {name}\nuid: {acct.uid}\ngid: {acct.gid}\ngroups: {groups}\ncomment: {acct.comment}\n"
        f"home: {acct.home}\nshell: {acct.shell}\n"
    )
