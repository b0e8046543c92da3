"""Ansible's Jinja2 tests (`x is succeeded`, `v is version('2.0', '>=')`, `p is file`...).

Jinja's own tests (defined, undefined, none, string, number, mapping, iterable, sequence, in,
...) stay as Jinja defines them; these are added on top.
"""

from __future__ import annotations

import math
import os.path
import re
from collections.abc import Callable, Mapping, MutableSequence
from typing import Any
from urllib.parse import urlparse

from orchestrator.errors import TemplateError
from orchestrator.templating.filters import FALSE_STRINGS, TRUE_STRINGS
from orchestrator.templating.versions import version_compare


def _result(value: Any, test: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TemplateError(f"the {test!r} test expects a dictionary (a registered result)")
    return value


def failed(result: Any) -> bool:
    return bool(_result(result, "failed").get("failed"))


def success(result: Any) -> bool:
    return not failed(result)


def unreachable(result: Any) -> bool:
    return bool(_result(result, "unreachable").get("unreachable"))


def reachable(result: Any) -> bool:
    return not unreachable(result)


def changed(result: Any) -> bool:
    res = _result(result, "changed")
    if "changed" in res:
        return bool(res.get("changed"))
    # a loop's registered result: changed if any item changed
    items = res.get("results")
    if isinstance(items, MutableSequence) and items and isinstance(items[0], Mapping):
        return any(isinstance(r, Mapping) and r.get("changed") for r in items)
    return False


def skipped(result: Any) -> bool:
    return bool(_result(result, "skipped").get("skipped"))


def timedout(result: Any) -> bool:
    res = _result(result, "timedout")
    info = res.get("timedout")
    return bool(info and isinstance(info, Mapping) and info.get("period"))


def finished(result: Any) -> bool:
    res = _result(result, "finished")
    return bool(res.get("finished")) if "finished" in res else True


def started(result: Any) -> bool:
    res = _result(result, "started")
    return bool(res.get("started")) if "started" in res else True


def regex(
    value: Any = "",
    pattern: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
    match_type: str = "search",
) -> bool:
    flags = (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)
    compiled = re.compile(pattern, flags)
    method = getattr(compiled, match_type, compiled.search)
    return bool(method(value if isinstance(value, str) else str(value)))


def match(value: Any, pattern: str = "", ignorecase: bool = False, multiline: bool = False) -> bool:
    return regex(value, pattern, ignorecase, multiline, "match")


def search(value: Any, pattern: str = "", ignorecase: bool = False, multiline: bool = False) -> bool:
    return regex(value, pattern, ignorecase, multiline, "search")


def _to_bool_loose(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_STRINGS or lowered in ("y", "t"):
            return True
        if lowered in FALSE_STRINGS or lowered in ("n", "f", ""):
            return False
    return value


def truthy(value: Any, convert_bool: bool = False) -> bool:
    return bool(_to_bool_loose(value) if convert_bool else value)


def falsy(value: Any, convert_bool: bool = False) -> bool:
    return not truthy(value, convert_bool)


def subset(a: Any, b: Any) -> bool:
    try:
        return set(a) <= set(b)
    except TypeError:  # unhashable items
        b_list = list(b)
        return all(x in b_list for x in a)


def superset(a: Any, b: Any) -> bool:
    return subset(b, a)


def contains(seq: Any, value: Any) -> bool:
    return value in seq


def isnan(value: Any) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False


def vault_encrypted(value: Any) -> bool:
    # a `!vault` value (object with the ciphertext) or the raw envelope text
    text = getattr(value, "ciphertext", value)
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    return isinstance(text, str) and text.lstrip().startswith("$ANSIBLE_VAULT;")


def vaulted_file(path: Any) -> bool:
    try:
        with open(str(path), "rb") as handle:
            return handle.read(15) == b"$ANSIBLE_VAULT;"
    except OSError:
        raise TemplateError("vaulted_file: cannot read the file") from None


def is_url(value: Any, schemes: list[str] | None = None) -> bool:
    parsed = urlparse(str(value))
    if schemes and parsed.scheme not in schemes:
        return False
    return bool(parsed.scheme and parsed.netloc)


def is_uri(value: Any, schemes: list[str] | None = None) -> bool:
    parsed = urlparse(str(value))
    return bool(parsed.scheme) and (not schemes or parsed.scheme in schemes)


def is_urn(value: Any) -> bool:
    return bool(re.match(r"^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$", str(value), re.IGNORECASE))


def _path_test(func: Callable[[str], bool]) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        return func(str(value))

    test.__name__ = func.__name__
    return test


def _same_file(a: Any, b: Any) -> bool:
    return os.path.samefile(str(a), str(b))


TESTS: dict[str, Callable[..., Any]] = {
    # task results
    "failed": failed,
    "failure": failed,
    "succeeded": success,
    "success": success,
    "successful": success,
    "reachable": reachable,
    "unreachable": unreachable,
    "timedout": timedout,
    "changed": changed,
    "change": changed,
    "skipped": skipped,
    "skip": skipped,
    "finished": finished,
    "started": started,
    # regex
    "match": match,
    "search": search,
    "regex": regex,
    # versions
    "version_compare": version_compare,
    "version": version_compare,
    # truthiness and lists
    "truthy": truthy,
    "falsy": falsy,
    "any": any,
    "all": all,
    "contains": contains,
    "subset": subset,
    "issubset": subset,
    "superset": superset,
    "issuperset": superset,
    "nan": isnan,
    "isnan": isnan,
    # vault
    "vault_encrypted": vault_encrypted,
    "vaulted_file": vaulted_file,
    # urls
    "url": is_url,
    "uri": is_uri,
    "urn": is_urn,
    # files on the controller
    "file": _path_test(os.path.isfile),
    "is_file": _path_test(os.path.isfile),
    "directory": _path_test(os.path.isdir),
    "is_dir": _path_test(os.path.isdir),
    "link": _path_test(os.path.islink),
    "is_link": _path_test(os.path.islink),
    "exists": _path_test(os.path.exists),
    "link_exists": _path_test(os.path.lexists),
    "abs": _path_test(os.path.isabs),
    "is_abs": _path_test(os.path.isabs),
    "mount": _path_test(os.path.ismount),
    "is_mount": _path_test(os.path.ismount),
    "same_file": _same_file,
    "is_same_file": _same_file,
}

# Tests that look at Undefined values on purpose; every other test fails on an undefined argument
ACCEPTS_UNDEFINED = frozenset({"defined", "undefined"})
