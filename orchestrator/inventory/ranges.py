"""Host names as written in inventories: an optional `:port` and `[a:b:step]` ranges.

`web[01:03].example.com:2222` names web01..web03 on port 2222. Follows Ansible's rules: zero
padding of the begin value is kept (and must match the end's width), letters range over
a..zA..Z, several ranges multiply out left to right, and a port is split off only when what is
left is a valid host name or IPv6 address (so a bare IPv6 address never loses a component).
"""

from __future__ import annotations

import ipaddress
import re
import string

# One [begin:end] or [begin:end:step] range, as it may appear inside a host name or address.
_RANGE = r"\[(?:[a-zA-Z]:[a-zA-Z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[[0-9a-fA-F]+:[0-9a-fA-F]+(?::[0-9]+)?\]"
# A DNS-ish label (underscores allowed, ranges allowed) that does not end in '-' or '_'.
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.UNICODE)
_BRACKETED_PORT = re.compile(r"\[(.+)\]:([0-9]+)")
# Everything before the last ':' must be free of ':' outside [...] ranges.
_HOST_PORT = re.compile(r"((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)")


class RangeError(ValueError):
    """A malformed [a:b] range; the caller adds the file location."""


def is_address(host: str) -> bool:
    """A host name, IPv4 or IPv6 address, possibly holding [a:b] ranges."""
    if _HOSTNAME.fullmatch(host):
        return True
    if ":" not in host:
        return False
    try:
        ipaddress.IPv6Address(re.sub(_HEX_RANGE, "0", host))
    except ValueError:
        return False
    return True


def split_port(pattern: str) -> tuple[str, int | None]:
    """`h1:22` -> ("h1", 22); `[fe80::1]:22` -> ("fe80::1", 22); anything else is left alone."""
    if ":" not in pattern:  # both port forms need one; most names (100,000 in a big inventory)
        return pattern, None
    host, port = pattern, None
    for regex in (_BRACKETED_PORT, _HOST_PORT):
        m = regex.fullmatch(host)
        if m:
            host, port = m.group(1), int(m.group(2))
    if port is None or not is_address(host):
        return pattern, None
    return host, port


def _sequence(text: str) -> list[str]:
    """Expand the inside of one [..] range."""
    bounds = text.split(":")
    if len(bounds) not in (2, 3):
        raise RangeError(f"a range must be [begin:end] or [begin:end:step], got [{text}]")
    begin, end = bounds[0] or "0", bounds[1]
    if not end:
        raise RangeError(f"a range needs an end value, got [{text}]")
    try:
        step = int(bounds[2]) if len(bounds) == 3 else 1
    except ValueError:
        raise RangeError(f"a range step must be a number, got [{text}]") from None
    if step < 1:
        raise RangeError(f"a range step must be at least 1, got [{text}]")
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise RangeError(f"a range must have begin <= end, got [{text}]")
        return list(letters[first : last + 1 : step])
    if not (begin.isdigit() and end.isdigit()):
        raise RangeError(f"a range must be numbers or single letters, got [{text}]")
    if int(begin) > int(end):
        raise RangeError(f"a range must have begin <= end, got [{text}]")
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and len(end) != width:
        raise RangeError(f"a zero-padded range needs begin and end of the same width, got [{text}]")
    return [str(n).zfill(width) for n in range(int(begin), int(end) + 1, step)]


def expand_ranges(name: str) -> list[str]:
    """`db-[a:c]-[1:2]` -> db-a-1, db-a-2, db-b-1, ... (first range varies slowest)."""
    start = name.find("[")
    if start < 0:
        return [name]
    stop = name.find("]", start)
    if stop < 0:
        raise RangeError(f"unterminated range in {name!r}")
    values = _sequence(name[start + 1 : stop])
    head, tails = name[:start], expand_ranges(name[stop + 1 :])
    return [head + value + tail for value in values for tail in tails]


def expand_host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """An inventory host entry -> (host names, port or None)."""
    host, port = split_port(pattern)
    return expand_ranges(host), port
