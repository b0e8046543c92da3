"""YAML loading that remembers where every mapping, list and string came from.

Every loaded dict/list/str is a subclass carrying `.location` (file:line:col), so the playbook
and inventory validators can point at the exact key. Loading follows YAML 1.1 like Ansible
(`yes`/`no` are booleans, so existing playbooks keep working), but each such scalar is recorded
so validators can warn where a string was probably meant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import OrchError, SourceLocation
from orchestrator.redact import add_secret, looks_secret

_YAML11_WORDS = {"yes", "no", "on", "off", "y", "n"}


class Located:
    location: SourceLocation | None = None


class LocatedDict(dict, Located):  # type: ignore[type-arg]
    pass


class LocatedList(list, Located):  # type: ignore[type-arg]
    pass


class LocatedStr(str, Located):
    __slots__ = ("location",)


@dataclass
class YamlNotes:
    """Side information gathered while loading one document."""

    # (location, original text) of every `yes`/`no`/`on`/`off` that became a boolean
    yaml11_booleans: list[tuple[SourceLocation, str]] = field(default_factory=list)


def location_of(value: Any) -> SourceLocation | None:
    return getattr(value, "location", None)


# Constructors for custom tags (e.g. `!vault`), registered by the vault module. Each takes the
# scalar text and its location and returns the value to store.
TAG_CONSTRUCTORS: dict[str, Callable[[str, SourceLocation], Any]] = {}

# Whole-file decryption (file text, path) -> plain text, registered by the vault module: a
# vaulted YAML file (role vars, -e @file) loads like a plain one.
FILE_DECRYPTOR: Callable[[str, str], str] | None = None


def _make_loader(path: str, notes: YamlNotes) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def mark(node: yaml.Node) -> SourceLocation:
        return SourceLocation(path, node.start_mark.line + 1, node.start_mark.column + 1)

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LocatedDict:
        loader.flatten_mapping(node)
        result = LocatedDict()
        result.location = mark(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError as exc:
                hint = (
                    " (a value starting with '{{' must be quoted: \"{{ ... }}\")"
                    if isinstance(key, dict)
                    else ""
                )
                raise OrchError(f"a mapping key must be a plain value{hint}", mark(key_node)) from exc
            if key in result:
                # Ansible warns and keeps the last; a duplicate key is nearly always a mistake.
                raise OrchError(f"duplicate key {key!r}", mark(key_node))
            value = loader.construct_object(value_node, deep=True)
            if isinstance(value, str) and looks_secret(key) and "{{" not in value:
                add_secret(value)  # known as secret from the start: masked even in a diff's "before"
            result[key] = value
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LocatedList:
        result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
        result.location = mark(node)
        return result

    def construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> LocatedStr:
        result = LocatedStr(loader.construct_scalar(node))
        result.location = mark(node)
        return result

    def construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
        text = str(node.value)
        if text.lower() in _YAML11_WORDS:
            notes.yaml11_booleans.append((mark(node), text))
        return bool(yaml.SafeLoader.construct_yaml_bool(loader, node))

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    Loader.add_constructor("tag:yaml.org,2002:str", construct_str)
    Loader.add_constructor("tag:yaml.org,2002:bool", construct_bool)
    for tag, build in TAG_CONSTRUCTORS.items():
        Loader.add_constructor(
            tag, lambda loader, node, build=build: build(loader.construct_scalar(node), mark(node))
        )
    return Loader


def load_yaml_text(
    text: str, path: str, error: type[OrchError] = OrchError, notes: YamlNotes | None = None
) -> Any:
    """Parse one YAML document; syntax errors become `error` with file:line:col."""
    notes = notes if notes is not None else YamlNotes()
    try:
        return yaml.load(text, Loader=_make_loader(path, notes))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceLocation(path, mark.line + 1, mark.column + 1) if mark else SourceLocation(path)
        problem = exc.problem or exc.context or "invalid YAML"
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        raise error(f"YAML syntax error: {problem}{_yaml_hint(problem, line)}", where) from None
    except yaml.YAMLError as exc:
        raise error(f"YAML error: {exc}", SourceLocation(path)) from None
    except OrchError as exc:
        raise error(exc.message, exc.location) from None


def load_yaml_file(
    path: str | Path, error: type[OrchError] = OrchError, notes: YamlNotes | None = None
) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", SourceLocation(str(p))) from None
    except UnicodeDecodeError:
        raise error("file is not valid UTF-8", SourceLocation(str(p))) from None
    if text.startswith("$ANSIBLE_VAULT;") and FILE_DECRYPTOR is not None:
        text = FILE_DECRYPTOR(text, str(p))
    return load_yaml_text(text, str(p), error, notes)


# PyYAML's words, said in the user's terms: (fragment of the problem, hint).
_HINTS = (
    (
        "mapping values are not allowed",
        "a value holds ': ' (quote the whole value) or the indentation is off",
    ),
    ("cannot start any token", "YAML indentation must use spaces, not tabs"),
    ("could not find expected ':'", "a line has no 'key:' or a quote is not closed"),
    ("did not find expected key", "this line's indentation does not match the lines above it"),
    ("expected <block end>", "this line's indentation does not match the lines above it"),
    ("did not find expected '-' indicator", "a list item is not aligned with the items above it"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("found undefined alias", "a *alias names no &anchor"),
)


def _yaml_hint(problem: str, line: str) -> str:
    value = line.split(":", 1)[1].strip() if ":" in line else line.strip().lstrip("- ")
    if value.startswith("{{"):  # Ansible's most common YAML trap
        return f" (a value starting with '{{{{' must be quoted: \"{value}\")"
    for fragment, hint in _HINTS:
        if fragment in problem:
            return f" ({hint})"
    return ""
