"""Version comparison for the `version` test and `version_compare` filter (Ansible semantics).

`loose` follows distutils' LooseVersion (numbers and letter runs, compared as lists), `strict`
its StrictVersion (N.N[.N][a|bN]), `semver` Semantic Versioning 2.0.0 and `pep440` the
`packaging` library when it is installed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import total_ordering
from typing import Any

from orchestrator.errors import TemplateError

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "ne": operator.ne,
}
_OPERATOR_ALIASES = {
    "==": "eq",
    "=": "eq",
    "eq": "eq",
    "<": "lt",
    "lt": "lt",
    "<=": "le",
    "le": "le",
    ">": "gt",
    "gt": "gt",
    ">=": "ge",
    "ge": "ge",
    "!=": "ne",
    "<>": "ne",
    "ne": "ne",
}

_LOOSE_COMPONENT = re.compile(r"(\d+|[a-z]+|\.)", re.IGNORECASE)


def loose_key(text: str) -> list[int | str]:
    """LooseVersion's parse: digits become ints, letter runs stay strings, dots vanish."""
    parts: list[int | str] = []
    for piece in _LOOSE_COMPONENT.split(text):
        if not piece or piece == ".":
            continue
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


_STRICT_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$", re.ASCII)


@total_ordering
class StrictVersion:
    """distutils StrictVersion: `1.2`, `1.2.3`, `1.2b3`; a pre-release sorts before its release."""

    def __init__(self, text: str) -> None:
        match = _STRICT_RE.match(text)
        if not match:
            raise ValueError(f"invalid version number {text!r}")
        major, minor, patch, pre_letter, pre_num = match.groups()
        self.version = (int(major), int(minor), int(patch or 0))
        self.prerelease = (pre_letter, int(pre_num)) if pre_letter else None

    def _key(self) -> tuple[Any, ...]:
        # no pre-release sorts after any pre-release of the same version
        pre = (1, "", 0) if self.prerelease is None else (0, *self.prerelease)
        return (self.version, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StrictVersion) and self._key() == other._key()

    def __lt__(self, other: StrictVersion) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


_SEMVER_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER_RE = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    rf"(?:-(?P<pre>{_SEMVER_IDENT}(?:\.{_SEMVER_IDENT})*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


@total_ordering
class SemanticVersion:
    """Semantic Versioning 2.0.0; build metadata is ignored when comparing."""

    def __init__(self, text: str) -> None:
        match = _SEMVER_RE.match(text)
        if not match:
            raise ValueError(f"invalid semantic version {text!r}")
        self.core = (int(match["major"]), int(match["minor"]), int(match["patch"]))
        self.pre: tuple[int | str, ...] = tuple(
            int(p) if p.isdigit() else p for p in (match["pre"].split(".") if match["pre"] else ())
        )

    def _key(self) -> tuple[Any, ...]:
        if not self.pre:
            return (self.core, 1, ())
        # numeric identifiers sort before alphanumeric ones and are compared as numbers
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.core, 0, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemanticVersion) and self._key() == other._key()

    def __lt__(self, other: SemanticVersion) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _pep440(text: str) -> Any:
    try:
        from packaging.version import Version
    except ImportError as exc:  # pragma: no cover - packaging is nearly always present
        raise TemplateError("the pep440 version_type needs the Python 'packaging' library") from exc
    return Version(text)


_VERSION_TYPES: dict[str, Callable[[str], Any]] = {
    "loose": loose_key,
    "strict": StrictVersion,
    "semver": SemanticVersion,
    "semantic": SemanticVersion,
    "pep440": _pep440,
}


def version_compare(
    value: Any,
    version: Any,
    operator: str = "eq",
    strict: bool | None = None,
    version_type: str | None = None,
) -> bool:
    """`value is version(version, operator)`: Ansible's version test."""
    if strict is not None and version_type is not None:
        raise TemplateError("cannot specify both 'strict' and 'version_type'")
    if not value:
        raise TemplateError("input version value cannot be empty")
    if not version:
        raise TemplateError("version parameter to compare against cannot be empty")
    kind = "strict" if strict else (version_type or "loose")
    try:
        parse = _VERSION_TYPES[kind]
    except KeyError:
        raise TemplateError(
            f"invalid version type {kind!r}; must be one of {', '.join(map(repr, _VERSION_TYPES))}"
        ) from None
    try:
        op = _OPERATORS[_OPERATOR_ALIASES[operator]]
    except (KeyError, TypeError):
        raise TemplateError(
            f"invalid operator type {operator!r}; must be one of {', '.join(map(repr, _OPERATOR_ALIASES))}"
        ) from None
    try:
        return bool(op(parse(str(value)), parse(str(version))))
    except TemplateError:
        raise
    except Exception as exc:  # e.g. loose: comparing 'a' with 1, strict: unparsable
        raise TemplateError(f"version comparison failed: {exc}") from exc
