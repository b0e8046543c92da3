"""Playbook loading: plays, tasks, module arguments, blocks, keywords, errors with locations."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import PlaybookError
from orchestrator.playbook.loader import PlaybookErrors, iter_tasks, list_tags, load_playbook
from orchestrator.playbook.model import Block, Playbook, Task

FIXTURES = Path(__file__).parent / "fixtures" / "playbooks"
_spec = importlib.util.spec_from_file_location("playbook_fakes", FIXTURES / "fakes.py")
assert _spec and _spec.loader
fakes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakes)


@pytest.fixture(autouse=True)
def _fake_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes.install(monkeypatch)
    monkeypatch.setenv("ORCH_ROLES_PATH", "")  # no ~/.ansible/roles etc. in tests
    monkeypatch.delenv("ANSIBLE_ROLES_PATH", raising=False)


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def load(root: Path, text: str, files: dict[str, str] | None = None, **kwargs: object) -> Playbook:
    write(root, {"site.yml": text, **(files or {})})
    return load_playbook(str(root / "site.yml"), **kwargs)  # type: ignore[arg-type]


def errors(root: Path, text: str, files: dict[str, str] | None = None) -> list[str]:
    """Every error as 'file:line:col: message' with paths relative to `root`."""
    with pytest.raises(PlaybookErrors) as info:
        load(root, text, files)
    return [str(err).replace(f"{root}/", "") for err in info.value.errors]


def tasks_of(pb: Playbook, play: int = 0) -> list[Task]:
    return list(iter_tasks(pb.plays[play]))


# --- the playbook file ---------------------------------------------------------------------------


def test_minimal_play(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: all\n  tasks:\n    - ping:\n")
    play = pb.plays[0]
    assert (play.name, play.hosts, play.location.line, play.location.col) == ("all", "all", 1, 3)
    [task] = play.tasks
    assert isinstance(task, Task)
    assert (task.action, task.args, task.name, task.display_name) == ("ping", {}, None, "ping")
    assert str(task.location) == f"{tmp_path}/site.yml:3:7"


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    assert errors(tmp_path, "hosts: all\ntasks: []\n") == [
        "site.yml:1:1: a playbook must be a list of plays, got a mapping"
    ]


def test_empty_playbook(tmp_path: Path) -> None:
    assert errors(tmp_path, "# nothing\n") == ["site.yml: the playbook is empty: it must be a list of plays"]


def test_bad_yaml_has_a_position(tmp_path: Path) -> None:
    [err] = errors(tmp_path, "- hosts: all\n  tasks:\n    - ping: {\n")
    assert err.startswith("site.yml:4:1: YAML syntax error")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    assert errors(tmp_path, "- hosts: all\n  hosts: web\n") == ["site.yml:2:3: duplicate key 'hosts'"]


def test_entry_that_is_not_a_play(tmp_path: Path) -> None:
    assert errors(tmp_path, "- hosts: all\n- just a string\n") == [
        "site.yml:2:3: a playbook entry must be a play or an import_playbook, got a string: 'just a string'"
    ]


def test_play_without_hosts(tmp_path: Path) -> None:
    assert errors(tmp_path, "- name: x\n  tasks: []\n") == [
        "site.yml:1:3: this play has no 'hosts' (which hosts should it run on?)"
    ]


def test_hosts_list_is_joined(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: [web, 'db:!db3']\n  name: Deploy\n")
    assert (pb.plays[0].hosts, pb.plays[0].name) == ("web,db:!db3", "Deploy")


def test_unknown_play_keyword_did_you_mean(tmp_path: Path) -> None:
    assert errors(tmp_path, "- hosts: all\n  becom: true\n") == [
        "site.yml:2:3: 'becom' is not a valid play keyword (did you mean 'become'?)"
    ]


def test_task_written_at_play_level_gets_a_hint(tmp_path: Path) -> None:
    [err] = errors(tmp_path, "- hosts: all\n  copy: {dest: /x}\n")
    assert (
        err
        == "site.yml:2:3: 'copy' is not a valid play keyword ('copy' is a task: put it in a list under 'tasks:')"
    )


def test_all_errors_reported_in_one_pass(tmp_path: Path) -> None:
    text = """
    - hosts: all
      gather_fact: no
      tasks:
        - cpy: {dest: /x}
        - copy: {dst: /x}
    - name: no hosts
      tasks: not-a-list
    """
    assert errors(tmp_path, text) == [
        "site.yml:2:3: 'gather_fact' is not a valid play keyword (did you mean 'gather_facts'?)",
        "site.yml:4:7: no module/action detected in task: 'cpy' is neither a keyword nor a known module"
        " (did you mean 'copy'?)",
        "site.yml:5:14: copy: unsupported parameter 'dst' (did you mean 'dest'?)",
        "site.yml:5:7: copy: missing required parameter 'dest'",
        "site.yml:6:3: this play has no 'hosts' (which hosts should it run on?)",
        "site.yml:7:10: 'tasks' must be a list of tasks, got a string",
    ]
    with pytest.raises(PlaybookError, match="6 errors in the playbook"):
        load(tmp_path, text)


# --- play keywords -------------------------------------------------------------------------------


def test_play_keywords(tmp_path: Path) -> None:
    text = """
    - hosts: all
      gather_facts: no
      gather_subset: [network, '!hardware']
      become: yes
      become_user: deploy
      become_method: sudo
      remote_user: admin
      connection: local
      port: 2222
      serial: [1, "30%"]
      strategy: free
      max_fail_percentage: 20
      any_errors_fatal: true
      force_handlers: true
      order: sorted
      environment: {LANG: C}
      tags: deploy, web
      vars: {a: 1}
      vars_files: [common.yml, ["{{ env }}.yml", default.yml]]
      module_defaults: {copy: {owner: root}}
      collections: [community.general]
      check_mode: false
      diff: true
      no_log: false
      throttle: 5
      timeout: 30
      run_once: false
      ignore_errors: false
      ignore_unreachable: true
    """
    pb = load(tmp_path, text)
    play = pb.plays[0]
    opts = play.options
    assert (play.gather_facts, play.gather_subset, play.serial, play.strategy) == (
        False,
        ["network", "!hardware"],
        [1, "30%"],
        "free",
    )
    assert (play.max_fail_percentage, play.force_handlers, play.order) == (20, True, "sorted")
    assert play.vars_files == ["common.yml", ["{{ env }}.yml", "default.yml"]]
    assert (opts.become, opts.become_user, opts.become_method, opts.remote_user, opts.port) == (
        True,
        "deploy",
        "sudo",
        "admin",
        2222,
    )
    assert opts.vars == {"ansible_connection": "local", "a": 1}
    assert opts.tags == ["deploy", "web"]
    assert opts.environment == {"LANG": "C"}
    assert opts.module_defaults == {"copy": {"owner": "root"}}
    assert (opts.any_errors_fatal, opts.check_mode, opts.diff, opts.throttle, opts.timeout) == (
        True,
        False,
        True,
        5,
        30,
    )
    assert (opts.ignore_errors, opts.ignore_unreachable, opts.no_log, opts.run_once) == (
        False,
        True,
        False,
        False,
    )
    assert pb.warnings == []  # `become: yes` is meant as a boolean: no YAML 1.1 warning


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "strategy: fre",
            "'strategy' must be one of: linear, free, host_pinned; got 'fre' (did you mean 'free'?)",
        ),
        (
            "order: random",
            "'order' must be one of: inventory, reverse_inventory, sorted, reverse_sorted, shuffle;"
            " got 'random'",
        ),
        ("serial: lots", "'serial' must be a number, a percentage like '30%' or a list of those, got 'lots'"),
        ("become: maybe", "'become' must be a boolean, got 'maybe'"),
        ("vars: [1]", "'vars' must be a mapping, got a number"),
        ("vars: {my-var: 1}", "invalid variable name 'my-var'"),
        ("environment: 3", "'environment' must be a mapping (or a template giving one), got 3"),
        ("port: http", "'port' must be an integer, got 'http'"),
        ("remote_user: [a]", "'remote_user' must be a string, got a list"),
    ],
)
def test_bad_play_keyword_values(tmp_path: Path, line: str, message: str) -> None:
    [err] = errors(tmp_path, f"- hosts: all\n  {line}\n")
    assert err.endswith(message)
    assert err.startswith("site.yml:2:")


def test_templated_keywords_stay_raw(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: '{{ target }}'\n  become: '{{ use_sudo }}'\n  serial: '{{ batch }}'\n")
    play = pb.plays[0]
    assert (play.hosts, play.options.become, play.serial) == ("{{ target }}", "{{ use_sudo }}", "{{ batch }}")


def test_become_yes_string_is_a_boolean(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: all\n  become: 'yes'\n  gather_facts: 'False'\n")
    assert (pb.plays[0].options.become, pb.plays[0].gather_facts) == (True, False)


def test_vars_prompt(tmp_path: Path) -> None:
    text = """
    - hosts: all
      vars_prompt:
        - name: password
          prompt: Password?
          private: no
          confirm: yes
        - name: user
          default: admin
    """
    prompts = load(tmp_path, text).plays[0].vars_prompt
    assert [(p.name, p.prompt, p.private, p.confirm, p.default) for p in prompts] == [
        ("password", "Password?", False, True, None),
        ("user", "user", True, False, "admin"),
    ]


def test_vars_prompt_unknown_option(tmp_path: Path) -> None:
    text = "- hosts: all\n  vars_prompt:\n    - name: x\n      promt: X?\n"
    assert errors(tmp_path, text) == [
        "site.yml:4:7: unknown vars_prompt option 'promt' (did you mean 'prompt'?)"
    ]


def test_fact_path_is_accepted_with_a_warning(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: all\n  fact_path: /etc/facts.d\n")
    assert pb.warnings == [
        f"{tmp_path}/site.yml:2:3: 'fact_path' has no effect in orch (local facts are not gathered)"
    ]


# --- module keys ---------------------------------------------------------------------------------


def one_task(tmp_path: Path, task_yaml: str, **kwargs: object) -> Task:
    """Load a play whose only task is `task_yaml` (indented as a list item under tasks:)."""
    body = textwrap.indent(textwrap.dedent(task_yaml).strip("\n"), "      ")
    pb = load(tmp_path, "- hosts: all\n  tasks:\n    -\n" + body + "\n", **kwargs)
    [task] = pb.plays[0].tasks
    assert isinstance(task, Task)
    return task


def task_errors(tmp_path: Path, task_yaml: str, files: dict[str, str] | None = None) -> list[str]:
    """Errors of a play whose tasks are `task_yaml` (a list, written at column 1)."""
    body = textwrap.indent(textwrap.dedent(task_yaml).lstrip("\n"), "    ")
    return errors(tmp_path, "- hosts: all\n  tasks:\n" + body, files)


@pytest.mark.parametrize(
    ("key", "action"),
    [
        ("copy", "copy"),
        ("ansible.builtin.copy", "ansible.builtin.copy"),
        ("ansible.legacy.copy", "copy"),
    ],
)
def test_module_names_short_and_fqcn(tmp_path: Path, key: str, action: str) -> None:
    task = one_task(tmp_path, f"{key}:\n  src: a\n  dest: /b\n")
    assert (task.action, task.args) == (action, {"src": "a", "dest": "/b"})


def test_collection_module_via_alias(tmp_path: Path) -> None:
    task = one_task(tmp_path, "community.docker.docker_compose_v2:\n  project_src: /srv/app\n")
    assert task.action == "community.docker.docker_compose_v2"


def test_no_module(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- name: only a name\n") == [
        "site.yml:3:7: no module/action detected in task"
    ]


def test_two_modules(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- copy: {dest: /a}\n  file: {path: /a}\n") == [
        "site.yml:4:7: conflicting action statements: copy, file (a task calls exactly one module)"
    ]


def test_unknown_module_fqcn(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- community.general.ufw: {rule: allow}\n") == [
        "site.yml:3:7: couldn't resolve module/action 'community.general.ufw'"
    ]


def test_unknown_module_did_you_mean(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- name: x\n  servce: name=nginx\n") == [
        "site.yml:4:7: no module/action detected in task: 'servce' is neither a keyword nor a known module"
        " (did you mean 'service'?)"
    ]


def test_unknown_task_keyword(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- ping:\n  whn: x\n") == [
        "site.yml:4:7: 'whn' is not a valid task keyword (did you mean 'when'?)"
    ]


def test_module_parameter_at_task_level(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- copy:\n    src: a\n  dest: /b\n") == [
        "site.yml:5:7: 'dest' is not a task keyword but a parameter of 'copy': indent it under 'copy:'",
        "site.yml:3:7: copy: missing required parameter 'dest'",
    ]


def test_listen_only_on_handlers(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- ping:\n  listen: x\n") == [
        "site.yml:4:7: 'listen' is not a valid task keyword ('listen' is only valid on handlers)"
    ]


# --- module arguments ----------------------------------------------------------------------------


def test_kv_arguments(tmp_path: Path) -> None:
    task = one_task(tmp_path, "copy: src=a dest='/b c' mode=0644\n")
    assert task.args == {"src": "a", "dest": "/b c", "mode": "0644"}


def test_free_form_command_with_options(tmp_path: Path) -> None:
    task = one_task(tmp_path, "command: FOO=1 make -j4 chdir=/src creates=out\n")
    assert task.args == {"chdir": "/src", "creates": "out", "cmd": "FOO=1 make -j4"}


def test_free_form_shell_multiline(tmp_path: Path) -> None:
    task = one_task(tmp_path, "shell: |\n  set -e\n  echo a=b\n")
    assert task.args == {"cmd": "set -e\necho a=b\n"}


def test_args_merged_under_inline(tmp_path: Path) -> None:
    task = one_task(tmp_path, "command: ls -l chdir=/inline\nargs:\n  chdir: /args\n  creates: x\n")
    assert task.args == {"chdir": "/inline", "creates": "x", "cmd": "ls -l"}


def test_action_form(tmp_path: Path) -> None:
    task = one_task(tmp_path, "action: copy src=a dest=/b\n")
    assert (task.action, task.args, task.options.delegate_to) == ("copy", {"src": "a", "dest": "/b"}, None)


def test_local_action_delegates_to_localhost(tmp_path: Path) -> None:
    task = one_task(tmp_path, "local_action: command echo hi\n")
    assert (task.action, task.args, task.options.delegate_to) == ("command", {"cmd": "echo hi"}, "localhost")


def test_action_mapping_form(tmp_path: Path) -> None:
    task = one_task(tmp_path, "action:\n  module: copy dest=/b\n  src: a\n")
    assert (task.action, task.args) == ("copy", {"src": "a", "dest": "/b"})


def test_action_and_local_action(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- action: ping\n  local_action: ping\n") == [
        "site.yml:4:7: 'action' and 'local_action' are mutually exclusive"
    ]


def test_action_and_module_key_conflict(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- action: ping\n  copy: dest=/x\n") == [
        "site.yml:4:7: conflicting action statements: ping, copy (a task calls exactly one module)"
    ]


def test_unbalanced_kv_string(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- copy: src='a dest=/b\n") == [
        "site.yml:3:13: copy: unbalanced quotes or Jinja2 block in arguments: src='a dest=/b"
    ]


def test_free_form_for_a_module_without_one(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- copy: src=a /b\n") == [
        "site.yml:3:7: copy: unexpected free-form text '/b'; this module takes key=value arguments or a mapping"
    ]


def test_argument_errors_point_at_the_key(tmp_path: Path) -> None:
    text = """
    - file:
        path: /x
        state: dir
        mde: '0644'
    """
    assert task_errors(tmp_path, text) == [
        "site.yml:5:9: file: parameter 'state' must be one of: file, directory, touch, absent, link; got 'dir'",
        "site.yml:6:9: file: unsupported parameter 'mde' (did you mean 'mode'?)",
    ]


def test_kv_argument_errors_point_at_the_string(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- service: name=nginx state=reload\n") == [
        "site.yml:3:16: service: parameter 'state' must be one of: started, stopped, restarted, reloaded;"
        " got 'reload'"
    ]


def test_spec_rules_checked(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- debug: {msg: a, var: b}\n- copy: {src: a, content: b, dest: /c}\n") == [
        "site.yml:3:7: debug: parameters are mutually exclusive: msg, var",
        "site.yml:4:7: copy: parameters are mutually exclusive: src, content",
    ]


def test_templated_arguments_pass(tmp_path: Path) -> None:
    task = one_task(tmp_path, "file:\n  path: /x\n  state: '{{ wanted }}'\n")
    assert task.args["state"] == "{{ wanted }}"


def test_arguments_from_a_template(tmp_path: Path) -> None:
    task = one_task(tmp_path, "copy: {}\nargs: '{{ copy_args }}'\n")
    assert task.args == {"_variable_params": "{{ copy_args }}"}


def test_args_must_be_a_mapping(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- ping:\n  args: [1]\n") == [
        "site.yml:4:13: 'args' must be a mapping, got a list"
    ]


def test_module_without_spec_is_not_validated(tmp_path: Path) -> None:
    task = one_task(tmp_path, "set_fact: a=1 b={{ c }}\n")
    assert task.args == {"a": "1", "b": "{{ c }}"}


def test_include_vars_free_form(tmp_path: Path) -> None:
    task = one_task(tmp_path, "include_vars: vars/main.yml\n")
    assert (task.action, task.args) == ("include_vars", {"file": "vars/main.yml"})


def test_module_defaults_supply_required_parameters(tmp_path: Path) -> None:
    text = """
    - hosts: all
      module_defaults:
        ansible.builtin.service: {name: nginx}
      tasks:
        - service: state=started
        - block:
            - copy: src=a
          module_defaults:
            copy: {dest: /b}
    """
    pb = load(tmp_path, text)
    assert [t.action for t in tasks_of(pb)] == ["service", "copy"]


def test_group_module_defaults_relax_required_checks(tmp_path: Path) -> None:
    text = "- hosts: all\n  module_defaults: {group/aws: {region: x}}\n  tasks:\n    - copy: src=a\n"
    assert [t.action for t in tasks_of(load(tmp_path, text))] == ["copy"]


def test_reserved_argument_names(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- set_fact: {_ansible_x: 1}\n") == [
        "site.yml:3:18: set_fact: parameter '_ansible_x' is reserved for internal use"
    ]


# --- YAML 1.1 booleans ---------------------------------------------------------------------------


def test_yaml11_boolean_in_string_parameter_warns(tmp_path: Path) -> None:
    text = """
    - hosts: all
      become: yes
      tasks:
        - lineinfile:
            path: /etc/x
            line: yes
            create: yes
        - lineinfile: {path: /etc/y, line: off}
        - lineinfile:
            path: /etc/z
            line: 'yes'
    """
    pb = load(tmp_path, text)
    assert pb.warnings == [
        f"{tmp_path}/site.yml:6:15: 'line: yes' was read as the boolean True (YAML 1.1);"
        ' quote it if you meant the string "yes"',
        f"{tmp_path}/site.yml:8:40: 'line: off' was read as the boolean False (YAML 1.1);"
        ' quote it if you meant the string "off"',
    ]


def test_yaml11_true_is_not_warned(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: all\n  tasks:\n    - lineinfile:\n        path: /x\n        line: true\n")
    assert pb.warnings == []


def test_yaml11_warning_not_taken_from_a_later_key(tmp_path: Path) -> None:
    text = """
    - hosts: all
      tasks:
        - lineinfile:
            line: true
            create: yes
            path: /x
    """
    assert load(tmp_path, text).warnings == []


# --- task keywords -------------------------------------------------------------------------------


def test_task_keywords(tmp_path: Path) -> None:
    text = """
    name: Restart
    service: name=app state=restarted
    when: ansible_os_family == 'Debian'
    register: result
    changed_when: false
    failed_when: [result.rc != 0, "'ERROR' in result.stdout"]
    until: result is succeeded
    retries: 5
    delay: 2
    notify: reload
    ignore_errors: yes
    tags: web, restart
    become: true
    become_user: app
    delegate_to: lb1
    delegate_facts: true
    run_once: true
    throttle: 2
    no_log: true
    environment: {A: b}
    check_mode: no
    diff: no
    vars: {x: 1}
    timeout: 10
    async: 60
    poll: 0
    debugger: never
    any_errors_fatal: true
    ignore_unreachable: true
    remote_user: ops
    """
    task = one_task(tmp_path, text)
    opts = task.options
    assert task.name == "Restart"
    assert opts.when == ["ansible_os_family == 'Debian'"]
    assert (task.register, task.changed_when, task.failed_when) == (
        "result",
        [False],
        ["result.rc != 0", "'ERROR' in result.stdout"],
    )
    assert (task.until, task.retries, task.delay, task.notify) == (["result is succeeded"], 5, 2, ["reload"])
    assert (task.async_, task.poll) == (60, 0)
    assert opts.tags == ["web", "restart"]
    assert (opts.ignore_errors, opts.become, opts.become_user, opts.delegate_to, opts.delegate_facts) == (
        True,
        True,
        "app",
        "lb1",
        True,
    )
    assert (opts.run_once, opts.throttle, opts.no_log, opts.check_mode, opts.diff, opts.timeout) == (
        True,
        2,
        True,
        False,
        False,
        10,
    )
    assert (opts.environment, opts.vars, opts.remote_user) == ({"A": "b"}, {"x": 1}, "ops")
    assert task.display_name == "Restart"


@pytest.mark.parametrize(
    ("when", "expected"),
    [("x is defined", ["x is defined"]), ("true", [True]), ("[a, b]", ["a", "b"]), ("", [])],
)
def test_when_forms(tmp_path: Path, when: str, expected: list[object]) -> None:
    assert one_task(tmp_path, f"ping:\nwhen: {when}\n").options.when == expected


def test_invalid_condition_is_reported_now(tmp_path: Path) -> None:
    [err] = task_errors(tmp_path, "- ping:\n  when: x == 1 and\n")
    assert err.startswith("site.yml:4:13: 'when': invalid condition 'x == 1 and': ")


def test_braces_in_condition_warn(tmp_path: Path) -> None:
    pb = load(tmp_path, "- hosts: all\n  tasks:\n    - ping:\n      when: '{{ x }}'\n")
    assert pb.warnings == [
        f"{tmp_path}/site.yml:4:13: 'when': conditions are already expressions; drop the {{{{ }}}} around '{{{{ x }}}}'"
    ]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [("a", ["a"]), ("'a, b'", ["a", "b"]), ("[a, 1]", ["a", "1"]), ("[always]", ["always"])],
)
def test_tags_forms(tmp_path: Path, tags: str, expected: list[str]) -> None:
    assert one_task(tmp_path, f"ping:\ntags: {tags}\n").options.tags == expected


def test_notify_list(tmp_path: Path) -> None:
    assert one_task(tmp_path, "ping:\nnotify: [a, b c]\n").notify == ["a", "b c"]


def test_register_must_be_a_variable_name(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- ping:\n  register: my-result\n") == [
        "site.yml:4:17: 'register' must be a valid variable name, got 'my-result'"
    ]


@pytest.mark.parametrize(
    ("loop", "kind", "value"),
    [
        ("loop: [1, 2]", "loop", [1, 2]),
        ("loop: '{{ users }}'", "loop", "{{ users }}"),
        ("with_items: [a, b]", "items", ["a", "b"]),
        ("with_dict: '{{ d }}'", "dict", "{{ d }}"),
        ("with_fileglob: '*.conf'", "fileglob", "*.conf"),
        ("with_sequence: start=1 end=3", "sequence", "start=1 end=3"),
        ("with_together: [[1], [2]]", "together", [[1], [2]]),
        ("with_nested: [[1], [2]]", "nested", [[1], [2]]),
        ("with_subelements: [users, keys]", "subelements", ["users", "keys"]),
        ("with_first_found: [a.yml, b.yml]", "first_found", ["a.yml", "b.yml"]),
        ("with_lines: cat x", "lines", "cat x"),
        ("with_indexed_items: [a]", "indexed_items", ["a"]),
        ("with_random_choice: [a, b]", "random_choice", ["a", "b"]),
    ],
)
def test_loop_forms(tmp_path: Path, loop: str, kind: str, value: object) -> None:
    task = one_task(tmp_path, f"debug: msg={{{{ item }}}}\n{loop}\n")
    assert (task.loop_kind, task.loop) == (kind, value)


def test_loop_control(tmp_path: Path) -> None:
    task = one_task(
        tmp_path, "ping:\nloop: [1]\nloop_control: {label: x, loop_var: host, index_var: i, pause: 1}\n"
    )
    assert task.loop_control == {"label": "x", "loop_var": "host", "index_var": "i", "pause": 1}


def test_loop_errors(tmp_path: Path) -> None:
    text = """
    - ping:
      loop: [1]
      with_items: [2]
    - ping:
      with_item: [1]
    - ping:
      loop: [1]
      loop_control: {lable: x}
    - ping:
      loop: 5
    """
    assert task_errors(tmp_path, text) == [
        "site.yml:5:7: a task can have only one loop, got: loop, with_items",
        "site.yml:7:7: 'with_item' is not a known loop (did you mean 'with_items'?)",
        "site.yml:10:22: unknown loop_control option 'lable' (did you mean 'label'?)",
        "site.yml:12:7: 'loop' must be a list or a template giving one, got a number",
    ]


def test_meta(tmp_path: Path) -> None:
    task = one_task(tmp_path, "meta: flush_handlers\n")
    assert (task.action, task.args) == ("meta", {"_raw_params": "flush_handlers"})


def test_meta_errors(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- meta: flush_handler\n- meta: end_role\n") == [
        "site.yml:3:13: meta: unknown action 'flush_handler' (did you mean 'flush_handlers'?)",
        "site.yml:4:7: meta: end_role can only be used in a role's tasks",
    ]


def test_removed_include(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- include: x.yml\n") == [
        "site.yml:3:7: 'include' was removed in Ansible 2.16; use include_tasks (dynamic) or import_tasks (static)"
    ]


def test_import_playbook_inside_tasks(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- import_playbook: x.yml\n") == [
        "site.yml:3:7: import_playbook is only allowed at the top level of a playbook, not in a task list"
    ]


def test_task_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert task_errors(tmp_path, "- ping\n") == [
        "site.yml:3:7: a task must be a mapping of keywords, got a string: 'ping'"
    ]


# --- blocks --------------------------------------------------------------------------------------


def test_block_rescue_always(tmp_path: Path) -> None:
    text = """
    - hosts: all
      tasks:
        - name: Upgrade
          block:
            - command: upgrade
            - block:
                - ping:
              become: true
          rescue:
            - command: rollback
          always:
            - debug: msg=done
          when: do_upgrade
          tags: [upgrade]
          ignore_errors: true
          vars: {x: 1}
          environment: {A: b}
          any_errors_fatal: true
    """
    [block] = load(tmp_path, text).plays[0].tasks
    assert isinstance(block, Block)
    assert block.name == "Upgrade"
    assert [type(b).__name__ for b in block.block] == ["Task", "Block"]
    assert [t.action for t in block.rescue + block.always] == ["command", "debug"]
    assert (block.options.when, block.options.tags, block.options.ignore_errors) == (
        ["do_upgrade"],
        ["upgrade"],
        True,
    )
    assert (block.options.vars, block.options.environment, block.options.any_errors_fatal) == (
        {"x": 1},
        {"A": "b"},
        True,
    )
    inner = block.block[1]
    assert isinstance(inner, Block) and inner.options.become is True
    assert (block.location.line, block.location.col) == (3, 7)  # type: ignore[union-attr]


def test_block_notify_applies_to_tasks_without_notify(tmp_path: Path) -> None:
    text = """
    - hosts: all
      tasks:
        - block:
            - ping:
            - ping:
              notify: other
          notify: restart
    """
    assert [t.notify for t in tasks_of(load(tmp_path, text))] == [["restart"], ["other"]]


def test_block_errors(tmp_path: Path) -> None:
    text = """
    - block:
        - ping:
      loop: [1]
    - rescue:
        - ping:
    - block: ping
    """
    assert task_errors(tmp_path, text) == [
        "site.yml:5:7: 'loop' is not a valid block keyword (loops are not allowed on a block: loop over an"
        " include_tasks)",
        "site.yml:6:7: 'rescue' must be part of a block (add 'block:' to this entry)",
        "site.yml:8:14: 'block' must be a list of tasks, got a string",
    ]


# --- handlers ------------------------------------------------------------------------------------


def test_handlers(tmp_path: Path) -> None:
    text = """
    - hosts: all
      handlers:
        - name: restart nginx
          service: name=nginx state=restarted
          listen: [web changed]
        - import_tasks: more_handlers.yml
          when: nginx_enabled
    """
    files = {"more_handlers.yml": "- name: reload nginx\n  service: name=nginx state=reloaded\n  when: x\n"}
    handlers = load(tmp_path, text, files).plays[0].handlers
    assert [(h.name, h.listen) for h in handlers] == [
        ("restart nginx", ["web changed"]),
        ("reload nginx", []),
    ]
    assert handlers[1].options.when == ["nginx_enabled", "x"]  # the import's keywords folded in


def test_block_as_handler(tmp_path: Path) -> None:
    assert errors(tmp_path, "- hosts: all\n  handlers:\n    - block: [ping: {}]\n") == [
        "site.yml:3:7: a block cannot be used as a handler (Ansible does not support it either)"
    ]


# --- listing -------------------------------------------------------------------------------------


def test_iter_tasks_and_list_tags(tmp_path: Path) -> None:
    text = """
    - hosts: all
      tags: play
      pre_tasks:
        - {name: pre, ping: {}, tags: [p]}
      tasks:
        - name: t1
          ping:
        - block:
            - {name: b1, ping: {}, tags: [never]}
          rescue:
            - {name: r1, ping: {}}
          always:
            - {name: a1, ping: {}}
          tags: blk
      post_tasks:
        - {name: post, ping: {}}
      handlers:
        - {name: h, ping: {}, tags: handler}
    """
    play = load(tmp_path, text).plays[0]
    assert [t.name for t in iter_tasks(play)] == ["pre", "t1", "b1", "r1", "a1", "post"]
    assert list_tags(play) == {"play", "p", "never", "blk"}


def test_connection_and_vars_list(tmp_path: Path) -> None:
    task = one_task(tmp_path, "ping:\nconnection: local\nvars: [{a: 1}, {b: 2}]\n")
    assert task.options.vars == {"ansible_connection": "local", "a": 1, "b": 2}


def test_single_error_message_format(tmp_path: Path) -> None:
    write(tmp_path, {"site.yml": "- hosts: all\n  tasks:\n    - ping:\n      whn: x\n"})
    with pytest.raises(PlaybookErrors) as info:
        load_playbook(str(tmp_path / "site.yml"))
    assert (
        str(info.value)
        == f"{tmp_path}/site.yml:4:7: 'whn' is not a valid task keyword (did you mean 'when'?)"
    )
    assert info.value.location is not None and info.value.location.line == 4


def test_missing_playbook_file(tmp_path: Path) -> None:
    with pytest.raises(PlaybookErrors, match="cannot read file"):
        load_playbook(str(tmp_path / "nope.yml"))

