"""Ansible's Jinja2 filters, reimplemented with Ansible's semantics (edge cases included).

Where Ansible's behaviour depends on Python's set order (union, intersect, difference,
symmetric_difference) we keep the input order instead, so results are deterministic.
Errors raise TemplateError with messages that name arguments, never the filtered value.
"""

from __future__ import annotations

import base64
import datetime
import glob
import hashlib
import itertools
import json
import math
import ntpath
import os.path
import random as _random
import re
import shlex
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import yaml
from jinja2 import Environment, pass_environment
from jinja2.filters import do_unique
from jinja2.runtime import Undefined

from orchestrator.errors import TemplateError
from orchestrator.templating.passwords import password_hash
from orchestrator.templating.versions import version_compare

# Ansible's namespace for to_uuid, so the same input gives the same UUID as under Ansible
_UUID_NAMESPACE_ANSIBLE = uuid.UUID("361E6D51-FAEC-444A-9079-341386DA8E2E")

TRUE_STRINGS = frozenset({"yes", "on", "true", "1"})
FALSE_STRINGS = frozenset({"no", "off", "false", "0"})


def _text(value: Any) -> str:
    """Ansible's to_text(nonstring='simplerepr'): str() of anything, bytes decoded."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


# --- types -------------------------------------------------------------------------------------


def to_bool(value: Any) -> bool:
    """`bool`: yes/on/true/1 (any case) are True, no/off/false/0 False; else `value == 1`."""
    if isinstance(value, str):
        check: Any = value.lower()
    elif isinstance(value, int):  # bool is an int: True -> "true"
        check = str(value).lower()
    else:
        check = value
    try:
        if check in TRUE_STRINGS:
            return True
        if check in FALSE_STRINGS:
            return False
        return bool(check == 1)
    except TypeError:  # unhashable (list, dict)
        return False


def type_debug(value: Any) -> str:
    # our YAML loader returns dict/list/str subclasses; report the type a user wrote
    for base in (bool, int, float, str, dict, list, tuple):
        if isinstance(value, base):
            return base.__name__
    return type(value).__name__


def to_datetime(string: Any, format: str = "%Y-%m-%d %H:%M:%S") -> datetime.datetime:
    try:
        return datetime.datetime.strptime(_text(string), format)
    except ValueError:  # Python's message quotes the input
        raise TemplateError(f"to_datetime: the value does not match the format {format!r}") from None


def strftime(string_format: str, second: Any = None, utc: bool = False) -> str:
    if second is not None:
        try:
            second = float(second)
        except (TypeError, ValueError):
            raise TemplateError("strftime: invalid epoch value") from None
    when = time.gmtime(second) if utc else time.localtime(second)
    return time.strftime(string_format, when)


# --- serialisation -----------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (set, frozenset, tuple)) or (isinstance(obj, Iterable) and not isinstance(obj, str)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "surrogateescape")
    raise TypeError(f"object of type {type(obj).__name__!r} is not JSON serializable")


def to_json(value: Any, **kwargs: Any) -> str:
    kwargs.pop("vault_to_text", None)
    kwargs.pop("preprocess_unsafe", None)
    kwargs.pop("profile", None)
    kwargs.setdefault("default", _json_default)
    return json.dumps(value, **kwargs)


def to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **kwargs: Any) -> str:
    kwargs.pop("separators", None)
    return to_json(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "), **kwargs)


def from_json(value: Any, **kwargs: Any) -> Any:
    kwargs.pop("profile", None)
    try:
        return json.loads(value, **kwargs)
    except json.JSONDecodeError as exc:  # the message has a position, not the text
        raise TemplateError(f"from_json: invalid JSON: {exc}") from None


# libyaml's emitter when present, as Ansible: it differs in details (no '...' after a lone scalar)
_SafeDumperBase: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_SafeDumperBase):  # type: ignore[misc, valid-type]
    """SafeDumper that also writes dict/list/str subclasses (our located YAML types, UnsafeStr)."""


# libyaml wants exact str objects
_Dumper.add_multi_representer(str, lambda dumper, data: dumper.represent_str(str(data)))
_Dumper.add_multi_representer(dict, yaml.representer.SafeRepresenter.represent_dict)
_Dumper.add_multi_representer(list, yaml.representer.SafeRepresenter.represent_list)
_Dumper.add_multi_representer(tuple, yaml.representer.SafeRepresenter.represent_list)
_Dumper.add_multi_representer(
    Mapping,
    lambda dumper, data: dumper.represent_dict(dict(data.items())),  # type: ignore[arg-type]
)


def to_yaml(value: Any, *_args: Any, default_flow_style: bool | None = None, **kwargs: Any) -> str:
    kwargs.setdefault("allow_unicode", True)
    return yaml.dump(value, Dumper=_Dumper, default_flow_style=default_flow_style, **kwargs)


def to_nice_yaml(
    value: Any, indent: int = 4, *_args: Any, default_flow_style: bool = False, **kw: Any
) -> str:
    return to_yaml(value, indent=indent, default_flow_style=default_flow_style, **kw)


def from_yaml(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise TemplateError(f"from_yaml: invalid YAML: {_yaml_problem(exc)}") from None


def from_yaml_all(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, str):
        return value
    try:
        return list(yaml.safe_load_all(value))
    except yaml.YAMLError as exc:
        raise TemplateError(f"from_yaml_all: invalid YAML: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    # the full message quotes the offending text; keep only what and where
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else str(problem)


def b64encode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    data = value if isinstance(value, bytes) else _text(value).encode(encoding, "surrogateescape")
    encoded = base64.urlsafe_b64encode(data) if urlsafe else base64.b64encode(data)
    return encoded.decode("ascii")


def b64decode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    data = value if isinstance(value, bytes) else _text(value).encode("utf-8")
    try:
        raw = base64.urlsafe_b64decode(data) if urlsafe else base64.b64decode(data)
    except ValueError:
        raise TemplateError("b64decode: input is not valid base64") from None
    return raw.decode(encoding, "surrogateescape")


# --- regular expressions -----------------------------------------------------------------------


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)


def regex_replace(
    value: Any = "",
    pattern: str = "",
    replacement: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
    count: int = 0,
    mandatory_count: int = 0,
) -> str:
    compiled = re.compile(pattern, _flags(ignorecase, multiline))
    output, subs = compiled.subn(replacement, _text(value), count=count)
    if mandatory_count and mandatory_count != subs:
        raise TemplateError(
            f"regex_replace: {pattern!r} should match {mandatory_count} times, matched {subs}"
        )
    return output


def regex_findall(value: Any, regex: str, multiline: bool = False, ignorecase: bool = False) -> list[Any]:
    return re.findall(regex, _text(value), _flags(ignorecase, multiline))


_GROUP_NAME = re.compile(r"\\g<(\S+)>")
_GROUP_NUM = re.compile(r"\\(\d+)")


def regex_search(value: Any, regex: str, *args: str, **kwargs: Any) -> Any:
    """First match; with '\\1' / '\\g<name>' arguments, the list of those groups. None if no match."""
    groups: list[int | str] = []
    for arg in args:
        named = _GROUP_NAME.match(arg) if isinstance(arg, str) else None
        numbered = _GROUP_NUM.match(arg) if isinstance(arg, str) else None
        if named:
            groups.append(named.group(1))
        elif numbered:
            groups.append(int(numbered.group(1)))
        else:
            raise TemplateError("regex_search: group arguments must look like '\\1' or '\\g<name>'")
    match = re.search(
        regex, _text(value), _flags(kwargs.get("ignorecase", False), kwargs.get("multiline", False))
    )
    if not match:
        return None
    if not groups:
        return match.group()
    return [match.group(g) for g in groups]


def regex_escape(value: Any, re_type: str = "python") -> str:
    text = _text(value)
    if re_type == "python":
        return re.escape(text)
    if re_type == "posix_basic":
        return re.sub(r"([].[^$*\\])", r"\\\1", text)
    if re_type == "posix_extended":
        raise TemplateError("regex_escape: regex type 'posix_extended' is not implemented")
    raise TemplateError(f"regex_escape: invalid regex type {re_type!r}")


# --- paths and strings ---------------------------------------------------------------------------


def _path_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    def apply(value: Any, *args: Any) -> Any:  # relpath(start)
        return func(_text(value), *(_text(a) for a in args))

    apply.__name__ = func.__name__
    return apply


def path_join(paths: Any) -> str:
    if isinstance(paths, str):
        return os.path.join(paths)
    if _is_sequence(paths):
        return os.path.join(*(_text(p) for p in paths))
    raise TemplateError(f"path_join expects a string or a list, got {type(paths).__name__}")


def commonpath(paths: Any) -> str:
    if not _is_sequence(paths):
        raise TemplateError(f"commonpath expects a list, got {type(paths).__name__}")
    return os.path.commonpath(paths)


def quote(value: Any) -> str:
    return shlex.quote("" if value is None else _text(value))


def split(value: Any, sep: str | None = None, maxsplit: int = -1) -> list[str]:
    return _text(value).split(sep, maxsplit)


def fileglob(pattern: Any) -> list[str]:
    return [p for p in glob.glob(_text(pattern)) if os.path.isfile(p)]


def to_uuid(value: Any, namespace: Any = _UUID_NAMESPACE_ANSIBLE) -> str:
    try:
        ns = namespace if isinstance(namespace, uuid.UUID) else uuid.UUID(str(namespace))
    except ValueError:
        raise TemplateError("to_uuid: invalid namespace UUID") from None
    return str(uuid.uuid5(ns, _text(value)))


def urldecode(value: Any) -> str:
    return unquote_plus(_text(value))


_URLSPLIT_FIELDS = (
    "fragment",
    "hostname",
    "netloc",
    "password",
    "path",
    "port",
    "query",
    "scheme",
    "username",
)


def split_url(value: Any, query: str = "") -> Any:
    parts = urlsplit(_text(value))
    fields = {name: getattr(parts, name) for name in _URLSPLIT_FIELDS}
    if query:
        if query not in fields:
            raise TemplateError(f"urlsplit: unknown URL component {query!r}")
        return fields[query]
    return fields


_COMMENT_STYLES: dict[str, dict[str, str]] = {
    "plain": {"decoration": "# "},
    "erlang": {"decoration": "% "},
    "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def comment(text: Any, style: str = "plain", **kw: Any) -> str:
    """Wrap text as a comment block (Ansible's `comment` filter, same parameters)."""
    if style not in _COMMENT_STYLES:
        raise TemplateError(f"comment: invalid style {style!r}; available: {', '.join(_COMMENT_STYLES)}")
    style_params = _COMMENT_STYLES[style]
    prepostfix = kw.get("decoration", style_params["decoration"])
    p: dict[str, Any] = {
        "newline": "\n",
        "beginning": "",
        "prefix": prepostfix.rstrip(),
        "prefix_count": 1,
        "decoration": "",
        "postfix": prepostfix.rstrip(),
        "postfix_count": 1,
        "end": "",
    }
    p.update(style_params)
    p.update(kw)
    nl, deco = p["newline"], p["decoration"]
    beginning = f"{p['beginning']}{nl}" if p["beginning"] else ""
    prefix = ""
    if p["prefix"]:
        prefix = (nl if p["prefix"] == nl else f"{p['prefix']}{nl}") * int(p["prefix_count"])
    body = (deco + _text(text).replace(nl, nl + deco)).replace(deco + nl, deco.rstrip() + nl)
    postfix = nl.join([""] + [p["postfix"]] * int(p["postfix_count"]))
    end = f"{nl}{p['end']}" if p["end"] else ""
    return f"{beginning}{prefix}{body}{postfix}{end}"


# --- hashing and secrets -------------------------------------------------------------------------


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else _text(value).encode("utf-8", "surrogateescape")


def get_hash(value: Any, hashtype: str = "sha1") -> str:
    try:
        digest = hashlib.new(hashtype)
    except (ValueError, TypeError):
        raise TemplateError(f"hash: unsupported hash type {hashtype!r}") from None
    digest.update(_bytes(value))
    return digest.hexdigest()


def md5(value: Any) -> str:
    return hashlib.md5(_bytes(value)).hexdigest()


def sha1(value: Any) -> str:
    return hashlib.sha1(_bytes(value)).hexdigest()


def mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        if msg is not None:
            raise TemplateError(_text(msg))
        name = getattr(value, "_undefined_name", None)
        label = f"{name!r} " if name is not None else ""
        raise TemplateError(f"Mandatory variable {label}not defined.")
    return value


# --- logic ---------------------------------------------------------------------------------------


def ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if value else false_val


@pass_environment
def rand(environment: Environment, end: Any, start: Any = None, step: Any = None, seed: Any = None) -> Any:
    rng: _random.Random = _random.SystemRandom() if seed is None else _random.Random(seed)
    if isinstance(end, int) and not isinstance(end, bool):
        return rng.randrange(start or 0, end, step or 1)
    if isinstance(end, Iterable):
        if start or step:
            raise TemplateError("random: start and step can only be used with integer values")
        return rng.choice(list(end))
    raise TemplateError("random: can only be used on sequences and integers")


def shuffle(value: Any, seed: Any = None) -> list[Any]:
    try:
        items = list(value)
    except TypeError:
        return value
    (_random.Random(seed) if seed else _random.SystemRandom()).shuffle(items)
    return items


# --- lists and sets ------------------------------------------------------------------------------


def _unique_list(items: Iterable[Any]) -> list[Any]:
    """Order-preserving de-duplication that also copes with unhashable items (dicts)."""
    out: list[Any] = []
    seen: set[Any] = set()
    for item in items:
        try:
            if item in seen:
                continue
            seen.add(item)
        except TypeError:
            if item in out:
                continue
        out.append(item)
    return out


@pass_environment
def unique(
    environment: Environment, value: Any, case_sensitive: Any = None, attribute: Any = None
) -> list[Any]:
    # Ansible passes bool(case_sensitive) to Jinja's unique: case-insensitive by default
    try:
        return list(do_unique(environment, value, case_sensitive=bool(case_sensitive), attribute=attribute))
    except TypeError:
        if case_sensitive is False or attribute:
            raise
        return _unique_list(value)


def union(a: Any, b: Any) -> list[Any]:
    return _unique_list(itertools.chain(a, b))


def intersect(a: Any, b: Any) -> list[Any]:
    b_list = list(b)
    return _unique_list(x for x in a if x in b_list)


def difference(a: Any, b: Any) -> list[Any]:
    b_list = list(b)
    return _unique_list(x for x in a if x not in b_list)


def symmetric_difference(a: Any, b: Any) -> list[Any]:
    a_list, b_list = list(a), list(b)
    return _unique_list([x for x in a_list if x not in b_list] + [x for x in b_list if x not in a_list])


def flatten(value: Any, levels: int | None = None, skip_nulls: bool = True) -> list[Any]:
    out: list[Any] = []
    for element in value:
        if skip_nulls and (element is None or (isinstance(element, str) and element in ("None", "null"))):
            continue
        if _is_sequence(element):
            if levels is None:
                out.extend(flatten(element, skip_nulls=skip_nulls))
            elif levels >= 1:
                out.extend(flatten(element, levels=int(levels) - 1, skip_nulls=skip_nulls))
            else:
                out.append(element)
        else:
            out.append(element)
    return out


_LIST_MERGE = ("replace", "keep", "append", "prepend", "append_rp", "prepend_rp")


def merge_hash(
    x: Mapping[Any, Any], y: Mapping[Any, Any], recursive: bool, list_merge: str
) -> dict[Any, Any]:
    """Ansible's merge_hash: a new dict of y merged into x (y wins); x and y are not modified."""
    if not isinstance(x, Mapping) or not isinstance(y, Mapping):
        raise TemplateError(
            f"combine: can only merge dictionaries, got {type(x).__name__} and {type(y).__name__}"
        )
    result = dict(x)
    if not recursive and list_merge == "replace":
        result.update(y)
        return result
    for key, y_value in y.items():
        if key not in result:
            result[key] = y_value
            continue
        x_value = result[key]
        if isinstance(x_value, MutableMapping) and isinstance(y_value, MutableMapping):
            result[key] = merge_hash(x_value, y_value, recursive, list_merge) if recursive else y_value
        elif isinstance(x_value, MutableSequence) and isinstance(y_value, MutableSequence):
            if list_merge == "replace":
                result[key] = y_value
            elif list_merge == "append":
                result[key] = [*x_value, *y_value]
            elif list_merge == "prepend":
                result[key] = [*y_value, *x_value]
            elif list_merge == "append_rp":
                result[key] = [z for z in x_value if z not in y_value] + [*y_value]
            elif list_merge == "prepend_rp":
                result[key] = [*y_value] + [z for z in x_value if z not in y_value]
            # "keep": x's list stays
        else:
            result[key] = y_value
    return result


def combine(*terms: Any, **kwargs: Any) -> dict[Any, Any]:
    recursive = kwargs.pop("recursive", False)
    list_merge = kwargs.pop("list_merge", "replace")
    if kwargs:
        raise TemplateError("combine: 'recursive' and 'list_merge' are the only valid keyword arguments")
    if list_merge not in _LIST_MERGE:
        raise TemplateError(f"combine: 'list_merge' must be one of {', '.join(map(repr, _LIST_MERGE))}")
    dicts = flatten(terms, levels=1)
    if not dicts:
        return {}
    if len(dicts) == 1:
        return dicts[0]
    result = dicts[0]
    for d in dicts[1:]:
        result = merge_hash(result, d, recursive, list_merge)
    return result


def dict2items(value: Any, key_name: str = "key", value_name: str = "value") -> list[dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise TemplateError(f"dict2items requires a dictionary, got {type(value).__name__}")
    return [{key_name: k, value_name: v} for k, v in value.items()]


def items2dict(value: Any, key_name: str = "key", value_name: str = "value") -> dict[Any, Any]:
    if not _is_sequence(value):
        raise TemplateError(f"items2dict requires a list, got {type(value).__name__}")
    try:
        return {item[key_name]: item[value_name] for item in value}
    except KeyError:
        raise TemplateError(
            f"items2dict requires each dictionary in the list to contain the keys {key_name!r} and {value_name!r}"
        ) from None
    except TypeError:
        raise TemplateError("items2dict requires a list of dictionaries") from None


@pass_environment
def extract(environment: Environment, item: Any, container: Any, morekeys: Any = None) -> Any:
    keys = (
        [item] if morekeys is None else [item, *morekeys] if isinstance(morekeys, list) else [item, morekeys]
    )
    value = container
    for key in keys:
        value = environment.getitem(value, key)
    return value


def subelements(obj: Any, subelement: Any, skip_missing: bool = False) -> list[tuple[Any, Any]]:
    if isinstance(obj, Mapping):
        elements = list(obj.values())
    elif isinstance(obj, list):
        elements = list(obj)
    else:
        raise TemplateError("subelements: obj must be a list of dicts or a nested dict")
    if isinstance(subelement, list):
        path = list(subelement)
    elif isinstance(subelement, str):
        path = subelement.split(".")
    else:
        raise TemplateError("subelements: the key must be a list or a string")
    results: list[tuple[Any, Any]] = []
    for element in elements:
        values = element
        for key in path:
            try:
                values = values[key]
            except KeyError:
                if skip_missing:
                    values = []
                    break
                raise TemplateError(f"subelements: could not find {key!r} key in iterated item") from None
            except TypeError:
                raise TemplateError(f"subelements: the key {key!r} should point to a dictionary") from None
        if not isinstance(values, list):
            raise TemplateError(f"subelements: the key {subelement!r} should point to a list")
        results.extend((element, v) for v in values)
    return results


def rekey_on_member(data: Any, key: Any, duplicates: str = "error") -> dict[Any, Any]:
    if duplicates not in ("error", "overwrite"):
        raise TemplateError(f"rekey_on_member: unknown duplicates value {duplicates!r}")
    if isinstance(data, Mapping):
        items: Iterable[Any] = data.values()
    elif isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
        items = data
    else:
        raise TemplateError("rekey_on_member: type is not a valid list, set, or dict")
    out: dict[Any, Any] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise TemplateError("rekey_on_member: list item is not a valid dict")
        if key not in item:
            raise TemplateError(f"rekey_on_member: key {key!r} was not found")
        new_key = item[key]
        if new_key in out and duplicates == "error":
            raise TemplateError(f"rekey_on_member: key {key!r} is not unique, cannot convert to dict")
        out[new_key] = item
    return out


def zip_filter(*iterables: Any) -> list[tuple[Any, ...]]:
    return list(zip(*iterables, strict=False))


def zip_longest(*iterables: Any, fillvalue: Any = None) -> list[tuple[Any, ...]]:
    return list(itertools.zip_longest(*iterables, fillvalue=fillvalue))


def product(*iterables: Any, repeat: int = 1) -> list[tuple[Any, ...]]:
    return list(itertools.product(*iterables, repeat=repeat))


def permutations(iterable: Any, r: int | None = None) -> list[tuple[Any, ...]]:
    return list(itertools.permutations(iterable, r))


def combinations(iterable: Any, r: int) -> list[tuple[Any, ...]]:
    return list(itertools.combinations(iterable, r))


# --- maths ---------------------------------------------------------------------------------------


def logarithm(x: Any, base: float = math.e) -> float:
    try:
        return math.log10(x) if base == 10 else math.log(x, base)
    except TypeError:
        raise TemplateError("log() can only be used on numbers") from None


def power(x: Any, y: Any) -> float:
    try:
        return math.pow(x, y)
    except TypeError:
        raise TemplateError("pow() can only be used on numbers") from None


def inversepower(x: Any, base: float = 2) -> float:
    try:
        return math.sqrt(x) if base == 2 else math.pow(x, 1.0 / float(base))
    except (ValueError, TypeError):
        raise TemplateError("root() can only be used on numbers") from None


_SIZE_RANGES = {"Y": 1 << 80, "Z": 1 << 70, "E": 1 << 60, "P": 1 << 50, "T": 1 << 40, "G": 1 << 30}
_SIZE_RANGES.update({"M": 1 << 20, "K": 1 << 10, "B": 1})
_VALID_UNITS = {
    "B": (("byte", "B"), ("bit", "b")),
    "K": (("kilobyte", "KB"), ("kilobit", "Kb")),
    "M": (("megabyte", "MB"), ("megabit", "Mb")),
    "G": (("gigabyte", "GB"), ("gigabit", "Gb")),
    "T": (("terabyte", "TB"), ("terabit", "Tb")),
    "P": (("petabyte", "PB"), ("petabit", "Pb")),
    "E": (("exabyte", "EB"), ("exabit", "Eb")),
    "Z": (("zetabyte", "ZB"), ("zetabit", "Zb")),
    "Y": (("yottabyte", "YB"), ("yottabit", "Yb")),
}


def human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    """1024 -> '1.00 KB' (Ansible's bytes_to_human)."""
    try:
        number = float(size)
    except (TypeError, ValueError):
        raise TemplateError("human_readable() can't interpret the input") from None
    base = "bits" if isbits else "Bytes"
    suffix, limit = "B", 1
    for suffix, limit in sorted(_SIZE_RANGES.items(), key=lambda item: -item[1]):
        if (unit is None and number >= limit) or (unit is not None and unit.upper() == suffix[0]):
            break
    label = suffix + base[0] if limit != 1 else base
    return f"{number / limit:.2f} {label}"


_HUMAN_RE = re.compile(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$")


def human_to_bytes(size: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    """'10M' -> 10485760, '1 MB' -> 1048576; 'Mb' needs isbits=True (Ansible's human_to_bytes)."""
    match = _HUMAN_RE.search(str(size))
    if match is None:
        raise TemplateError("human_to_bytes() can't interpret the input")
    number = float(match.group(1))
    unit = match.group(2) or default_unit
    if unit is None:
        return round(number)
    range_key = unit[0].upper()
    if range_key not in _SIZE_RANGES:
        raise TemplateError(f"human_to_bytes(): the unit must be one of {', '.join(_SIZE_RANGES)}")
    if len(unit) > 1:
        long_name, short_name = _VALID_UNITS[range_key][1 if isbits else 0]
        if unit.lower() != long_name and unit != short_name:
            raise TemplateError(f"human_to_bytes(): invalid unit {unit!r} (isbits={isbits})")
    return round(number * _SIZE_RANGES[range_key])


def version_filter(
    value: Any, version: Any, operator: str = "eq", strict: Any = None, version_type: Any = None
):
    return version_compare(value, version, operator, strict, version_type)


FILTERS: dict[str, Callable[..., Any]] = {
    # types
    "bool": to_bool,
    "type_debug": type_debug,
    "to_datetime": to_datetime,
    "strftime": strftime,
    # serialisation
    "to_json": to_json,
    "to_nice_json": to_nice_json,
    "from_json": from_json,
    "to_yaml": to_yaml,
    "to_nice_yaml": to_nice_yaml,
    "from_yaml": from_yaml,
    "from_yaml_all": from_yaml_all,
    "b64encode": b64encode,
    "b64decode": b64decode,
    # regex
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_findall": regex_findall,
    "regex_escape": regex_escape,
    # paths
    "basename": _path_filter(os.path.basename),
    "dirname": _path_filter(os.path.dirname),
    "realpath": _path_filter(os.path.realpath),
    "relpath": _path_filter(os.path.relpath),
    "normpath": _path_filter(os.path.normpath),
    "expanduser": _path_filter(os.path.expanduser),
    "expandvars": _path_filter(os.path.expandvars),
    "splitext": _path_filter(os.path.splitext),
    "win_basename": _path_filter(ntpath.basename),
    "win_dirname": _path_filter(ntpath.dirname),
    "win_splitdrive": _path_filter(ntpath.splitdrive),
    "path_join": path_join,
    "commonpath": commonpath,
    "fileglob": fileglob,
    # strings
    "quote": quote,
    "split": split,
    "comment": comment,
    "to_uuid": to_uuid,
    "urldecode": urldecode,
    "urlsplit": split_url,
    # hashing
    "hash": get_hash,
    "checksum": sha1,
    "sha1": sha1,
    "md5": md5,
    "password_hash": password_hash,
    # logic / undefined
    "ternary": ternary,
    "mandatory": mandatory,
    # random
    "random": rand,
    "shuffle": shuffle,
    # lists, sets, dicts
    "unique": unique,
    "union": union,
    "intersect": intersect,
    "difference": difference,
    "symmetric_difference": symmetric_difference,
    "flatten": flatten,
    "combine": combine,
    "dict2items": dict2items,
    "items2dict": items2dict,
    "extract": extract,
    "subelements": subelements,
    "rekey_on_member": rekey_on_member,
    "zip": zip_filter,
    "zip_longest": zip_longest,
    "product": product,
    "permutations": permutations,
    "combinations": combinations,
    # maths
    "log": logarithm,
    "pow": power,
    "root": inversepower,
    "human_readable": human_readable,
    "human_to_bytes": human_to_bytes,
    # versions
    "version_compare": version_filter,
    "version": version_filter,
}

# Filters that receive Undefined values on purpose (everything else fails fast on an undefined argument)
ACCEPTS_UNDEFINED = frozenset({"default", "d", "mandatory"})
