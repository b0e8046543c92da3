"""Module arguments written as strings: `copy: src=a dest=b`, `command: ls -l chdir=/tmp`.

A port of Ansible's `parsing/splitter.py` (`split_args`, `parse_kv`, `join_args`) and the
free-form rules of `parsing/mod_args.py`, kept behaviour-identical (the unit tests compare both
on a table of inputs) so existing playbooks mean the same thing under orch.
"""

from __future__ import annotations

import codecs
import re

# Modules whose string argument is a command line: only the keys below are split off as
# options, every other `k=v` token stays part of the command (`FOO=bar make` keeps FOO=bar).
FREEFORM_ACTIONS = frozenset({"command", "raw", "script", "shell", "win_command", "win_shell"})
# Ansible's fixed list (mod_args/splitter.py), not the module's spec: `cmd=x` stays in the command.
RAW_KV_KEYS = frozenset(
    {"creates", "removes", "chdir", "executable", "warn", "stdin", "stdin_add_newline", "strip_empty_ends"}
)
RAW_PARAMS = "_raw_params"

_HEXCHAR = "[a-fA-F0-9]"
_ESCAPE_SEQUENCE_RE = re.compile(
    rf"""
    ( \\U{_HEXCHAR * 8}    # 8-digit hex escapes
    | \\u{_HEXCHAR * 4}    # 4-digit hex escapes
    | \\x{_HEXCHAR * 2}    # 2-digit hex escapes
    | \\N\{{[^}}]+\}}      # Unicode characters by name
    | \\[\\'"abfnrtv]      # Single-character escapes
    )""",
    re.UNICODE | re.VERBOSE,
)


class SplitError(ValueError):
    """Unbalanced quotes or Jinja2 delimiters in a k=v string."""


def short_action(name: str) -> str:
    """`ansible.builtin.copy` / `ansible.legacy.copy` -> `copy`; other names unchanged."""
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _decode_escapes(text: str) -> str:
    return _ESCAPE_SEQUENCE_RE.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"), text)


def is_quoted(data: str) -> bool:
    return len(data) > 1 and data[0] == data[-1] and data[0] in ('"', "'") and data[-2] != "\\"


def unquote(data: str) -> str:
    return data[1:-1] if is_quoted(data) else data


def join_args(parts: list[str]) -> str:
    """Rejoin tokens from split_args(), keeping the original newlines."""
    result = ""
    for part in parts:
        result += part if not result or result.endswith("\n") else " " + part
    return result


def _quote_state(token: str, quote_char: str | None) -> str | None:
    """The quote still open after `token` (None if balanced); backslash escapes a quote."""
    prev = None
    for idx, char in enumerate(token):
        if idx > 0:
            prev = token[idx - 1]
        if char in "\"'" and prev != "\\":
            if quote_char:
                if char == quote_char:
                    quote_char = None
            else:
                quote_char = char
    return quote_char


def _depth(token: str, depth: int, opening: str, closing: str) -> int:
    opened, closed = token.count(opening), token.count(closing)
    return max(depth + opened - closed, 0) if opened != closed else depth


class _Splitter:
    """State of split_args: inside quotes or a Jinja2 {{ }}, {% %}, {# #} block."""

    def __init__(self) -> None:
        self.params: list[str] = []
        self.quote_char: str | None = None
        self.inside_quotes = False
        self.depths = {"{{": 0, "{%": 0, "{#": 0}

    @property
    def in_jinja(self) -> bool:
        return any(self.depths.values())

    def feed(self, idx: int, token: str) -> None:
        was_inside_quotes = self.inside_quotes
        self.quote_char = _quote_state(token, self.quote_char)
        self.inside_quotes = self.quote_char is not None
        appended = False
        if self.inside_quotes and not was_inside_quotes and not self.in_jinja:
            self.params.append(token)
            appended = True
        elif self.in_jinja or self.inside_quotes or was_inside_quotes:
            # still inside a quoted or templated token: glue this piece back on
            spacer = " " if idx > 0 else ""
            self.params[-1] = f"{self.params[-1]}{spacer}{token}"
            appended = True
        for opening, closing in (("{{", "}}"), ("{%", "%}"), ("{#", "#}")):
            before = self.depths[opening]
            self.depths[opening] = _depth(token, before, opening, closing)
            if self.depths[opening] != before and not appended:
                self.params.append(token)
                appended = True
        if not self.in_jinja and not self.inside_quotes and not appended and token != "":
            self.params.append(token)

    def add_to_last(self, text: str) -> None:
        if not self.params:
            self.params.append("")
        self.params[-1] += text


def split_args(args: str) -> list[str]:
    """Split on whitespace, keeping quoted strings and Jinja2 blocks whole (Ansible's rules).

    `a=b c="foo bar"` -> ['a=b', 'c="foo bar"']. Raises SplitError when unbalanced.
    """
    if not args:
        return []
    state = _Splitter()
    lines = args.split("\n")
    for line_idx, line in enumerate(lines):
        continuation = False
        for idx, token in enumerate(line.split(" ")):
            if not token and idx != 0:
                state.add_to_last(" ")  # consecutive spaces are kept for join_args
                continue
            if token == "\\" and not state.inside_quotes:
                continuation = True
                continue
            state.feed(idx, token)
        if len(lines) > 1 and line_idx != len(lines) - 1 and not continuation:
            state.add_to_last("\n")
    if state.in_jinja or state.inside_quotes:
        raise SplitError(f"unbalanced quotes or Jinja2 block in arguments: {args}")
    return state.params


def _kv_split(token: str) -> tuple[str, str] | None:
    """`k=v` -> (k, v) at the first unescaped '='; None when every '=' is escaped."""
    pos = 0
    while True:
        try:
            pos = token.index("=", pos + 1)
        except ValueError:
            return None
        if token[pos - 1] != "\\":
            return token[:pos], token[pos + 1 :]


def parse_kv(args: str | None, check_raw: bool = False) -> dict[str, str]:
    """`a=1 b="x y" free text` -> {'a': '1', 'b': 'x y', '_raw_params': 'free text'}.

    With check_raw (command-like modules) only RAW_KV_KEYS are taken as options; other
    `k=v` tokens stay in `_raw_params` untouched.
    """
    options: dict[str, str] = {}
    if args is None:
        return options
    raw_params: list[str] = []
    for orig in split_args(args):
        token = _decode_escapes(orig)
        if "=" not in token:
            raw_params.append(orig)
            continue
        pair = _kv_split(token)
        if pair is None:  # only escaped equals: a free-form word
            raw_params.append(token.replace("\\=", "="))
            continue
        key, value = pair
        if check_raw and key not in RAW_KV_KEYS:
            raw_params.append(orig)
        else:
            options[key.strip()] = unquote(value.strip())
    if raw_params:
        options[RAW_PARAMS] = join_args(raw_params)
    return options


def split_module_string(text: str) -> tuple[str, str]:
    """`copy src=a dest=b` (the `action:` form) -> ('copy', 'src=a dest=b')."""
    tokens = split_args(text)
    if not tokens:
        return "", ""
    return tokens[0].strip(), " ".join(tokens[1:])
