"""Roles, import_tasks/import_role/import_playbook, include_tasks/include_role, run-time loaders."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from orchestrator.playbook.loader import (
    PlaybookErrors,
    iter_handlers,
    iter_tasks,
    list_tags,
    load_playbook,
    load_role,
    load_task_file,
    resolve_task_file,
    role_search_paths,
)
from orchestrator.playbook.model import Block, Play, Playbook, Task, TaskOptions

FIXTURES = Path(__file__).parent / "fixtures" / "playbooks"
_spec = importlib.util.spec_from_file_location("playbook_fakes", FIXTURES / "fakes.py")
assert _spec and _spec.loader
fakes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakes)


@pytest.fixture(autouse=True)
def _fake_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes.install(monkeypatch)
    monkeypatch.setenv("ORCH_ROLES_PATH", "")
    monkeypatch.delenv("ANSIBLE_ROLES_PATH", raising=False)


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def load(root: Path, files: dict[str, str], **kwargs: object) -> Playbook:
    write(root, files)
    return load_playbook(str(root / "site.yml"), **kwargs)  # type: ignore[arg-type]


def errors(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(PlaybookErrors) as info:
        load(root, files)
    return [str(err).replace(f"{root}/", "") for err in info.value.errors]


def names(play: Play) -> list[str]:
    return [t.display_name for t in iter_tasks(play)]


def ping(name: str) -> str:
    return f"- name: {name}\n  ping:\n"


# --- the fixture playbook ------------------------------------------------------------------------


def test_fixture_site() -> None:
    pb = load_playbook(str(FIXTURES / "site" / "site.yml"))
    deploy, report = pb.plays
    assert (deploy.name, deploy.hosts, deploy.serial) == ("Deploy app", "web,api", "30%")
    assert names(deploy) == [
        "Check disk",
        "common : Install base packages",  # `common` runs once: app's dependency on it is a duplicate
        "base : Base marker",
        "app : Create app dir",
        "app : Write config",  # import_tasks inside the role, found next to main.yml
        "app : Start app",
        "Wait for health",
        "Extra steps",
        "Migrate",
        "Roll back",
        "debug",
    ]
    common, app = deploy.roles
    assert (app.params, app.options.when, app.options.tags) == (
        {"app_port": 8080},
        ["deploy_app | default(true)"],
        ["app"],
    )
    assert app.defaults == {"app_port": 80, "app_user": "app"} and app.vars == {"app_dir": "/srv/app"}
    assert [(d.name, d.params) for d in app.dependencies] == [("base", {"base_flag": True})]
    assert common.defaults == {"common_packages": ["curl", "git"]}
    assert [(h.display_name, h.listen) for h in iter_handlers(deploy)] == [
        ("base : base changed", []),
        ("app : restart app", []),
        ("reload nginx", ["web config changed"]),
    ]
    assert list_tags(deploy) == {"app", "health"}
    assert (report.hosts, report.gather_facts, report.options.vars) == (
        "all",
        False,
        {"report_dir": "/tmp/report"},
    )
    assert pb.warnings == []


# --- import_tasks --------------------------------------------------------------------------------


def test_import_tasks_becomes_a_block_with_its_keywords(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - name: Setup
              import_tasks: tasks/setup.yml
              when: do_setup
              tags: setup
              become: true
              vars: {x: 1}
        """,
        "tasks/setup.yml": ping("one") + ping("two"),
    }
    [block] = load(tmp_path, files).plays[0].tasks
    assert isinstance(block, Block)
    assert [t.name for t in block.block] == ["one", "two"]  # type: ignore[union-attr]
    assert (block.name, block.options.when, block.options.tags, block.options.become, block.options.vars) == (
        "Setup",
        ["do_setup"],
        ["setup"],
        True,
        {"x": 1},
    )
    assert str(block.block[0].location) == f"{tmp_path}/tasks/setup.yml:1:3"


def test_import_tasks_nested_relative_to_the_importing_file(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - import_tasks: tasks/a.yml\n",
        "tasks/a.yml": "- import_tasks: b.yml\n- import_tasks: common.yml\n",
        "tasks/b.yml": ping("b"),
        "common.yml": ping("from the playbook dir"),
    }
    assert names(load(tmp_path, files).plays[0]) == ["b", "from the playbook dir"]


def test_import_tasks_kv_and_fqcn_forms(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - ansible.builtin.import_tasks:
                file: a.yml
            - import_tasks: file=a.yml
        """,
        "a.yml": ping("a"),
    }
    assert names(load(tmp_path, files).plays[0]) == ["a", "a"]


def test_import_tasks_templated_name(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          vars: {flavour: debian}
          tasks:
            - import_tasks: "{{ flavour }}.yml"
            - import_tasks: "{{ extra }}.yml"
        """,
        "debian.yml": ping("debian"),
        "cli.yml": ping("cli"),
    }
    assert names(load(tmp_path, files, extra_vars={"extra": "cli"}).plays[0]) == ["debian", "cli"]


def test_import_tasks_undefined_variable(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  tasks:\n    - import_tasks: '{{ os }}.yml'\n"}
    assert errors(tmp_path, files) == [
        "site.yml:3:21: import_tasks: cannot resolve '{{ os }}.yml' at load time ('os' is undefined); static"
        " imports can only use play vars and extra vars (-e); use include_* for host or fact variables"
    ]


def test_import_tasks_missing_file(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  tasks:\n    - import_tasks: tasks/nope.yml\n"}
    assert errors(tmp_path, files) == [
        "site.yml:3:21: import_tasks: file not found: 'tasks/nope.yml' (looked in: tasks/nope.yml)"
    ]


def test_import_tasks_errors_inside_the_file(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - import_tasks: t.yml\n",
        "t.yml": "- name: x\n  copy: {dst: /x, dest: /y}\n",
    }
    assert errors(tmp_path, files) == ["t.yml:2:10: copy: unsupported parameter 'dst' (did you mean 'dest'?)"]


def test_import_cycle(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n",
        "a.yml": "- import_tasks: b.yml\n",
        "b.yml": "- import_tasks: a.yml\n",
    }
    assert errors(tmp_path, files) == [
        "b.yml:1:17: import_tasks: import cycle: site.yml -> a.yml -> b.yml -> a.yml"
    ]


def test_import_tasks_cannot_loop_and_ignores_register(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - import_tasks: a.yml
              loop: [1]
            - import_tasks: a.yml
              register: r
        """,
        "a.yml": ping("a"),
    }
    assert errors(tmp_path, files) == [
        "site.yml:4:7: import_tasks cannot loop (it is resolved at load time); use include_tasks"
    ]
    files["site.yml"] = "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n      register: r\n"
    pb = load(tmp_path, files)
    assert pb.warnings == [f"{tmp_path}/site.yml:4:7: 'register' has no effect on import_tasks (ignored)"]


def test_import_tasks_bad_arguments(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - import_tasks:
                fille: a.yml
            - import_tasks:
                file: a.yml
                apply: {tags: x}
        """,
        "a.yml": ping("a"),
    }
    assert errors(tmp_path, files) == [
        "site.yml:4:9: import_tasks: unsupported parameter 'fille' (did you mean 'file'?)",
        "site.yml:7:16: import_tasks: 'apply' is only valid for include_tasks/include_role",
    ]


def test_empty_imported_file_warns(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  tasks:\n    - import_tasks: e.yml\n", "e.yml": "# nothing yet\n"}
    pb = load(tmp_path, files)
    assert pb.warnings == [
        f"{tmp_path}/site.yml:3:21: import_tasks: {tmp_path}/e.yml is empty, nothing to import"
    ]


def test_imported_file_must_be_a_list(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  tasks:\n    - import_tasks: e.yml\n", "e.yml": "name: x\nping:\n"}
    assert errors(tmp_path, files) == [
        "e.yml:1:1: the tasks file e.yml must be a list of tasks, got a mapping"
    ]


# --- include_tasks -------------------------------------------------------------------------------


def test_include_tasks_stays_a_task(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - name: Per user
              include_tasks:
                file: user.yml
                apply:
                  become: true
                  tags: [users]
              loop: "{{ users }}"
              loop_control: {loop_var: user}
              when: users is defined
            - ansible.builtin.include_tasks: "{{ item }}.yml"
              with_items: [a, b]
        """,
        "user.yml": ping("user"),
    }
    first, second = load(tmp_path, files).plays[0].tasks
    assert isinstance(first, Task) and isinstance(second, Task)
    assert (first.action, first.args["file"], first.loop, first.loop_control) == (
        "include_tasks",
        "user.yml",
        "{{ users }}",
        {"loop_var": "user"},
    )
    apply = first.args["apply"]
    assert isinstance(apply, TaskOptions) and (apply.become, apply.tags) == (True, ["users"])
    assert (second.action, second.args, second.loop_kind) == (
        "include_tasks",
        {"file": "{{ item }}.yml"},
        "items",
    )


def test_include_tasks_keywords_must_go_under_apply(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - include_tasks: a.yml\n      become: true\n",
        "a.yml": ping("a"),
    }
    assert errors(tmp_path, files) == [
        "site.yml:4:7: 'become' cannot be set on include_tasks; put it under 'apply:' to set it on the included tasks"
    ]


def test_include_tasks_target_is_loaded_when_it_runs(tmp_path: Path) -> None:
    # As in Ansible: an include that never runs may name a missing file or an unknown module.
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - include_tasks: missing.yml\n    - include_tasks: bad.yml\n",
        "bad.yml": "- servce: name=x\n",
    }
    assert [t.action for t in iter_tasks(load(tmp_path, files).plays[0])] == ["include_tasks"] * 2


def test_include_tasks_may_include_itself(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - include_tasks: loop.yml\n",
        "loop.yml": "- include_tasks: loop.yml\n  when: depth | int < 3\n",
    }
    assert [t.action for t in iter_tasks(load(tmp_path, files).plays[0])] == ["include_tasks"]


def test_include_tasks_needs_a_file(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  tasks:\n    - include_tasks:\n        apply: {}\n"}
    assert errors(tmp_path, files) == [
        "site.yml:3:7: include_tasks: no file given (as in 'include_tasks: tasks.yml')"
    ]


# --- roles ---------------------------------------------------------------------------------------


def test_role_forms_and_task_roles(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          roles:
            - web
            - role: db
              db_name: app
              become: true
              when: with_db
              tags: [db]
              vars: {pool: 5}
            - {name: web, http_port: 81}
        """,
        "roles/web/tasks/main.yml": ping("serve"),
        "roles/db/tasks/main.yaml": ping("create db"),
    }
    play = load(tmp_path, files).plays[0]
    web, db, web81 = play.roles
    assert (web.name, web.path, web.params) == ("web", str(tmp_path / "roles" / "web"), {})
    assert (db.params, db.options.become, db.options.when, db.options.tags, db.options.vars) == (
        {"db_name": "app"},
        True,
        ["with_db"],
        ["db"],
        {"pool": 5},
    )
    assert web81.params == {"http_port": 81}
    assert names(play) == ["web : serve", "db : create db", "web : serve"]
    assert all(t.role is not None for t in iter_tasks(play))
    assert next(iter_tasks(play)).role is web


def test_role_files(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [app]\n",
        "roles/app/tasks/main": ping("bare main"),
        "roles/app/defaults/main/a.yml": "a: 1\nb: 1\n",
        "roles/app/defaults/main/b.yml": "b: 2\n",
        "roles/app/vars/main.json": '{"c": 3}',
        "roles/app/handlers/main.yml": ping("handler"),
    }
    [role] = load(tmp_path, files).plays[0].roles
    assert (role.defaults, role.vars) == ({"a": 1, "b": 2}, {"c": 3})
    assert [t.name for t in role.tasks] == ["bare main"]  # type: ignore[union-attr]
    assert [h.display_name for h in role.handlers] == ["app : handler"]


def test_role_found_next_to_the_playbook_and_in_roles_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "shared", {"galaxy_role/tasks/main.yml": ping("from galaxy")})
    write(tmp_path / "other", {"ans_role/tasks/main.yml": ping("from ansible path")})
    monkeypatch.setenv("ORCH_ROLES_PATH", f"{tmp_path}/nowhere:{tmp_path}/shared")
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", f"{tmp_path}/other")
    files = {
        "site.yml": "- hosts: all\n  roles: [local_role, galaxy_role, ans_role]\n",
        "local_role/tasks/main.yml": ping("next to the playbook"),
    }
    play = load(tmp_path, files).plays[0]
    assert names(play) == [
        "local_role : next to the playbook",
        "galaxy_role : from galaxy",
        "ans_role : from ansible path",
    ]


def test_role_not_found_lists_the_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_ROLES_PATH", "/opt/roles")
    files = {"site.yml": "- hosts: all\n  roles:\n    - nginx\n"}
    assert errors(tmp_path, files) == [
        f"site.yml:3:7: role 'nginx' not found; searched: roles, /opt/roles, {tmp_path}"
    ]


def test_role_entry_errors(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  roles:\n    - when: x\n    - [a]\n  tasks: []\n"}
    assert errors(tmp_path, files) == [
        "site.yml:3:7: a role entry needs 'role:' naming the role",
        "site.yml:4:7: a role entry must be a name or a mapping, got a list",
    ]


def test_role_dependencies_run_first_and_once(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [app, api]\n",
        "roles/app/meta/main.yml": "dependencies: [common, {role: users, admin: true}]\n",
        "roles/api/meta/main.yml": "dependencies:\n  - common\n  - role: users\n    admin: false\n",
        "roles/app/tasks/main.yml": ping("app"),
        "roles/api/tasks/main.yml": ping("api"),
        "roles/common/tasks/main.yml": ping("common"),
        "roles/users/tasks/main.yml": ping("users"),
    }
    play = load(tmp_path, files).plays[0]
    # common: same params -> once; users: different params -> twice
    assert names(play) == ["common : common", "users : users", "app : app", "users : users", "api : api"]
    assert [d.name for d in play.roles[1].dependencies] == ["users"]


def test_role_allow_duplicates(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [once, twice, once, twice]\n",
        "roles/once/tasks/main.yml": ping("once"),
        "roles/twice/tasks/main.yml": ping("twice"),
        "roles/twice/meta/main.yml": "allow_duplicates: true\n",
    }
    assert names(load(tmp_path, files).plays[0]) == ["once : once", "twice : twice", "twice : twice"]


def test_dependency_found_next_to_its_parent_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path / "lib",
        {"app/meta/main.yml": "dependencies: [helper]\n", "helper/tasks/main.yml": ping("h")},
    )
    monkeypatch.setenv("ORCH_ROLES_PATH", str(tmp_path / "lib"))
    assert names(load(tmp_path, {"site.yml": "- hosts: all\n  roles: [app]\n"}).plays[0]) == ["helper : h"]


def test_role_dependency_cycle(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [a]\n",
        "roles/a/meta/main.yml": "dependencies: [b]\n",
        "roles/b/meta/main.yml": "dependencies: [a]\n",
    }
    assert errors(tmp_path, files) == ["roles/b/meta/main.yml:1:16: role dependency cycle: a -> b -> a"]


def test_role_task_import_relative_to_role_tasks(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [app]\n",
        "roles/app/tasks/main.yml": "- import_tasks: sub/install.yml\n",
        "roles/app/tasks/sub/install.yml": "- import_tasks: steps.yml\n- import_tasks: other.yml\n",
        "roles/app/tasks/sub/steps.yml": ping("step"),
        "roles/app/tasks/other.yml": ping("other"),
    }
    assert names(load(tmp_path, files).plays[0]) == ["app : step", "app : other"]


def test_role_file_errors(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [app]\n",
        "roles/app/defaults/main.yml": "- a\n",
        "roles/app/meta/main.yml": "dependencies: nope\nfoo: 1\n",
        "roles/app/tasks/main.yml": "- ping:\n  whn: x\n",
    }
    assert errors(tmp_path, files) == [
        "roles/app/defaults/main.yml:1:1: defaults of role 'app' must be a mapping of variables, got a list",
        "roles/app/meta/main.yml:1:15: 'dependencies' must be a list of roles, got a string",
        "roles/app/tasks/main.yml:2:3: 'whn' is not a valid task keyword (did you mean 'when'?)",
    ]


def test_role_meta_unknown_key_warns(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  roles: [app]\n", "roles/app/meta/main.yml": "dependecies: []\n"}
    pb = load(tmp_path, files)
    assert pb.warnings == [
        f"{tmp_path}/roles/app/meta/main.yml:1:1: unknown key 'dependecies' in the meta of role 'app'"
        " (ignored)"
    ]


def test_end_role_inside_a_role(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  roles: [app]\n", "roles/app/tasks/main.yml": "- meta: end_role\n"}
    assert [t.args for t in iter_tasks(load(tmp_path, files).plays[0])] == [{"_raw_params": "end_role"}]


def test_templated_role_name(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  vars: {which: web}\n  roles: ['{{ which }}']\n",
        "roles/web/tasks/main.yml": "",
    }
    assert [r.name for r in load(tmp_path, files).plays[0].roles] == ["web"]


# --- import_role / include_role ------------------------------------------------------------------


def test_import_role(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - name: Set up web
              import_role:
                name: web
                tasks_from: install
              vars: {port: 81}
              when: web_enabled
          handlers:
            - name: own handler
              ping:
        """,
        "roles/web/tasks/main.yml": ping("main"),
        "roles/web/tasks/install.yml": ping("install"),
        "roles/web/meta/main.yml": "dependencies: [base]\n",
        "roles/base/tasks/main.yml": ping("base"),
        "roles/web/handlers/main.yml": ping("restart web"),
    }
    play = load(tmp_path, files).plays[0]
    [block] = play.tasks
    assert isinstance(block, Block)
    assert (block.name, block.options.when, block.options.vars) == ("Set up web", ["web_enabled"], {})
    assert names(play) == ["base : base", "web : install"]
    web_task = list(iter_tasks(play))[1]
    assert web_task.role is not None and web_task.role.params == {"port": 81}
    # imported role handlers come after the play's own and carry the import's keywords
    assert [(h.display_name, h.options.when) for h in play.handlers] == [
        ("own handler", []),
        ("web : restart web", ["web_enabled"]),
    ]


def test_import_role_twice_adds_handlers_once(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - import_role: name=web\n    - import_role: name=web\n",
        "roles/web/tasks/main.yml": ping("main"),
        "roles/web/handlers/main.yml": ping("restart web"),
    }
    play = load(tmp_path, files).plays[0]
    assert names(play) == ["web : main", "web : main"]
    assert [h.display_name for h in play.handlers] == ["web : restart web"]


def test_import_role_errors(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - import_role: {tasks_from: x}
            - import_role: {name: web, tasks_from: nope}
            - import_role: {name: web, tasks_frm: x}
            - import_role: name=web
              loop: [1]
        """,
        "roles/web/tasks/main.yml": ping("main"),
    }
    assert errors(tmp_path, files) == [
        "site.yml:3:7: import_role: 'name' is required (the role to run)",
        "site.yml:4:7: tasks_from: 'nope' not found in role 'web' (looked for tasks/nope, tasks/nope.yml,"
        " tasks/nope.yaml, tasks/nope.json)",
        "site.yml:5:32: import_role: unsupported parameter 'tasks_frm' (did you mean 'tasks_from'?)",
        "site.yml:7:7: import_role cannot loop (it is resolved at load time); use include_role",
    ]


def test_include_role(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - hosts: all
          tasks:
            - include_role:
                name: web
                tasks_from: install
                apply: {become: true}
                public: yes
              loop: [a, b]
            - include_role: name="{{ dynamic }}"
        """,
        "roles/web/tasks/install.yml": ping("install"),
    }
    first, second = load(tmp_path, files).plays[0].tasks
    assert isinstance(first, Task) and isinstance(second, Task)
    assert (first.action, first.args["name"], first.args["tasks_from"], first.args["public"]) == (
        "include_role",
        "web",
        "install",
        True,
    )
    assert first.args["apply"].become is True
    assert second.args == {"name": "{{ dynamic }}"}


def test_include_role_loaded_when_it_runs(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  tasks:\n    - include_role: name=nope\n    - include_role: {name: web}\n",
        "roles/web/tasks/main.yml": "- copy: {dst: /x}\n",
    }
    assert names(load(tmp_path, files).plays[0]) == ["include_role", "include_role"]


def test_role_including_itself(tmp_path: Path) -> None:
    files = {
        "site.yml": "- hosts: all\n  roles: [r]\n",
        "roles/r/tasks/main.yml": "- include_role: name=r\n  when: again | default(false)\n",
    }
    assert names(load(tmp_path, files).plays[0]) == ["r : include_role"]


def test_include_role_as_handler(tmp_path: Path) -> None:
    files = {"site.yml": "- hosts: all\n  handlers:\n    - include_role: name=x\n"}
    assert errors(tmp_path, files) == ["site.yml:3:7: include_role cannot be used as a handler"]


# --- import_playbook -----------------------------------------------------------------------------


def test_import_playbook(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - import_playbook: sub/deploy.yml
          when: do_deploy
          vars: {env: prod}
          tags: deploy
        - hosts: all
          name: after
        """,
        "sub/deploy.yml": "- hosts: web\n  vars: {env: dev, x: 1}\n  tags: [web]\n- import_playbook: ../last.yml\n",
        "last.yml": "- hosts: db\n",
    }
    pb = load(tmp_path, files)
    assert [p.hosts for p in pb.plays] == ["web", "db", "all"]
    web = pb.plays[0]
    assert (web.options.vars, web.options.tags, web.options.when) == (
        {"env": "prod", "x": 1},
        ["web", "deploy"],
        ["do_deploy"],
    )
    assert str(pb.plays[1].location) == f"{tmp_path}/last.yml:1:3"


def test_import_playbook_errors(tmp_path: Path) -> None:
    files = {
        "site.yml": """
        - import_playbook: nope.yml
        - import_playbook: self.yml
          hosts: all
        - import_playbook: self.yml
          become: true
        """,
        "self.yml": "- import_playbook: site.yml\n",
    }
    assert errors(tmp_path, files) == [
        "site.yml:1:20: import_playbook: file not found: 'nope.yml' (looked for nope.yml)",
        "site.yml:3:3: 'hosts' is not a valid import_playbook keyword",
        "self.yml:1:20: import_playbook: import cycle: site.yml -> self.yml -> site.yml",
    ]


def test_import_playbook_keyword_without_effect_warns(tmp_path: Path) -> None:
    files = {"site.yml": "- import_playbook: p.yml\n  become: true\n", "p.yml": "- hosts: all\n"}
    assert load(tmp_path, files).warnings == [
        f"{tmp_path}/site.yml:2:3: 'become' has no effect on import_playbook (Ansible ignores it too)"
    ]


# --- run-time loaders ----------------------------------------------------------------------------


def test_load_task_file_for_a_role(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "roles/app/tasks/extra.yml": "- name: extra\n  ping:\n- import_tasks: more.yml\n",
            "roles/app/tasks/more.yml": ping("more"),
        },
    )
    role = load_role("app", search_paths=role_search_paths(str(tmp_path)))
    items = load_task_file(str(tmp_path / "roles/app/tasks/extra.yml"), role=role)
    [extra, block] = items
    assert isinstance(extra, Task) and isinstance(block, Block)
    assert [extra.display_name, block.block[0].display_name] == ["app : extra", "app : more"]  # type: ignore[union-attr]
    assert block.role is role


def test_load_task_file_errors(tmp_path: Path) -> None:
    write(tmp_path, {"t.yml": "- ping:\n  whn: x\n- copy: {}\n"})
    with pytest.raises(PlaybookErrors) as info:
        load_task_file(str(tmp_path / "t.yml"))
    assert [str(e).replace(f"{tmp_path}/", "") for e in info.value.errors] == [
        "t.yml:2:3: 'whn' is not a valid task keyword (did you mean 'when'?)",
        "t.yml:3:3: copy: missing required parameter 'dest'",
    ]


def test_load_role_at_run_time(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "roles/web/tasks/main.yml": ping("main"),
            "roles/web/tasks/other.yml": ping("other"),
            "roles/web/vars/prod.yml": "x: 1\n",
            "roles/web/meta/main.yml": "dependencies: [base]\n",
            "roles/base/tasks/main.yml": ping("base"),
        },
    )
    role = load_role(
        "web",
        search_paths=role_search_paths(str(tmp_path)),
        params={"p": 1},
        tasks_from="other",
        vars_from="prod",
    )
    assert (role.name, role.params, role.vars) == ("web", {"p": 1}, {"x": 1})
    assert [t.name for t in role.tasks] == ["other"]  # type: ignore[union-attr]
    assert [d.name for d in role.dependencies] == ["base"]


def test_load_role_not_found(tmp_path: Path) -> None:
    with pytest.raises(PlaybookErrors, match="role 'ghost' not found; searched: /a, /b"):
        load_role("ghost", search_paths=["/a", "/b"])


def test_resolve_task_file(tmp_path: Path) -> None:
    write(tmp_path, {"tasks/a.yml": "", "b.yml": ""})
    current = str(tmp_path / "tasks" / "main.yml")
    assert resolve_task_file("a.yml", current=current, basedir=str(tmp_path)) == str(
        tmp_path / "tasks" / "a.yml"
    )
    assert resolve_task_file("b.yml", current=current, basedir=str(tmp_path)) == str(tmp_path / "b.yml")
    assert resolve_task_file("c.yml", current=current, basedir=str(tmp_path)) is None
