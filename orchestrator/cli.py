"""The `orch` command: play, run (ad-hoc), inventory, explain, config, vault, lab.

Exit codes are listed in orchestrator/exitcodes.py (ansible-playbook's where it has one).
Imports of the engine happen inside the commands, so `orch --version` and `--help` stay fast.
Settings not given on the command line come from ansible.cfg / ANSIBLE_* (orchestrator/config.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from orchestrator import __version__
from orchestrator.exitcodes import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID

if TYPE_CHECKING:
    import argparse

    from orchestrator.errors import OrchError


def _inventory_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-i",
        "--inventory",
        action="append",
        default=[],
        metavar="INVENTORY",
        help="inventory file, directory, executable script or 'h1,h2,' list; may be given several "
        "times (default: ansible.cfg's inventory)",
    )


def _run_args(parser: argparse.ArgumentParser) -> None:
    """Options of play and run. Defaults of None mean: from ANSIBLE_* / ansible.cfg / orch's default."""
    import argparse

    from orchestrator.config import HOST_KEY_MODES

    _inventory_args(parser)
    parser.add_argument(
        "-l", "--limit", help="further limit hosts with a pattern (a,b  g:&h  !x  ~re  @file)"
    )
    parser.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="VARS",
        help="k=v pairs (Ansible's quoting), a JSON/YAML string, or @file; may be given several times",
    )
    parser.add_argument("-f", "--forks", type=int, help="hosts handled at once (default 50)")
    parser.add_argument("-u", "--user", help="connect as this user (below ansible_user / remote_user)")
    parser.add_argument("--private-key", "--key-file", dest="private_key", help="SSH private key file")
    parser.add_argument("-b", "--become", action="store_const", const=True, help="run with sudo")
    parser.add_argument("--become-user", help="become this user (default root)")
    parser.add_argument("--become-method", help="privilege escalation method (sudo)")
    parser.add_argument(
        "-K", "--ask-become-pass", action="store_const", const=True, help="ask for the sudo password"
    )
    parser.add_argument("-T", "--timeout", type=float, help="SSH connect timeout in seconds (default 10)")
    parser.add_argument(
        "--task-timeout",
        type=float,
        default=None,
        help="fail a task that runs longer than this many seconds (default: no limit)",
    )
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=None,
        metavar="MB",
        help="stop a template whose rendering grows orch past this many MB of memory and fail its "
        "host (default $ORCH_MEMORY_BUDGET_MB or 1024)",
    )
    parser.add_argument(
        "--ssh-alive",
        type=_alive_option,
        default=None,
        metavar="SECONDSxCOUNT",
        help="declare a host unreachable when COUNT keepalives sent every SECONDS of silence go "
        "unanswered (OpenSSH's ServerAliveInterval x ServerAliveCountMax; default 15x3, 0 = off)",
    )
    parser.add_argument(
        "--host-key-checking", choices=HOST_KEY_MODES, help="known_hosts policy (default accept-new)"
    )
    parser.add_argument("--known-hosts", help="known_hosts file (default ~/.ssh/known_hosts)")
    parser.add_argument(
        "--keep-connections",
        type=float,
        metavar="SECONDS",
        help="reuse SSH connections across runs: a per-user background process keeps each host's "
        "connection this long after the run (like ControlPersist; default 0 = off; `orch keeper`)",
    )
    parser.add_argument(
        "--no-pipelining",
        dest="pipelining",
        action="store_const",
        const=False,
        help="send each task to the host by itself instead of runs of independent tasks in one "
        "round trip (for debugging; ORCH_PIPELINING=0; docs/pipelining.md)",
    )
    parser.add_argument("-C", "--check", action="store_true", help="report what would change, change nothing")
    parser.add_argument("-D", "--diff", action="store_true", help="show the differences a change makes")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output (-vv, -vvv)")
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the hosts' SSH work on the Dask cluster at ADDRESS (tcp://host:8786, tls://...), "
        "or on local:N worker processes; the play's logic stays here (pip install 'orch[cluster]')",
    )
    parser.add_argument("--json", dest="json_path", metavar="FILE", help="write every result as JSON to FILE")
    parser.add_argument(
        "--stats", action="store_true", help="print connections, round trips and bytes per host"
    )
    parser.add_argument("--list-hosts", action="store_true", help="list the hosts each play would run on")
    parser.add_argument(
        "--retry",
        action="store_true",
        help="run only on the hosts that failed, were unreachable or were interrupted the last "
        "time this same command ran (see orch history)",
    )
    parser.add_argument("--retry-of", metavar="ID", help=argparse.SUPPRESS)  # used by `orch retry ID`
    _vault_args(parser)


def _alive_option(text: str) -> Any:
    import argparse

    from orchestrator.transport.liveness import AliveSettings

    try:
        return AliveSettings.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _vault_args(parser: argparse.ArgumentParser) -> None:
    from orchestrator.vault.cli import add_vault_args

    add_vault_args(parser)


def _command(
    sub: Any, name: str, help_text: str, description: str, examples: str, environment: str = ""
) -> argparse.ArgumentParser:
    from orchestrator import clihelp

    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=description, epilog=clihelp.epilog(examples, environment)
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    from orchestrator import clihelp
    from orchestrator.clihelp import Parser as _Parser

    parser = _Parser(
        prog="orch",
        description="Agentless orchestration: Ansible-style playbooks over SSH.",
        epilog=clihelp.epilog(
            "  orch play site.yml -i inventories/prod\n  orch run all -a uptime -o\n  orch COMMAND --help",
            clihelp.RUN_ENVIRONMENT,
        ),
    )
    parser.add_argument("--version", action="version", version=f"orch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    play = _command(
        sub,
        "play",
        "run a playbook",
        clihelp.PLAY_DESCRIPTION,
        clihelp.PLAY_EXAMPLES,
        clihelp.RUN_ENVIRONMENT,
    )
    play.add_argument("playbook", nargs="+", help="playbook file(s)")
    _run_args(play)
    play.add_argument("-t", "--tags", action="append", default=[], help="only run tasks with these tags")
    play.add_argument("--skip-tags", action="append", default=[], help="skip tasks with these tags")
    play.add_argument("--force-handlers", action="store_true", help="run notified handlers even on failure")
    play.add_argument("--list-tasks", action="store_true", help="list the tasks and stop")
    play.add_argument("--list-tags", action="store_true", help="list the tags and stop")
    play.add_argument(
        "--syntax-check",
        action="store_true",
        help="validate the playbook (and every template in it) and stop",
    )
    play.add_argument("--start-at-task", metavar="NAME", help="start at the first task with this name (glob)")
    play.add_argument("--step", action="store_true", help="confirm each task before it runs")
    play.set_defaults(func=cmd_play)

    run = _command(
        sub, "run", "run one module on hosts (ad-hoc)", clihelp.RUN_DESCRIPTION, clihelp.RUN_EXAMPLES,
        clihelp.RUN_ENVIRONMENT,
    )  # fmt: skip
    run.add_argument("pattern", help="host pattern, e.g. all, web, 'web:&prod'")
    _run_args(run)
    run.add_argument("-m", "--module-name", help="module (default command)")
    run.add_argument("-a", "--args", default="", help="module arguments: 'k=v k=v', free form, or JSON")
    run.add_argument("-o", "--one-line", action="store_true", help="one line per host")
    run.set_defaults(func=cmd_run)

    inv = _command(
        sub, "inventory", "show the inventory", clihelp.INVENTORY_DESCRIPTION, clihelp.INVENTORY_EXAMPLES
    )
    _inventory_args(inv)
    mode = inv.add_mutually_exclusive_group(required=True)
    mode.add_argument("--list", action="store_true", help="all hosts and groups as JSON")
    mode.add_argument("--graph", action="store_true", help="the group tree")
    mode.add_argument("--host", metavar="NAME", help="one host's variables as JSON")
    _vault_args(inv)
    inv.set_defaults(func=cmd_inventory)

    explain = _command(
        sub, "explain", "show a variable's value for a host and where it comes from",
        clihelp.EXPLAIN_DESCRIPTION, clihelp.EXPLAIN_EXAMPLES,
    )  # fmt: skip
    explain.add_argument("variable", help="variable name")
    explain.add_argument("playbook", nargs="?", help="playbook whose play vars, vars_files and roles count")
    explain.add_argument("--host", required=True, help="inventory host name")
    _inventory_args(explain)
    explain.add_argument("-l", "--limit", help="limit hosts as `orch play` would")
    explain.add_argument(
        "-e", "--extra-vars", action="append", default=[], metavar="VARS", help="as for play"
    )
    _vault_args(explain)
    explain.set_defaults(func=cmd_explain)

    config = _command(
        sub, "config", "show the settings from ansible.cfg and ANSIBLE_* and where each comes from",
        clihelp.CONFIG_DESCRIPTION, clihelp.CONFIG_EXAMPLES, clihelp.RUN_ENVIRONMENT,
    )  # fmt: skip
    config.add_argument("--only-changed", action="store_true", help="only settings not at their default")
    config.add_argument(
        "-v", "--verbose", action="count", default=0, help="also list unused ansible.cfg keys"
    )
    config.set_defaults(func=cmd_config)

    hist = _command(
        sub, "history", "list past runs, or show one (orch history show ID)",
        "Every orch play / orch run leaves a record (redacted, 0600) under $XDG_STATE_HOME/orch/runs "
        "(default ~/.local/state/orch/runs); the newest ORCH_HISTORY_KEEP (100) are kept.",
        "  orch history\n  orch history show            # the latest run\n  orch history show 20261207T0612",
    )  # fmt: skip
    hist.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    hist.add_argument("id", nargs="?", help="run id (a unique prefix will do; default the latest)")
    hist.add_argument("-n", type=int, default=20, help="how many runs to list (default 20)")
    hist.set_defaults(func=cmd_history)

    retry = _command(
        sub, "retry", "rerun a past run's command on its failed/unreachable/interrupted hosts only",
        "Reruns the command line of a recorded run (default: the latest), limited to the hosts that "
        "failed, were unreachable, were interrupted or never ran. Same as adding --retry to it.",
        "  orch retry\n  orch retry 20261207T0612",
    )  # fmt: skip
    retry.add_argument("id", nargs="?", help="run id (default the latest run)")
    retry.set_defaults(func=cmd_retry)

    keeper = _command(
        sub, "keeper", "show or stop the background process that keeps SSH connections across runs",
        "With --keep-connections SECONDS (or ORCH_KEEP_CONNECTIONS, or keep_connections in "
        "ansible.cfg's [ssh_connection]) runs leave each host's SSH connection with a per-user "
        "background process, which keeps it SECONDS after its last use. `orch keeper` lists what it "
        "holds; `orch keeper stop` closes every kept connection now.",
        "  orch keeper\n  orch keeper stop",
    )  # fmt: skip
    keeper.add_argument("action", nargs="?", choices=["status", "stop"], default="status")
    keeper.set_defaults(func=cmd_keeper)

    from orchestrator.lab.cli import register as register_lab
    from orchestrator.vault.cli import register as register_vault

    register_lab(sub)
    register_vault(sub)
    return parser


# -- shared option handling ------------------------------------------------------------------------


def parse_extra_vars(values: Sequence[str]) -> dict[str, Any]:
    """-e values (see orchestrator/extravars.py)."""
    from orchestrator.extravars import parse_extra_vars as parse

    return parse(values)


def _apply_config(args: argparse.Namespace) -> None:
    """Fill every option the command line left unset from ANSIBLE_* / ansible.cfg / defaults,
    recording the command line as the source of the others (for -v and `orch config`)."""
    from orchestrator import config

    cfg = config.active()
    for name, attr, option in (
        ("forks", "forks", "-f"),
        ("remote_user", "user", "-u"),
        ("private_key_file", "private_key", "--private-key"),
        ("timeout", "timeout", "-T"),
        ("keep_connections", "keep_connections", "--keep-connections"),
        ("pipelining", "pipelining", "--no-pipelining"),
        ("host_key_checking", "host_key_checking", "--host-key-checking"),
        ("become", "become", "-b"),
        ("become_user", "become_user", "--become-user"),
        ("become_method", "become_method", "--become-method"),
        ("become_ask_pass", "ask_become_pass", "-K"),
        ("module_name", "module_name", "-m"),
        ("ask_vault_pass", "ask_vault_pass", "-J"),
        ("cluster", "cluster", "--cluster"),
    ):
        if hasattr(args, attr):
            setattr(args, attr, cfg.override(name, getattr(args, attr), option))
    if getattr(args, "verbose", 0) and cfg.unsupported:
        keys = ", ".join(sorted({key for key, _ in cfg.unsupported}))
        print(f"[WARNING]: {cfg.path}: settings orch does not use: {keys} (`orch config -v` says why)",
              file=sys.stderr)  # fmt: skip


def _settings(args: argparse.Namespace) -> Any:
    import getpass

    from orchestrator import config, redact
    from orchestrator.executor.connections import ConnectionDefaults
    from orchestrator.executor.task_runner import RunSettings
    from orchestrator.templating import limits
    from orchestrator.transport.liveness import AliveSettings

    password = None
    if args.ask_become_pass:
        # a pipe (scripts, tests) gives the password on stdin; a terminal gets a hidden prompt
        password = (
            getpass.getpass("BECOME password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        )
        redact.add_secret(password)
    limits.set_memory_budget(args.memory_budget)
    cfg = config.active()
    return RunSettings(
        check=args.check,
        diff=args.diff,
        task_timeout=args.task_timeout,
        pipelining=bool(getattr(args, "pipelining", True)),
        connection=ConnectionDefaults(
            user=args.user,
            private_key_file=args.private_key,
            connect_timeout=args.timeout,
            host_key_checking=args.host_key_checking,
            known_hosts_file=args.known_hosts,
            become=args.become,
            become_user=args.become_user,
            become_method=args.become_method,
            become_password=password,
            port=cfg.get("remote_port"),
            ssh_args=cfg.get("ssh_args"),
            alive=args.ssh_alive or AliveSettings(),
            keep_connections=max(0.0, args.keep_connections or 0.0),
        ),
    )


def _load_inventory(args: argparse.Namespace) -> Any:
    from orchestrator import config
    from orchestrator.inventory import load_inventory

    sources = config.active().override("inventory", args.inventory, "-i")
    return load_inventory(sources)


def _check_vault_values(inventory: Any, basedir: str) -> None:
    """Every inline `!vault` value loaded (inventory, group_vars/host_vars, playbook, roles)
    decrypts with the given secrets: a wrong password stops here, before any host is contacted."""
    from orchestrator.vault import check_loaded_values

    inventory.add_vars_dir(basedir)  # group_vars/host_vars next to the playbook: read now, not mid-run
    check_loaded_values()


def _check_limit(inventory: Any, limit: str | None, pattern: str = "all") -> None:
    """Ansible's check: a --limit that leaves no host (of the inventory, or of the ad-hoc
    pattern) is an error, exit 1."""
    if not limit:
        return
    from orchestrator.inventory.limits import check_limit

    check_limit(inventory, limit, pattern)


def _reporters(
    args: argparse.Namespace, adhoc: bool, extra: Sequence[Any] = ()
) -> tuple[Callable[[Any], None], Callable[[], None]]:
    from orchestrator import redact
    from orchestrator.report import make_reporters

    reporters = make_reporters(
        json_path=args.json_path,
        verbosity=args.verbose,
        show_diff=args.diff,
        show_stats=getattr(args, "stats", False),
        adhoc="one-line" if adhoc and args.one_line else "minimal" if adhoc else None,
    )
    reporters = [*reporters, *extra]

    def emit(event: Any) -> None:
        event = redact.scrub_event(event)  # the one door to every output: secrets never pass
        for reporter in reporters:
            reporter.handle(event)

    def close() -> None:
        for reporter in reporters:
            reporter.close()

    return emit, close


def _execute(
    playbook: Any,
    inventory: Any,
    args: argparse.Namespace,
    tags: list[str],
    skip: list[str],
    force_handlers: bool,
    *,
    adhoc: bool = False,
) -> int:
    from orchestrator import history, redact
    from orchestrator.errors import OrchError
    from orchestrator.executor.runner import PlaybookRunner, RunOptions
    from orchestrator.interrupts import stop_cleanly_on_signals

    options = RunOptions(
        limit=args.limit,
        forks=args.forks,
        extra_vars=parse_extra_vars(args.extra_vars),
        tags=_split_tags(tags) or ["all"],
        skip_tags=_split_tags(skip),
        force_handlers=force_handlers,
        verbosity=args.verbose,
        settings=_settings(args),
        start_at_task=getattr(args, "start_at_task", None),
        step=_ask_step if getattr(args, "step", False) else None,
    )
    recorder = history.RunRecorder(
        command=args.command,
        argv=_recorded_argv(args),
        inventories=list(args.inventory or []),
        playbooks=[playbook.path] if not adhoc else [],
        extra_vars=options.extra_vars,
    )
    connections = _cluster_pool(args, inventory)  # None: connections live in this process
    emit, close = _reporters(args, adhoc, extra=[recorder])
    runner = PlaybookRunner(playbook, inventory, options, emit, connections)
    code, error = EXIT_INTERNAL, None
    signals = None
    try:
        with stop_cleanly_on_signals(runner.interrupt) as signals:
            code = runner.run()
    except OrchError as exc:  # the user's input, found only once the play started (vars_prompt)
        code = int(getattr(exc, "exit_code", EXIT_INVALID))
        for line in _error_lines(exc):
            print(redact.mask(line), file=sys.stderr)
    except Exception as exc:  # an orch bug: one line here, the traceback in the run record
        error = traceback.format_exc()
        print(
            f"ERROR: internal error ({type(exc).__name__}: {redact.mask(str(exc))}); "
            "the traceback is in the run record (orch history show)",
            file=sys.stderr,
        )
    finally:
        close()
        path = recorder.finish(code, error)
        if path is not None and args.verbose:
            print(f"run record: {path}", file=sys.stderr)
    if connections is not None and args.verbose:
        for address, hosts in connections.placed().items():
            print(f"cluster worker {address}: {len(hosts)} host(s) {', '.join(hosts)}", file=sys.stderr)
    if not adhoc:
        _write_retry_file(playbook.path, runner.stats)
    if signals is not None and signals.signaled:
        # A worker may still be stuck where no closed channel reaches (a connect in progress, a
        # template): everything is reported and recorded, so do not wait for it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    return code


def _cluster_pool(args: argparse.Namespace, inventory: Any) -> Any:
    """--cluster: the connection pool on the Dask workers (Dask is imported only here)."""
    address = getattr(args, "cluster", None)
    if not address:
        return None
    from orchestrator.cluster import PLACEMENT_VAR
    from orchestrator.cluster.connect import open_pool

    if getattr(args, "keep_connections", None):
        print("[WARNING]: --keep-connections has no effect with --cluster: the workers hold the "
              "connections, for this run", file=sys.stderr)  # fmt: skip

    def group_of(host: str) -> str | None:
        value = inventory.host_vars(host).get(PLACEMENT_VAR) if host in inventory.hosts else None
        return str(value) if value not in (None, "") else None

    return open_pool(address, group_of=group_of, threads=max(1, args.forks or 1))


def _recorded_argv(args: argparse.Namespace) -> list[str]:
    """The command line as `--retry` finds it again: without --retry / --retry-of."""
    out: list[str] = []
    skip = False
    for word in getattr(args, "raw_argv", None) or []:
        if skip:
            skip = False
        elif word == "--retry-of":
            skip = True
        elif word != "--retry" and not word.startswith("--retry-of="):
            out.append(word)
    return out


def _apply_retry(args: argparse.Namespace) -> int | None:
    """--retry / --retry-of ID: limit the run to the hosts the earlier run did not finish well.
    Returns an exit code when there is nothing to run."""
    from orchestrator import history
    from orchestrator.errors import OrchError

    run_id = getattr(args, "retry_of", None)
    if run_id is None and not getattr(args, "retry", False):
        return None
    record = history.load_record(run_id) if run_id else history.find_previous(_recorded_argv(args))
    if record is None:
        raise OrchError(
            f"no run {run_id!r} in the history" if run_id else "--retry: no earlier run of this command in the history"
        )
    hosts = history.retry_hosts(record)
    if not hosts:
        print(f"nothing to retry: every host of run {record['id']} finished well", file=sys.stderr)
        return 0
    print(f"retrying run {record['id']} on {len(hosts)} host(s): {', '.join(hosts)}", file=sys.stderr)
    args.limit = ",".join(hosts)
    return None


def _write_retry_file(playbook_path: str, stats: Any) -> None:
    """ansible.cfg retry_files_enabled: PLAYBOOK.retry lists the failed and unreachable hosts."""
    from orchestrator import config
    from orchestrator.retryfiles import write_retry_file

    cfg = config.active()
    if not cfg.get("retry_files_enabled"):
        return
    try:
        path = write_retry_file(playbook_path, stats, cfg.get("retry_files_save_path"))
    except OSError as exc:
        print(f"[WARNING]: could not write the retry file: {exc}", file=sys.stderr)
        return
    if path:
        print(f"\tto retry, use: --limit @{path}\n")


def _ask_step(task_name: str) -> str:
    """--step: ansible-playbook's question before each task."""
    sys.stdout.write(f"Perform task: TASK: {task_name} (N)o/(y)es/(c)ontinue: ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip() or "n"  # Enter (or end of input) means no, as in Ansible


def _split_tags(values: Sequence[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


# -- commands --------------------------------------------------------------------------------------


def cmd_play(args: argparse.Namespace) -> int:
    from orchestrator.playbook.loader import iter_tasks, list_tags, load_playbook

    extra = parse_extra_vars(args.extra_vars)
    inventory = _load_inventory(args)
    nothing = _apply_retry(args)
    if nothing is not None:
        return nothing
    if not (args.syntax_check or args.list_tasks or args.list_tags):
        _check_limit(inventory, args.limit)
    code = 0
    for path in args.playbook:
        playbook = load_playbook(path, extra_vars=extra)
        _check_vault_values(inventory, playbook.basedir)
        if args.syntax_check:
            from orchestrator.playbook.syntax import check_templates

            check_templates(playbook)
            print(f"playbook: {path}")
            continue
        if args.list_hosts or args.list_tasks or args.list_tags:
            _print_listing(playbook, inventory, args, iter_tasks, list_tags)
            continue
        code = max(code, _execute(playbook, inventory, args, args.tags, args.skip_tags, args.force_handlers))
    return code


def _print_listing(
    playbook: Any, inventory: Any, args: argparse.Namespace, iter_tasks: Any, list_tags: Any
) -> None:
    """--list-hosts / --list-tasks / --list-tags, in ansible-playbook's layout."""
    from orchestrator.executor.runner import listed_tasks

    print(f"\nplaybook: {playbook.path}")
    for number, play in enumerate(playbook.plays, 1):
        hosts = inventory.select(play.hosts, args.limit)
        play_tags = ",".join(sorted(play.options.tags))
        print(f"\n  play #{number} ({play.hosts}): {play.name}\tTAGS: [{play_tags}]")
        if args.list_hosts:
            print(f"    pattern: {play.hosts.split(',')!r}\n    hosts ({len(hosts)}):")
            for host in hosts:
                print(f"      {host.name}")
        # ansible-playbook: --list-tags without --tags/--skip-tags counts `never` tasks too
        tags, skip = _split_tags(args.tags), _split_tags(args.skip_tags)
        if args.list_tags and not (tags or skip):
            tags = ["never", "all"]
        tasks = listed_tasks(play, tags, skip)
        if args.list_tasks:
            print("    tasks:")
            for name, tags in tasks:
                print(f"      {name}\tTAGS: [{', '.join(tags)}]")
        if args.list_tags:
            all_tags = sorted(set(play.options.tags).union(*(set(tags) for _, tags in tasks)))
            print(f"      TASK TAGS: [{', '.join(all_tags)}]")


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator.errors import SourceLocation
    from orchestrator.playbook.loader import load_adhoc_task
    from orchestrator.playbook.model import Play, Playbook

    inventory = _load_inventory(args)
    nothing = _apply_retry(args)
    if nothing is not None:
        return nothing
    _check_limit(inventory, args.limit, args.pattern)
    if args.list_hosts:
        hosts = inventory.select(args.pattern, args.limit)
        print(f"  hosts ({len(hosts)}):")
        for host in hosts:
            print(f"    {host.name}")
        return 0
    from orchestrator.playbook.taskargs import short_action

    if short_action(args.module_name) in ("command", "shell", "raw", "script") and not args.args.strip():
        from orchestrator.errors import OptionsError

        raise OptionsError(
            f"the {short_action(args.module_name)} module needs a command line: give it with -a, "
            f"e.g. orch run {args.pattern} -a 'uptime'"
        )
    task = load_adhoc_task(args.module_name, args.args, basedir=os.getcwd())
    _check_vault_values(inventory, os.getcwd())
    play = Play(
        name=f"Ad-hoc: {args.module_name}",
        hosts=args.pattern,
        location=SourceLocation("<command line>"),
        gather_facts=False,
        tasks=[task],
    )
    playbook = Playbook(path=os.path.join(os.getcwd(), "<ad-hoc>"), plays=[play])
    return _execute(playbook, inventory, args, [], [], False, adhoc=True)


def cmd_inventory(args: argparse.Namespace) -> int:
    from orchestrator import redact
    from orchestrator.inventory import inventory_graph, inventory_host_vars, inventory_list_json
    from orchestrator.jsontext import dumps_indented  # json.dumps(indent=4, sort_keys=True, default=str)
    from orchestrator.yamlsource import gc_paused

    inventory = _load_inventory(args)
    if args.list:
        # scrub: secret-named values and known secrets show as ******** (vault values as a marker).
        # No cyclic GC while the (acyclic) output is built: 100,000 hosts make that costly.
        with gc_paused():
            listing = redact.scrub(inventory_list_json(inventory))
            print(dumps_indented(listing))
    elif args.graph:
        print(inventory_graph(inventory))
    else:
        if inventory.get_host(args.host) is None:
            from orchestrator.errors import OrchError

            raise OrchError(f"no host named {args.host!r} in the inventory")
        host_vars = redact.scrub(inventory_host_vars(inventory, args.host))
        print(dumps_indented(host_vars))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """`orch explain VAR --host H [playbook]`: every layer defining VAR, lowest first, and the winner."""
    import json

    from orchestrator import redact
    from orchestrator.errors import OrchError
    from orchestrator.executor.runner import PlaybookRunner, RunOptions
    from orchestrator.playbook.loader import load_playbook
    from orchestrator.playbook.model import Playbook

    extra = parse_extra_vars(args.extra_vars)
    inventory = _load_inventory(args)
    if inventory.get_host(args.host) is None:
        raise OrchError(f"no host named {args.host!r} in the inventory")
    if args.playbook:
        playbook = load_playbook(args.playbook, extra_vars=extra)
    else:
        playbook = Playbook(path=os.path.join(os.getcwd(), "<no playbook>"), plays=[])
    _check_vault_values(inventory, playbook.basedir)
    options = RunOptions(limit=args.limit, extra_vars=extra)
    runner = PlaybookRunner(playbook, inventory, options, lambda event: None)
    sources, value = runner.explain(args.variable, args.host)
    if not sources:
        print(
            f"{args.variable} is not defined for {args.host} (before the run: facts, set_fact and "
            "register are only known while a playbook runs)"
        )
        return 1
    shown = (
        f"error: {value}" if isinstance(value, OrchError) else json.dumps(redact.scrub(value), default=str)
    )
    layer, where, _ = sources[-1]
    print(f"{args.variable} = {shown}")
    print(f"  from the {layer} layer: {where}")
    if len(sources) > 1:
        print("  overrides (lowest precedence first):")
        for layer, where, raw in sources[:-1]:
            print(f"    {layer}: {where} = {json.dumps(redact.scrub(raw), default=str)}")
    return 0


def cmd_keeper(args: argparse.Namespace) -> int:
    """`orch keeper [status|stop]`: the connections kept across runs."""
    from orchestrator.transport.kept import keeper_request

    answer = keeper_request(args.action)
    if answer is None:
        print("no connection keeper is running")
        return 0
    if args.action == "stop":
        print("connection keeper stopped; its connections are closed")
        return 0
    kept = answer.get("connections", [])
    print(f"connection keeper (pid {answer.get('pid')}): {len(kept)} connection(s) kept")
    for entry in sorted(kept, key=lambda e: e["host"]):
        print(
            f"  {entry['host']}  {entry['login']}  channels {entry['channels']}  "
            f"idle {entry['idle']:g} s of {entry['persist']:g} s"
        )
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    """`orch config`: the effective settings and where each comes from."""
    from orchestrator import config

    for line in config.describe(config.active(), only_changed=args.only_changed, verbose=args.verbose):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["--version"]:  # answered before the subcommands (vault, lab) are even imported
        print(f"orch {__version__}")
        return 0
    parser = build_parser()
    args = parser.parse_args(words)
    args.raw_argv = words
    from orchestrator import config, redact
    from orchestrator.errors import OrchError

    redact.guard_process_output()  # tracebacks and log records mask secrets too
    try:
        # ansible.cfg, read once for the run; not for `lab` (a broken project config must not block it)
        config.set_active(None if args.command == "lab" else config.load())
        if hasattr(args, "forks"):  # play and run
            _apply_config(args)
        if args.command != "lab":
            from orchestrator import vault

            vault.install()  # `!vault` values and vaulted files in every YAML this run reads
        if hasattr(args, "vault_ids") and not hasattr(args, "vault_command"):
            from orchestrator.vault.cli import configure as configure_vault

            configure_vault(args)  # play/run: passwords read now, values decrypted when used
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\n[ERROR]: User interrupted execution", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OrchError as exc:
        for line in _error_lines(exc):
            print(redact.mask(line), file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_INVALID))
    except BrokenPipeError:  # `orch history | head`: the reader is gone, nothing more to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, UnicodeError, RecursionError) as exc:
        # What a value given on the command line or in a file can still cause while loading
        # (before any host is touched): the input is invalid, say so in one line.
        print(f"ERROR: invalid input: {redact.mask(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:
        # An orch bug outside a run (a run records its own): one line, the traceback with -vvv.
        if getattr(args, "verbose", 0) >= 3:
            traceback.print_exc()
        print(
            f"ERROR: internal error ({type(exc).__name__}: {redact.mask(str(exc))}); -vvv shows the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        config.set_active(None)  # the run's settings end with it (library use, in-process tests)


def cmd_history(args: argparse.Namespace) -> int:
    from orchestrator import history
    from orchestrator.errors import OrchError

    if args.action == "show" or args.id:
        record = history.load_record(args.id)
        if record is None:
            raise OrchError(f"no run {args.id!r} in the history ({history.runs_dir()})")
        print(history.render_record(record))
        return 0
    records = history.list_records()[-max(1, args.n) :]
    if not records:
        print(f"no runs recorded yet ({history.runs_dir()})")
        return 0
    rows = [["ID", "STARTED", "PLAYBOOK", "HOSTS ok/chg/fail/unr", "EXIT", "TIME"]]
    rows += [history.summary_line(r) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from orchestrator import history, redact
    from orchestrator.errors import OrchError

    record = history.load_record(args.id)
    if record is None:
        raise OrchError(f"no run {args.id!r} in the history" if args.id else "no runs in the history yet")
    argv = list(record.get("argv") or [])
    if not argv or argv[0] not in ("play", "run"):
        raise OrchError(f"run {record['id']} cannot be retried (command {record.get('command')!r})")
    if any(redact.MASK in word for word in argv):
        raise OrchError(
            f"the command line of run {record['id']} held secrets (masked in the record); "
            "run it again yourself with --retry added"
        )
    if record.get("cwd") and os.path.isdir(record["cwd"]):
        os.chdir(record["cwd"])
    return main([*argv, "--retry-of", str(record["id"])])


def _error_lines(exc: OrchError) -> list[str]:
    """`ERROR: file:line:col: message`, then the offending source line and a caret (as Ansible)."""
    from orchestrator.errors import source_excerpt

    errors = getattr(exc, "errors", None) or [exc]
    return [line for e in errors for line in (f"ERROR: {e}", *source_excerpt(getattr(e, "location", None)))]


if __name__ == "__main__":
    sys.exit(main())
