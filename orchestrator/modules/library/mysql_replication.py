"""mysql_replication (community.mysql.mysql_replication): read and drive MySQL/MariaDB replication.

getprimary / getreplica return the server's binary log / replica status row as result keys (with
Is_Primary / Is_Replica); changeprimary runs CHANGE MASTER TO (CHANGE REPLICATION SOURCE TO on
MySQL >= 8.0.23) and always reports a change, as community.mysql does; start/stop/reset report a
change when the statement ran without an error or a warning (a replica already running answers
START with a note: no change), and fail on an error only with fail_on_error. Statements use the
server's own terms (REPLICA from MariaDB 10.5.1 / MySQL 8.0.22, SLAVE before). Like
community.mysql, this module does not support check mode: it is skipped there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules import mysql_common as my
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

MODES = (
    "getprimary", "getreplica", "changeprimary", "stopreplica", "startreplica", "resetprimary",
    "resetreplica", "resetreplicaall", "changereplication",
)  # fmt: skip
# (parameter, CHANGE MASTER option, kind): kind "str" is quoted, "int" a number, "bool" 0/1.
CHANGE_OPTIONS = (
    ("primary_host", "HOST", "str"), ("primary_user", "USER", "str"), ("primary_password", "PASSWORD", "str"),
    ("primary_port", "PORT", "int"), ("primary_connect_retry", "CONNECT_RETRY", "int"),
    ("primary_log_file", "LOG_FILE", "str"), ("primary_log_pos", "LOG_POS", "int"),
    ("primary_delay", "DELAY", "int"), ("relay_log_file", "RELAY_LOG_FILE", "str"),
    ("relay_log_pos", "RELAY_LOG_POS", "int"), ("primary_ssl", "SSL", "bool"),
    ("primary_ssl_ca", "SSL_CA", "str"), ("primary_ssl_capath", "SSL_CAPATH", "str"),
    ("primary_ssl_cert", "SSL_CERT", "str"), ("primary_ssl_key", "SSL_KEY", "str"),
    ("primary_ssl_cipher", "SSL_CIPHER", "str"), ("primary_ssl_verify_server_cert", "SSL_VERIFY_SERVER_CERT", "bool"),
)  # fmt: skip


def _terms(kind: str, version: tuple[int, ...]) -> dict[str, str]:
    """community.mysql's CommandResolver, for the statements this module runs."""
    mysql = kind == "mysql"
    replica = version >= ((8, 0, 22) if mysql else (10, 5, 1))
    if mysql and version >= (8, 2):
        primary_status = "SHOW BINARY LOG STATUS"
    elif not mysql and version >= (10, 5, 2):
        primary_status = "SHOW BINLOG STATUS"
    else:
        primary_status = "SHOW MASTER STATUS"
    source = mysql and version >= (8, 0, 23)
    return {
        "replica": "REPLICA" if replica else "SLAVE",
        "primary_status": primary_status,
        "change": "CHANGE REPLICATION SOURCE" if source else "CHANGE MASTER",
        "prefix": "SOURCE_" if source else "MASTER_",
        "reset_primary": "RESET BINARY LOGS AND GTIDS" if mysql and version >= (8, 4) else "RESET MASTER",
    }


def _value(text: str | None) -> Any:
    return int(text) if text is not None and re.fullmatch(r"-?\d+", text) else text


def status_row(text: str) -> dict[str, Any] | None:
    """The first row of a batch-mode result with headers, as {column: value}."""
    table = my.rows(text)
    if len(table) < 2:
        return None
    return {str(k): _value(v) for k, v in zip(table[0], table[1], strict=False)}


@register
class MysqlReplication(Module):
    """Read or change MySQL/MariaDB replication: primary/replica status, CHANGE MASTER, start/stop/reset."""

    name = "mysql_replication"
    aliases = ("community.mysql.mysql_replication",)
    supports_check = False
    spec = ArgSpec(
        params={
            "mode": Param("str", default="getreplica", choices=MODES),
            "primary_auto_position": Param("bool", default=False, aliases=("master_auto_position",)),
            "primary_host": Param("str", aliases=("master_host",)),
            "primary_user": Param("str", aliases=("master_user",)),
            "primary_password": Param("str", no_log=True, aliases=("master_password",)),
            "primary_port": Param("int", aliases=("master_port",)),
            "primary_connect_retry": Param("int", aliases=("master_connect_retry",)),
            "primary_log_file": Param("str", aliases=("master_log_file",)),
            "primary_log_pos": Param("int", aliases=("master_log_pos",)),
            "relay_log_file": Param("str"),
            "relay_log_pos": Param("int"),
            "primary_ssl": Param("bool", aliases=("master_ssl",)),
            "primary_ssl_ca": Param("str", aliases=("master_ssl_ca",)),
            "primary_ssl_capath": Param("str", aliases=("master_ssl_capath",)),
            "primary_ssl_cert": Param("str", aliases=("master_ssl_cert",)),
            "primary_ssl_key": Param("str", aliases=("master_ssl_key",)),
            "primary_ssl_cipher": Param("str", aliases=("master_ssl_cipher",)),
            "primary_ssl_verify_server_cert": Param("bool"),
            "primary_use_gtid": Param(
                "str", choices=("current_pos", "replica_pos", "disabled"), aliases=("master_use_gtid",)
            ),
            "primary_delay": Param("int", aliases=("master_delay",)),
            "connection_name": Param("str"),
            "channel": Param("str"),
            "fail_on_error": Param("bool", default=False),
            **my.CONN_PARAMS,
        },
        mutually_exclusive=(("connection_name", "channel"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        mode = args["mode"]
        version_text = my.query(ctx, args, "orch_mysql 'SELECT VERSION()' -N").head_text.strip()
        kind, version = my.server_version(version_text)
        terms = _terms(kind, version)
        name = f" {my.literal(args['connection_name'])}" if args.get("connection_name") else ""
        channel = f" FOR CHANNEL {my.literal(args['channel'])}" if args.get("channel") else ""

        if mode == "getprimary":
            status = status_row(my.query(ctx, args, f"orch_mysql {quote(terms['primary_status'])}").head_text)
            if status and "File" in status and "Position" in status:
                return {"changed": False, "queries": [], **status, "Is_Primary": True}
            return {"changed": False, "queries": [], "Is_Primary": False,
                    "msg": "Server is not configured as mysql primary. Meaning: Binary logs are disabled"}  # fmt: skip
        if mode == "getreplica":
            sql = f"SHOW {terms['replica']}{name} STATUS{channel}"
            status = status_row(my.query(ctx, args, f"orch_mysql {quote(sql)}").head_text)
            if status and ("Slave_IO_Running" in status or "Replica_IO_Running" in status):
                return {"changed": False, "queries": [], **status, "Is_Replica": True}
            return {
                "changed": False,
                "queries": [],
                "Is_Replica": False,
                "msg": "Server is not configured as mysql replica",
            }

        if mode in ("changeprimary", "changereplication"):
            return self._change(ctx, args, mode, terms, name, channel)
        statement, done_msg, undone_msg = {
            "startreplica": (f"START {terms['replica']}{name}{channel}", "Replica started ", "Replica already started (Or cannot be started)"),
            "stopreplica": (f"STOP {terms['replica']}{name}{channel}", "Replica stopped", "Replica already stopped"),
            "resetprimary": (terms["reset_primary"], "Primary reset", "Primary already reset"),
            "resetreplica": (f"RESET {terms['replica']}{name}{channel}", "Replica reset", "Replica already reset"),
            "resetreplicaall": (f"RESET {terms['replica']}{name} ALL{channel}", "Replica reset", "Replica already reset"),
        }[mode]  # fmt: skip
        result = ctx.change(my.prelude(args) + f"\norch_mysql {quote(statement + '; SHOW WARNINGS;')} -N")
        if result is None:
            return {"changed": False, "queries": []}
        if result.rc != 0:
            if args["fail_on_error"]:
                failed = my.failure(result.err, result.rc, str(args["config_file"]), missing_config=True)
                raise ModuleFailed(f"{statement.split(' ')[0]} failed: {failed.msg}", rc=result.rc)
            return {"changed": False, "msg": undone_msg, "queries": [statement]}
        if result.out.strip():  # a warning or note: the driver community.mysql uses raises it
            return {"changed": False, "msg": undone_msg, "queries": [statement]}
        return {"changed": True, "msg": done_msg, "queries": [statement]}

    @staticmethod
    def _change(
        ctx: ModuleContext,
        args: Mapping[str, Any],
        mode: str,
        terms: Mapping[str, str],
        name: str,
        channel: str,
    ) -> dict[str, Any]:
        prefix = "SOURCE_" if mode == "changereplication" else terms["prefix"]
        options = []
        shown = []
        for param, option, kind in CHANGE_OPTIONS:
            value = args.get(param)
            if value is None:
                continue
            key = option if option.startswith("RELAY_") else prefix + option
            if param == "primary_ssl_verify_server_cert":
                key = terms["prefix"] + option
            text = my.literal(str(value)) if kind == "str" else str(int(value))
            options.append(f"{key}={text}")
            shown.append(f"{key}=********" if param == "primary_password" else f"{key}={text}")
        if args["primary_auto_position"]:
            options.append(f"{prefix}AUTO_POSITION=1")
            shown.append(f"{prefix}AUTO_POSITION=1")
        gtid = args.get("primary_use_gtid")
        if gtid is not None and mode == "changeprimary":
            gtid = {
                "disabled": "no",
                "replica_pos": "replica_pos" if terms["replica"] == "REPLICA" else "slave_pos",
            }.get(gtid, gtid)
            options.append(f"MASTER_USE_GTID={gtid}")
            shown.append(f"MASTER_USE_GTID={gtid}")
        head = "CHANGE REPLICATION SOURCE" if mode == "changereplication" else terms["change"]
        statement = f"{head}{name} TO {','.join(options)}{channel}"
        query_shown = f"{head}{name} TO {','.join(shown)}{channel}"
        result = ctx.change(my.prelude(args) + f"\norch_mysql {quote(statement + '; SHOW WARNINGS;')} -N")
        if result is None:
            return {"changed": False, "queries": []}
        if result.rc != 0:
            failed = my.failure(result.err, result.rc, str(args["config_file"]), missing_config=True)
            raise ModuleFailed(f"{failed.msg}. Query == {head} TO {shown}", rc=result.rc)
        out: dict[str, Any] = {"changed": True, "queries": [query_shown]}
        if result.out.strip():
            out["warning"] = result.out.strip()
        return out
