"""Issue 16, problems 1-6 and 8 without lab hosts: each test runs the issue's command (or its
equivalent) against hosts with `ansible_connection=local`, so nothing leaves the machine.

1 --limit with no hosts; 2 -e k=v; 3 -o reasons (live view: test_report_live.py); 4 vault values
and --syntax-check before contact; 5 messages and help; 6 packaging; 8 inventory scripts.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from orchestrator.errors import InventoryError, OrchError
from orchestrator.extravars import parse_extra_vars
from orchestrator.inventory import load_inventory
from orchestrator.lab.testing import run_orch
from orchestrator.report.adhoc import AdhocReporter
from orchestrator.results import Status, TaskResult

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A local inventory (two hosts run through the local connection) and a debug playbook."""
    (tmp_path / "inv").write_text("[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\n")
    (tmp_path / "show.yml").write_text(
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - debug: var=payload\n"
    )
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")  # never a stray config from elsewhere
    return tmp_path


def orch(project: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_orch(*args, cwd=project, env={"NO_COLOR": "1", "ANSIBLE_CONFIG": "", **(env or {})})


# -- 1. a --limit that leaves no hosts ------------------------------------------------------------


def test_limit_matching_nothing_exits_1_naming_the_limit(project: Path) -> None:
    done = orch(project, "play", "show.yml", "-i", "inv", "-l", "h9")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Specified inventory, host pattern and/or --limit leaves us with no hosts to target" in done.stderr
    assert "--limit 'h9'" in done.stderr
    assert "PLAY RECAP" not in done.stdout


def test_limit_with_one_unknown_pattern_runs_the_others_and_warns(project: Path) -> None:
    done = orch(project, "play", "show.yml", "-i", "inv", "-l", "h9,h1", "-e", "payload=x")
    assert done.returncode == 0, done.stderr
    assert "Could not match supplied host pattern, ignoring: h9" in done.stderr
    assert re.search(r"^h1\s+: ok=1", done.stdout, re.M) and "h2 " not in done.stdout


def test_adhoc_limit_matching_nothing_exits_1(project: Path) -> None:
    (project / "inv").write_text((project / "inv").read_text() + "[db]\nd1 ansible_connection=local\n")
    assert orch(project, "run", "web", "-i", "inv", "-l", "h9", "-a", "true").returncode == 1
    done = orch(project, "run", "db", "-i", "inv", "-l", "h1", "-a", "true")  # h1 exists, not in db
    assert done.returncode == 1 and "matches no host of the pattern 'db'" in done.stderr
    assert orch(project, "run", "nothing", "-i", "inv", "-a", "true").returncode == 0  # as `ansible`


# -- 2. -e k=v follows Ansible's parse_kv -----------------------------------------------------------


def test_extra_vars_key_value_rules_are_ansibles() -> None:
    # Checked against ansible-playbook 2.19: escapes are decoded, \\\\ is one backslash
    assert parse_extra_vars([r"payload=a\nb"]) == {"payload": "a\nb"}
    assert parse_extra_vars([r"path=C:\temp\new"]) == {"path": "C:\temp\new"}
    assert parse_extra_vars([r"path=C:\\temp"]) == {"path": "C:\\temp"}
    assert parse_extra_vars(["msg='hello world' n=1"]) == {"msg": "hello world", "n": "1"}
    assert parse_extra_vars(['msg="a = b"']) == {"msg": "a = b"}


def test_extra_vars_refusals_say_why() -> None:
    with pytest.raises(OrchError, match=r"'world' is not key=value; a value with spaces must be quoted"):
        parse_extra_vars(["msg=hello world"])
    with pytest.raises(OrchError, match="a quote is not closed"):
        parse_extra_vars(["msg='hello"])
    with pytest.raises(OrchError, match="must be a mapping"):
        parse_extra_vars(["[1, 2]"])
    with pytest.raises(OrchError, match="prepend a file name with '@'"):
        parse_extra_vars(["./vars.yml"])


def test_extra_vars_reach_the_play_unchanged(project: Path) -> None:
    out = project / "run.json"
    done = orch(
        project, "play", "show.yml", "-i", "inv", "-l", "h1", "-e", r"payload=a\nb", "--json", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert '"a\\nb"' in out.read_text()  # the JSON of a newline: the value is a, newline, b


# -- 3. -o keeps the reason of a failure -----------------------------------------------------------


def test_one_line_failure_keeps_msg() -> None:
    reporter = AdhocReporter(sys.stdout, one_line=True)
    reporter.text_output = True
    failed = TaskResult(host="h1", task="command", status=Status.FAILED, msg="timed out after 1s")
    assert reporter.line(failed) == "h1 | FAILED | rc=-1 | (stdout)  (msg) timed out after 1s"
    plain = TaskResult(host="h1", task="command", status=Status.FAILED, msg="non-zero return code", rc=2)
    assert reporter.line(plain) == "h1 | FAILED | rc=2 | (stdout) "  # Ansible's line, nothing added


# -- 4. checks before contact ----------------------------------------------------------------------


def _vault_value(plain: str, password: str) -> str:
    from orchestrator.vault import encrypt_bytes

    body = encrypt_bytes(plain.encode(), password.encode(), None)
    return "!vault |\n" + textwrap.indent(body, "  ")


def test_wrong_vault_password_for_an_inline_value_fails_before_contact(project: Path) -> None:
    (project / "group_vars").mkdir()
    (project / "group_vars" / "web.yml").write_text(
        "plain: 1\napi_token: " + _vault_value("s3cret", "right") + "\n"
    )
    (project / "pass").write_text("swordfish-7\n")
    (project / "touch.yml").write_text(
        f"- hosts: web\n  gather_facts: false\n  tasks:\n    - file: path={project}/touched state=touch\n"
    )
    done = orch(project, "play", "touch.yml", "-i", "inv", "--vault-password-file", "pass")
    assert done.returncode == 3, done.stdout + done.stderr
    assert re.search(r"group_vars/web\.yml:2:\d+: cannot decrypt vault data: wrong password", done.stderr)
    assert not (project / "touched").exists()  # nothing ran
    (project / "pass").write_text("right\n")
    assert orch(project, "play", "touch.yml", "-i", "inv", "--vault-password-file", "pass").returncode == 0


def test_syntax_check_parses_every_template(project: Path) -> None:
    (project / "bad.yml").write_text(
        "- hosts: web\n  gather_facts: false\n  tasks:\n"
        "    - debug: msg=fine\n"
        '    - name: broken\n      debug:\n        msg: "{{ foo | }}"\n'
        '    - name: also broken\n      set_fact:\n        y: "{% if x %}never closed"\n'
    )
    done = orch(project, "play", "bad.yml", "-i", "inv", "--syntax-check")
    assert done.returncode == 3
    assert re.search(r"bad\.yml:7:\d+: template syntax error: .*'\{\{ foo \| \}\}'", done.stderr)
    assert re.search(r"bad\.yml:10:\d+: template syntax error: .*never closed", done.stderr)
    assert '7 |         msg: "{{ foo | }}"' in done.stderr  # the source line under the error
    good = orch(project, "play", "show.yml", "-i", "inv", "--syntax-check")
    assert good.returncode == 0 and "playbook: show.yml" in good.stdout


# -- 5. messages in the user's terms ----------------------------------------------------------------


def test_run_without_args_says_what_to_give(project: Path) -> None:
    done = orch(project, "run", "web", "-i", "inv")
    assert done.returncode == 5
    assert "the command module needs a command line: give it with -a" in done.stderr
    assert "_raw_params" not in done.stderr


def test_yaml_error_shows_the_line_and_a_caret(project: Path) -> None:
    (project / "y.yml").write_text("- hosts: web\n  tasks:\n    - debug:\n        msg: {{ foo }}\n")
    done = orch(project, "play", "y.yml", "-i", "inv", "--syntax-check")
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert lines[0].startswith("ERROR: y.yml:4:") and "must be quoted" in lines[0]
    assert lines[1] == "  4 |         msg: {{ foo }}"
    assert lines[2].index("^") == lines[1].index("{ foo")  # the inner mapping YAML saw as a key


def test_mistyped_options_and_commands_get_a_suggestion(project: Path) -> None:
    done = orch(project, "play", "show.yml", "--chek")
    assert done.returncode == 5 and "(did you mean --check?)" in done.stderr
    done = orch(project, "paly", "show.yml")
    assert done.returncode == 5 and "(did you mean play?)" in done.stderr


@pytest.mark.parametrize("command", ["play", "run", "vault", "inventory", "explain", "config"])
def test_help_pages_have_description_examples_exit_codes_environment(command: str) -> None:
    from orchestrator.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[union-attr]
    text = sub.format_help()
    assert "examples:" in text and "exit codes:" in text and f"orch {command}" in text
    assert sub.description and len(sub.description) > 60
    if command in ("play", "run", "vault", "config"):
        assert "environment:" in text and "ANSIBLE_CONFIG" in text
    if command == "explain":
        assert "Exits 1 when the variable is not defined" in text


def test_lab_up_and_lab_inventory_take_the_same_option_names() -> None:
    from orchestrator.cli import build_parser

    parser = build_parser()
    for words in (["lab", "up", "2", "-i", "x"], ["lab", "up", "2", "-o", "x"], ["lab", "inventory", "-i", "x"],
                  ["lab", "inventory", "-o", "x"], ["lab", "inventory", "--output", "x"]):  # fmt: skip
        args = parser.parse_args(words)
        assert (getattr(args, "inventory", None) or getattr(args, "output", None)) == "x"


def test_explain_unknown_variable_exits_1(project: Path) -> None:
    done = orch(project, "explain", "nope", "--host", "h1", "-i", "inv")
    assert done.returncode == 1 and "nope is not defined for h1" in done.stdout


# -- 6. packaging -----------------------------------------------------------------------------------


def _imported_top_modules() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "orchestrator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_runtime_dependencies_are_only_what_orch_imports() -> None:
    """The project rule: declare nothing you don't import (test tools are the `test` extra)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    import_names = {"pyyaml": "yaml"}
    imported = _imported_top_modules()
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower()
        assert import_names.get(name, name) in imported, f"{requirement} is declared but never imported"
    runtime = " ".join(project["dependencies"]).lower()
    for tool in ("pytest", "ruff", "ansible", "hypothesis", "fabric"):
        assert tool not in runtime


# -- 8. executable inventory scripts ----------------------------------------------------------------


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_inventory_script_with_meta_hostvars(tmp_path: Path) -> None:
    data = {
        "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 80}, "children": ["canary"]},
        "canary": ["w3"],
        "db": {"hosts": ["d1"]},
        "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}, "d1": {"role": "primary"}}},
    }
    script = _script(
        tmp_path / "cmdb.py",
        f"""
        import json, sys
        if sys.argv[1:] == ["--list"]:
            print(json.dumps({data!r}))
        else:
            sys.exit("--host must not be called when _meta is there")
        """,
    )
    inv = load_inventory([str(script)])
    assert inv.group_hosts("web") == ["w1", "w2", "w3"]
    assert inv.host_vars("w1")["ansible_host"] == "10.0.0.1"
    assert inv.host_vars("w3")["http_port"] == 80
    assert inv.host_vars("d1")["role"] == "primary"


def test_inventory_script_without_meta_is_asked_per_host(tmp_path: Path) -> None:
    script = _script(
        tmp_path / "old.py",
        """
        import json, sys
        if sys.argv[1] == "--list":
            print(json.dumps({"app": ["a1", "a2"]}))
        else:
            print(json.dumps({"who": sys.argv[2]}))
        """,
    )
    inv = load_inventory([str(script)])
    assert [inv.host_vars(h)["who"] for h in ("a1", "a2")] == ["a1", "a2"]


def test_failing_inventory_script_exits_3_with_its_stderr(project: Path) -> None:
    _script(project / "broken.py", "import sys\nsys.stderr.write('cmdb: 401 Unauthorized\\n')\nsys.exit(2)\n")
    done = orch(project, "play", "show.yml", "-i", "broken.py")
    assert done.returncode == 3
    assert "inventory script `broken.py --list` failed with exit status 2" in done.stderr
    assert "cmdb: 401 Unauthorized" in done.stderr


def test_inventory_script_timeout_and_bad_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = _script(tmp_path / "slow.py", "import time\ntime.sleep(10)\n")
    monkeypatch.setenv("ORCH_INVENTORY_SCRIPT_TIMEOUT", "0.5")
    with pytest.raises(InventoryError, match=r"did not finish within 0.5s"):
        load_inventory([str(slow)])
    monkeypatch.delenv("ORCH_INVENTORY_SCRIPT_TIMEOUT")  # a loaded machine may take 0.5 s to start Python
    noise = _script(tmp_path / "noise.py", "print('hello')\n")
    with pytest.raises(InventoryError, match=r"did not print JSON.*'hello"):
        load_inventory([str(noise)])


def test_directory_mixes_scripts_and_files_as_ansible(tmp_path: Path) -> None:
    inv_dir = tmp_path / "inventory"
    inv_dir.mkdir()
    (inv_dir / "static.ini").write_text("[db]\nd1\n")
    _script(
        inv_dir / "cloud.py", "import json\nprint(json.dumps({'web': ['w1'], '_meta': {'hostvars': {}}}))\n"
    )
    (inv_dir / "notes.md").write_text("# ignored, as Ansible's INVENTORY_IGNORE_EXTS\n")
    (inv_dir / "group_vars").mkdir()
    (inv_dir / "group_vars" / "web.yml").write_text("tier: front\n")
    inv = load_inventory([str(inv_dir), "extra1,"])
    assert sorted(inv.hosts) == ["d1", "extra1", "w1"]
    assert inv.host_vars("w1")["tier"] == "front"
    assert os.access(inv_dir / "cloud.py", os.X_OK)
    assert json.loads(json.dumps(inv.groups_map()))["web"] == ["w1"]
