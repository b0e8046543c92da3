"""The pure parts of the mysql_* modules against community.mysql's own code: the privilege string
(privileges_unpack) and SHOW GRANTS parsing (privileges_get), on listed and generated inputs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.modules.base import ModuleFailed, get_module
from orchestrator.modules.library.mysql_user import native_hash, parse_grants, plan_privs, unpack_privs
from orchestrator.modules.mysql_common import decode_field, literal, option_value, sections
from orchestrator.modules.spec import validate_args
from orchestrator.modules.wire import new_token, parse

community = pytest.importorskip("ansible_collections.community.mysql.plugins.module_utils.user")


@pytest.mark.parametrize(
    "name",
    ["mysql_db", "community.mysql.mysql_db", "mysql_user", "community.mysql.mysql_user", "mysql_replication",
     "community.mysql.mysql_replication"],
)  # fmt: skip
def test_names_resolve(name: str) -> None:
    assert get_module(name) is not None


@pytest.mark.parametrize(
    ("module", "args", "error"),
    [
        ("mysql_user", {"nam": "x"}, "unsupported parameter 'nam' (did you mean 'name'?)"),
        ("mysql_user", {"name": "x", "append_privs": True, "subtract_privs": True}, "mutually exclusive"),
        ("mysql_user", {"name": "x", "update_password": "sometimes"}, "parameter 'update_password' must be one of"),
        ("mysql_db", {"name": "x", "state": "dump"}, "state=dump requires: target"),
        ("mysql_db", {"name": "x", "state": "copied"}, "parameter 'state' must be one of"),
        ("mysql_replication", {"mode": "getmaster"}, "parameter 'mode' must be one of"),
        ("mysql_replication", {"mode": "changeprimary", "master_port": "x"}, "parameter 'master_port'"),
    ],
)
def test_bad_input_names_the_key(module: str, args: dict[str, Any], error: str) -> None:
    cls = get_module(module)
    assert cls is not None
    _, errors = validate_args(cls.spec, args)
    assert any(error in e for e in errors), errors


PRIV_STRINGS = [
    "appdb.*:ALL",
    "appdb.*:SELECT/metrics.*:SELECT",
    "*.*:ALL,GRANT",
    "*.*:REPLICATION SLAVE,REPLICATION CLIENT",
    "db.table:select,insert/`quoted`.`t`:UPDATE",
    "db.t:SELECT (colB, colA),INSERT",
    "mydb.*:INSERT,UPDATE/anotherdb.*:SELECT/yetanotherdb.*:ALL",
    "FUNCTION db.f:EXECUTE",
]


@pytest.mark.parametrize("priv", PRIV_STRINGS)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_unpack_privs_as_community_mysql(priv: str, case_sensitive: bool) -> None:
    assert unpack_privs(priv, case_sensitive) == community.privileges_unpack(priv, "NOTANSI", case_sensitive)


NAMES = st.text(alphabet="abcdefgh_0123456789", min_size=1, max_size=8)
PRIVS = st.lists(
    st.sampled_from(["SELECT", "insert", "UPDATE", "DELETE", "ALL", "ALL PRIVILEGES", "GRANT", "USAGE", "CREATE VIEW"]),
    min_size=1,
    max_size=4,
    unique=True,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(NAMES, st.just("*")), st.one_of(NAMES, st.just("*")), PRIVS), min_size=1, max_size=4))
def test_generated_priv_strings_unpack_as_community_mysql(items: list[tuple[str, str, list[str]]]) -> None:
    priv = "/".join(f"{db}.{table}:{','.join(privs)}" for db, table, privs in items)
    assert unpack_privs(priv, False) == community.privileges_unpack(priv, "NOTANSI", False)


def test_bad_privilege_names_fail_before_any_sql() -> None:
    for priv in ("appdb.*:SELECT;DROP DATABASE x", "appdb.*:SELECT`", "appdb", "appdb.*:SELECT'--"):
        with pytest.raises(ModuleFailed, match="invalid privileges string"):
            unpack_privs(priv, False)


class GrantsCursor:
    """What community.mysql's privileges_get reads: SHOW GRANTS rows (the SQL is not run)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def execute(self, *_: Any) -> None:
        pass

    def fetchall(self) -> list[tuple[str]]:
        return [(line,) for line in self.lines]


# Lines as MariaDB 10.11 prints them (taken from the lab), with the forms community.mysql parses.
GRANTS = [
    "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*488EC1E18773C91A37C0825D66AF92AD87CCB901'",
    "GRANT ALL PRIVILEGES ON `appdb`.* TO `app`@`%`",
    "GRANT SELECT, INSERT ON `metrics`.* TO `app`@`%` WITH GRANT OPTION",
    "GRANT SELECT (`b`, `a`), INSERT ON `db`.`t` TO `app`@`%`",
    "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION",
    "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
    "GRANT `admin`@`%` TO `app`@`%`",
]


def test_parse_grants_as_community_mysql() -> None:
    assert parse_grants(GRANTS) == community.privileges_get(GrantsCursor(GRANTS), "app", "%")


def test_plan_privs_replace_and_append() -> None:
    acct = "'app'@'%'"
    current = {"*.*": ["USAGE"], "`appdb`.*": ["ALL"], "`metrics`.*": ["SELECT"]}
    sure, maybe, msg = plan_privs("app", acct, current, unpack_privs("appdb.*:SELECT", False), False, False)
    assert sure == ["REVOKE SELECT ON `metrics`.* FROM 'app'@'%'"]
    assert maybe == ["REVOKE ALL ON `appdb`.* FROM 'app'@'%'", "GRANT SELECT ON `appdb`.* TO 'app'@'%'"]
    assert msg.startswith("Privileges updated: granted ['SELECT'], revoked ['ALL']")
    sure, maybe, _ = plan_privs("app", acct, current, unpack_privs("logs.*:INSERT", False), True, False)
    assert (sure, maybe) == (["GRANT INSERT ON `logs`.* TO 'app'@'%'"], [])
    assert plan_privs("app", acct, current, {**current}, False, False) == ([], [], "")


def test_native_hash_is_mysql_password() -> None:
    # what SELECT PASSWORD('app-pass') printed on MariaDB 10.11 (a lab host)
    assert native_hash("app-pass") == "*3F57C84FDE4BBAB2C998F3A2D311684280BAE8E7"


def test_quoting() -> None:
    assert literal("it's \\ \n") == "'it\\'s \\\\ \\n'"
    assert option_value('a"b\\c#d') == '"a\\"b\\\\c#d"'
    assert decode_field("a\\tb\\\\n") == "a\tb\\n" and decode_field("NULL") is None
    token = new_token()
    assert sections(parse(f"x\n\n{token} one\n1\n2\n\n{token} two\n", token)) == {"one": "1\n2\n", "two": ""}
