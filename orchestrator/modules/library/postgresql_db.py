"""postgresql_db (community.postgresql.postgresql_db): a database, present or absent.

One round trip reads the database's catalog row (through `maintenance_db`); the controller
decides by community.postgresql's rules (create with owner/template/encoding/locales; on an
existing database only owner, connection limit, tablespace and comment are changed, a different
encoding or locale fails). The change is a second round trip through psql (postgres_common).
The dump/restore/rename states are not implemented (rejected when the task is loaded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.postgres_common import CONN_PARAMS, apply_sql, ident, literal, query_rows
from orchestrator.modules.spec import ArgSpec, Param


def _info_sql(db: str, encoding: str) -> str:
    wanted = f"pg_char_to_encoding({literal(encoding)})" if encoding else "NULL"
    return (
        "SELECT json_build_object('owner', pg_get_userbyid(d.datdba), 'encoding_id', d.encoding,"
        " 'encoding', pg_encoding_to_char(d.encoding), 'lc_collate', d.datcollate, 'lc_ctype', d.datctype,"
        " 'conn_limit', d.datconnlimit, 'tablespace', t.spcname,"
        f" 'comment', shobj_description(d.oid, 'pg_database'), 'wanted_encoding_id', {wanted})"
        f" FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = {literal(db)};"
    )


def plan_update(info: Mapping[str, Any], args: Mapping[str, Any]) -> list[str]:
    """The statements that bring an existing database to `args` (community.postgresql's db_update)."""
    db = args["name"]
    if args["encoding"] and info["wanted_encoding_id"] != info["encoding_id"]:
        raise ModuleFailed(
            f"Changing database encoding is not supported. Current encoding: {info['encoding']}"
        )
    if args["lc_collate"] and args["lc_collate"] != info["lc_collate"]:
        raise ModuleFailed(f"Changing LC_COLLATE is not supported. Current LC_COLLATE: {info['lc_collate']}")
    if args["lc_ctype"] and args["lc_ctype"] != info["lc_ctype"]:
        raise ModuleFailed(f"Changing LC_CTYPE is not supported.Current LC_CTYPE: {info['lc_ctype']}")
    out = []
    if args["owner"] and args["owner"] != info["owner"]:
        out.append(f"ALTER DATABASE {ident(db)} OWNER TO {ident(args['owner'])}")
    if args["conn_limit"] != "" and args["conn_limit"] != str(info["conn_limit"]):
        out.append(f"ALTER DATABASE {ident(db)} CONNECTION LIMIT {int(args['conn_limit'])}")
    if args["tablespace"] and args["tablespace"] != info["tablespace"]:
        out.append(f"ALTER DATABASE {ident(db)} SET TABLESPACE {ident(args['tablespace'])}")
    if args.get("comment") is not None and args["comment"] != (info["comment"] or ""):
        out.append(f"COMMENT ON DATABASE {ident(db)} IS {literal(args['comment'])}")
    return out


def plan_create(args: Mapping[str, Any]) -> list[str]:
    parts = [f"CREATE DATABASE {ident(args['name'])}"]
    if args["owner"]:
        parts.append(f"OWNER {ident(args['owner'])}")
    if args["template"]:
        parts.append(f"TEMPLATE {ident(args['template'])}")
    for key, keyword in (("encoding", "ENCODING"), ("lc_collate", "LC_COLLATE"), ("lc_ctype", "LC_CTYPE")):
        if args[key]:
            parts.append(f"{keyword} {literal(args[key])}")
    if args["tablespace"]:
        parts.append(f"TABLESPACE {ident(args['tablespace'])}")
    if args["conn_limit"]:
        parts.append(f"CONNECTION LIMIT {int(args['conn_limit'])}")
    out = [" ".join(parts)]
    if args.get("comment"):
        out.append(f"COMMENT ON DATABASE {ident(args['name'])} IS {literal(args['comment'])}")
    return out


@register
class PostgresqlDb(Module):
    """Create or drop a PostgreSQL database (owner, template, encoding, locales, limits)."""

    name = "postgresql_db"
    aliases = ("community.postgresql.postgresql_db",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True, aliases=("db",)),
            "owner": Param("str", default=""),
            "template": Param("str", default=""),
            "encoding": Param("str", default=""),
            "lc_collate": Param("str", default=""),
            "lc_ctype": Param("str", default=""),
            "state": Param("str", default="present", choices=("present", "absent")),
            "maintenance_db": Param("str", default="postgres"),
            "session_role": Param("str"),
            "conn_limit": Param("str", default=""),
            "tablespace": Param("path", default=""),
            "trust_input": Param("bool", default=True),
            "force": Param("bool", default=False),
            "comment": Param("str"),
            **CONN_PARAMS,
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        db = args["name"]
        session = f"SET ROLE {ident(args['session_role'])};\n" if args.get("session_role") else ""
        rows = query_rows(ctx, args, session + _info_sql(db, args["encoding"]), args["maintenance_db"])
        info = rows[0] if rows else None
        if args["state"] == "absent":
            statements = (
                [f"DROP DATABASE {ident(db)}" + (" WITH (FORCE)" if args["force"] else "")] if info else []
            )
        elif info is None:
            statements = plan_create(args)
        else:
            statements = plan_update(info, args)
        if not statements:
            return {"changed": False, "db": db, "executed_commands": []}
        # CREATE/DROP DATABASE cannot run in a transaction: psql runs them one by one
        apply_sql(
            ctx, args, session + ";\n".join(statements) + ";", args["maintenance_db"], transaction=False
        )
        return {"changed": True, "db": db, "executed_commands": statements}
