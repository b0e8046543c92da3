"""`orch lab ...`: start throwaway Debian hosts on this machine to try playbooks on."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from orchestrator.errors import OrchError
from orchestrator.lab.fleet import DEFAULT_INVENTORY, MAX_HOSTS, LabFleet, LabHost

Handler = Callable[[argparse.Namespace], int]

_DESCRIPTION = """\
Real Debian 12 servers on this machine, for trying playbooks before production. Each host hN
has its own copy-on-write root (overlayfs), namespaces and OpenSSH server on NET.(10+N):22.
Logins: root, deploy (passwordless sudo) and ops (sudo password ops-pass), all with the lab's key.
Needs root on Linux. State: $ORCH_LAB_DIR (default /var/tmp/orch-lab); NET: $ORCH_LAB_NET
(default 127.0.2).

Files a host changed live in $ORCH_LAB_DIR/hosts/hN/up (the overlayfs upper directory: only
what differs from the shared image); `orch lab reset N` empties it, `orch lab down` removes it."""


_EPILOG = """\
examples:
  orch lab up 3                          h1..h3, inventory in inventories/lab/hosts.yml
  orch play site.yml -i inventories/lab
  orch lab reset 2                       h2 back to pristine
  orch lab down

exit codes:
  0   done
  1   the lab could not do it (the reason is printed)
  2   no subcommand given (this help is printed)
  130 interrupted (Ctrl-C)

environment:
  ORCH_LAB_DIR   state directory (default /var/tmp/orch-lab)
  ORCH_LAB_NET   first three parts of the hosts' addresses (default 127.0.2)"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `lab` and its subcommands; each sets func(args) -> exit code."""
    lab = subparsers.add_parser(
        "lab",
        help="start throwaway local Debian hosts to try playbooks on",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lab.add_argument(
        "--state-dir", metavar="DIR", help="lab state directory (default: $ORCH_LAB_DIR or /var/tmp/orch-lab)"
    )
    lab.add_argument(
        "--net", metavar="A.B.C", help="first three parts of the hosts' addresses (default: 127.0.2)"
    )
    lab.set_defaults(func=_usage(lab))
    sub = lab.add_subparsers(title="commands", metavar="COMMAND")

    up = sub.add_parser("up", help="start hosts h1..hN (running ones are kept) and write an inventory")
    up.add_argument("n", type=_host_count, metavar="N", help="number of hosts")
    up.add_argument("--no-python", action="store_true", help="remove python3 from the hosts started now")
    up.add_argument(
        "--shared-apt",
        action="store_true",
        help="share one apt package cache between hosts (faster installs)",
    )
    up.add_argument(
        "--inventory",
        "-i",
        "--output",
        "-o",
        dest="inventory",
        metavar="PATH",
        help=f"where to write the inventory (default: {DEFAULT_INVENTORY}); -o/--output also work",
    )
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop every host and remove its state (the image is kept)")
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="list the hosts and whether they run")
    status.set_defaults(func=_status)

    for name, func, text in (
        ("kill", _kill, "stop host I abruptly, keeping its files (a dead server)"),
        ("revive", _revive, "start a killed host I again with its files"),
        ("stop", _stop, "freeze host I (SIGSTOP of all its processes): a hung server, for fault drills"),
        ("cont", _cont, "thaw host I frozen by `stop`"),
        ("reset", _reset, "wipe everything host I changed and start it fresh"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("i", type=_host_index, metavar="I", help="host number (h1 is 1)")
        cmd.set_defaults(func=func)

    inventory = sub.add_parser("inventory", help="write a YAML inventory of the running hosts")
    inventory.add_argument(
        "--inventory",
        "-i",
        "--output",
        "-o",
        dest="output",
        metavar="PATH",
        help=f"file to write, - for stdout (default: {DEFAULT_INVENTORY}); -o/--output also work",
    )
    inventory.set_defaults(func=_inventory)

    image = sub.add_parser(
        "image",
        help="build a lab Docker image offline (postgres, redis, nginx, app stand-ins); print its tarball",
        description="Build orch-lab/NAME:VERSION from Debian's packages as a `docker load` tarball "
        "(cached; the first build takes 2-3 minutes) and print its path. Images: docs/lab-images.md.",
    )
    image.add_argument(
        "refs",
        nargs="*",
        metavar="NAME:VERSION",
        help="for example postgres:15 or catalogizer-api:1.0.0; several: one tarball holding them all",
    )
    image.add_argument(
        "--out",
        metavar="DIR",
        help="directory for the tarball (default: $ORCH_LAB_IMAGE_CACHE or ~/.cache/orch/lab-images)",
    )
    image.add_argument("--list", action="store_true", help="list the image names")
    image.set_defaults(func=_image)


def _fleet(args: argparse.Namespace) -> LabFleet:
    return LabFleet(args.state_dir, args.net, progress=lambda message: print(message, file=sys.stderr))


def _guard(run: Handler) -> Handler:
    """Lab errors become one clear line and exit code 1, not a traceback."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except OrchError as exc:
            print(f"orch lab: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("orch lab: interrupted", file=sys.stderr)
            return 130

    wrapper.__name__ = run.__name__
    wrapper.__doc__ = run.__doc__
    return wrapper


def _print_hosts(hosts: list[LabHost]) -> None:
    for host in hosts:
        print(f"{host.name:<5} {host.address:<15} {'running' if host.running else 'stopped'}")


@_guard
def _up(args: argparse.Namespace) -> int:
    fleet = _fleet(args)
    started = time.monotonic()
    hosts = fleet.up(args.n, no_python=args.no_python, shared_apt=args.shared_apt)
    elapsed = time.monotonic() - started
    path = fleet.write_inventory(args.inventory)
    _print_hosts(hosts)
    print(
        f"orch lab: {len(hosts)} hosts up in {elapsed:.1f}s; inventory {path}; key {fleet.key_path}\n"
        f"  try: orch play PLAYBOOK -i {path}    or: ssh -i {fleet.key_path} "
        f"-o UserKnownHostsFile={fleet.known_hosts_path} root@{hosts[0].address}",
        file=sys.stderr,
    )
    return 0


@_guard
def _down(args: argparse.Namespace) -> int:
    fleet = _fleet(args)
    count = len(fleet.indices())
    fleet.down()
    print(f"orch lab: {count} hosts stopped and removed (image kept in {fleet.image_dir})", file=sys.stderr)
    return 0


@_guard
def _status(args: argparse.Namespace) -> int:
    hosts = _fleet(args).status()
    if not hosts:
        print("orch lab: no hosts (start some with `orch lab up N`)", file=sys.stderr)
    _print_hosts(hosts)
    return 0


@_guard
def _kill(args: argparse.Namespace) -> int:
    _fleet(args).kill(args.i)
    print(f"orch lab: h{args.i} killed (its files are kept; `orch lab revive {args.i}`)", file=sys.stderr)
    return 0


@_guard
def _stop(args: argparse.Namespace) -> int:
    _fleet(args).stop(args.i)
    print(f"orch lab: h{args.i} frozen (`orch lab cont {args.i}` thaws it)", file=sys.stderr)
    return 0


@_guard
def _cont(args: argparse.Namespace) -> int:
    _fleet(args).cont(args.i)
    print(f"orch lab: h{args.i} running again", file=sys.stderr)
    return 0


@_guard
def _revive(args: argparse.Namespace) -> int:
    _print_hosts([_fleet(args).revive(args.i)])
    return 0


@_guard
def _reset(args: argparse.Namespace) -> int:
    _print_hosts([_fleet(args).reset(args.i)])
    return 0


@_guard
def _inventory(args: argparse.Namespace) -> int:
    fleet = _fleet(args)
    if args.output == "-":
        import yaml

        sys.stdout.write(yaml.safe_dump(fleet.inventory(), sort_keys=False))
        return 0
    path = fleet.write_inventory(args.output)
    running = sum(h.running for h in fleet.status())
    print(f"orch lab: wrote {path} ({running} running hosts)", file=sys.stderr)
    return 0


@_guard
def _image(args: argparse.Namespace) -> int:
    from orchestrator.lab import images

    if args.list:
        print("\n".join(sorted(images.IMAGES)))
        return 0
    if not args.refs:
        print("orch lab image: error: give NAME:VERSION (or --list)", file=sys.stderr)
        return 2
    refs = [images.parse_ref(ref) for ref in args.refs]
    print(images.build_bundle(refs, args.out, progress=lambda message: print(message, file=sys.stderr)))
    return 0


def _usage(parser: argparse.ArgumentParser) -> Handler:
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _host_count(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= MAX_HOSTS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_HOSTS}")
    return value


def _host_index(text: str) -> int:
    # Accept `3` and `h3`: status prints names.
    return _host_count(text[1:] if text.startswith("h") else text)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestrator.lab ...`: the lab alone, without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="orch")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lab", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
