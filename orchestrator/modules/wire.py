"""How module scripts report back to the controller, and the one parser of it.

A query prints `key=value` lines (orch_kv / orch_stat in shlib.py); the controller reads them
with parse_fields.
"""

from __future__ import annotations


def parse_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key.replace("_", "").isalnum() and key not in out:
            out[key] = value
    return out
