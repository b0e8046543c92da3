"""postgresql_privs (community.postgresql.postgresql_privs): GRANT / REVOKE on database objects.

"Changed" is decided as community.postgresql decides it: the objects' ACLs (or the role
memberships, for type group) are read, the GRANT/REVOKE runs, the ACLs are read again, and a
difference is a change. Here the first round trip does exactly that inside a transaction that is
rolled back, so it never changes the host; when the ACLs moved, the statement runs for real (a
second round trip, skipped by the engine in check mode).

Types: database, schema, table, sequence (objs may be ALL_IN_SCHEMA for the last two) and group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.postgres_common import CONN_PARAMS, apply_sql, ident, literal, query_rows
from orchestrator.modules.spec import ArgSpec, Param

VALID_PRIVS = {
    "database": {"CREATE", "CONNECT", "TEMPORARY", "TEMP", "ALL"},
    "schema": {"CREATE", "USAGE", "ALL"},
    "table": {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "ALL"},
    "sequence": {"USAGE", "SELECT", "UPDATE", "ALL"},
    "group": set(),
}
_RELKINDS = {"table": "('r', 'v', 'm', 'p', 'f')", "sequence": "('S')"}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def role_sql(role: str) -> str:
    return "PUBLIC" if role.upper() == "PUBLIC" else ident(role)


def acl_sql(kind: str, objs: list[str], schema: str, roles: list[str]) -> str:
    """A statement returning the JSON state the GRANT/REVOKE may change."""
    names = ", ".join(literal(o) for o in objs) or "NULL"
    if kind == "database":
        inner = f"SELECT datname, datacl::text FROM pg_database WHERE datname IN ({names})"
    elif kind == "schema":
        inner = f"SELECT nspname, nspacl::text FROM pg_namespace WHERE nspname IN ({names})"
    elif kind == "group":
        members = ", ".join(literal(r) for r in roles) or "NULL"
        inner = (
            "SELECT g.rolname AS grp, m.rolname AS member, am.admin_option FROM pg_auth_members am"
            " JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member"
            f" WHERE g.rolname IN ({names}) AND m.rolname IN ({members})"
        )
    else:
        where = "" if objs == ["ALL_IN_SCHEMA"] else f" AND c.relname IN ({names})"
        inner = (
            "SELECT c.relname, c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = {literal(schema)} AND c.relkind IN {_RELKINDS[kind]}{where}"
        )
    return f"SELECT coalesce(json_agg(row_to_json(x) ORDER BY row_to_json(x)::text), '[]') FROM ({inner}) x;"


def grant_sql(args: Mapping[str, Any], kind: str, privs: list[str], objs: list[str], roles: list[str]) -> str:
    present = args["state"] == "present"
    targets = ", ".join(role_sql(r) for r in roles)
    if kind == "group":
        groups = ", ".join(ident(o) for o in objs)
        if present:
            return f"GRANT {groups} TO {targets}" + (" WITH ADMIN OPTION" if args.get("grant_option") else "")
        prefix = "ADMIN OPTION FOR " if args.get("grant_option") is False else ""
        return f"REVOKE {prefix}{groups} FROM {targets}"
    schema = args.get("schema") or "public"
    if kind in ("table", "sequence") and objs == ["ALL_IN_SCHEMA"]:
        on = f"ALL {'TABLES' if kind == 'table' else 'SEQUENCES'} IN SCHEMA {ident(schema)}"
    elif kind in ("table", "sequence"):
        on = ("SEQUENCE " if kind == "sequence" else "TABLE ") + ", ".join(
            f"{ident(schema)}.{ident(o)}" for o in objs
        )
    else:
        on = f"{kind.upper()} " + ", ".join(ident(o) for o in objs)
    what = ", ".join(privs)
    if present:
        return f"GRANT {what} ON {on} TO {targets}" + (
            " WITH GRANT OPTION" if args.get("grant_option") else ""
        )
    prefix = "GRANT OPTION FOR " if args.get("grant_option") is False else ""
    return f"REVOKE {prefix}{what} ON {on} FROM {targets}"


@register
class PostgresqlPrivs(Module):
    """Grant or revoke privileges on databases, schemas, tables, sequences, or group membership."""

    name = "postgresql_privs"
    aliases = ("community.postgresql.postgresql_privs",)
    spec = ArgSpec(
        params={
            "login_db": Param("str", required=True, aliases=("db", "database")),
            "state": Param("str", default="present", choices=("present", "absent")),
            "privs": Param("str", aliases=("priv",)),
            "type": Param("str", default="table", choices=tuple(VALID_PRIVS)),
            "objs": Param("str", aliases=("obj",)),
            "schema": Param("str"),
            "roles": Param("str", required=True, aliases=("role",)),
            "session_role": Param("str"),
            "target_roles": Param("str"),
            "grant_option": Param("bool", aliases=("admin_option",)),
            "fail_on_role": Param("bool", default=True),
            "trust_input": Param("bool", default=True),
            **CONN_PARAMS,
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        kind = args["type"]
        if args.get("target_roles"):
            raise ModuleFailed("target_roles is only for type default_privs, which orch does not implement")
        objs = _split(args.get("objs") or "")
        if kind == "database" and not objs:
            objs = [args["login_db"]]  # Ansible: the database connected to
        if not objs:
            raise ModuleFailed(f'Argument "objs" is required for type "{kind}".')
        privs = sorted({p.upper() for p in _split(args.get("privs") or "")})
        if kind == "group":
            if privs:
                raise ModuleFailed('Argument "privs" is not allowed for type "group".')
        else:
            if not privs:
                raise ModuleFailed(f'Argument "privs" is required for type "{kind}".')
            bad = [p for p in privs if p not in VALID_PRIVS[kind]]
            if bad:
                raise ModuleFailed(f"Invalid privileges specified: {', '.join(bad)}")
            privs = ["ALL"] if "ALL" in privs else privs
        if kind in ("table", "sequence") and objs == ["ALL_IN_SCHEMA"] and not args.get("schema"):
            raise ModuleFailed('Argument "schema" is required for type "table" with objs ALL_IN_SCHEMA.')
        roles = _split(args["roles"])
        db = args["login_db"]
        session = f"SET ROLE {ident(args['session_role'])};\n" if args.get("session_role") else ""
        named = [r for r in roles if r.upper() != "PUBLIC"]
        existing = query_rows(
            ctx, args,
            "SELECT coalesce(json_agg(rolname), '[]') FROM pg_roles WHERE rolname IN ("
            + (", ".join(literal(r) for r in named) or "NULL") + ");",
            db,
        )[0]  # fmt: skip
        missing = [r for r in named if r not in existing]
        if missing:
            if args["fail_on_role"]:
                raise ModuleFailed(f"Role {missing[0]} does not exist")
            ctx.warnings.append(f"Role {missing[0]} does not exist, pass")
            roles = [r for r in roles if r not in missing]
            if not roles:
                return {"changed": False, "queries": []}
        statement = grant_sql(args, kind, privs, objs, roles)
        state = acl_sql(kind, objs, args.get("schema") or "public", roles)
        # Ansible's test, made harmless: run the statement between two reads, then roll back.
        before, after = query_rows(
            ctx, args, f"BEGIN;\n{session}{state}\n{statement};\n{state}\nROLLBACK;", db
        )
        if json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True):
            return {"changed": False, "queries": [statement]}
        apply_sql(ctx, args, f"{session}{statement};", db)
        return {"changed": True, "queries": [statement]}
