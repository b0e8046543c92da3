"""The one place that knows which values are secret, and masks them in anything shown.

Two rules, applied together by `scrub`:
  1. Known secret strings (vault plaintexts, vault passwords, become passwords, values of
     variables whose names look secret) are registered here, process-wide, as they become known;
     any occurrence in any text is replaced by MASK. Common encodings of a secret (JSON-escaped,
     shell-quoted) are registered with it, since outputs show values in those forms.
  2. In structured data, the value under a key whose name looks secret (password, token, ...)
     is replaced by MASK whatever it is.

Output boundaries call this module: every executor event passes `scrub_event` before any
reporter sees it (live view, plain text, JSON, stats), and the CLI masks error messages and
tracebacks. Strings shorter than MIN_LENGTH are not registered: masking every "yes" or "80" in
the output would destroy it, and such a value is not a secret worth the name.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import logging
import re
import shlex
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

MASK = "********"
MIN_LENGTH = 4

# Variable/key names that hold secrets: ansible_password, ansible_become_pass, db_passwd,
# jwt_secret, api_token, aws_secret_access_key, api_key, ssh_private_key, vault_*...
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|secret|token|api_?key|private_?key|access_?key|credential|"
    r"(^|_)(pass|pwd|psk|jwt)($|_)|^vault_",
    re.IGNORECASE,
)
# ...unless the name says it holds where a secret lives, not the secret: ansible_ssh_private_key_file,
# vault_password_file, ssl_key_path. Masking a path hides which file an error is about.
LOCATION_NAME = re.compile(r"_(file|files|path|dir)$", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def looks_secret(name: object) -> bool:
    """True for a variable or key name that, by its name, holds a secret."""
    return isinstance(name, str) and _looks_secret(name)


@functools.lru_cache(maxsize=4096)  # the same few hundred names are asked about for every event
def _looks_secret(name: str) -> bool:
    return SECRET_NAME.search(name) is not None and LOCATION_NAME.search(name) is None


def add_secret(value: Any) -> None:
    """Register a secret value (and its common encodings) so every output masks it."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return
    forms = {value, value.strip(), json.dumps(value)[1:-1], shlex.quote(value)}
    # A multi-line secret (a key, a whole vaulted file) also shows up one line at a time in diffs.
    forms.update(line.strip() for line in value.splitlines())
    forms = {f for f in forms if len(f) >= MIN_LENGTH and f != "''"}
    global _pattern
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        _pattern = None  # rebuilt on the next mask(): many secrets learned at once cost one compile


def add_secrets_from(data: Any) -> None:
    """Register every string leaf of a decrypted structure (a vaulted vars file)."""
    if isinstance(data, str):
        add_secret(data)
    elif isinstance(data, Mapping):
        for value in data.values():
            add_secrets_from(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            add_secrets_from(value)


def note_variable(name: str, value: Any) -> None:
    """Called as variables are resolved: a secret-looking name makes its value a secret."""
    if looks_secret(name):
        add_secrets_from(value)


def has_secrets() -> bool:
    return bool(_secrets)


def _current_pattern() -> re.Pattern[str] | None:
    global _pattern
    pattern = _pattern
    if pattern is None and _secrets:
        with _lock:
            if _pattern is None:
                # Longest first, so a secret that contains another is masked whole.
                ordered = sorted(_secrets, key=len, reverse=True)
                _pattern = re.compile("|".join(re.escape(s) for s in ordered))
            pattern = _pattern
    return pattern


def clear() -> None:
    """Forget every registered secret (tests; a long-lived process between runs)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def mask(text: str) -> str:
    """`text` with every registered secret replaced by MASK."""
    if not text:
        return text
    pattern = _current_pattern()
    if pattern is None:
        return text
    return pattern.sub(MASK, text)


def scrub(value: Any, keys: bool = True) -> Any:
    """A copy of `value` safe to show: secrets masked in strings, and (with `keys`) the values of
    secret-named keys masked.

    Walks dicts, lists, tuples and dataclasses (frozen ones are rebuilt); returns the same
    object when nothing needed masking, so clean events cost no copies.
    """
    pattern = _current_pattern()
    if pattern is None and not keys:
        return value  # no secret known and no key names to judge: nothing can need masking
    return _scrub(value, keys, pattern)


# Values `_scrub` returns unchanged when no secret is known (str and int subclasses included).
_SCALARS = (str, int, float)


def _scrub(value: Any, keys: bool, pattern: re.Pattern[str] | None) -> Any:
    kind = type(value)
    if kind is str:
        return value if pattern is None else _sub(value, pattern)
    if kind is bool or kind is int or kind is float or value is None or isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):  # a str subclass (an unsafe marker)
        return value if pattern is None else _sub(value, pattern)
    if isinstance(value, bytes):
        if pattern is None:
            return value
        text = value.decode("utf-8", "replace")
        masked = pattern.sub(MASK, text)
        return value if masked == text else masked.encode("utf-8")
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        changed = False
        for key, item in value.items():
            if keys and isinstance(key, str) and _looks_secret(key):
                new = _masked_value(item)
            elif pattern is None and (item is None or isinstance(item, _SCALARS)):
                new = item  # no secret known: nothing to mask in a scalar (and no call per value)
            else:
                new = _scrub(item, keys, pattern)
            changed = changed or new is not item
            out[key] = new
        return out if changed else value
    if isinstance(value, (list, tuple)):
        items = [_scrub(item, keys, pattern) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for name in _init_fields(type(value)):
            old = getattr(value, name)
            new = _scrub(old, keys, pattern)
            if new is not old:
                changes[name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def _sub(text: str, pattern: re.Pattern[str]) -> str:
    masked = pattern.sub(MASK, text)
    return text if masked == text else masked


@functools.cache
def _init_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def _masked_value(value: Any) -> Any:
    # Keep the shape readable (booleans like `password_set: true`, None, empty) but hide content.
    if value is None or isinstance(value, bool) or value == "" or value == MASK:
        return value
    return MASK


def scrub_event(event: Any) -> Any:
    """An executor event with every secret masked; what every reporter receives.

    Key names are judged only inside task results (`data`): elsewhere mapping keys are host
    names, and a host called `token-api` must keep its recap line.
    """
    result = getattr(event, "result", None)
    if result is not None and dataclasses.is_dataclass(event) and not isinstance(event, type):
        try:
            clean = dataclasses.replace(scrub(result, keys=False), data=scrub(result.data, keys=True))
        except Exception:  # e.g. a lazy mapping that fails when read: show nothing unchecked
            clean = dataclasses.replace(
                result,
                msg=mask(str(result.msg)),
                stdout="",
                stderr="",
                diffs=(),
                item_label=None if result.item_label is None else mask(str(result.item_label)),
                data={"msg": "(result hidden: it could not be checked for secrets)"},
            )
        event = dataclasses.replace(event, result=clean)
    return scrub(event, keys=False)


def mask_lines(lines: Iterable[str]) -> list[str]:
    return [mask(line) for line in lines]


class _MaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = mask(record.getMessage())
            record.args = ()
        return True


def guard_process_output() -> None:
    """Mask secrets in what bypasses the reporters: crash tracebacks (main and worker threads)
    and log records (a lookup warning may quote its arguments)."""

    def excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(mask("".join(traceback.format_exception(kind, value, tb))))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            name = args.thread.name if args.thread else "thread"
            text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
            sys.stderr.write(mask(f"Exception in {name}:\n{text}"))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    mask_filter = _MaskFilter()
    for handler in [logging.lastResort, *logging.getLogger().handlers]:
        if handler is not None and not any(isinstance(f, _MaskFilter) for f in handler.filters):
            handler.addFilter(mask_filter)
