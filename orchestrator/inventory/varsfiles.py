"""group_vars/ and host_vars/ directories, and the one place vars files are read.

Lookup follows Ansible's host_group_vars plugin: for an entity `web` in `<dir>/group_vars/` the
first of `web` (file or directory), `web.yml`, `web.yaml`, `web.json` that exists is used; a
directory contributes every file in it (recursively, sorted, skipping hidden files and `~`
backups, only the extensions above or none), merged in that order. Empty files add nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import InventoryError, SourceLocation
from orchestrator.yamlsource import load_yaml_text, location_of

VARS_EXTENSIONS = (".yml", ".yaml", ".json")
VAULT_HEADER = "$ANSIBLE_VAULT;"


# Whole-file vault decryption, (file text, path) -> plain text; registered by the vault module
# through set_vault_decryptor, the way it registers `!vault` in yamlsource.TAG_CONSTRUCTORS.
_vault_decryptor: Callable[[str, str], str] | None = None


def set_vault_decryptor(decrypt: Callable[[str, str], str] | None) -> None:
    global _vault_decryptor
    _vault_decryptor = decrypt


def kind_of(value: Any) -> str:
    """The YAML name of a value's type, for error messages."""
    for kind, name in ((dict, "mapping"), (list, "list"), (str, "string")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def read_source_text(path: str) -> str:
    """Read an inventory or vars file as text, decrypting it when it is a vault file."""
    try:
        with open(path, encoding="utf-8-sig") as fh:  # -sig: tolerate a BOM
            text = fh.read()
    except OSError as exc:
        raise InventoryError(f"cannot read file: {exc.strerror}", SourceLocation(path)) from None
    except UnicodeDecodeError:
        raise InventoryError("file is not valid UTF-8", SourceLocation(path)) from None
    if text.startswith(VAULT_HEADER):
        if _vault_decryptor is None:
            raise InventoryError(
                "file is vault-encrypted and no vault secret is available", SourceLocation(path)
            )
        text = _vault_decryptor(text, path)
    return text


def read_vars_file(path: str) -> dict[str, Any]:
    """A YAML/JSON vars file as a dict (keys keep their file:line:col); empty file -> {}."""
    data = load_yaml_text(read_source_text(path), path, error=InventoryError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(
            f"a vars file must hold a mapping of variable names to values, not a {kind_of(data)}",
            location_of(data) or SourceLocation(path),
        )
    for key in data:
        if not isinstance(key, str):
            raise InventoryError(f"variable names must be strings, got {key!r}", location_of(data))
    return data


@dataclass(frozen=True)
class VarsFile:
    path: str
    vars: dict[str, Any]
    locations: dict[str, SourceLocation]  # where each variable is set, for `orch explain`

    @classmethod
    def read(cls, path: str) -> VarsFile:
        data = read_vars_file(path)
        return cls(path, data, {key: location_of(key) or SourceLocation(path) for key in data})


def _dir_files(path: str) -> list[str]:
    found = []
    for name in sorted(os.listdir(path)):
        if name.startswith(".") or name.endswith("~"):
            continue
        full = os.path.join(path, name)
        ext = os.path.splitext(name)[1]
        if os.path.isdir(full) and not ext:
            found.extend(_dir_files(full))
        elif os.path.isfile(full) and (not ext or ext in VARS_EXTENSIONS):
            found.append(full)
    return found


class VarsDirectory:
    """The group_vars/ and host_vars/ next to one inventory source or playbook.

    Each subdirectory is listed once and each file read once, so looking up 1000 hosts costs
    one listdir, not 4000 stat calls.
    """

    def __init__(self, basedir: str, origin: str) -> None:
        self.basedir = basedir
        self.origin = origin  # "inventory" or "playbook", used in `explain` descriptions
        self._listings: dict[str, set[str]] = {}
        self._files: dict[str, VarsFile] = {}

    def _listing(self, kind: str) -> set[str]:
        if kind not in self._listings:
            path = os.path.join(self.basedir, kind)
            self._listings[kind] = set(os.listdir(path)) if os.path.isdir(path) else set()
        return self._listings[kind]

    def lists(self, kind: str) -> bool:
        """Whether the `kind` subdirectory (group_vars or host_vars) has any entry at all."""
        return bool(self._listing(kind))

    def files_for(self, kind: str, name: str) -> list[VarsFile]:
        """The vars files for entity `name`, kind being "group_vars" or "host_vars", in merge order."""
        listing = self._listing(kind)
        if not listing:
            return []
        for ext in ("", *VARS_EXTENSIONS):
            if name + ext in listing:
                path = os.path.join(self.basedir, kind, name + ext)
                paths = _dir_files(path) if os.path.isdir(path) else [path]
                return [self._read(p) for p in paths]
        return []

    def _read(self, path: str) -> VarsFile:
        if path not in self._files:
            self._files[path] = VarsFile.read(path)
        return self._files[path]
