"""Where vault passwords come from, and the keyring that tries them.

Sources, as ansible-vault takes them:
  --vault-password-file PATH     a file holding the password (surrounding whitespace stripped),
                                 or an executable that prints it; `*-client` scripts get
                                 `--vault-id LABEL` (ansible's client-script convention)
  --vault-id [LABEL@]SOURCE      SOURCE is such a file/script, or `prompt`; LABEL names the id
  --ask-vault-pass               prompt once (id `default`)
  ORCH_VAULT_PASSWORD            the password itself (id `default`), for CI
  ORCH_VAULT_PASSWORD_FILE, ANSIBLE_VAULT_PASSWORD_FILE   a password file or script
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from orchestrator import redact
from orchestrator.errors import SourceLocation, VaultError
from orchestrator.vault.format import DEFAULT_ID, Envelope, WrongPassword, decrypt_payload, parse_envelope

_HINT = "give one with --vault-password-file, --vault-id, --ask-vault-pass or ORCH_VAULT_PASSWORD"


def ask(prompt: str) -> str:
    """A hidden prompt on a terminal; from a pipe (scripts, CI, tests) one line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


@dataclass(frozen=True)
class VaultSecret:
    vault_id: str
    password: bytes = field(repr=False)  # never in a repr or traceback
    source: str  # where it came from, for messages: a path, "prompt", "$ORCH_VAULT_PASSWORD"


@dataclass
class Keyring:
    """The secrets of one run, in the order given; decrypts with the best matching one."""

    secrets: list[VaultSecret] = field(default_factory=list)

    def add(self, secret: VaultSecret) -> None:
        if not secret.password:
            raise VaultError(f"the vault password from {secret.source} is empty")
        redact.add_secret(secret.password.decode("utf-8", "replace"))
        self.secrets.append(secret)

    def candidates(self, vault_id: str | None) -> list[VaultSecret]:
        """Secrets to try: those labelled with the envelope's id first, then the rest."""
        first = [s for s in self.secrets if vault_id and s.vault_id == vault_id]
        return first + [s for s in self.secrets if s not in first]

    def decrypt(self, data: str | bytes, where: str | SourceLocation | None = None) -> tuple[bytes, Envelope]:
        """Plaintext of a vault envelope; VaultError naming `where` when no secret fits."""
        location = where if isinstance(where, SourceLocation) else SourceLocation(where) if where else None
        try:
            envelope = parse_envelope(data)
        except VaultError as exc:
            raise VaultError(exc.message, location) from None
        if not self.secrets:
            raise VaultError(f"cannot decrypt vault data: no vault secret was given; {_HINT}", location)
        for secret in self.candidates(envelope.vault_id):
            try:
                return decrypt_payload(envelope, secret.password), envelope
            except WrongPassword:
                continue
            except VaultError as exc:
                raise VaultError(exc.message, location) from None
        tried = ", ".join(f"{s.vault_id} ({s.source})" for s in self.secrets)
        label = f" (vault id {envelope.vault_id!r})" if envelope.vault_id else ""
        raise VaultError(
            f"cannot decrypt vault data{label}: wrong password, none of the given secrets fit [tried {tried}]",
            location,
        )

    def for_encrypt(self, vault_id: str | None = None) -> VaultSecret:
        """The secret to encrypt with: the one labelled `vault_id`, or the only one given."""
        if not self.secrets:
            raise VaultError(f"no vault secret to encrypt with; {_HINT}")
        if vault_id:
            for secret in self.secrets:
                if secret.vault_id == vault_id:
                    return secret
            raise VaultError(f"--encrypt-vault-id {vault_id!r}: no --vault-id with that label was given")
        ids = {s.vault_id for s in self.secrets}
        if len(ids) > 1:
            raise VaultError(
                f"several vault ids given ({', '.join(sorted(ids))}): choose one with --encrypt-vault-id"
            )
        return self.secrets[0]


def split_vault_id(value: str) -> tuple[str, str]:
    """`label@source` -> (label, source); a bare source gets the `default` label."""
    label, sep, source = value.partition("@")
    if not sep:
        return DEFAULT_ID, value
    if not label or not source:
        raise VaultError(f"--vault-id {value!r}: expected LABEL@SOURCE (SOURCE a file, a script or 'prompt')")
    return label, source


def read_password_source(
    source: str, vault_id: str = DEFAULT_ID, prompt: Callable[[str], str] = ask
) -> VaultSecret:
    """One secret from `prompt`, a password file, or an executable that prints the password."""
    if source == "prompt":
        label = "" if vault_id == DEFAULT_ID else f" ({vault_id})"
        text = prompt(f"Vault password{label}: ")
        return VaultSecret(vault_id, text.encode("utf-8"), "prompt")
    path = os.path.expanduser(source)
    if not os.path.exists(path):
        raise VaultError(f"vault password file {source} does not exist")
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return VaultSecret(vault_id, _run_script(path, vault_id), path)
    try:
        with open(path, "rb") as handle:
            password = handle.read().strip()
    except OSError as exc:
        raise VaultError(f"cannot read vault password file {source}: {exc.strerror}") from None
    return VaultSecret(vault_id, password, path)


def _run_script(path: str, vault_id: str) -> bytes:
    stem = os.path.splitext(os.path.basename(path))[0]
    path = os.path.abspath(path)  # a bare name would be looked up in $PATH, not here
    command = [path, "--vault-id", vault_id] if stem.endswith("-client") else [path]
    try:
        # stderr passes through so scripts can prompt; stdout is the password, never shown.
        done = subprocess.run(command, stdout=subprocess.PIPE, check=False)
    except OSError as exc:
        raise VaultError(f"cannot run vault password script {path}: {exc.strerror}") from None
    if done.returncode != 0:
        raise VaultError(f"vault password script {path} exited with status {done.returncode}")
    return done.stdout.strip(b"\r\n")


def build_keyring(
    *,
    password_files: Iterable[str] = (),
    vault_ids: Iterable[str] = (),
    ask: bool = False,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] = ask,
) -> Keyring:
    """Every secret the options and the environment name, in that order."""
    env = os.environ if environ is None else environ
    keyring = Keyring()
    for path in password_files:
        keyring.add(read_password_source(path, DEFAULT_ID, prompt))
    for value in vault_ids:
        label, source = split_vault_id(value)
        keyring.add(read_password_source(source, label, prompt))
    if ask:
        keyring.add(read_password_source("prompt", DEFAULT_ID, prompt))
    if env.get("ORCH_VAULT_PASSWORD"):
        keyring.add(
            VaultSecret(DEFAULT_ID, env["ORCH_VAULT_PASSWORD"].encode("utf-8"), "$ORCH_VAULT_PASSWORD")
        )
    for name in ("ORCH_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_PASSWORD_FILE"):
        if env.get(name):
            keyring.add(read_password_source(env[name], DEFAULT_ID, prompt))
    return keyring
