"""`orch vault create|edit|view|encrypt|decrypt|rekey|encrypt_string`, and the vault options
that `orch play` and `orch run` share.

Files are written atomically: a temp file created 0600 in the target's directory, filled,
given its final mode, then renamed over the target. Plaintext being edited lives in a private
0700 directory and is overwritten before it is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from orchestrator.errors import VaultError
from orchestrator.vault import (
    decrypt_file_text,
    encrypt_bytes,
    get_keyring,
    is_encrypted,
    parse_envelope,
    set_keyring,
)
from orchestrator.vault.secrets import (
    Keyring,
    VaultSecret,
    build_keyring,
    read_password_source,
    split_vault_id,
)

Handler = Callable[[argparse.Namespace], int]


def add_vault_args(parser: argparse.ArgumentParser, encrypting: bool = False) -> None:
    """The password options (shared by play, run and every vault subcommand)."""
    group = parser.add_argument_group("vault")
    group.add_argument(
        "--vault-password-file",
        "--vault-pass-file",
        dest="vault_password_files",
        action="append",
        default=[],
        metavar="FILE",
        help="vault password file, or an executable that prints the password",
    )
    group.add_argument(
        "--vault-id",
        dest="vault_ids",
        action="append",
        default=[],
        metavar="[LABEL@]SOURCE",
        help="a labelled vault secret; SOURCE is a file, a script or 'prompt'; may be repeated",
    )
    group.add_argument(
        "-J",
        "--ask-vault-pass",
        "--ask-vault-password",
        dest="ask_vault_pass",
        action="store_true",
        help="prompt for the vault password",
    )
    if encrypting:
        group.add_argument(
            "--encrypt-vault-id",
            metavar="LABEL",
            help="the vault id to encrypt with (when several are given)",
        )


def configure(args: argparse.Namespace) -> Keyring:
    """Read every secret the options and environment give and make it the process keyring."""
    from orchestrator import config

    files = list(getattr(args, "vault_password_files", []) or [])
    cfg = config.active()
    # ansible.cfg's vault_password_file (its ORCH_/ANSIBLE_ variables are read by build_keyring)
    if cfg.get("vault_password_file") and not cfg.source("vault_password_file").startswith("env "):
        files.append(cfg.get("vault_password_file"))
    if cfg.get("ask_vault_pass") and cfg.source("ask_vault_pass") != "default":
        args.ask_vault_pass = True
    keyring = build_keyring(
        password_files=files,
        vault_ids=getattr(args, "vault_ids", []) or [],
        ask=bool(getattr(args, "ask_vault_pass", False)),
    )
    set_keyring(keyring)
    return keyring


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from orchestrator import clihelp

    vault = subparsers.add_parser(
        "vault",
        help="encrypt, decrypt and edit ansible-vault files",
        description=clihelp.VAULT_DESCRIPTION,
        epilog=clihelp.epilog(clihelp.VAULT_EXAMPLES, clihelp.VAULT_ENVIRONMENT),
    )
    sub = vault.add_subparsers(dest="vault_command", metavar="COMMAND", required=True)

    def command(
        name: str, func: Handler, help_text: str, encrypting: bool = False
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        add_vault_args(parser, encrypting)
        parser.set_defaults(func=_with_keyring(func))
        return parser

    p = command("create", _create, "create a new encrypted file in $EDITOR", encrypting=True)
    p.add_argument("file")
    p = command("edit", _edit, "edit an encrypted file in $EDITOR", encrypting=True)
    p.add_argument("file")
    p = command("view", _view, "print the plaintext of encrypted files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p = command("encrypt", _encrypt, "encrypt files in place (or to --output)", encrypting=True)
    p.add_argument("files", nargs="*", metavar="FILE", help="files ('-' or none: stdin)")
    p.add_argument("--output", metavar="FILE", help="write here instead of in place ('-': stdout)")
    p = command("decrypt", _decrypt, "decrypt files in place (or to --output)")
    p.add_argument("files", nargs="*", metavar="FILE", help="files ('-' or none: stdin)")
    p.add_argument("--output", metavar="FILE", help="write here instead of in place ('-': stdout)")
    p = command("rekey", _rekey, "re-encrypt files with a new password")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--new-vault-password-file", metavar="FILE", help="the new password file or script")
    p.add_argument("--new-vault-id", metavar="[LABEL@]SOURCE", help="the new labelled secret")
    p = command(
        "encrypt_string", _encrypt_string, "encrypt a value for a `!vault |` YAML entry", encrypting=True
    )
    p.add_argument("strings", nargs="*", metavar="STRING", help="values (none: read stdin)")
    p.add_argument("-n", "--name", action="append", default=[], help="variable name for each value")
    p.add_argument("-p", "--prompt", action="store_true", help="prompt for the value")
    p.add_argument("--stdin-name", metavar="NAME", help="variable name for the value read from stdin")


def _with_keyring(func: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        configure(args)
        return func(args)

    return run


# -- file helpers ----------------------------------------------------------------------------------


def write_atomic(path: str, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data`: temp file 0600 beside it, final mode, fsync, rename.

    `mode` None keeps the mode of an existing file (0600 for a new one): never wider than asked,
    not even while the temp file is being filled.
    """
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o600
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".orch-vault-", dir=directory)  # mkstemp: O_EXCL, 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise VaultError(f"cannot read {path}: {exc.strerror}") from None


def _write(path: str, data: bytes, mode: int | None = None) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_atomic(path, data, mode)


def _encrypt(args: argparse.Namespace) -> int:
    secret = get_keyring().for_encrypt(args.encrypt_vault_id)
    files = args.files or ["-"]
    if args.output and len(files) > 1:
        raise VaultError("--output takes one input file")
    for path in files:
        data = _read(path)
        if is_encrypted(data[:64]):
            raise VaultError(f"{path} is already encrypted")
        _write(args.output or path, _encrypt_with(secret, data))
        if (args.output or path) != "-":
            print("Encryption successful", file=sys.stderr)
    return 0


def _encrypt_with(secret: VaultSecret, data: bytes) -> bytes:
    return encrypt_bytes(data, secret.password, secret.vault_id).encode("ascii")


def _decrypt(args: argparse.Namespace) -> int:
    files = args.files or ["-"]
    if args.output and len(files) > 1:
        raise VaultError("--output takes one input file")
    for path in files:
        plain = decrypt_file_text(_read(path), path if path != "-" else "<stdin>")
        _write(args.output or path, plain)
        if (args.output or path) != "-":
            print("Decryption successful", file=sys.stderr)
    return 0


def _view(args: argparse.Namespace) -> int:
    for path in args.files:
        sys.stdout.buffer.write(decrypt_file_text(_read(path), path))
    sys.stdout.flush()
    return 0


def _rekey(args: argparse.Namespace) -> int:
    if args.new_vault_id:
        label, source = split_vault_id(args.new_vault_id)
    elif args.new_vault_password_file:
        label, source = "default", args.new_vault_password_file
    else:
        label, source = "default", "prompt"
    new = read_password_source(source, label)
    if not new.password:
        raise VaultError("the new vault password is empty")
    for path in args.files:
        data = _read(path)
        plain, envelope = get_keyring().decrypt(data, path)
        # Keep the file's label unless a new one was given (ansible-vault does the same).
        vault_id = label if args.new_vault_id else envelope.vault_id
        write_atomic(path, encrypt_bytes(plain, new.password, vault_id).encode("ascii"))
    print("Rekey successful", file=sys.stderr)
    return 0


def _editor() -> list[str]:
    return shlex.split(os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi")


def _edit_plaintext(initial: bytes, suffix: str) -> bytes:
    """Let the user edit `initial` in $EDITOR; the plaintext lives in a private 0700 dir."""
    workdir = tempfile.mkdtemp(prefix="orch-vault-")  # mkdtemp: 0700
    path = os.path.join(workdir, "edit" + suffix)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(initial)
        done = subprocess.run([*_editor(), path], check=False)
        if done.returncode != 0:
            raise VaultError(f"the editor exited with status {done.returncode}; nothing was saved")
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        with contextlib.suppress(OSError):
            size = os.path.getsize(path)
            with open(path, "r+b") as handle:  # overwrite before unlinking: no plaintext on disk
                handle.write(b"\0" * size)
                handle.flush()
                os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(workdir)


def _create(args: argparse.Namespace) -> int:
    if os.path.exists(args.file):
        raise VaultError(f"{args.file} exists; use `orch vault edit` to change it")
    secret = get_keyring().for_encrypt(args.encrypt_vault_id)
    plain = _edit_plaintext(b"", os.path.splitext(args.file)[1])
    write_atomic(args.file, _encrypt_with(secret, plain), 0o600)
    return 0


def _edit(args: argparse.Namespace) -> int:
    data = _read(args.file)
    plain, envelope = get_keyring().decrypt(data, args.file)
    edited = _edit_plaintext(plain, os.path.splitext(args.file)[1])
    if edited == plain:
        return 0  # unchanged: keep the file (and its salt) as it was
    vault_id = args.encrypt_vault_id or envelope.vault_id
    secret = get_keyring().for_encrypt(vault_id) if vault_id else get_keyring().for_encrypt()
    write_atomic(args.file, _encrypt_with(secret, edited))
    return 0


def format_encrypted_string(ciphertext: str, name: str | None = None) -> str:
    """The YAML ansible-vault encrypt_string prints: `name: !vault |` and the indented envelope."""
    body = "\n".join("          " + line for line in ciphertext.rstrip("\n").splitlines())
    return f"{name}: !vault |\n{body}" if name else f"!vault |\n{body}"


def _encrypt_string(args: argparse.Namespace) -> int:
    import getpass

    secret = get_keyring().for_encrypt(args.encrypt_vault_id)
    values: list[tuple[str | None, bytes]] = []
    if args.prompt:
        values.append((args.name[0] if args.name else None, getpass.getpass("String to encrypt: ").encode()))
    elif args.strings:
        names = args.name + [None] * (len(args.strings) - len(args.name))
        values.extend(
            (name, value.encode("utf-8", "surrogateescape"))
            for name, value in zip(names, args.strings, strict=False)
        )
    else:
        if sys.stdin.isatty():
            print("Reading plaintext input from stdin. (ctrl-d to end input)", file=sys.stderr)
        values.append((args.stdin_name or (args.name[0] if args.name else None), sys.stdin.buffer.read()))
    for name, value in values:
        if not value:
            raise VaultError("refusing to encrypt an empty string")
        print(format_encrypted_string(encrypt_bytes(value, secret.password, secret.vault_id), name))
    print("Encryption successful", file=sys.stderr)
    return 0


def envelope_label(data: bytes) -> str | None:
    return parse_envelope(data).vault_id
