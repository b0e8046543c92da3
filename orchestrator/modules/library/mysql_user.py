"""mysql_user (community.mysql.mysql_user): a MySQL/MariaDB account, its password and privileges.

One round trip reads the account (exists, password hash, TLS requirements, the hashes of the
same name on other hosts) and its SHOW GRANTS; the controller decides by community.mysql's rules
(user_add / user_mod): the password is compared as its mysql_native_password hash
(`*` + SHA1(SHA1(password)), computed here, so the plain password never travels), privileges as
the `db.table:PRIV,PRIV/...` string unpacked the way community.mysql unpacks it (USAGE on *.*
added, ALL PRIVILEGES read as ALL, WITH GRANT OPTION as GRANT), with append_privs /
subtract_privs. The change is a second round trip, which reads the grants again: as in
community.mysql, grants that leave SHOW GRANTS as it was are not a change. MySQL >= 5.7 and
MariaDB >= 10.2 (CREATE USER ... IDENTIFIED WITH mysql_native_password AS); not supported:
plugin/plugin_* auth, resource_limits, attributes, password_expire, locked, session_vars.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from typing import Any

from orchestrator.modules import mysql_common as my
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

Privs = dict[str, list[str]]
PRIV_NAME = re.compile(r"^[A-Z][A-Z _]*$")


def native_hash(password: str) -> str:
    """mysql_native_password's stored hash: '*' + upper hex SHA1(SHA1(password))."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def is_hash(password: str) -> bool:
    return len(password) == 41 and password[0] == "*" and set(password[1:]) <= set(string.hexdigits)


def sanitize_requires(tls: Mapping[str, Any] | None) -> dict[str, Any] | str | None:
    """community.mysql's sanitize_requires: None, "SSL", "X509" or {CIPHER/ISSUER/SUBJECT: value}."""
    if not tls:
        return None
    upper = {str(k).upper(): v for k, v in tls.items()}
    if any(k in ("CIPHER", "ISSUER", "SUBJECT") for k in upper):
        upper.pop("SSL", None)
        upper.pop("X509", None)
        return upper
    return "X509" if "X509" in upper else "SSL"


def current_requires(ssl_type: str, cipher: str, issuer: str, subject: str) -> dict[str, Any] | str | None:
    """The account's TLS requirements (mysql.user's ssl_* columns), sanitized."""
    if not any((ssl_type, cipher, issuer, subject)):
        return None
    out: dict[str, Any] = {}
    if ssl_type == "ANY":
        out["SSL"] = None
    if ssl_type == "X509":
        out["X509"] = None
    for key, value in (("CIPHER", cipher), ("ISSUER", issuer), ("SUBJECT", subject)):
        if value:
            out[key] = value
    return sanitize_requires(out)


def requires_sql(tls: Mapping[str, Any] | str | None) -> str:
    if tls is None:
        return " REQUIRE NONE"
    if isinstance(tls, str):
        return f" REQUIRE {tls}"
    return " REQUIRE " + " AND ".join(f"{k} {my.literal(str(v))}" for k, v in tls.items())


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside backquotes and parentheses."""
    parts, depth, quoted, start = [], 0, False, 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "`":
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _normalize_object(obj: str) -> str:
    """`db`.`table` / "db".* / db.* as one canonical key: each name backquoted, `*` bare."""
    obj = obj.strip()
    prefix = ""
    for kind in ("FUNCTION ", "PROCEDURE "):
        if obj.upper().startswith(kind):
            prefix, obj = kind, obj[len(kind) :].strip()
    names, i = [], 0
    while i <= len(obj):
        if i < len(obj) and obj[i] in "`\"'":
            q, j, name = obj[i], i + 1, ""
            while j < len(obj):
                if obj[j] == q and j + 1 < len(obj) and obj[j + 1] == q:
                    name, j = name + q, j + 2
                elif obj[j] == q:
                    break
                else:
                    name, j = name + obj[j], j + 1
            names.append(name)
            i = j + 1
        else:
            end = obj.find(".", i)
            end = len(obj) if end < 0 else end
            names.append(obj[i:end])
            i = end
        if i < len(obj) and obj[i] == ".":
            i += 1
            continue
        break
    return prefix + ".".join(n if n == "*" else my.ident(n) for n in names)


def _sort_columns(priv: str) -> str:
    """SELECT (b, a) -> SELECT (a, b): community.mysql's sort_column_order (the server reorders)."""
    if "(" not in priv:
        return priv
    name, _, cols = priv.partition("(")
    columns = sorted(c.strip().strip("`") for c in cols.rstrip(")").split(","))
    return f"{name}({', '.join(columns)})"


def unpack_privs(priv: str, column_case_sensitive: bool, ensure_usage: bool = True) -> Privs:
    """community.mysql's privileges_unpack: 'db.*:SELECT,INSERT/db2.t:ALL' -> {`db`.*: [...]}."""
    out: Privs = {}
    for item in priv.strip().split("/"):
        if ":" not in item:
            raise ModuleFailed(f"invalid privileges string: {item!r} is not db.table:PRIVILEGES")
        obj, privs = item.strip().rsplit(":", 1)
        key = _normalize_object(obj)
        if "(" in privs:
            text = privs if column_case_sensitive else privs.upper()
            names = re.split(r",\s*(?=[^)]*(?:\(|$))", text)
        else:
            names = privs.upper().split(",")
        names = [_sort_columns(n.strip()) for n in names]
        for name in names:
            if not PRIV_NAME.match(name.split("(")[0].strip().upper()):
                raise ModuleFailed(f"invalid privileges string: Invalid privileges specified: {name!r}")
        out[key] = names
    if ensure_usage and "*.*" not in out:
        out["*.*"] = ["USAGE"]
    return out


def parse_grants(lines: list[str]) -> Privs:
    """community.mysql's privileges_get over SHOW GRANTS lines (role grants are left out)."""
    out: Privs = {}
    for line in lines:
        if not line.startswith("GRANT ") or not (on := _split_unquoted(line[6:], " ON ")) or len(on) < 2:
            continue  # GRANT role TO ..., SET DEFAULT ROLE ...
        privs = [p.strip() for p in _split_unquoted(on[0], ",")]
        target = _split_unquoted(" ON ".join(on[1:]), " TO ")[0]
        names = ["ALL" if p == "ALL PRIVILEGES" else _sort_columns(p) for p in privs]
        if line.rstrip().endswith("WITH GRANT OPTION"):
            names.append("GRANT")
        key = target.strip() if target.strip().startswith("'") else _normalize_object(target)
        out.setdefault(key, []).extend(names)
    return out


def _priv_sql(privs: list[str]) -> str:
    """The privilege list of a GRANT/REVOKE (GRANT left out), column lists backquoted."""
    out = []
    for p in privs:
        if p == "GRANT":
            continue
        if "(" in p:
            name, _, cols = p.partition("(")
            columns = ", ".join(my.ident(c.strip()) for c in cols.rstrip(")").split(","))
            out.append(f"{name.strip()} ({columns})")
        else:
            out.append(p)
    return ", ".join(out)


def grant_sql(acct: str, obj: str, privs: list[str]) -> str:
    tail = " WITH GRANT OPTION" if "GRANT" in privs else ""
    return f"GRANT {_priv_sql(privs)} ON {obj} TO {acct}{tail}"


def revoke_sql(acct: str, obj: str, privs: list[str], grant_option: bool) -> list[str]:
    out = [f"REVOKE GRANT OPTION ON {obj} FROM {acct}"] if grant_option else []
    text = _priv_sql(privs)
    if text and not (grant_option and text == "USAGE"):
        out.append(f"REVOKE {text} ON {obj} FROM {acct}")
    return out


def plan_privs(
    user: str, acct: str, current: Privs, wanted: Privs, append: bool, subtract: bool
) -> tuple[list[str], list[str], str]:
    """community.mysql's user_mod privilege part: (statements that change the grants for sure,
    statements whose effect shows only in SHOW GRANTS afterwards, msg)."""
    sure: list[str] = []
    maybe: list[str] = []
    msg = ""
    if not append and not subtract:
        grant_option = False
        for obj, privs in current.items():
            if "GRANT" in privs:
                grant_option = True
            if obj not in wanted and user != "root" and "PROXY" not in privs:
                msg = "Privileges updated"
                sure += revoke_sql(acct, obj, privs, grant_option)
    if not subtract:
        for obj, privs in wanted.items():
            if obj not in current:
                msg = "New privileges granted"
                sure.append(grant_sql(acct, obj, privs))
    for obj in [o for o in wanted if o in current]:
        have, want = current[obj], wanted[obj]
        grants: list[str] = []
        revokes: list[str] = []
        grant_option = False
        if append:
            grants = [p for p in want if p not in have]
        elif subtract:
            revokes = [p for p in want if p in have]
        else:
            grants = [p for p in want if p not in have]
            revokes = [p for p in have if p not in want]
            if "ALL" in grants or "ALL PRIVILEGES" in grants:
                revokes = [p for p in revokes if p in ("GRANT", "PROXY")]
            grant_option = "GRANT" in revokes and "GRANT" not in grants
        if grants == ["GRANT"]:
            grants.append("USAGE")  # WITH GRANT OPTION cannot stand alone
        if grants or revokes:
            msg = f"Privileges updated: granted {grants}, revoked {revokes}"
            if revokes:
                maybe += revoke_sql(acct, obj, revokes, grant_option)
            if grants:
                maybe.append(grant_sql(acct, obj, grants))
    return sure, maybe, msg


def expected_privs(current: Privs, wanted: Privs, args: Mapping[str, Any]) -> Privs:
    """The privileges the account should have afterwards (for the diff)."""
    if args["append_privs"]:
        merged = {obj: list(privs) for obj, privs in current.items()}
        for obj, privs in wanted.items():
            merged.setdefault(obj, []).extend(p for p in privs if p not in merged.get(obj, []))
        return merged
    if args["subtract_privs"]:
        left = {obj: [p for p in privs if p not in wanted.get(obj, [])] for obj, privs in current.items()}
        return {obj: privs for obj, privs in left.items() if privs}
    return wanted


def show_privs(privs: Privs) -> str:
    """The priv string of `privs`, objects and privileges sorted (a stable diff)."""
    return "/".join(f"{obj}:{','.join(sorted(p))}" for obj, p in sorted(privs.items()))


@register
class MysqlUser(Module):
    """Create, change or drop a MySQL/MariaDB user: password, privileges, TLS requirements."""

    name = "mysql_user"
    aliases = ("community.mysql.mysql_user",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True, aliases=("user",)),
            "password": Param("str", no_log=True),
            "encrypted": Param("bool", default=False),
            "host": Param("str", default="localhost"),
            "host_all": Param("bool", default=False),
            "state": Param("str", default="present", choices=("absent", "present")),
            "priv": Param("raw"),
            "tls_requires": Param("dict"),
            "append_privs": Param("bool", default=False),
            "subtract_privs": Param("bool", default=False),
            "check_implicit_admin": Param("bool", default=False),
            "update_password": Param(
                "str", default="always", choices=("always", "on_create", "on_new_username")
            ),
            "sql_log_bin": Param("bool", default=True),
            "column_case_sensitive": Param("bool"),
            **my.CONN_PARAMS,
        },
        mutually_exclusive=(("append_privs", "subtract_privs"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        user, host, state = args["name"], args["host"].lower(), args["state"]
        password, encrypted = args.get("password"), args["encrypted"]
        priv = args.get("priv")
        if priv is not None and not isinstance(priv, (str, dict)):
            raise ModuleFailed(f"priv parameter must be str or dict but {type(priv)} was passed")
        if isinstance(priv, dict):
            priv = "/".join(f"{k}:{v}" for k, v in priv.items())
        if args["column_case_sensitive"] is None:
            ctx.warnings.append(
                "Option column_case_sensitive is not provided. The default is now false, so the column's name"
                " will be uppercased. The default will be changed to true in community.mysql 4.0.0."
            )
        wanted = (
            unpack_privs(priv, bool(args["column_case_sensitive"]), ensure_usage=not args["subtract_privs"])
            if priv
            else None
        )
        tls = sanitize_requires(args.get("tls_requires"))
        args = self._login(ctx, args)
        acct = my.account(user, host)
        where = f"user = {my.literal(user)} AND host = {my.literal(host)}"
        info = my.sections(my.query(ctx, args, missing_config=False, body=my.section_script({
            "version": "SELECT VERSION()",
            "account": f"SELECT authentication_string, ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE {where}",
            "hosts": f"SELECT host FROM mysql.user WHERE user = {my.literal(user)}",
            "auths": f"SELECT plugin, authentication_string FROM mysql.user WHERE user = {my.literal(user)} GROUP BY plugin, authentication_string",
        }) + f"\nif [ -n \"$(orch_mysql {quote('SELECT 1 FROM mysql.user WHERE ' + where)} -N)\" ]; then"
            f" orch_section grants; orch_mysql {quote(f'SHOW GRANTS FOR {acct}')} -N || exit $?; fi"))  # fmt: skip
        kind, version = my.server_version(info["version"].strip())
        if (kind == "mariadb" and version < (10, 2)) or (kind == "mysql" and version < (5, 7)):
            raise ModuleFailed(
                f"mysql_user needs MySQL >= 5.7 or MariaDB >= 10.2; the server is {info['version'].strip()}"
            )
        account_row = next(iter(my.rows(info["account"])), None)
        hosts = [r[0] or "" for r in my.rows(info.get("hosts", ""))]
        exists = bool(hosts) if args["host_all"] else account_row is not None
        log_bin = [] if args["sql_log_bin"] else ["SET SQL_LOG_BIN=0"]
        result: dict[str, Any] = {"user": user, "password_changed": False, "attributes": None}

        if state == "absent":
            if not exists:
                return {**result, "changed": False, "msg": "User doesn't exist"}
            targets = hosts if args["host_all"] else [host]
            ctx.add_diff("".join(f"user {user}@{h}\n" for h in targets), "", "before", "after")
            my.apply(
                ctx,
                args,
                missing_config=False,
                body=self._sql_script(
                    log_bin + [f"DROP USER IF EXISTS {my.account(user, h)}" for h in targets]
                ),
            )
            return {**result, "changed": True, "msg": "User deleted"}

        if not exists:
            if args["host_all"]:
                raise ModuleFailed("host_all parameter cannot be used when adding a user")
            return self._add(
                ctx, args, acct, user, host, password, encrypted, wanted, tls, info, log_bin, result
            )
        if args["host_all"]:
            raise ModuleFailed("host_all is supported with state=absent only here")
        # community.mysql reads the account's attributes on this path: {} when the server has none
        result["attributes"] = {} if kind == "mariadb" or version < (8, 0, 21) else None
        assert account_row is not None  # here the account exists, and host_all is refused above
        return self._mod(
            ctx, args, acct, user, password, encrypted, wanted, tls, account_row, info, log_bin, result
        )

    @staticmethod
    def _login(ctx: ModuleContext, args: Mapping[str, Any]) -> Mapping[str, Any]:
        """check_implicit_admin: root without a password first, when that connects."""
        if not args["check_implicit_admin"]:
            return args
        implicit = {**args, "login_user": "root", "login_password": ""}
        probe = ctx.query(my.prelude(implicit) + "\norch_mysql 'SELECT 1' -N >/dev/null")
        return implicit if probe.rc == 0 else args

    @staticmethod
    def _sql_script(statements: list[str], *, then_grants: str = "") -> str:
        body = f"orch_mysql {quote(';'.join(statements) + ';')} -N"
        if then_grants:
            body += f"\norch_section grants; orch_mysql {quote(then_grants)} -N"
        return body

    def _add(
        self, ctx: ModuleContext, args: Mapping[str, Any], acct: str, user: str, host: str, password: str | None,
        encrypted: bool, wanted: Privs | None, tls: Any, info: Mapping[str, str], log_bin: list[str],
        result: dict[str, Any],
    ) -> dict[str, Any]:  # fmt: skip
        """community.mysql's user_add."""
        auth = ""
        used_existing = False
        if args["update_password"] == "on_new_username":
            auths = my.rows(info.get("auths", ""))
            if len(auths) == 1:
                plugin, hashed = auths[0]
                auth = f" IDENTIFIED WITH {my.ident(plugin or '')} AS {my.literal(hashed or '')}"
                used_existing = True
            elif auths:
                ctx.warnings.append(
                    f"An account with the username {user} has a different password than the others existing"
                    " accounts. Thus on_new_username can't decide which password to reuse so it will use your"
                    " provided password instead. If no password is provided, the account will have an empty password!"
                )
        if not used_existing and password:
            hashed = password if encrypted else native_hash(password)
            auth = f" IDENTIFIED WITH mysql_native_password AS {my.literal(hashed)}"
        create = f"CREATE USER {acct}{auth}" + (requires_sql(tls) if tls else "")
        statements = [*log_bin, create]
        for obj, privs in (wanted or {}).items():
            statements.append(grant_sql(acct, obj, privs))
        privs_text = show_privs(wanted or {})
        ctx.add_diff("", f"user {user}@{host}\npassword: {'set' if password or used_existing else 'none'}\n"
                     + (f"privileges: {privs_text}\n" if privs_text else ""), "before", "after")  # fmt: skip
        done = my.apply(ctx, args, self._sql_script(statements), missing_config=False)
        return {
            **result,
            "changed": True,
            "msg": "User added",
            "password_changed": (not used_existing) if done is not None else None,
        }

    def _mod(
        self, ctx: ModuleContext, args: Mapping[str, Any], acct: str, user: str, password: str | None,
        encrypted: bool, wanted: Privs | None, tls: Any, row: list[str | None], info: Mapping[str, str],
        log_bin: list[str], result: dict[str, Any],
    ) -> dict[str, Any]:  # fmt: skip
        """community.mysql's user_mod."""
        msg = "User unchanged"
        sure: list[str] = []
        maybe: list[str] = []
        before: list[str] = []
        after: list[str] = []
        password_changed = False
        if password and args["update_password"] == "always":
            if encrypted and not is_hash(password):
                raise ModuleFailed(
                    "encrypted was specified however it does not appear to be a valid hash expecting:"
                    " *SHA1(SHA1(your_password))"
                )
            hashed = password if encrypted else native_hash(password)
            if (row[0] or None) != hashed:
                password_changed = True
                msg = "Password updated (new style)"
                sure.append(
                    f"ALTER USER {acct} IDENTIFIED WITH mysql_native_password AS {my.literal(hashed)}"
                )
                before.append("password: (old)")
                after.append("password: (new)")
        current = parse_grants([r[0] or "" for r in my.rows(info.get("grants", ""))])
        if wanted is not None:
            sure_privs, maybe, privs_msg = plan_privs(
                user, acct, current, wanted, args["append_privs"], args["subtract_privs"]
            )
            sure += sure_privs
            msg = privs_msg or msg
        have_tls = current_requires(*(v or "" for v in row[1:5]))
        if have_tls != tls:
            msg = "TLS requires updated"
            sure.append(f"ALTER USER {acct}{requires_sql(tls)}")
            before.append(f"require: {have_tls}")
            after.append(f"require: {tls}")
        if not sure and not maybe:
            return {**result, "changed": False, "msg": msg}
        if wanted is not None and (any(s.startswith(("GRANT", "REVOKE")) for s in sure) or maybe):
            before.append(f"privileges: {show_privs(current)}")
            after.append(f"privileges: {show_privs(expected_privs(current, wanted, args))}")
        ctx.add_diff("\n".join(before) + "\n", "\n".join(after) + "\n", f"user {user}", f"user {user}")
        statements = [*log_bin, *sure, *maybe]
        if any(s.startswith("REVOKE") for s in statements):
            statements.append("FLUSH PRIVILEGES")
        out = my.apply(
            ctx,
            args,
            self._sql_script(statements, then_grants=f"SHOW GRANTS FOR {acct}"),
            missing_config=False,
        )
        if out is None:  # check mode: community.mysql reports every planned change
            return {**result, "changed": True, "msg": msg, "password_changed": password_changed}
        grants_after = parse_grants([r[0] or "" for r in my.rows(my.sections(out).get("grants", ""))])
        # as in community.mysql, grants that left SHOW GRANTS as it was are no change (msg stays)
        changed = bool(sure) or grants_after != current
        return {**result, "changed": changed, "msg": msg, "password_changed": password_changed}
