"""YAML loading that remembers where every mapping, list and string came from.

Every loaded dict/list/str is a subclass carrying `.location` (file:line:col), so the playbook
and inventory validators can point at the exact key. Loading follows YAML 1.1 like Ansible
(`yes`/`no` are booleans, so existing playbooks keep working), but each such scalar is recorded
so validators can warn where a string was probably meant.

Built for big files (a 100,000-host inventory is 7-17 MB of YAML):
* The parser is libyaml's when PyYAML has it, as in Ansible; the pure-Python scanner is ~10x
  slower. libyaml words some syntax errors more tersely ("found character that cannot start any
  token"), so a document it rejects is parsed again by the pure-Python parser, whose message
  (naming the character) is the one shown.
* Values are built straight from the parser's events, without PyYAML's node tree, which took
  more memory than the values themselves (~380 bytes a node). What that path leaves alone (merge
  keys `<<`, explicit collection tags such as `!!set`, aliases into an unfinished collection,
  duplicate keys, several documents) makes it stop, and PyYAML's node-based loader, with the same
  constructors, loads the document or reports its error as before.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# libyaml's parser with PyYAML's safe constructors, or the pure-Python loader without libyaml.
_FAST_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_PLAIN_DECIMAL = re.compile(r"[1-9][0-9]*|0")  # int(text) is what YAML 1.1 makes of these
_MAP_TAG = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
_SEQ_TAG = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
# Scalar tags whose meaning is structural (they act on the mapping around them): node path only.
_STRUCTURAL_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")


class _NeedsNodes(Exception):
    """The event path met something it leaves to PyYAML's node-based loader."""


def _make_loader(
    path: str, notes: YamlNotes, base: type[yaml.SafeLoader] = _FAST_BASE
) -> type[yaml.SafeLoader]:
    class Loader(base):  # type: ignore[valid-type,misc]
        pass

    def mark(node: yaml.Node | yaml.Event) -> SourceLocation:
        return SourceLocation(path, node.start_mark.line + 1, node.start_mark.column + 1)

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        # Plain strings, most of a document, skip the generic constructor's bookkeeping (which
        # exists for aliases and recursion; a string has neither worth tracking).
        if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return construct_str(loader, node)
        return loader.construct_object(node, deep=True)

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LocatedDict:
        loader.flatten_mapping(node)
        result = LocatedDict()
        result.location = mark(node)
        for key_node, value_node in node.value:
            key = construct(loader, key_node)
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
            value = construct(loader, value_node)
            if isinstance(value, str) and looks_secret(key) and "{{" not in value:
                add_secret(value)  # known as secret from the start: masked even in a diff's "before"
            result[key] = value
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LocatedList:
        result = LocatedList(construct(loader, child) for child in node.value)
        result.location = mark(node)
        return result

    def construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> LocatedStr:
        result = LocatedStr(
            node.value if isinstance(node, yaml.ScalarNode) else loader.construct_scalar(node)
        )
        result.location = mark(node)
        return result

    def construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
        text = str(node.value)
        if text.lower() in _YAML11_WORDS:
            notes.yaml11_booleans.append((mark(node), text))
        return bool(yaml.SafeLoader.construct_yaml_bool(loader, node))

    def build_from_events(loader: yaml.SafeLoader) -> Any:
        """The document's value, built event by event (what the node-based loader would return)."""
        anchors: dict[str, Any] = {}
        get_event = loader.get_event
        constructors = loader.yaml_constructors
        # The resolver's work for a plain scalar without its call per scalar: the implicit
        # resolvers for its first character, then the wildcard ones (Resolver.resolve's order).
        # Path resolvers (none in the safe loader) would make it ask the loader each time.
        implicit_resolvers = loader.yaml_implicit_resolvers
        wildcard_resolvers = implicit_resolvers.get(None, [])
        path_resolvers = bool(loader.yaml_path_resolvers)
        # SafeConstructor's int of a plain decimal (no sign, _, base prefix, octal 0 or ':').
        plain_ints = constructors.get(_INT_TAG) is yaml.constructor.SafeConstructor.construct_yaml_int

        def scalar_tag(event: yaml.ScalarEvent) -> str:
            if path_resolvers:
                return str(loader.resolve(yaml.ScalarNode, event.value, event.implicit))
            if event.implicit[0]:
                text = event.value
                for tag, regexp in implicit_resolvers.get(text[:1], []) + wildcard_resolvers:
                    if regexp.match(text):
                        return str(tag)
            return _STR_TAG

        def value_of(event: yaml.Event) -> Any:
            kind = type(event)
            if kind is yaml.AliasEvent:
                if event.anchor not in anchors:  # undefined, or its collection is still open
                    raise _NeedsNodes
                return anchors[event.anchor]
            anchor = event.anchor
            if anchor is not None and anchor in anchors:
                raise _NeedsNodes  # a duplicate anchor: the composer's error
            tag = event.tag
            value: Any
            if kind is yaml.ScalarEvent:
                if tag is None or tag == "!":
                    tag = scalar_tag(event)
                if tag == _STR_TAG:  # most scalars: what construct_str makes, without a node
                    value = LocatedStr(event.value)
                    start = event.start_mark
                    value.location = SourceLocation(path, start.line + 1, start.column + 1)
                elif tag == _INT_TAG and plain_ints and _PLAIN_DECIMAL.fullmatch(event.value):
                    value = int(event.value)
                elif tag in constructors and tag not in _STRUCTURAL_TAGS:
                    node = yaml.ScalarNode(
                        tag, event.value, event.start_mark, event.end_mark, style=event.style
                    )
                    value = constructors[tag](loader, node)
                else:
                    raise _NeedsNodes
            elif kind is yaml.MappingStartEvent:
                if tag is None or tag == "!":
                    tag = (
                        loader.resolve(yaml.MappingNode, None, event.implicit) if path_resolvers else _MAP_TAG
                    )
                if tag != _MAP_TAG:
                    raise _NeedsNodes
                value = LocatedDict()
                value.location = mark(event)
                while type(key_event := get_event()) is not yaml.MappingEndEvent:
                    key = value_of(key_event)
                    if type(key).__hash__ is None or key in value:  # unhashable, or a duplicate
                        raise _NeedsNodes
                    item = value_of(get_event())
                    if isinstance(item, str) and looks_secret(key) and "{{" not in item:
                        add_secret(item)  # as construct_mapping does
                    value[key] = item
            elif kind is yaml.SequenceStartEvent:
                if tag is None or tag == "!":
                    tag = (
                        loader.resolve(yaml.SequenceNode, None, event.implicit)
                        if path_resolvers
                        else _SEQ_TAG
                    )
                if tag != _SEQ_TAG:
                    raise _NeedsNodes
                value = LocatedList()
                value.location = mark(event)
                while type(item_event := get_event()) is not yaml.SequenceEndEvent:
                    value.append(value_of(item_event))
            else:
                raise _NeedsNodes
            if anchor is not None:
                anchors[anchor] = value
            return value

        get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        get_event()  # document start
        data = value_of(get_event())
        get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            raise _NeedsNodes  # another document: the loader's error
        return data

    Loader.build_from_events = build_from_events  # type: ignore[attr-defined]
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
    noted = len(notes.yaml11_booleans)
    try:
        try:
            return _load(text, path, notes, _FAST_BASE)
        except yaml.YAMLError:
            if _FAST_BASE is yaml.SafeLoader:
                raise
            del notes.yaml11_booleans[noted:]  # the second parse notes them again
        # libyaml rejected it: the pure-Python parser says why in more words (and where the two
        # disagree on a corner of YAML, the document loads as it did before libyaml was used).
        return _load(text, path, notes, yaml.SafeLoader)
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


def _load(text: str, path: str, notes: YamlNotes, base: type[yaml.SafeLoader]) -> Any:
    noted = len(notes.yaml11_booleans)
    loader_class = _make_loader(path, notes, base)
    with gc_paused():
        loader = loader_class(text)
        try:
            return loader.build_from_events()  # type: ignore[attr-defined]
        except _NeedsNodes:
            pass
        finally:
            loader.dispose()
        del notes.yaml11_booleans[noted:]
        return yaml.load(text, Loader=loader_class)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while a big acyclic structure is built: every object it allocates is live
    until the end, and the collector's passes over them made loading grow faster than linearly
    (a 40,000-host inventory: 3.1 s of CPU with it, 0.6 s without). Also used for the
    inventory model and `orch inventory`'s output, for the same reason."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
