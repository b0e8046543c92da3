"""What the community.mysql modules share: connection parameters and SQL run through the host's
`mariadb` (or `mysql`) client.

There is no Python (PyMySQL, mysqlclient) on the host. Connecting works as community.mysql's does
with the mysqlclient driver: `config_file` (default ~/.my.cnf of the user the task runs as) is read
when it exists, login_user/login_password/login_host/login_port/login_unix_socket override it, and
host `localhost` means the server's unix socket. The client gets all of that from a 0600 option
file made for the task (`--defaults-file`, removed by the script's trap): it `!include`s the
config file and adds a [client] group with the overrides, so a password never reaches a process's
argv or the environment. The SQL travels inside the script in a shell variable that the `printf`
builtin pipes into the client's stdin. Identifiers and literals are quoted here (`ident`,
`literal`); the session turns NO_BACKSLASH_ESCAPES off so `literal`'s escapes mean what they say.

Client output is batch mode (tab-separated, special characters escaped): `rows` decodes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import ModuleFailed
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import Param
from orchestrator.modules.wire import WireOutput
from orchestrator.transport.shell import quote

# community.mysql's mysql_common_argument_spec.
CONN_PARAMS: dict[str, Param] = {
    "login_user": Param("str"),
    "login_password": Param("str", no_log=True),
    "login_host": Param("str", default="localhost"),
    "login_port": Param("int", default=3306),
    "login_unix_socket": Param("str"),
    "config_file": Param("path", default="~/.my.cnf"),
    "connect_timeout": Param("int", default=30),
    "client_cert": Param("path", aliases=("ssl_cert",)),
    "client_key": Param("path", aliases=("ssl_key",)),
    "ca_cert": Param("path", aliases=("ssl_ca",)),
    "check_hostname": Param("bool"),
}

# Statements every session starts with: backslash escapes on (literal() relies on them).
SESSION_SQL = (
    "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','),"
    " ',NO_BACKSLASH_ESCAPES,', ','));"
)
_LITERAL_ESCAPES = {"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
_OPTION_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BATCH_UNESCAPES = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\"}


def ident(name: str) -> str:
    """A quoted SQL identifier (database, table, column)."""
    return "`" + name.replace("`", "``") + "`"


def literal(value: str) -> str:
    """A quoted SQL string literal (valid because SESSION_SQL turns NO_BACKSLASH_ESCAPES off)."""
    return "'" + "".join(_LITERAL_ESCAPES.get(c, c) for c in value) + "'"


def account(user: str, host: str) -> str:
    """'user'@'host' as CREATE/ALTER/GRANT take it."""
    return f"{literal(user)}@{literal(host)}"


def option_value(value: str) -> str:
    """A value for an option file line: double-quoted, with the escapes my_default.c decodes
    (a `#` inside quotes is not a comment)."""
    return '"' + "".join(_OPTION_ESCAPES.get(c, c) for c in value) + '"'


def client_options(args: Mapping[str, Any]) -> list[str]:
    """The [client] lines that override the config file: community.mysql's mysql_connect."""
    lines = []
    if args.get("login_unix_socket"):
        lines.append(f"socket={option_value(args['login_unix_socket'])}")
    else:
        lines += [
            f"host={option_value(args.get('login_host') or 'localhost')}",
            f"port={int(args.get('login_port') or 3306)}",
        ]
    if args.get("login_user") is not None:
        lines.append(f"user={option_value(args['login_user'])}")
    if args.get("login_password") is not None:
        lines.append(f"password={option_value(args['login_password'])}")
    for key, param in (("ssl-cert", "client_cert"), ("ssl-key", "client_key"), ("ssl-ca", "ca_cert")):
        if args.get(param):
            lines.append(f"{key}={option_value(args[param])}")
    if args.get("check_hostname"):
        lines.append("ssl-verify-server-cert")
    return lines


def prelude(args: Mapping[str, Any]) -> str:
    """Shell that finds the client and writes the task's option file ($__mycnf, removed on exit);
    defines `orch_mysql SQL [client options]` (output in batch mode) and sets $__mycf to the
    config file's path when it exists."""
    config = str(args.get("config_file") or "")
    lines = [
        "__myc=$(command -v mariadb || command -v mysql) ||"
        " orch_fail 'the MySQL modules need the mariadb or mysql client on the host'",
        f"__mycf={quote(config)}",
        # `~` is the home of the user the task runs as (Ansible expands it on the host)
        'case "$__mycf" in "~"|"~/"*) orch_ent passwd "$(id -un)"; __h=${__ent#*:*:*:*:*:}; '
        '__mycf="${__h%%:*}${__mycf#"~"}" ;; esac',
        '__mycf0=$__mycf; [ -n "$__mycf" ] && [ -f "$__mycf" ] || __mycf=',
        "__mycnf=$(umask 077; mktemp) || exit 1",
        "trap 'rm -f \"$__mycnf\"' EXIT",
        "{ [ -z \"$__mycf\" ] || printf '!include %s\\n' \"$__mycf\"; printf '[client]\\n'; "
        + "".join(f"printf '%s\\n' {quote(line)}; " for line in client_options(args))
        + '} > "$__mycnf"',
        "orch_mysql() {",
        "  __mysql=$1; shift",
        "  printf '%s\\n' "
        + quote(SESSION_SQL)
        + ' "$__mysql" | "$__myc" --defaults-file="$__mycnf" -B --connect-timeout='
        + str(int(args.get("connect_timeout") or 30))
        + ' "$@" || { __r=$?; printf \'orch-mysql-config=%s %s\\n\' "${__mycf:+found}" "$__mycf0" >&2; return $__r; }',
        "}",
    ]
    return "\n".join(lines)


def decode_field(text: str) -> str | None:
    """One batch-mode field: NULL is None, \\n \\t \\0 \\\\ are decoded."""
    if text == "NULL":
        return None
    return re.sub(r"\\(.)", lambda m: _BATCH_UNESCAPES.get(m[1], "\\" + m[1]), text)


def rows(text: str) -> list[list[str | None]]:
    return [[decode_field(f) for f in line.split("\t")] for line in text.splitlines()]


def sections(output: WireOutput) -> dict[str, str]:
    """The sections of a script built with section_script (orch_section NAME before each query's
    rows): name -> text."""
    return {name: data.decode("utf-8", "replace") for name, data in output.sections}


def section_script(queries: Mapping[str, str], *, headers: bool = False) -> str:
    """Shell that opens section `name` then prints the rows of each query (stopping at the first
    failure)."""
    flag = "" if headers else " -N"
    return "\n".join(
        f"orch_section {name} && orch_mysql {quote(sql)}{flag} || exit $?"
        for name, sql in queries.items()
    )


def failure(stderr: str, rc: int, config_file: str, *, missing_config: bool = True) -> ModuleFailed:
    """community.mysql's messages: a connection failure names the config file (as the host
    expanded it, reported by orch_mysql); with `missing_config` (mysql_db, mysql_replication) a
    config file that is not there is named as the problem."""
    found, _, path = next(
        (
            line.removeprefix("orch-mysql-config=")
            for line in stderr.splitlines()
            if line.startswith("orch-mysql-config=")
        ),
        " " + config_file,
    ).partition(" ")
    # the client echoes a failing statement between dashed lines: it may hold a password hash
    errors = [line for line in stderr.splitlines() if line.startswith(("ERROR", "mysql:", "mariadb:"))]
    text = "\n".join(errors) if errors else stderr.strip().splitlines()[-1] if stderr.strip() else ""
    match = re.search(r"ERROR (\d+)", text)
    code = int(match[1]) if match else 0
    if code == 1045 or 2000 <= code < 3000:
        if missing_config and not found:
            return ModuleFailed(f"unable to find {path}. Exception message: {text}", rc=rc)
        return ModuleFailed(
            "unable to connect to database, check login_user and login_password are correct or "
            f"{path} has the credentials. Exception message: {text}",
            rc=rc,
        )
    return ModuleFailed(text or f"the mysql client failed with rc {rc}", rc=rc)


def query(
    ctx: ModuleContext, args: Mapping[str, Any], body: str, *, missing_config: bool = True
) -> WireOutput:
    """Run a read-only script (`body` after the prelude; it calls orch_mysql) and return its output."""
    result = ctx.query(prelude(args) + "\n" + body)
    if result.rc != 0:
        raise failure(result.err, result.rc, str(args.get("config_file")), missing_config=missing_config)
    return result.wire


def apply(
    ctx: ModuleContext, args: Mapping[str, Any], body: str, *, missing_config: bool = True
) -> WireOutput | None:
    """Run a changing script unless writes are not allowed (the engine decides); its output, or
    None when it did not run."""
    try:
        done = ctx.converge("return 10", prelude(args) + "\n" + body)
    except ModuleFailed as exc:
        raise failure(
            exc.result.get("stderr") or exc.msg,
            int(exc.result.get("rc") or 1),
            str(args.get("config_file")),
            missing_config=missing_config,
        ) from None
    return done.apply if done.applied else None


def server_version(text: str) -> tuple[str, tuple[int, ...]]:
    """('mariadb' | 'mysql', version numbers) from SELECT VERSION()."""
    kind = "mariadb" if "mariadb" in text.lower() else "mysql"
    nums = tuple(int(n) for n in re.findall(r"\d+", text.split("-")[0])[:3])
    return kind, nums
