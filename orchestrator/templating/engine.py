"""The Jinja2 engine: Ansible-compatible rendering of task values, conditionals and template files.

Choices, and why:
- A plain `jinja2.Environment` (autoescape off), not a sandbox. Templates are written by the
  playbook author, who can already run any command on the controller (`pipe` lookup, `local_action`);
  a sandbox would cost every attribute access and forbid `{% do list.append(x) %}`, which playbooks
  use. The real risk is templating data that came from hosts; such data is marked `UnsafeStr`
  (see `mark_unsafe`) and is never templated.
- Native types like ansible-core 2.19: a value that is exactly one `{{ expr }}` renders to the
  expression's Python value (list, dict, int...); mixed text renders to str. No `literal_eval` of
  strings (`"{{ '1' }}"` stays the string '1'). `None` pieces are dropped (`a{{ none }}b` -> 'ab').
- Strict undefined, except where Ansible allows it: `is defined` / `is undefined`, `default()`,
  and chains (`a.b.c is defined` when `a` is undefined is False; the error names `a`).
- Backslashes in string literals inside `{{ }}` are kept as written, as Ansible does, so
  `regex_replace('(x)', '\\1')` in a double-quoted YAML string works; conditionals and template
  files use Jinja's normal escapes (also as Ansible).
- One environment per kind (task values, expressions, files), shared by every Templar; compiled
  templates are cached by source text (LRU), so a task template on 100 hosts compiles once.
"""

from __future__ import annotations

import ast
import datetime
import functools
import logging
import os
import pwd
import socket
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView
from contextvars import ContextVar
from types import TracebackType
from typing import Any, NoReturn, cast

import jinja2
from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.lexer import TOKEN_STRING, TOKEN_VARIABLE_BEGIN, TOKEN_VARIABLE_END, Lexer
from jinja2.loaders import BaseLoader, split_template_path
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.parser import Parser
from jinja2.runtime import Context, StrictUndefined, Undefined, missing

from orchestrator import yamlsource
from orchestrator.errors import TemplateError
from orchestrator.templating import filters as _filters
from orchestrator.templating import limits
from orchestrator.templating import tests as _tests
from orchestrator.templating.common import (
    TemplateCycleError,
    TemplateUndefinedError,
    UnsafeStr,
    has_template,
    mark_unsafe,
    snippet,
)
from orchestrator.templating.lazyvars import LazyVars
from orchestrator.templating.lookups import LookupContext, resolve_lookup
from orchestrator.templating.search import find_in_search_path

log = logging.getLogger("orch.templating")

# What `omit` renders to. Random per process, like Ansible's, so no real value can equal it.
OMIT: str = "__omit_place_holder__" + os.urandom(20).hex()

_EXTENSIONS = ["jinja2.ext.do", "jinja2.ext.loopcontrols"]
_CTX_KEY = "__orch_lookup_context__"  # hidden variable that carries the LookupContext into a render
_TRUE = frozenset({"yes", "on", "true", "1", "y", "t"})
_FALSE = frozenset({"no", "off", "false", "0", "n", "f", "", "none", "null"})


# --- undefined -----------------------------------------------------------------------------------


def _type_label(obj: Any) -> str:
    # our YAML types subclass dict/list/str: name the type a user knows
    for base in (dict, list, tuple, str, int, float, bool):
        if isinstance(obj, base):
            return f"{base.__name__} object"
    if isinstance(obj, Mapping):
        return "dict object"
    return f"{type(obj).__name__} object"


class AnsibleUndefined(StrictUndefined):
    """StrictUndefined whose attribute/item access returns itself, so chains stay undefined.

    `a.b.c is defined` is False when `a` is undefined and using `a.b.c` reports `'a' is undefined`.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        if self._undefined_obj is missing:
            return f"{self._undefined_name!r} is undefined"
        label = _type_label(self._undefined_obj)
        if not isinstance(self._undefined_name, str):
            return f"{label!r} has no element {self._undefined_name!r}"
        return f"{label!r} has no attribute {self._undefined_name!r}"


def _trip(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _strict(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter/test so an undefined argument fails at once with its own message."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for arg in args:
            if isinstance(arg, Undefined):
                arg._fail_with_undefined_error()
        for arg in kwargs.values():
            if isinstance(arg, Undefined):
                arg._fail_with_undefined_error()
        return func(*args, **kwargs)

    return functools.update_wrapper(wrapper, func)  # keeps jinja_pass_arg


# --- finalize: what a `{{ }}` produces ------------------------------------------------------------

_SCALARS = (str, int, float, bool, type(None))


def _finalize_value(value: Any) -> Any:
    """Fail on undefined (also inside lists/dicts) and turn tuples/iterators into lists, as Ansible."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, dict):
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            new = _finalize_value(item)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        items: list[Any] | None = None
        for i, item in enumerate(value):
            new = _finalize_value(item)
            if new is not item:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
    if isinstance(value, (tuple, set, frozenset, Iterator, MappingView)) and not isinstance(value, str):
        return [_finalize_value(v) for v in cast("Iterable[Any]", value)]  # MappingView iterates
    return value


@pass_context  # pass_context also stops Jinja folding `{{ 1 }}` into the text '1' at compile time
def _finalize_native(_ctx: Context, value: Any) -> Any:
    return _finalize_value(value)


@pass_context
def _finalize_text(_ctx: Context, value: Any) -> Any:
    return "" if value is None else _finalize_value(value)


def _native_concat(pieces: Iterable[Any]) -> Any:
    """One piece keeps its type; several are joined as text; None pieces are dropped (Ansible 2.19)."""
    kept = [p for p in pieces if p is not None]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    if len(kept) == 2 and kept[1] == "\n" and not isinstance(kept[0], str):
        # Ansible drops the template's trailing newline when it would turn a native value into
        # text: "{{ 2001 }}\n" is 2001, while "{{ 'one' }}\n" is "one\n".
        return kept[0]
    return "".join(p if isinstance(p, str) else str(p) for p in kept)


# --- environments --------------------------------------------------------------------------------


class _EscapingLexer(Lexer):
    """Keep backslashes in `{{ }}` string literals as written (Ansible's escape_backslashes)."""

    def tokeniter(self, *args: Any, **kwargs: Any) -> Iterator[tuple[int, str, str]]:
        in_variable = False
        for token in super().tokeniter(*args, **kwargs):
            kind = token[1]
            if kind == TOKEN_VARIABLE_BEGIN:
                in_variable = True
            elif kind == TOKEN_VARIABLE_END:
                in_variable = False
            elif in_variable and kind == TOKEN_STRING:
                token = (token[0], kind, token[2].replace("\\", "\\\\"))
            yield token


class _NativeCodeGenerator(NativeCodeGenerator):
    """Native output at top level; inside macros and `{% set %}` blocks the text is joined, so str()."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.buffer is not None:
            CodeGenerator._output_child_pre(self, node, frame, finalize)
        else:
            super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.buffer is not None:
            CodeGenerator._output_child_post(self, node, frame, finalize)
        else:
            super()._output_child_post(node, frame, finalize)


class _Context(Context):
    def get_all(self) -> Any:
        # Jinja copies parent + locals into a dict for `{% include %}`, which would template
        # every variable; chain them instead, so variables stay lazy
        if not self.vars:
            return self.parent
        return ChainMap(self.vars, self.parent)


class _Template(jinja2.Template):
    def new_context(
        self, vars: Any = None, shared: bool = False, locals: Mapping[str, Any] | None = None
    ) -> Context:
        # Jinja copies shared vars into a dict when an include passes locals; chain them instead
        if shared and locals and vars is not None:
            local_vars = {k: v for k, v in locals.items() if v is not missing}
            parent = ChainMap(local_vars, vars) if local_vars else vars
            return self.environment.context_class(  # Jinja reads `parent` only as a Mapping
                self.environment, parent, self.name, self.blocks, globals=self.globals  # type: ignore[arg-type]
            )
        return super().new_context(vars, shared, locals)


class _Environment(jinja2.Environment):
    """`obj.name` / `obj[key]` on a LazyVars (e.g. `hostvars[h].url`) whose value is itself
    undefined gives an undefined value carrying the inner reason, as for top-level variables."""

    context_class = _Context
    template_class = _Template

    def getitem(self, obj: Any, argument: Any) -> Any:
        try:
            return super().getitem(obj, argument)
        except TemplateUndefinedError as exc:
            return self.undefined(hint=exc.message, obj=obj, name=argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        try:
            return super().getattr(obj, attribute)
        except TemplateUndefinedError as exc:
            return self.undefined(hint=exc.message, obj=obj, name=attribute)


class _NativeEnvironment(_Environment):
    code_generator_class = _NativeCodeGenerator


class _TaskEnvironment(_NativeEnvironment):
    @property
    def lexer(self) -> Lexer:
        lexer = self.__dict__.get("_escaping_lexer")
        if lexer is None:
            lexer = self.__dict__["_escaping_lexer"] = _EscapingLexer(self)
        return lexer


# Search directories for `{% include %}` / `{% import %}` in the template file being rendered
_include_dirs: ContextVar[tuple[str, ...]] = ContextVar("orch_template_include_dirs", default=())


class _IncludeLoader(BaseLoader):
    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # rejects '..' escapes
        for directory in _include_dirs.get():
            path = os.path.join(directory, *pieces)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    source = handle.read()
                # only the top-level file keeps its trailing newline (Ansible: an include's is dropped)
                if source.endswith("\n"):
                    source = source[:-2] if source.endswith("\r\n") else source[:-1]
                mtime = os.path.getmtime(path)
                return source, path, lambda p=path, m=mtime: os.path.getmtime(p) == m
        raise jinja2.TemplateNotFound(template)


def _common_setup(env: jinja2.Environment) -> None:
    for name, func in _filters.FILTERS.items():
        env.filters[name] = func
    for name in list(env.filters):
        if name not in _filters.ACCEPTS_UNDEFINED:
            env.filters[name] = _strict(env.filters[name])
    env.tests.update(_tests.TESTS)
    for name in list(env.tests):
        if name not in _tests.ACCEPTS_UNDEFINED:
            env.tests[name] = _strict(cast("Callable[..., Any]", env.tests[name]))  # Jinja types them loosely


_ENV_OPTIONS: dict[str, Any] = {
    # no compile-time constant folding: `'/tmp/flag' is exists`, `10 | random` and
    # `password_hash` without a salt must be evaluated on every render, not once per process
    "optimized": False,
    "undefined": AnsibleUndefined,
    "extensions": _EXTENSIONS,
    "autoescape": False,
    "cache_size": 0,
}
# Ansible keeps a string's trailing newline (`content: |` blocks end in one)
# and, like Ansible's templar, drops the newline after a block tag ({% for %}, {% set %})
_TASK_ENV = _TaskEnvironment(
    finalize=_finalize_native, keep_trailing_newline=True, trim_blocks=True, **_ENV_OPTIONS
)
_EXPR_ENV = _NativeEnvironment(finalize=_finalize_native, **_ENV_OPTIONS)
# the template module's defaults: trim_blocks on, lstrip_blocks off, trailing newline kept
_FILE_ENV = _Environment(
    finalize=_finalize_text,
    trim_blocks=True,
    lstrip_blocks=False,
    keep_trailing_newline=True,
    loader=_IncludeLoader(),
    **_ENV_OPTIONS,
)
for _env in (_TASK_ENV, _EXPR_ENV, _FILE_ENV):
    _common_setup(_env)


@functools.lru_cache(maxsize=4096)
def _compile_task(source: str) -> jinja2.Template:
    return _TASK_ENV.from_string(source)


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> jinja2.Template:
    parser = Parser(_EXPR_ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise jinja2.TemplateSyntaxError(
            f"unexpected {parser.stream.current.value!r} after the expression", parser.stream.current.lineno
        )
    tree = nodes.Template([nodes.Output([expr], lineno=1)], lineno=1)
    tree.set_environment(_EXPR_ENV)
    return _EXPR_ENV.from_string(tree)


@functools.lru_cache(maxsize=64)
def _file_env(options: tuple[tuple[str, Any], ...]) -> jinja2.Environment:
    return _FILE_ENV.overlay(**dict(options)) if options else _FILE_ENV


def _trailing_newlines(text: str) -> int:
    return len(text) - len(text.rstrip("\n"))


JINJA2_HEADER = "#jinja2:"


def _jinja2_header(source: str, path: str) -> tuple[str, dict[str, Any]]:
    """A template's first line `#jinja2: trim_blocks: True, lstrip_blocks: True` sets Jinja
    options for that template and is not part of the output (as in Ansible)."""
    if not source.startswith(JINJA2_HEADER):
        return source, {}
    line, _, rest = source.partition("\n")
    options: dict[str, Any] = {}
    for pair in line[len(JINJA2_HEADER) :].split(","):
        key, sep, value = pair.partition(":")
        if not sep:
            raise TemplateError(
                f"template file {path!r}: cannot parse the #jinja2 header at {pair.strip()!r} (use key: value)"
            )
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise TemplateError(f"template file {path!r}: bad value in the #jinja2 header: {value.strip()!r}") from None
    unknown = set(options) - _JINJA2_HEADER_OPTIONS
    if unknown:
        raise TemplateError(f"template file {path!r}: unknown option(s) in the #jinja2 header: {sorted(unknown)}")
    return rest, options


_JINJA2_HEADER_OPTIONS = frozenset(
    {
        "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline",
        "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
        "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
    }
)  # fmt: skip


@functools.lru_cache(maxsize=256)
def _compile_file(options: tuple[tuple[str, Any], ...], source: str, path: str) -> jinja2.Template:
    env = _file_env(options)
    return env.template_class.from_code(env, env.compile(source, path, path), env.make_globals(None), None)


# --- the variables a render sees -----------------------------------------------------------------


class _Scope:
    """Jinja's context parent: extra vars, then the variables, then globals (omit, lookup...)."""

    __slots__ = ("extra", "lookup_ctx", "vars")

    def __init__(
        self, variables: LazyVars, lookup_ctx: LookupContext, extra: Mapping[str, Any] | None
    ) -> None:
        self.vars = variables
        self.lookup_ctx = lookup_ctx
        self.extra = extra

    def __contains__(self, key: object) -> bool:
        return (
            (self.extra is not None and key in self.extra)
            or key in self.vars
            or key in _GLOBALS
            or key == _CTX_KEY
            or key == "vars"
        )

    def __getitem__(self, key: str) -> Any:
        if self.extra is not None and key in self.extra:
            return self.extra[key]
        try:
            return self.vars[key]
        except KeyError:
            pass
        except TemplateUndefinedError as exc:
            # a variable whose own template is undefined is itself undefined (Ansible):
            # `x is defined` is False, `x | default(1)` works, using it reports the inner name
            return AnsibleUndefined(hint=exc.message, name=key)
        if key == _CTX_KEY:
            return self.lookup_ctx
        if key == "vars":  # Ansible's magic `vars`: every variable, e.g. `vars['app_' ~ name]`
            return self.vars
        return _GLOBALS[key]

    def keys(self) -> list[str]:
        keys = dict.fromkeys(_GLOBALS)
        keys.update(dict.fromkeys(self.vars))
        if self.extra:
            keys.update(dict.fromkeys(self.extra))
        keys[_CTX_KEY] = None
        keys["vars"] = None
        return list(keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


# --- lookups and globals -------------------------------------------------------------------------


def _invoke_lookup(
    ctx: Context, name: str, terms: tuple[Any, ...], kwargs: dict[str, Any], wantlist: bool
) -> Any:
    lookup_ctx = ctx.resolve_or_missing(_CTX_KEY)
    if not isinstance(lookup_ctx, LookupContext):
        raise TemplateError("lookups are not available in this template")
    for value in (*terms, *kwargs.values()):
        _trip(value)
    errors = kwargs.pop("errors", "strict")
    plugin = resolve_lookup(str(name))
    try:
        result = plugin(lookup_ctx, list(terms), **kwargs)
    except Exception as exc:
        if errors in ("warn", "ignore"):
            if errors == "warn":
                log.warning("lookup %r failed: %s", name, _describe(exc))
            return [] if wantlist else None
        if isinstance(exc, TemplateError):
            raise
        raise TemplateError(f"lookup {name!r} failed: {_describe(exc)}") from exc
    # lookup output is data, never a template (a file or command output may contain '{{')
    result = [mark_unsafe(item) for item in result]
    if wantlist or not result:
        return result
    if len(result) == 1:
        return result[0]
    if all(isinstance(item, str) for item in result):
        return UnsafeStr(",".join(result))
    return result


@pass_context
def _lookup(ctx: Context, name: str, *terms: Any, **kwargs: Any) -> Any:
    wantlist = bool(kwargs.pop("wantlist", False))
    return _invoke_lookup(ctx, name, terms, kwargs, wantlist)


@pass_context
def _query(ctx: Context, name: str, *terms: Any, **kwargs: Any) -> Any:
    kwargs.pop("wantlist", None)
    return _invoke_lookup(ctx, name, terms, kwargs, True)


def _now(utc: bool = False, fmt: str | None = None) -> Any:
    when = datetime.datetime.now(datetime.UTC) if utc else datetime.datetime.now()
    return when.strftime(fmt) if fmt else when


def _undef(hint: str | None = None) -> AnsibleUndefined:
    return AnsibleUndefined(hint=hint)


# A template runs on the controller, in a worker thread that cannot be killed: `{% for i in
# range(1000000000) %}` grew orch past 9 GB. range() is capped as in Jinja's own sandbox
# (jinja2.sandbox.MAX_RANGE), so such a loop fails its task at once, naming the template.
MAX_RANGE = 100_000


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateError(
            f"range() of {len(numbers)} numbers: more than {MAX_RANGE} are refused (a runaway loop?)"
        )
    return numbers


for _env in (_TASK_ENV, _EXPR_ENV, _FILE_ENV):
    _env.globals.update(
        omit=OMIT, lookup=_lookup, query=_query, q=_query, now=_now, undef=_undef, range=_bounded_range
    )
_GLOBALS: dict[str, Any] = dict(_TASK_ENV.globals)


# --- errors --------------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TemplateError):
        return exc.message
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {snippet(str(exc))}"


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost compiled-template frame in a traceback."""
    line = None
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _located(exc: BaseException, *, variable: str | None = None, where: str | None = None) -> TemplateError:
    """`exc` as a TemplateError that says where: in which variable, or in which template text.

    Only names and template text go into the message, never variable values. The innermost
    variable and the innermost template are named, once each.
    """
    if isinstance(exc, TemplateError):
        if getattr(exc, "_orch_where", False):
            return exc
        if variable is not None and (
            getattr(exc, "_orch_variable", False) or isinstance(exc, TemplateCycleError)
        ):
            return exc
    if isinstance(exc, TemplateCycleError):
        cycle = TemplateCycleError(exc.names, suffix=f"; {where}" if where else "")
        cycle._orch_where = True  # type: ignore[attr-defined]
        return cycle
    if isinstance(exc, jinja2.TemplateSyntaxError):
        base = f"template syntax error: {exc.message} (line {exc.lineno})"
    elif isinstance(exc, RecursionError):
        base = "recursive loop detected in template"
    else:
        base = _describe(exc)
    undefined = isinstance(exc, (jinja2.UndefinedError, TemplateUndefinedError))
    cls: type[TemplateError] = TemplateUndefinedError if undefined else TemplateError
    if variable is not None:
        error = cls(f"{base} (in variable {variable!r})")
        error._orch_variable = True  # type: ignore[attr-defined]
        return error
    error = cls(f"{base}; {where}" if where else base)
    error._orch_where = True  # type: ignore[attr-defined]
    return error


def _raise_located(exc: BaseException, **how: Any) -> NoReturn:
    error = _located(exc, **how)
    if error is exc:
        raise exc
    raise error from exc


def _template_where(source: str, tb: TracebackType | None, kind: str = "template") -> str:
    line = _template_line(tb) if "\n" in source.strip() else None
    at = f" line {line}" if line else ""
    return f"{kind}{at}: {snippet(source)!r}"


# --- the public API ------------------------------------------------------------------------------


def check_syntax(text: str, *, expression: bool = False) -> str | None:
    """Parse without rendering: the syntax error of a task string (or of a bare conditional
    expression with `expression=True`), or None when it parses. For --syntax-check."""
    try:
        if expression and not has_template(text):
            _compile_expression(text)
        else:
            _compile_task(text)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (line {exc.lineno}): {snippet(text)!r}"
    return None



def _truthy(value: Any) -> bool:
    """Ansible's truthiness for conditionals: booleans as is, 'yes'/'no'-style strings by meaning."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        return lowered not in _FALSE  # other text: true when not empty, as Jinja's `if`
    return bool(value)


def _single_expression(text: str) -> str | None:
    """'{{ x }}' -> 'x' when the text is exactly one expression block, else None."""
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1 and text.count("}}") == 1:
        inner = text[2:-2]
        if inner.startswith(("-", "+")):
            inner = inner[1:]
        if inner.endswith(("-", "+")):
            inner = inner[:-1]
        return inner.strip()
    return None


class Templar:
    """Renders values, conditionals and template files for one playbook (or role) directory."""

    def __init__(self, basedir: str = ".", *, searchpath: list[str] | None = None) -> None:
        self.basedir = os.path.abspath(basedir)
        dirs = [os.path.abspath(p) for p in (searchpath or [])] + [self.basedir]
        self.search_dirs: list[str] = list(dict.fromkeys(dirs))

    # -- values

    def render(self, value: Any, variables: Mapping[str, Any]) -> Any:
        """Template every string in `value` (recursively through dicts and lists).

        A string that is exactly one `{{ expr }}` gives the expression's native value; other
        templates give str; strings without Jinja markers come back unchanged without parsing.
        Dict entries and list items that render to `omit` are dropped.
        """
        if isinstance(value, str):
            if not has_template(value):
                return value
        elif not isinstance(value, (dict, list, tuple)):
            return value
        with limits.guarded():
            return self._render_value(value, self._lazy(variables), None)

    def evaluate(self, expression: str | bool, variables: Mapping[str, Any]) -> Any:
        """Evaluate a bare expression (`when:`, `changed_when:`, `until:`); booleans pass through.

        `{{ }}`-wrapped conditionals are accepted too, as older Ansible did: a single `{{ expr }}`
        is evaluated as `expr`; anything else is rendered first and the text evaluated.
        An empty expression is true (Ansible: an empty `when` does not skip).
        """
        if not isinstance(expression, str):
            return expression
        with limits.guarded():
            return self._evaluate(expression, variables)

    def _evaluate(self, expression: str, variables: Mapping[str, Any]) -> Any:
        lazy = self._lazy(variables)
        text = expression.strip()
        if has_template(text):
            inner = _single_expression(text)
            if inner is None:
                rendered = self._render_text(text, lazy, None)
                if not isinstance(rendered, str) or not rendered.strip():
                    return rendered
                text = rendered.strip()
            else:
                text = inner
        if not text:
            return True
        try:
            compiled = _compile_expression(text)
        except Exception as exc:
            _raise_located(exc, where=f"expression: {snippet(text)!r}")
        scope = _Scope(lazy, LookupContext(self, lazy), None)
        try:
            return _native_concat(compiled.root_render_func(compiled.new_context(scope, shared=True)))  # type: ignore[arg-type]
        except Exception as exc:
            _raise_located(exc, where=f"expression: {snippet(text)!r}")

    def is_true(self, expression: Any, variables: Mapping[str, Any]) -> bool:
        """A conditional's verdict; a list of conditionals (as in `when:`) must all be true."""
        if isinstance(expression, list):
            return all(self.is_true(item, variables) for item in expression)
        return _truthy(self.evaluate(expression, variables))

    def run_lookup(
        self, name: str, terms: list[Any], variables: Mapping[str, Any], *, action: str = "", **kwargs: Any
    ) -> list[Any]:
        """Run a lookup as `with_<name>:` does for a task of `action`; always a list."""
        lazy = self._lazy(variables)
        plugin = resolve_lookup(name)
        try:
            result = plugin(LookupContext(self, lazy, with_action=action), list(terms), **kwargs)
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"lookup {name!r} failed: {_describe(exc)}") from exc
        return [mark_unsafe(item) for item in result]

    # -- files

    def search_path(self, variables: Mapping[str, Any] | None = None) -> list[str]:
        """The task's search path (`ansible_search_path`, see search.py), else the templar's dirs."""
        paths = variables.get("ansible_search_path") if variables is not None else None
        if isinstance(paths, (list, tuple)) and paths:
            return list(dict.fromkeys([*map(str, paths), self.basedir]))
        return self.search_dirs

    def find_file(
        self, name: str, subdir: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> str | None:
        """`name` in the search path (each entry's `subdir` first), or None; absolute paths as is."""
        return find_in_search_path(self.search_path(variables), subdir, name)

    def render_file(
        self,
        path: str,
        variables: Mapping[str, Any],
        *,
        dest: str | None = None,
        extra_vars: Mapping[str, Any] | None = None,
        trim_blocks: bool = True,
        lstrip_blocks: bool = False,
        newline_sequence: str = "\n",
        **delimiters: str,
    ) -> str:
        """Render a Jinja2 template file for the template module; the trailing newline is kept.

        Adds template_path, template_fullpath, template_host, template_uid, template_mtime,
        template_run_date, template_destpath and (unless set) ansible_managed. `delimiters` takes
        block_start_string, variable_start_string, ... as the template module does.
        """
        with limits.guarded():
            return self._render_file(path, variables, dest, extra_vars, trim_blocks, lstrip_blocks, newline_sequence, delimiters)

    def _render_file(
        self,
        path: str,
        variables: Mapping[str, Any],
        dest: str | None,
        extra_vars: Mapping[str, Any] | None,
        trim_blocks: bool,
        lstrip_blocks: bool,
        newline_sequence: str,
        delimiters: Mapping[str, str],
    ) -> str:
        found = self.find_file(path, "templates", variables)
        if found is None:
            raise TemplateError(f"template file {path!r} not found (searched {self.search_path(variables)})")
        fullpath = os.path.abspath(found)
        try:
            with open(fullpath, encoding="utf-8") as handle:
                source = handle.read()
            if source.startswith("$ANSIBLE_VAULT;") and yamlsource.FILE_DECRYPTOR is not None:
                source = yamlsource.FILE_DECRYPTOR(source, fullpath)  # a vaulted template
            stat = os.stat(fullpath)
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"cannot read template file {fullpath!r}: {exc}") from None
        lazy = self._lazy(variables)
        extra = self._template_vars(path, fullpath, dest, stat, "ansible_managed" not in lazy)
        if extra_vars:
            extra.update(extra_vars)
        options = {
            "trim_blocks": trim_blocks,
            "lstrip_blocks": lstrip_blocks,
            "newline_sequence": newline_sequence,
        }
        options.update(delimiters)
        # As Ansible: Jinja drops the source's trailing newline, then as many newlines are added
        # back as the source ended with and the output lacks (a value ending in "\n" counts).
        options["keep_trailing_newline"] = False
        source, overrides = _jinja2_header(source, fullpath)
        options.update(overrides)
        key = tuple(sorted((k, v) for k, v in options.items() if getattr(_FILE_ENV, k) != v))
        try:
            compiled = _compile_file(key, source, fullpath)
        except Exception as exc:
            _raise_located(exc, where=f"template file {fullpath!r}")
        include_dirs = [os.path.dirname(fullpath)]
        for directory in self.search_path(variables):
            include_dirs += [os.path.join(directory, "templates"), directory]
        token = _include_dirs.set(tuple(dict.fromkeys(include_dirs)))
        try:
            context = compiled.new_context(_Scope(lazy, LookupContext(self, lazy), extra), shared=True)  # type: ignore[arg-type]
            text = "".join(compiled.root_render_func(context))
        except Exception as exc:
            line = _template_line(exc.__traceback__)
            _raise_located(exc, where=f"template file {fullpath!r}" + (f" line {line}" if line else ""))
        finally:
            _include_dirs.reset(token)
        if not options["keep_trailing_newline"]:
            missing = _trailing_newlines(source) - _trailing_newlines(text)
            text += str(options["newline_sequence"]) * max(missing, 0)
        return text

    @staticmethod
    def _template_vars(
        path: str, fullpath: str, dest: str | None, stat: os.stat_result, with_managed: bool
    ) -> dict[str, Any]:
        try:
            uid: Any = pwd.getpwuid(stat.st_uid).pw_name
        except KeyError:
            uid = stat.st_uid
        tvars: dict[str, Any] = {
            "template_host": socket.gethostname(),
            "template_path": path,
            "template_fullpath": fullpath,
            "template_mtime": datetime.datetime.fromtimestamp(stat.st_mtime),
            "template_uid": uid,
            "template_run_date": datetime.datetime.now(),
            "template_destpath": dest,
        }
        if with_managed:
            tvars["ansible_managed"] = "Ansible managed"
        return tvars

    # -- internals

    def _lazy(self, variables: Mapping[str, Any] | None) -> LazyVars:
        if isinstance(variables, LazyVars):
            return variables
        return LazyVars((variables,) if variables else (), self)

    def _render_var(self, value: Any, lazy: LazyVars, name: str) -> Any:
        """Called by LazyVars to template one variable's value."""
        return self._render_value(value, lazy, name)

    def _render_value(self, value: Any, lazy: LazyVars, variable: str | None) -> Any:
        if isinstance(value, str):
            if not has_template(value):
                return value
            return self._render_text(value, lazy, variable)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            changed = False
            for key, item in value.items():
                new_key = self._render_value(key, lazy, variable) if isinstance(key, str) else key
                new_item = self._render_value(item, lazy, variable)
                if isinstance(new_item, str) and new_item == OMIT:
                    changed = True
                    continue
                changed = changed or new_key is not key or new_item is not item
                out[new_key] = new_item
            return out if changed else value
        if isinstance(value, (list, tuple)):
            items: list[Any] = []
            changed = False
            for item in value:
                new_item = self._render_value(item, lazy, variable)
                if isinstance(new_item, str) and new_item == OMIT:
                    changed = True
                    continue
                changed = changed or new_item is not item
                items.append(new_item)
            if not changed:
                return value
            return items if isinstance(value, list) else tuple(items)
        resolve = getattr(value, "__orch_resolve__", None)  # a `!vault` value: decrypt on use
        return resolve() if resolve is not None else value

    def _render_text(self, source: str, lazy: LazyVars, variable: str | None) -> Any:
        try:
            compiled = _compile_task(source)
        except Exception as exc:
            if variable is not None:
                _raise_located(exc, variable=variable)
            _raise_located(exc, where=f"template: {snippet(source)!r}")
        scope = _Scope(lazy, LookupContext(self, lazy), None)
        try:
            return _native_concat(compiled.root_render_func(compiled.new_context(scope, shared=True)))  # type: ignore[arg-type]
        except Exception as exc:
            if variable is not None:
                _raise_located(exc, variable=variable)
            _raise_located(exc, where=_template_where(source, exc.__traceback__))
