"""Settings from ansible.cfg and ANSIBLE_* variables, as Ansible reads them, in one table.

Which file: the first of $ANSIBLE_CONFIG (a file, or a directory holding ansible.cfg),
./ansible.cfg (skipped, with a warning, when the current directory is world-writable, as
Ansible does), ~/.ansible.cfg, /etc/ansible/ansible.cfg. Only that one file is read.

Precedence, as Ansible's: command line > environment variable > ansible.cfg > default. Relative
paths in ansible.cfg are relative to the file's directory; `~` is expanded. Unknown keys are
ignored silently; keys Ansible knows but orch does not use are listed by `orch config -v` and,
once per run, with `orch play -v`.

`orch config` prints every setting with its value and where it came from, like `orch explain`
does for variables.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import OrchError, SourceLocation

HOST_KEY_MODES = ("strict", "accept-new", "off")
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f", ""})


class ConfigError(OrchError):
    """An ansible.cfg that cannot be read, or a setting whose value has the wrong type."""


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false, yes/no, 1/0), got {text!r}")


def _host_key_checking(text: str) -> str:
    """Ansible's boolean, or one of orch's modes. True is orch's default, accept-new (Ansible
    would ask on a terminal; orch never prompts); strict refuses unknown keys."""
    word = text.strip().lower()
    if word in HOST_KEY_MODES:
        return word
    return "accept-new" if _bool(word) else "off"


@dataclass(frozen=True)
class Setting:
    name: str  # the ansible.cfg key; also the name `orch config` shows
    section: str  # the ansible.cfg section
    env: tuple[str, ...]  # environment variables, the first set wins (ORCH_* before ANSIBLE_*)
    kind: str  # str | int | float | bool | path | pathlist (",") | pathspec (os.pathsep)
    default: Any
    option: str = ""  # the command-line option that overrides it, for `orch config`
    description: str = ""
    convert: Callable[[str], Any] | None = None  # a special conversion instead of `kind`


# Every setting orch honours. Ansible's names and sections (ansible-core 2.19 config/base.yml).
SETTINGS: tuple[Setting, ...] = (
    Setting("inventory", "defaults", ("ORCH_INVENTORY", "ANSIBLE_INVENTORY"), "pathlist", [], "-i",
            "inventory sources used when no -i is given"),
    Setting("roles_path", "defaults", ("ANSIBLE_ROLES_PATH",), "pathspec",
            ["~/.ansible/roles", "/usr/share/ansible/roles", "/etc/ansible/roles"], "",
            "where roles are looked up after <playbook dir>/roles (ORCH_ROLES_PATH comes first)"),
    Setting("remote_user", "defaults", ("ANSIBLE_REMOTE_USER",), "str", None, "-u",
            "SSH login user (below ansible_user and the play's remote_user)"),
    Setting("remote_port", "defaults", ("ANSIBLE_REMOTE_PORT",), "int", None, "",
            "SSH port (below ansible_port)"),
    Setting("private_key_file", "defaults", ("ANSIBLE_PRIVATE_KEY_FILE",), "path", None, "--private-key",
            "SSH private key (below ansible_ssh_private_key_file)"),
    Setting("host_key_checking", "defaults", ("ORCH_HOST_KEY_CHECKING", "ANSIBLE_HOST_KEY_CHECKING"), "str",
            "accept-new", "--host-key-checking",
            "known_hosts policy: accept-new, strict or off (Ansible's True/False: accept-new/off)",
            _host_key_checking),
    Setting("forks", "defaults", ("ANSIBLE_FORKS",), "int", 50, "-f", "hosts handled at once"),
    Setting("timeout", "defaults", ("ANSIBLE_TIMEOUT",), "float", 10.0, "-T", "SSH connect timeout (seconds)"),
    Setting("module_name", "defaults", ("ANSIBLE_MODULE_NAME",), "str", "command", "-m",
            "the module of `orch run` when -m is not given"),
    Setting("vault_password_file", "defaults", ("ORCH_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_PASSWORD_FILE"),
            "path", None, "--vault-password-file", "vault password file or script"),
    Setting("ask_vault_pass", "defaults", ("ANSIBLE_ASK_VAULT_PASS",), "bool", False, "-J",
            "prompt for the vault password"),
    Setting("retry_files_enabled", "defaults", ("ANSIBLE_RETRY_FILES_ENABLED",), "bool", False, "",
            "write PLAYBOOK.retry listing the failed hosts (for --limit @PLAYBOOK.retry)"),
    Setting("retry_files_save_path", "defaults", ("ANSIBLE_RETRY_FILES_SAVE_PATH",), "path", None, "",
            "directory for .retry files (default: next to the playbook)"),
    Setting("become", "privilege_escalation", ("ANSIBLE_BECOME",), "bool", False, "-b", "run tasks with become"),
    Setting("become_method", "privilege_escalation", ("ANSIBLE_BECOME_METHOD",), "str", "sudo",
            "--become-method", "privilege escalation method"),
    Setting("become_user", "privilege_escalation", ("ANSIBLE_BECOME_USER",), "str", "root", "--become-user",
            "user to become"),
    Setting("become_ask_pass", "privilege_escalation", ("ANSIBLE_BECOME_ASK_PASS",), "bool", False, "-K",
            "ask for the become password"),
    Setting("cluster", "orch", ("ORCH_CLUSTER",), "str", None, "--cluster",
            "Dask scheduler address (tcp://host:8786, tls://...) or local:N: hosts' SSH work runs on "
            "its workers (pip install 'orch[cluster]'; docs/scaling.md)"),
    Setting("keep_connections", "ssh_connection", ("ORCH_KEEP_CONNECTIONS",), "float", 0.0,
            "--keep-connections",
            "orch: keep each host's SSH connection this many seconds after a run in a per-user "
            "background process, so the next run skips the login (0 = off)"),
    Setting("pipelining", "orch", ("ORCH_PIPELINING",), "bool", True, "--no-pipelining",
            "send runs of independent tasks to a host as one script, one round trip "
            "(docs/pipelining.md); false: each task by itself"),
    Setting("ssh_args", "ssh_connection", ("ANSIBLE_SSH_ARGS",), "str", "", "",
            "ssh options orch understands (-o ProxyJump/-J, UserKnownHostsFile, StrictHostKeyChecking); "
            "host variables ansible_ssh_common_args add to them"),
)  # fmt: skip
BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}

# ansible.cfg keys Ansible knows and orch does not use (shown with -v): pipelining and the ssh
# ControlPersist options are moot (orch keeps one connection per host for the whole run).
UNSUPPORTED: Mapping[str, str] = {
    "pipelining": "moot: one persistent shell per host",
    "control_path": "moot: one connection per host for the run",
    "control_path_dir": "moot: one connection per host for the run",
    "scp_if_ssh": "moot: files travel over the SSH session",
    "transfer_method": "moot: files travel over the SSH session",
    "ssh_executable": "orch speaks SSH itself (paramiko)",
    "sftp_batch_mode": "moot",
    "gathering": "not supported: use gather_facts in the play",
    "gather_subset": "not supported: use gather_subset in the play",
    "fact_caching": "not supported",
    "fact_caching_connection": "not supported",
    "fact_caching_timeout": "not supported",
    "stdout_callback": "not supported: orch has its own output (NO_COLOR for Ansible's text)",
    "callbacks_enabled": "not supported",
    "callback_whitelist": "not supported",
    "callback_plugins": "not supported",
    "strategy": "not supported: use strategy in the play",
    "strategy_plugins": "not supported",
    "hash_behaviour": "not supported: variables replace, as Ansible's default",
    "collections_path": "not supported: orch has its own modules",
    "collections_paths": "not supported: orch has its own modules",
    "library": "not supported: orch has its own modules",
    "module_utils": "not supported",
    "filter_plugins": "not supported",
    "lookup_plugins": "not supported",
    "action_plugins": "not supported",
    "connection_plugins": "not supported",
    "vars_plugins": "not supported",
    "inventory_plugins": "not supported",
    "enable_plugins": "not supported",
    "interpreter_python": "moot: targets need no Python",
    "ansible_managed": "not supported",
    "log_path": "not supported: use --json FILE",
    "nocows": "moot",
    "deprecation_warnings": "not supported",
    "command_warnings": "not supported",
    "localhost_warning": "not supported",
    "display_skipped_hosts": "not supported",
    "display_ok_hosts": "not supported",
    "poll_interval": "not supported",
    "internal_poll_interval": "not supported",
    "local_tmp": "not supported",
    "remote_tmp": "not supported",
    "become_flags": "not supported: use become_flags on the play or task",
    "become_exe": "not supported",
    "vault_identity_list": "not supported: use --vault-id",
    "vault_identity": "not supported",
    "any_errors_fatal": "not supported: use any_errors_fatal in the play",
    "max_fail_percentage": "not supported: use max_fail_percentage in the play",
    "force_handlers": "not supported: use --force-handlers",
    "private_role_vars": "not supported",
    "jinja2_native": "not supported",
    "error_on_undefined_vars": "not supported: undefined variables are always errors",
    "retries": "not supported",
    "usetty": "moot",
}


@dataclass
class Value:
    value: Any
    source: str  # "default", "env ANSIBLE_FORKS", "/p/ansible.cfg:4", "command line -f"


@dataclass
class Config:
    path: str | None = None  # the ansible.cfg read, if any
    values: dict[str, Value] = field(default_factory=dict)
    unsupported: list[tuple[str, str]] = field(default_factory=list)  # (key, file:line)
    warnings: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        return self.values[name].value

    def source(self, name: str) -> str:
        return self.values[name].source

    def override(self, name: str, value: Any, option: str) -> Any:
        """The command line's value when given (not None), else the configured one."""
        if value is not None and value != []:
            self.values[name] = Value(value, f"command line {option}")
        return self.get(name)


def find_config_file(environ: Mapping[str, str], cwd: str) -> tuple[str | None, list[str]]:
    """The ansible.cfg Ansible would read, and warnings (a world-writable cwd)."""
    warnings: list[str] = []
    named = environ.get("ANSIBLE_CONFIG")
    if named:
        path = os.path.expanduser(named)
        if os.path.isdir(path):
            path = os.path.join(path, "ansible.cfg")
        if os.path.isfile(path):
            return os.path.abspath(path), warnings
    local = os.path.join(cwd, "ansible.cfg")
    if os.path.isfile(local):
        try:
            world_writable = bool(os.stat(cwd).st_mode & stat.S_IWOTH)
        except OSError:
            world_writable = False
        if not world_writable:
            return local, warnings
        warnings.append(
            f"Ansible is being run in a world writable directory ({cwd}), ignoring it as an ansible.cfg source"
        )
    for path in (os.path.expanduser("~/.ansible.cfg"), "/etc/ansible/ansible.cfg"):
        if os.path.isfile(path):
            return path, warnings
    return None, warnings


def load(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> Config:
    env = os.environ if environ is None else environ
    cwd = os.getcwd() if cwd is None else cwd
    path, warnings = find_config_file(env, cwd)
    config = Config(path=path, warnings=warnings)
    file_values: dict[tuple[str, str], tuple[str, int]] = {}
    if path is not None:
        file_values = _read_cfg(path)
        known = {(s.section, s.name) for s in SETTINGS}
        for (section, key), (_, line) in file_values.items():
            if (section, key) not in known and key in UNSUPPORTED:
                config.unsupported.append((key, f"{path}:{line}"))
    for setting in SETTINGS:
        config.values[setting.name] = _resolve(setting, env, cwd, path, file_values)
    return config


def _resolve(
    setting: Setting,
    env: Mapping[str, str],
    cwd: str,
    path: str | None,
    file_values: Mapping[tuple[str, str], tuple[str, int]],
) -> Value:
    for name in setting.env:
        text = env.get(name)
        if text is not None and (text != "" or setting.kind == "str"):
            return Value(_convert(setting, text, cwd, f"environment variable {name}"), f"env {name}")
    found = file_values.get((setting.section, setting.name))
    if found is not None and path is not None:
        text, line = found
        where = f"{path}:{line}"
        return Value(_convert(setting, text, os.path.dirname(path), f"{where}: {setting.name}"), where)
    default = setting.default
    if setting.kind in ("pathlist", "pathspec"):
        default = [os.path.expanduser(p) for p in default]
    return Value(default, "default")


def _convert(setting: Setting, text: str, basedir: str, where: str) -> Any:
    try:
        if setting.convert is not None:
            return setting.convert(text)
        match setting.kind:
            case "int":
                return int(text.strip())
            case "float":
                return float(text.strip())
            case "bool":
                return _bool(text)
            case "path":
                return _path(text, basedir) if text.strip() else None
            case "pathlist":
                return [_path(p, basedir) for p in text.split(",") if p.strip()]
            case "pathspec":
                return [_path(p, basedir) for p in text.split(os.pathsep) if p.strip()]
            case _:
                return text.strip()
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _path(text: str, basedir: str) -> str:
    """Ansible's resolve_path: ~ expanded, relative to the config file (or cwd for env)."""
    path = os.path.expanduser(os.path.expandvars(text.strip()))
    return os.path.normpath(os.path.join(basedir, path))


def _read_cfg(path: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(section, key) -> (value, line) of an INI file, read as Ansible's configparser does."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",), strict=False)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        parser.read_string(text, source=path)
    except configparser.ParsingError as exc:
        line = getattr(exc, "lineno", 0) or (exc.errors[0][0] if exc.errors else 0)
        raise ConfigError(
            "not a valid INI file (`key = value` lines under [section] headers)", SourceLocation(path, line)
        ) from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", 0) or 0
        raise ConfigError(str(exc.message).splitlines()[0], SourceLocation(path, line)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read ansible.cfg: {exc}", SourceLocation(path)) from None
    lines = _key_lines(text)
    values: dict[tuple[str, str], tuple[str, int]] = {}
    for section in parser.sections():
        for key in parser.options(section):
            if key in parser.defaults() and not parser.has_option(section, key):
                continue
            try:
                value = parser.get(section, key)
            except configparser.InterpolationError:
                value = parser.get(section, key, raw=True)
            values[(section, key)] = (value, lines.get((section, key), 0))
    return values


_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^([^\s=:;#][^=:]*?)\s*[=:]")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """The line of each `key = value` (configparser forgets them): for `orch config` sources."""
    found: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        head = _SECTION.match(line)
        if head:
            section = head.group(1).strip()
            continue
        key = _KEY.match(line)
        if key:
            found[(section, key.group(1).strip().lower())] = number
    return found


_active: Config | None = None


def active() -> Config:
    """The run's configuration: the one the CLI loaded for this run, else read now (library use
    and tests, where the environment may change between calls)."""
    return _active if _active is not None else load()


def set_active(config: Config | None) -> None:
    global _active
    _active = config


def describe(config: Config, only_changed: bool = False, verbose: int = 0) -> list[str]:
    """`orch config` lines: NAME = VALUE  (source), then the unsupported keys with -v."""
    lines = [f"# ansible.cfg: {config.path or 'none found'}"]
    lines.extend(f"# warning: {w}" for w in config.warnings)
    width = max(len(s.name) for s in SETTINGS)
    for setting in SETTINGS:
        value = config.values[setting.name]
        if only_changed and value.source == "default":
            continue
        shown = _show(value.value)
        lines.append(f"{setting.name:<{width}} = {shown}  ({value.source})")
    if verbose and config.unsupported:
        lines.append("# ansible.cfg settings orch does not use:")
        lines.extend(f"#   {key} ({where}): {UNSUPPORTED[key]}" for key, where in config.unsupported)
    return lines


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
