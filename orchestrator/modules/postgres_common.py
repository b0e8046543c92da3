"""What the community.postgresql modules share: connection parameters and SQL run through `psql`.

There is no Python (psycopg) on the host: each module sends SQL to the host's `psql` client. The
SQL travels inside the script, in a shell variable printed by the `printf` builtin into psql's
stdin, so no value (passwords included) ever reaches a process's argv; a login password goes in
a 0600 passfile that the script's trap removes. Every identifier and literal is quoted here
(`ident`, `literal`); psql runs with ON_ERROR_STOP and terse errors (no statement echoed back).

Queries return one JSON document per line (json_build_object...), parsed by `query_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import ModuleFailed
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import Param
from orchestrator.transport.shell import quote

# Ansible's postgres_common_argument_spec (the connection part).
CONN_PARAMS: dict[str, Param] = {
    "login_user": Param("str", default="postgres", aliases=("login",)),
    "login_password": Param("str", default="", no_log=True),
    "login_host": Param("str", default="", aliases=("host",)),
    "login_unix_socket": Param("str", default="", aliases=("unix_socket",)),
    "port": Param("int", default=5432, aliases=("login_port",)),
    "ssl_mode": Param(
        "str", default="prefer", choices=("allow", "disable", "prefer", "require", "verify-ca", "verify-full")
    ),
    "ca_cert": Param("str", aliases=("ssl_rootcert",)),
    "ssl_cert": Param("path"),
    "ssl_key": Param("path"),
    "connect_params": Param("dict", default={}),
}


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings, PostgreSQL's default since 9.1)."""
    return "'" + value.replace("'", "''") + "'"


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def psql_script(args: Mapping[str, Any], sql: str, db: str | None) -> str:
    """Shell that runs `sql` in one psql session (one transaction unless the SQL says otherwise)
    against `db` (None: libpq's default, the login user's name) with the module's login params."""
    host = args.get("login_host") or ""
    socket = args.get("login_unix_socket") or ""
    if host in ("", "localhost") and socket:
        host = socket  # Ansible: a local login goes through the socket directory when one is given
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=terse"]
    if host:
        argv += ["-h", host]
    argv += ["-p", str(args.get("port") or 5432), "-U", str(args.get("login_user") or "postgres")]
    conninfo = {"sslmode": args.get("ssl_mode") or "prefer"}
    for key, param in (("sslrootcert", "ca_cert"), ("sslcert", "ssl_cert"), ("sslkey", "ssl_key")):
        if args.get(param):
            conninfo[key] = str(args[param])
    conninfo.update({str(k): str(v) for k, v in (args.get("connect_params") or {}).items()})
    if db:
        conninfo["dbname"] = db
    argv += ["-d", " ".join(f"{k}={_conninfo_value(v)}" for k, v in conninfo.items())]
    lines = [
        "command -v psql >/dev/null 2>&1 || orch_fail 'the PostgreSQL modules need psql on the host'",
        "cd / || :",  # the become user may not read the login user's directory (psql warns)
        f"__sql={quote(sql)}",
    ]
    password = args.get("login_password") or ""
    if password:
        entry = f"*:*:*:*:{_pgpass_field(password)}"
        lines += [
            "__pgpass=$(umask 077; mktemp) || exit 1",
            "trap 'rm -f \"$__pgpass\"' EXIT",
            f"printf '%s\\n' {quote(entry)} > \"$__pgpass\"",
            "PGPASSFILE=$__pgpass; export PGPASSFILE",
        ]
    lines.append("printf '%s\\n' \"$__sql\" | " + " ".join(quote(a) for a in argv) + " -f -")
    return "\n".join(lines)


def _conninfo_value(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _failure(stderr: str, rc: int) -> ModuleFailed:
    text = "\n".join(line.removeprefix("psql:<stdin>:").strip() for line in stderr.strip().splitlines())
    if rc == 2:  # psql: the connection failed
        return ModuleFailed(f"unable to connect to database: {text}", rc=rc)
    return ModuleFailed(f"Database query failed: {text}", rc=rc)


def query_rows(ctx: ModuleContext, args: Mapping[str, Any], sql: str, db: str | None) -> list[Any]:
    """Run read-only `sql` whose statements each return JSON values; the parsed values in order."""
    result = ctx.query(psql_script(args, sql, db))
    if result.rc != 0:
        raise _failure(result.err, result.rc)
    rows = []
    for line in result.out.splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def apply_sql(
    ctx: ModuleContext, args: Mapping[str, Any], sql: str, db: str | None, *, transaction: bool = True
) -> None:
    """Run the changing `sql` (in one transaction: CREATE DATABASE cannot be in one) unless in
    check mode: the engine decides."""
    if transaction:
        sql = f"BEGIN;\n{sql}\nCOMMIT;"
    try:
        ctx.converge("return 10", psql_script(args, sql, db))
    except ModuleFailed as exc:
        raise _failure(exc.result.get("stderr") or exc.msg, int(exc.result.get("rc") or 1)) from None
