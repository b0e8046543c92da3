"""`-e/--extra-vars` values, read as ansible-playbook reads them (cli/__init__.py load_extra_vars).

* `@FILE`: a YAML/JSON file (vault-encrypted files too);
* a value starting with `{` or `[`: JSON/YAML text (one starting with `/` or `.` is refused: a
  file name needs its `@`, as ansible-playbook says);
* anything else: `k=v` pairs split by Ansible's own parse_kv, so quoting (`msg='two words'`) and
  escapes (`a\\nb` is a newline, `C:\\\\temp` a backslash) mean what they mean to Ansible.

Where Ansible would silently create a variable named `_raw_params` from words that are not
`k=v` (`-e 'msg=hello world'`), orch refuses and says which word and how to quote it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from orchestrator.errors import OrchError
from orchestrator.playbook.taskargs import RAW_PARAMS, SplitError, parse_kv, split_args


class ExtraVarsError(OrchError):
    """An -e value that cannot be read; the message quotes the value and says why."""


def parse_extra_vars(values: Sequence[str]) -> dict[str, Any]:
    """Merge every -e value in order (later values win, no deep merge, as in Ansible)."""
    merged: dict[str, Any] = {}
    for value in values:
        merged.update(parse_one(value))
    return merged


def parse_one(value: str) -> dict[str, Any]:
    from orchestrator.yamlsource import load_yaml_file, load_yaml_text

    text = value.strip()
    if text.startswith("@"):
        data = load_yaml_file(text[1:], error=ExtraVarsError)
        where = f"-e {value}"
    elif text.startswith(("{", "[")):
        try:  # JSON first: YAML leaves a \ud83d\ude00 pair as two lone surrogates, JSON makes the emoji
            data = json.loads(text)
        except ValueError:
            data = load_yaml_text(text, "<-e value>", error=ExtraVarsError)
        where = f"-e {_short(value)}"
    elif not text:
        return {}
    elif text.startswith(("/", ".")):
        raise ExtraVarsError(f"-e {_short(value)}: prepend a file name with '@' (-e @{text})")
    else:
        return _key_values(value)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ExtraVarsError(
            f"{where}: extra vars must be a mapping (key: value), not a {type(data).__name__}"
        )
    return dict(data)


def _key_values(value: str) -> dict[str, Any]:
    try:
        split_args(value)
    except SplitError:
        raise ExtraVarsError(
            f"-e {_short(value)}: a quote is not closed; quote the whole value, e.g. -e \"msg='a b'\""
        ) from None
    pairs: dict[str, Any] = parse_kv(value)
    loose = pairs.pop(RAW_PARAMS, None)
    if loose is not None:
        word = loose.split()[0] if loose.split() else loose
        raise ExtraVarsError(
            f"-e {_short(value)}: {word!r} is not key=value; a value with spaces must be quoted "
            f'inside the argument (-e "key=\'two words\'"), or use JSON (-e \'{{"key": "two words"}}\')'
        )
    for key in pairs:
        if not key.isidentifier():
            raise ExtraVarsError(f"-e {_short(value)}: {key!r} is not a valid variable name")
    return pairs


def _short(value: str, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
