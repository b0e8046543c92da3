"""Small pieces shared by the engine and LazyVars: unsafe text, the template check, error types."""

from __future__ import annotations

from typing import Any

from orchestrator.errors import TemplateError


class TemplateUndefinedError(TemplateError):
    """A template used an undefined variable or attribute (`'app_port' is undefined`)."""


class TemplateCycleError(TemplateError):
    """Variables refer to each other in a loop (`a -> b -> a`)."""

    def __init__(self, names: list[str], suffix: str = "") -> None:
        self.names = names
        super().__init__("recursive loop detected in variables: " + " -> ".join(names) + suffix)


class UnsafeStr(str):
    """Text that must never be templated: registered results, facts, lookup output.

    A remote command's output that happens to contain `{{ lookup('pipe', ...) }}` must stay
    text; Ansible marks such data "unsafe" (untrusted in 2.19) for the same reason.
    """

    __slots__ = ()


def has_template(text: str) -> bool:
    """Whether `text` may contain Jinja (the cheap check before any parse)."""
    return ("{{" in text or "{%" in text or "{#" in text) and type(text) is not UnsafeStr


def mark_unsafe(value: Any) -> Any:
    """Copy of `value` with every string (keys too) marked unsafe, so it is never templated."""
    if isinstance(value, str):
        return value if type(value) is UnsafeStr else UnsafeStr(value)
    if isinstance(value, dict):
        return {mark_unsafe(k): mark_unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mark_unsafe(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mark_unsafe(v) for v in value)
    return value


def snippet(text: str, limit: int = 200) -> str:
    """The template text for an error message, cut to `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "..."


def _yaml_support() -> None:
    # UnsafeStr reaches module arguments; let yaml.safe_dump write it like a plain str
    import yaml

    for dumper in {yaml.SafeDumper, getattr(yaml, "CSafeDumper", yaml.SafeDumper)}:
        dumper.add_representer(UnsafeStr, lambda d, data: d.represent_str(str(data)))


_yaml_support()
