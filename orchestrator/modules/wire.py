"""How module scripts report back to the controller: one format, one parser.

A module script's stdout is fields, then any number of named sections:

    key=value                      fields, one a line (orch_kv, orch_stat; orch_kvx hex-encodes
    other=value                    a value that is not a plain path, see unhex)
    \\n<token> NAME\\n               orch_section NAME: the bytes after this line, up to the next
    ...any bytes...                section line or the end of output, are section NAME, exactly
    \\n<token> OTHER\\n              (binary, no trailing newline, empty: all kept as they are)
    ...

`<token>` is random for every script run (ModuleContext puts it in $__orch_wire before the
script starts), so nothing a script prints - a file's content, a command's output - can forge a
section line: it would have to know a token chosen after it was written. Fields are read only
from the part before the first section, so section content never becomes a field either (and a
script prints its fields first: an orch_kv after orch_section is part of that section).

A part of the output can be taken as a whole output of its own (WireOutput.split): converge
uses that to keep its query's output and its apply step's output apart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

TOKEN_VAR = "__orch_wire"  # the shell variable orch_section reads its token from


def new_token() -> str:
    return "__ORCH_WIRE_" + secrets.token_hex(8)


def token_preamble(token: str) -> str:
    """The script line that gives orch_section its token (a plain shell variable, not exported)."""
    return f"{TOKEN_VAR}={token}\n"


def parse_fields(text: str) -> dict[str, str]:
    """`key=value` lines of `text`; other lines are ignored and the first occurrence of a key wins."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key.replace("_", "").isalnum() and key not in out:
            out[key] = value
    return out


def unhex(value: str) -> str:
    """Decode an orch_kvx value: "=plain" as is, else hex (undecodable hex is returned unchanged)."""
    if value.startswith("="):  # sent as is (only plain path characters)
        return value[1:]
    try:
        return bytes.fromhex(value).decode("utf-8", "surrogateescape")
    except ValueError:
        return value


@dataclass(frozen=True)
class WireOutput:
    """One script's output: the head (where the fields are) and the sections, in order."""

    head: bytes
    sections: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def of(cls, head: str = "", **sections: str) -> WireOutput:
        """An output from its parts (text): what a parser of one module's output is tested on."""
        return cls(head.encode(), tuple((name, text.encode()) for name, text in sections.items()))

    @property
    def fields(self) -> dict[str, str]:
        return parse_fields(self.head.decode("utf-8", "replace"))

    def values(self, key: str) -> list[str]:
        """Every value of a field the script printed more than once (a list: removed files)."""
        found = []
        for line in self.head_text.splitlines():
            name, sep, value = line.partition("=")
            if sep and name == key:
                found.append(value)
        return found

    @property
    def head_text(self) -> str:
        return self.head.decode("utf-8", "replace")

    def names(self) -> list[str]:
        return [name for name, _ in self.sections]

    def section(self, name: str) -> bytes | None:
        """The first section called `name` (None when the script printed none)."""
        return next((data for n, data in self.sections if n == name), None)

    def text(self, name: str, default: str = "") -> str:
        """Section `name` decoded as UTF-8 (bad bytes replaced), or `default` when absent."""
        data = self.section(name)
        return default if data is None else data.decode("utf-8", "replace")

    def all(self, name: str) -> list[bytes]:
        """Every section called `name`, in order (a script may print one per item)."""
        return [data for n, data in self.sections if n == name]

    def split(self, name: str) -> tuple[WireOutput, WireOutput | None]:
        """(what came before the first section `name`, that section as an output of its own:
        its content is the head, the sections after it are its sections); None when absent."""
        for i, (n, data) in enumerate(self.sections):
            if n == name:
                return WireOutput(self.head, self.sections[:i]), WireOutput(data, self.sections[i + 1 :])
        return self, None


def parse(stdout: bytes | str, token: str) -> WireOutput:
    """Split a script's stdout at the section lines carrying `token` (see the module docstring)."""
    data = stdout.encode("utf-8", "surrogateescape") if isinstance(stdout, str) else stdout
    mark = b"\n" + token.encode() + b" "
    pieces: list[tuple[str, bytes]] = []
    start = data.find(mark)
    if start < 0:
        return WireOutput(data)
    head = data[:start]
    while start >= 0:
        name_start = start + len(mark)
        name_end = data.find(b"\n", name_start)
        if name_end < 0:  # a cut-off section line (the script was killed while printing it)
            name_end = len(data)
        name = data[name_start:name_end].decode("utf-8", "replace")
        body_start = min(name_end + 1, len(data))
        start = data.find(mark, body_start)
        pieces.append((name, data[body_start : len(data) if start < 0 else start]))
    return WireOutput(head, tuple(pieces))
