"""postgresql_user (community.postgresql.postgresql_user): a PostgreSQL role and its password.

One round trip reads the role (pg_authid) and the server's password_encryption; whether the
password must change is decided on the controller by community.postgresql's rules: a SCRAM
verifier on the server is checked against the wanted password (PBKDF2 with the stored salt and
iterations, comparing the ServerKey), an md5 one against md5(password + user), so a role whose
password is right is left alone and a run is idempotent. A change is a second round trip (psql,
see postgres_common: the password never reaches argv or output; the result's `queries` show the
`%(password)s` placeholder, as Ansible's do).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import stringprep
import unicodedata
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.postgres_common import CONN_PARAMS, apply_sql, ident, literal, query_rows
from orchestrator.modules.spec import ArgSpec, Param

SCRAM_RE = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")
FLAG_COLUMNS = {
    "SUPERUSER": "rolsuper", "CREATEROLE": "rolcreaterole", "CREATEDB": "rolcreatedb", "INHERIT": "rolinherit",
    "LOGIN": "rolcanlogin", "REPLICATION": "rolreplication", "BYPASSRLS": "rolbypassrls",
}  # fmt: skip
PASSWORD_PLACEHOLDER = "%(password)s"


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep as PostgreSQL applies it to passwords (mapping and NFKC)."""
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c))
    return unicodedata.normalize("NFKC", mapped)


def scram_matches(verifier: str, password: str) -> bool:
    """Whether `password` gives the ServerKey of a stored SCRAM-SHA-256 verifier."""
    match = SCRAM_RE.match(verifier)
    if not match:
        return False
    iterations, salt, server_key = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[4])
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)
    return hmac.compare_digest(hmac.new(salted, b"Server Key", hashlib.sha256).digest(), server_key)


def password_changes(
    current: str | None, user: str, password: str, encrypted: bool, default_encryption: str
) -> bool:
    """community.postgresql's user_should_we_change_password. Pure."""
    if password == "":
        return current is not None
    if SCRAM_RE.match(password):
        return password != current
    if current is not None and SCRAM_RE.match(current):
        return not scram_matches(current, password)
    if (password.startswith("md5") and len(password) == 35) or not encrypted:
        return password != current
    if default_encryption == "md5":
        return (
            "md5" + hashlib.md5((password + user).encode()).hexdigest() != current
        )  # PostgreSQL's md5 verifier
    return True  # scram-sha-256 wanted, the role has no verifier yet (or an md5 one)


def parse_flags(flags: str, version: int) -> list[str]:
    wanted = sorted({f.strip().upper() for f in flags.split(",") if f.strip()})
    valid = {f for f in FLAG_COLUMNS if f != "BYPASSRLS" or version >= 90500}
    valid |= {f"NO{f}" for f in valid}
    bad = [f for f in wanted if f not in valid]
    if bad:
        raise ModuleFailed(f"Invalid role_attr_flags specified: {' '.join(bad)}")
    return wanted


def flags_change(flags: list[str], attrs: Mapping[str, Any]) -> bool:
    for flag in flags:
        name, value = (flag[2:], False) if flag.startswith("NO") else (flag, True)
        if attrs.get(FLAG_COLUMNS[name]) != value:
            return True
    return False


@register
class PostgresqlUser(Module):
    """Create, change or drop a PostgreSQL role (user) and its password, flags and limits."""

    name = "postgresql_user"
    aliases = ("community.postgresql.postgresql_user",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True, aliases=("user",)),
            "password": Param("str", no_log=True),
            "state": Param("str", default="present", choices=("absent", "present")),
            "login_db": Param("str", default="", aliases=("db",)),
            "fail_on_user": Param("bool", default=True, aliases=("fail_on_role",)),
            "role_attr_flags": Param("str", default=""),
            "encrypted": Param("bool", default=True),
            "no_password_changes": Param("bool", default=False),
            "expires": Param("str"),
            "conn_limit": Param("int"),
            "session_role": Param("str"),
            "comment": Param("str"),
            "trust_input": Param("bool", default=True),
            **CONN_PARAMS,
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        user, password, state = args["name"], args.get("password"), args["state"]
        if (user.startswith('"') != user.endswith('"')) or user == '"':
            raise ModuleFailed(
                "The value of the user-field can't contain a double-quote in the end "
                "if it doesn't start with one and vice-versa."
            )
        name_sql = ident(user[1:-1].replace('""', '"')) if user.startswith('"') else ident(user)
        bare = user[1:-1] if user.startswith('"') else user
        expires = args.get("expires")
        sql = [
            "SELECT json_build_object('version', current_setting('server_version_num')::int,"
            " 'encryption', current_setting('password_encryption'),"
            f" 'exists', EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal(bare)}));",
            f"SELECT row_to_json(a) FROM pg_authid a WHERE rolname = {literal(bare)};",
            f"SELECT json_build_object('comment', shobj_description(oid, 'pg_authid')) FROM pg_roles WHERE rolname = {literal(bare)};",
        ]
        if expires is not None:
            sql.append(
                f"SELECT json_build_object('expires_same', {literal(expires)}::timestamptz IS NOT DISTINCT FROM"
                f" (SELECT rolvaliduntil FROM pg_roles WHERE rolname = {literal(bare)}));"
            )
        db = args["login_db"] or None
        session = f"SET ROLE {ident(args['session_role'])};\n" if args.get("session_role") else ""
        rows = query_rows(ctx, args, session + "\n".join(sql), db)
        info = rows[0]
        exists = user == "PUBLIC" or info["exists"]
        attrs = next((r for r in rows[1:] if "rolname" in r), None)
        comment_now = next((r["comment"] for r in rows[1:] if "comment" in r), None)
        expires_same = next((r["expires_same"] for r in rows[1:] if "expires_same" in r), True)
        flags = parse_flags(args["role_attr_flags"], info["version"])
        statements: list[str] = []  # the SQL to run, with the password in it
        shown: list[str] = []  # the same for the result, with Ansible's placeholder
        crypt = "ENCRYPTED" if args["encrypted"] else "UNENCRYPTED"

        def add(statement: str, display: str | None = None) -> None:
            statements.append(statement)
            shown.append(display or statement)

        if state == "absent":
            if exists:
                add(f"DROP USER {name_sql}")
        elif not exists:
            parts, display = [f"CREATE USER {name_sql}"], [f"CREATE USER {name_sql}"]
            if password:
                parts += [f"WITH {crypt}", f"PASSWORD {literal(password)}"]
                display += [f"WITH {crypt}", f"PASSWORD {PASSWORD_PLACEHOLDER}"]
            tail = []
            if expires is not None:
                tail.append(f"VALID UNTIL {literal(expires)}")
            if args.get("conn_limit") is not None:
                tail.append(f"CONNECTION LIMIT {int(args['conn_limit'])}")
            tail.append(" ".join(flags))
            add(" ".join(parts + tail), " ".join(display + tail))
        else:
            self._alter(user, name_sql, password, flags, crypt, args, attrs, info, expires_same, add)
        if state == "present" and args.get("comment") is not None and args["comment"] != (comment_now or ""):
            add(f"COMMENT ON ROLE {name_sql} IS {literal(args['comment'])}")
        if not statements:
            return {"changed": False, "user": user, "queries": []}
        try:
            apply_sql(ctx, args, session + ";\n".join(statements) + ";", db)
        except ModuleFailed as exc:
            if state == "absent" and not args["fail_on_user"]:
                return {"changed": False, "user": user, "queries": [], "user_removed": False}
            if state == "absent":
                raise ModuleFailed(f"Unable to remove user: {exc.msg}") from None
            raise
        result: dict[str, Any] = {"changed": True, "user": user, "queries": shown}
        if state == "absent":
            result["user_removed"] = True
        return result

    @staticmethod
    def _alter(
        user: str,
        name_sql: str,
        password: str | None,
        flags: list[str],
        crypt: str,
        args: Mapping[str, Any],
        attrs: Mapping[str, Any] | None,
        info: Mapping[str, Any],
        expires_same: bool,
        add: Any,
    ) -> None:
        """community.postgresql's user_alter: the ALTER USER needed, if any."""
        if user == "PUBLIC":
            if password is not None:
                raise ModuleFailed("cannot change the password for PUBLIC user")
            if flags:
                raise ModuleFailed("cannot change the role_attr_flags for PUBLIC user")
            return
        expires, conn_limit = args.get("expires"), args.get("conn_limit")
        if not args["no_password_changes"] and (
            password is not None or flags or expires is not None or conn_limit is not None
        ):
            pw_changing = attrs is None or (
                password is not None
                and password_changes(
                    attrs.get("rolpassword"), user, password, args["encrypted"], info["encryption"]
                )
            )
            flags_changing = attrs is not None and flags_change(flags, attrs)
            expires_changing = expires is not None and not expires_same
            limit_changing = (
                conn_limit is not None and attrs is not None and conn_limit != attrs.get("rolconnlimit")
            )
            if not (pw_changing or flags_changing or expires_changing or limit_changing):
                return
            parts, display = [f"ALTER USER {name_sql}"], [f"ALTER USER {name_sql}"]
            if pw_changing:
                if password != "":
                    parts += [f"WITH {crypt}", f"PASSWORD {literal(password or '')}"]
                    display += [f"WITH {crypt}", f"PASSWORD {PASSWORD_PLACEHOLDER}"]
                else:
                    parts.append("WITH PASSWORD NULL")
                    display.append("WITH PASSWORD NULL")
                parts.append(" ".join(flags))
                display.append(" ".join(flags))
            elif flags:
                parts.append("WITH " + " ".join(flags))
                display.append("WITH " + " ".join(flags))
            tail = []
            if expires is not None:
                tail.append(f"VALID UNTIL {literal(expires)}")
            if conn_limit is not None:
                tail.append(f"CONNECTION LIMIT {int(conn_limit)}")
            add(" ".join(parts + tail), " ".join(display + tail))
        elif args["no_password_changes"] and flags and attrs is not None and flags_change(flags, attrs):
            add(f"ALTER USER {name_sql} WITH " + " ".join(flags))
