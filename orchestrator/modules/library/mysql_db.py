"""mysql_db (community.mysql.mysql_db): databases present or absent, dumped or imported.

One round trip reads which of the named databases exist (information_schema.SCHEMATA) and the
server's version; the controller decides by community.mysql's rules: `present` creates the
missing ones with the given character set and collation (an existing database is left as it is,
whatever its encoding), `absent` drops the existing ones, `dump` and `import` always run (and
report a change). A dump is written beside `target` and renamed into place when complete; a
target ending in .gz, .bz2, .xz or .zst is compressed or decompressed on the way.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from orchestrator.modules import mysql_common as my
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

COMPRESSORS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


def _compressor(target: str) -> str | None:
    return next((tool for ext, tool in COMPRESSORS.items() if target.endswith(ext)), None)


def create_statement(name: str, encoding: str, collation: str) -> str:
    parts = [f"CREATE DATABASE {my.ident(name)}"]
    if encoding:
        parts.append(f"CHARACTER SET {my.literal(encoding)}")
    if collation:
        parts.append(f"COLLATE {my.literal(collation)}")
    return " ".join(parts)


def _describe(names: list[str], args: Mapping[str, Any]) -> str:
    extra = ", ".join(f"{k} {args[k]}" for k in ("encoding", "collation") if args[k])
    return "".join(f"database {n}" + (f" ({extra})" if extra else "") + "\n" for n in names)


@register
class MysqlDb(Module):
    """Create, drop, dump or import MySQL/MariaDB databases (character set, collation)."""

    name = "mysql_db"
    aliases = ("community.mysql.mysql_db",)
    spec = ArgSpec(
        params={
            "name": Param("list", required=True, elements="str", aliases=("db",)),
            "encoding": Param("str", default=""),
            "collation": Param("str", default=""),
            "target": Param("path"),
            "state": Param("str", default="present", choices=("absent", "dump", "import", "present")),
            "single_transaction": Param("bool", default=False),
            "quick": Param("bool", default=True),
            "ignore_tables": Param("list", default=[], elements="str"),
            "hex_blob": Param("bool", default=False),
            "force": Param("bool", default=False),
            "master_data": Param("int", default=0, choices=(0, 1, 2)),
            "skip_lock_tables": Param("bool", default=False),
            "dump_extra_args": Param("str"),
            "pipefail": Param("bool", default=False),
            "sql_log_bin": Param("bool", default=True),
            **my.CONN_PARAMS,
        },
        required_if=(("state", "dump", ("target",)), ("state", "import", ("target",))),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        names = [str(n).strip() for n in args["name"]]
        state = args["state"]
        if not names:
            return {"changed": False, "db": names, "db_list": []}
        db_name = " ".join(names)
        all_databases = names == ["all"] and state in ("dump", "import")
        if names == ["all"] and not all_databases:
            raise ModuleFailed("name is not allowed to equal 'all' unless state equals import, or dump.")
        if len(names) > 1 and state == "import":
            raise ModuleFailed("Multiple databases are not supported with state=import")
        for table in args["ignore_tables"]:
            if not table.strip():
                raise ModuleFailed("Name of ignored table cannot be empty")
            if "." not in table:
                raise ModuleFailed(f"Name of ignored table must be in the form db.table: {table}")
        exists_sql = " UNION ALL ".join(
            f"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {my.literal(n)}"
            for n in names
        )
        out = my.sections(
            my.query(ctx, args, my.section_script({"version": "SELECT VERSION()", "exists": exists_sql}))
        )
        kind, version = my.server_version(out["version"].strip())
        counts = [row[0] for row in my.rows(out["exists"])]
        existing = [n for n, count in zip(names, counts, strict=True) if count != "0"]
        missing = [n for n in names if n not in existing]
        result: dict[str, Any] = {"db": db_name, "db_list": names}
        log_bin = "" if args["sql_log_bin"] else "SET SQL_LOG_BIN=0;\n"

        if state in ("absent", "present"):
            if state == "absent":
                statements = [f"DROP DATABASE {my.ident(n)}" for n in existing]
                ctx.add_diff(_describe(existing, {"encoding": "", "collation": ""}), "", "before", "after")
            else:
                statements = [create_statement(n, args["encoding"], args["collation"]) for n in missing]
                ctx.add_diff("", _describe(missing, args), "before", "after")
            if not statements:
                return {**result, "changed": False, "executed_commands": []}
            done = my.apply(ctx, args, f"orch_mysql {quote(log_bin + ';'.join(statements) + ';')} -N")
            if done is None:
                return {**result, "changed": True}
            return {**result, "changed": True, "executed_commands": statements}

        target = str(args["target"])
        if state == "dump" and missing and not all_databases:
            raise ModuleFailed(f"Cannot dump database(s) {', '.join(missing)!r} - not found")
        if state == "import":
            exists = ctx.query(f"[ -f {quote(target)} ]")
            if exists.rc != 0:
                raise ModuleFailed(f"target {target} does not exist on the host")
        ctx.add_diff(
            "", f"{state} {db_name} {'to' if state == 'dump' else 'from'} {target}\n", "before", "after"
        )
        script = (
            self._dump(args, names, all_databases, kind, version)
            if state == "dump"
            else self._import(args, names, missing, all_databases)
        )
        msg = my.apply(ctx, args, script)
        if msg is None:
            return {**result, "changed": True}
        executed = (
            [create_statement(n, args["encoding"], args["collation"]) for n in missing]
            if state == "import" and not all_databases
            else []
        )
        return {**result, "changed": True, "msg": msg.head_text, "executed_commands": executed}

    @staticmethod
    def _dump(
        args: Mapping[str, Any], names: list[str], all_databases: bool, kind: str, version: tuple[int, ...]
    ) -> str:
        tool = "mariadb-dump" if kind == "mariadb" and version >= (10, 4, 6) else "mysqldump"
        argv: list[str] = []
        if args["force"]:
            argv.append("--force")
        if all_databases:
            argv.append("--all-databases")
        elif len(names) > 1:
            argv += ["--databases", *names]
        else:
            argv.append(names[0])
        if args["skip_lock_tables"]:
            argv.append("--skip-lock-tables")
        if args["encoding"]:
            argv.append(f"--default-character-set={args['encoding']}")
        if args["single_transaction"]:
            argv.append("--single-transaction=true")
        if args["quick"]:
            argv.append("--quick")
        argv += [f"--ignore-table={t}" for t in args["ignore_tables"]]
        if args["hex_blob"]:
            argv.append("--hex-blob")
        if args["master_data"]:
            argv.append(f"--master-data={args['master_data']}")
        if args.get("dump_extra_args"):
            argv += shlex.split(args["dump_extra_args"])
        target = str(args["target"])
        compressor = _compressor(target)
        pipe = f" | {compressor}" if compressor else ""
        return "\n".join([
            f"__dump=$(command -v {tool} || command -v mysqldump) || orch_fail 'no {tool} on the host'",
            f"__tgt={quote(target)}",
            '__part="$__tgt.orch-part"',
            "trap 'rm -f \"$__mycnf\" \"$__part\"' EXIT",
            ("set -o pipefail 2>/dev/null || :\n" if args["pipefail"] else "")
            + '"$__dump" --defaults-file="$__mycnf" ' + " ".join(quote(a) for a in argv) + pipe + ' > "$__part"',
            'mv -f -- "$__part" "$__tgt"',
        ])  # fmt: skip

    @staticmethod
    def _import(args: Mapping[str, Any], names: list[str], missing: list[str], all_databases: bool) -> str:
        target = str(args["target"])
        lines = []
        if missing and not all_databases:
            create = ";".join(create_statement(n, args["encoding"], args["collation"]) for n in missing)
            lines.append(f"orch_mysql {quote(create + ';')} -N")
        argv = []
        if args["encoding"]:
            argv.append(f"--default-character-set={args['encoding']}")
        if args["force"]:
            argv.append("-f")
        if not all_databases:
            argv += ["-D", names[0]]
        compressor = _compressor(target)
        source = f"{compressor} -dc < {quote(target)}" if compressor else f"cat -- {quote(target)}"
        lines.append(f'{source} | "$__myc" --defaults-file="$__mycnf" ' + " ".join(quote(a) for a in argv))
        return "\n".join(lines)
