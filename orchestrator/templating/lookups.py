"""Lookup plugins: `lookup('name', ...)`, `query('name', ...)` / `q(...)` and `with_<name>` loops.

Each lookup takes the call's context, the list of terms and keyword options, and returns a list,
as Ansible's LookupModule.run does. Lookups run on the controller. Errors raise TemplateError
and never quote file contents, command output or variable values.
"""

from __future__ import annotations

import contextlib
import os
import random as _random
import re
import secrets
import shlex
import string
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator import yamlsource
from orchestrator.errors import TemplateError
from orchestrator.templating.passwords import password_hash, random_salt


class LookupTemplar(Protocol):
    """What lookups need of the engine (engine.Templar): search paths and file rendering."""

    basedir: str

    def search_path(self, variables: Mapping[str, Any] | None = None) -> list[str]: ...

    def find_file(
        self, name: str, subdir: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> str | None: ...

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
    ) -> str: ...



@dataclass(frozen=True)
class LookupContext:
    """What a lookup may use: the templar (search paths, rendering) and the render's variables."""

    templar: LookupTemplar
    variables: Mapping[str, Any]
    with_action: str = ""  # the task's action when run as `with_<lookup>:` (first_found's subdir)


Lookup = Callable[..., list[Any]]


def _flatten_once(terms: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if isinstance(term, (list, tuple)):
            out.extend(term)
        else:
            out.append(term)
    return out


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "true", "1", "y", "t")
    return bool(value)


_KV_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def _split_kv(term: str, allowed: frozenset[str]) -> tuple[str, dict[str, str]]:
    """'path/to/file length=8 chars=digits' -> ('path/to/file', {...}), like Ansible's parse_kv."""
    try:
        words = shlex.split(term)
    except ValueError:
        words = term.split()
    params: dict[str, str] = {}
    rest: list[str] = []
    for word in words:
        match = _KV_RE.match(word)
        if match and match.group(1) in allowed:
            params[match.group(1)] = match.group(2)
        else:
            rest.append(word)
    return " ".join(rest), params


# --- simple data lookups --------------------------------------------------------------------------


def lookup_items(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    return _flatten_once(terms)


def lookup_list(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    return list(terms)


def lookup_indexed_items(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    return [[i, item] for i, item in enumerate(_flatten_once(terms))]


def lookup_dict(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if not isinstance(term, Mapping):
            raise TemplateError(f"the 'dict' lookup expects a dictionary, got {type(term).__name__}")
        out.extend({"key": k, "value": v} for k, v in term.items())
    return out


def lookup_random_choice(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    return [secrets.choice(terms)] if terms else terms


def lookup_nested(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    import itertools

    if not terms:
        raise TemplateError("with_nested requires at least one list")
    lists = [t if isinstance(t, (list, tuple)) else [t] for t in terms]
    return [list(combo) for combo in itertools.product(*lists)]


def lookup_together(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    import itertools

    if not terms:
        raise TemplateError("with_together requires at least one list")
    lists = [t if isinstance(t, (list, tuple)) else [t] for t in terms]
    return [list(group) for group in itertools.zip_longest(*lists, fillvalue=None)]


def lookup_subelements(ctx: LookupContext, terms: list[Any], **kwargs: Any) -> list[Any]:
    from orchestrator.templating.filters import subelements

    if len(terms) not in (2, 3):
        raise TemplateError("subelements lookup expects a list, a key and optionally {'skip_missing': True}")
    flags = terms[2] if len(terms) == 3 else {}
    skip_missing = _to_bool(flags.get("skip_missing", kwargs.get("skip_missing", False)))
    return [list(pair) for pair in subelements(terms[0], terms[1], skip_missing=skip_missing)]


def lookup_vars(ctx: LookupContext, terms: list[Any], default: Any = None, **_: Any) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if not isinstance(term, str):
            raise TemplateError(f"vars lookup: variable name must be a string, not {type(term).__name__}")
        if term in ctx.variables:
            out.append(ctx.variables[term])  # LazyVars: already templated
        elif default is not None:
            out.append(default)
        else:
            raise TemplateError(f"vars lookup: no variable named {term!r} was found")
    return out


def lookup_varnames(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    """Names of the variables matching each regular expression (re.search), as Ansible's."""
    names = list(ctx.variables)
    out: list[Any] = []
    for term in terms:
        if not isinstance(term, str):
            raise TemplateError(f"varnames lookup: {term!r} is not a string")
        try:
            pattern = re.compile(term)
        except re.error as exc:
            raise TemplateError(f"varnames lookup: bad regular expression {term!r}: {exc}") from None
        out.extend(name for name in names if pattern.search(name))
    return out


def lookup_flattened(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    """community.general.flattened: nested lists to one list, None left out."""
    out: list[Any] = []
    for term in terms:
        if isinstance(term, (list, tuple)):
            out.extend(lookup_flattened(ctx, list(term)))
        elif term is not None and term != "None":
            out.append(term)
    return out


def lookup_env(ctx: LookupContext, terms: list[Any], default: Any = "", **_: Any) -> list[Any]:
    return [os.environ.get(str(term).split()[0], default) if str(term).split() else default for term in terms]


_SEQ_NUM = r"(0?x?[0-9a-f]+)"
_SEQ_SHORTCUT = re.compile(rf"^({_SEQ_NUM}-)?{_SEQ_NUM}(/{_SEQ_NUM})?(:(.+))?$", re.IGNORECASE)
_SEQ_FIELDS = frozenset({"start", "end", "stride", "count", "format"})


def _seq_int(value: Any) -> int:
    text = str(value).strip().lower()
    try:
        if text.startswith(("0x", "-0x")):
            return int(text, 16)
        if len(text) > 1 and text.startswith("0") and text.isdigit():
            return int(text, 8)
        return int(text)
    except ValueError:
        raise TemplateError(f"sequence lookup: {text!r} is not a number") from None


def lookup_sequence(ctx: LookupContext, terms: list[Any], **kwargs: Any) -> list[Any]:
    """`start=1 end=10 stride=2 format=web%02d`, `count=4`, or the shortcut `[start-]end[/stride][:format]`."""
    if kwargs and not terms:
        terms = [""]
    results: list[str] = []
    for term in terms:
        opts: dict[str, Any] = {"start": 1, "end": None, "stride": 1, "count": None, "format": "%d"}
        opts.update({k: v for k, v in kwargs.items() if k in _SEQ_FIELDS})
        text = str(term).strip()
        shortcut = _SEQ_SHORTCUT.match(text) if text else None
        if shortcut:
            _, start, end, _, stride, _, fmt = shortcut.groups()
            for key, val in (("start", start), ("end", end), ("stride", stride), ("format", fmt)):
                if val is not None:
                    opts[key] = val
        elif text:
            _, params = _split_kv(text, _SEQ_FIELDS)
            rest = [w for w in text.split() if "=" not in w]
            if rest:
                raise TemplateError(f"sequence lookup: unrecognized arguments {rest}")
            opts.update(params)
        start = _seq_int(opts["start"])
        stride = _seq_int(opts["stride"])
        fmt = str(opts["format"])
        if opts["count"] is None and opts["end"] is None:
            raise TemplateError("sequence lookup: must specify count or end")
        if opts["count"] is not None and opts["end"] is not None:
            raise TemplateError("sequence lookup: can't specify both count and end")
        if opts["count"] is not None:
            count = _seq_int(opts["count"])
            if count == 0:
                continue
            end = start + count * stride - 1
        else:
            end = _seq_int(opts["end"])
        if stride > 0 and end < start:
            raise TemplateError("sequence lookup: to count backwards make stride negative")
        if stride < 0 and end > start:
            raise TemplateError("sequence lookup: to count forward don't make stride negative")
        if stride == 0:
            continue
        if fmt.count("%") != 1:
            raise TemplateError(f"sequence lookup: bad format string {fmt!r}")
        adjust = 1 if stride > 0 else -1
        try:
            results.extend(fmt % i for i in range(start, end + adjust, stride))
        except (TypeError, ValueError):
            raise TemplateError(f"sequence lookup: cannot format numbers with {fmt!r}") from None
    return results


# --- files on the controller ---------------------------------------------------------------------


def lookup_file(
    ctx: LookupContext, terms: list[Any], lstrip: Any = False, rstrip: Any = True, **_: Any
) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        path = ctx.templar.find_file(str(term), "files", ctx.variables)
        if path is None:
            raise TemplateError(
                f"file lookup: could not find {str(term)!r} (searched {ctx.templar.search_path(ctx.variables)})"
            )
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                contents = handle.read()
        except OSError as exc:
            raise TemplateError(f"file lookup: cannot read {path!r}: {exc.strerror}") from None
        if contents.startswith("$ANSIBLE_VAULT;") and yamlsource.FILE_DECRYPTOR is not None:
            contents = yamlsource.FILE_DECRYPTOR(contents, path)  # a vaulted file, as Ansible reads it
        if _to_bool(lstrip):
            contents = contents.lstrip()
        if _to_bool(rstrip):
            contents = contents.rstrip()
        out.append(contents)
    return out


def lookup_fileglob(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    import glob

    out: list[Any] = []
    for term in terms:
        term = str(term)
        name = os.path.basename(term)
        if name != term:
            found = ctx.templar.find_file(os.path.dirname(term), "files", ctx.variables)
            candidates = [found] if found else []
        else:
            candidates = []
            for base in ctx.templar.search_path(ctx.variables):
                candidates += [os.path.join(base, "files"), base]
        for directory in candidates:
            matches = sorted(p for p in glob.glob(os.path.join(directory, name)) if os.path.isfile(p))
            if matches:
                out.extend(matches)
                break
    return out


def lookup_first_found(
    ctx: LookupContext, terms: list[Any], files: Any = None, paths: Any = None, skip: Any = False, **_: Any
) -> list[Any]:
    candidates: list[str] = []

    def add(file_list: Any, path_list: Any) -> None:
        names = [file_list] if isinstance(file_list, str) else list(file_list or [])
        dirs = [path_list] if isinstance(path_list, str) else list(path_list or [])
        if dirs:
            candidates.extend(os.path.join(str(d), str(n)) for d in dirs for n in names)
        else:
            candidates.extend(str(n) for n in names)

    def walk(items: Sequence[Any]) -> None:
        for term in items:
            if isinstance(term, Mapping):
                add(term.get("files", []), term.get("paths", paths))
                if "skip" in term:
                    nonlocal skip
                    skip = term["skip"]
            elif isinstance(term, str):
                add([term], paths)
            elif isinstance(term, Sequence):
                walk(term)
            else:
                raise TemplateError(f"first_found: invalid term of type {type(term).__name__}")

    walk(terms if terms else [{"files": files or [], "paths": paths}])
    # Ansible: as `with_first_found`, the subdir follows the task's action (template -> templates,
    # include_vars -> vars, else files); as a lookup in an expression, no subdir.
    subdir = None
    if ctx.with_action:
        subdir = next((k for k in ("template", "var") if k in ctx.with_action), "file") + "s"
    for candidate in candidates:
        found = ctx.templar.find_file(candidate, subdir, ctx.variables)
        if found:
            return [os.path.normpath(found)]
    if _to_bool(skip):
        return []
    raise TemplateError("first_found: no file was found")


def lookup_template(
    ctx: LookupContext,
    terms: list[Any],
    template_vars: Mapping[str, Any] | None = None,
    convert_data: Any = True,
    **options: Any,
) -> list[Any]:
    out: list[Any] = []
    allowed = {
        "variable_start_string",
        "variable_end_string",
        "comment_start_string",
        "comment_end_string",
        "trim_blocks",
        "lstrip_blocks",
    }
    overrides = {k: v for k, v in options.items() if k in allowed}
    if "trim_blocks" in overrides:
        overrides["trim_blocks"] = _to_bool(overrides["trim_blocks"])
    for term in terms:
        path = ctx.templar.find_file(str(term), "templates", ctx.variables)
        if path is None:
            raise TemplateError(
                f"template lookup: could not find {str(term)!r} (searched {ctx.templar.search_path(ctx.variables)})"
            )
        out.append(ctx.templar.render_file(str(term), ctx.variables, extra_vars=template_vars, **overrides))
    return out


# --- commands on the controller ------------------------------------------------------------------


def _run(ctx: LookupContext, command: str, name: str) -> bytes:
    proc = subprocess.run(  # shell=True: running a shell command is the point
        command,
        shell=True,
        cwd=ctx.templar.basedir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        # the command text may hold secrets; the template snippet in the error shows which call failed
        raise TemplateError(f"{name} lookup: command exited with rc {proc.returncode}")
    return proc.stdout


def lookup_pipe(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    return [_run(ctx, str(term), "pipe").decode("utf-8", "surrogateescape").rstrip() for term in terms]


def lookup_lines(ctx: LookupContext, terms: list[Any], **_: Any) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        out.extend(_run(ctx, str(term), "lines").decode("utf-8", "surrogateescape").splitlines())
    return out


# --- password ------------------------------------------------------------------------------------

_PASSWORD_PARAMS = frozenset({"length", "encrypt", "chars", "ident", "seed"})
_DEFAULT_CHARS = ["ascii_letters", "digits", ".,:-_"]
_password_lock = threading.Lock()


def _password_chars(spec: Any) -> str:
    if isinstance(spec, str):
        # comma-separated names; ',,' stands for a literal comma
        parts = [p.replace("\0", ",") for p in spec.replace(",,", "\0").split(",")]
    else:
        parts = [str(p) for p in spec]
    chars = "".join(
        getattr(string, part) if isinstance(getattr(string, part, None), str) else part for part in parts
    )
    chars = chars.replace('"', "").replace("'", "")
    if not chars:
        raise TemplateError("password lookup: 'chars' gives no characters to choose from")
    return chars


def _parse_password_file(content: str) -> tuple[str, str | None, str | None]:
    password, salt, ident = content, None, None
    idx = content.rfind(" salt=")
    if idx >= 0:
        password, rest = content[:idx], content[idx + len(" salt=") :]
        idx = rest.rfind(" ident=")
        if idx >= 0:
            salt, ident = rest[:idx], rest[idx + len(" ident=") :]
        else:
            salt = rest
    return password, salt, ident


def _write_new_file(path: str, content: str) -> bool:
    """Create `path` with `content`, mode 0600, atomically; False if it already exists."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".orch-password-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content + "\n")
        try:
            os.link(tmp, path)  # atomic, and fails if another thread or process won the race
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _replace_file(path: str, content: str) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".orch-password-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _generate_password(chars: str, length: int, seed: Any) -> str:
    # a seed gives the same password every time (Ansible's `seed=`); otherwise the OS's CSPRNG
    rng: _random.Random = _random.Random(seed) if seed is not None else _random.SystemRandom()
    return "".join(rng.choice(chars) for _ in range(length))


def lookup_password(ctx: LookupContext, terms: list[Any], **kwargs: Any) -> list[Any]:
    """A random password kept in a file on the controller; the same one comes back next time."""
    out: list[Any] = []
    for term in terms:
        relpath, inline = _split_kv(str(term), _PASSWORD_PARAMS)
        params: dict[str, Any] = {**inline, **{k: v for k, v in kwargs.items() if k in _PASSWORD_PARAMS}}
        unknown = set(kwargs) - _PASSWORD_PARAMS
        if unknown:
            raise TemplateError(f"password lookup: unrecognized parameters {sorted(unknown)}")
        try:
            length = int(params.get("length", 20))
        except ValueError:
            raise TemplateError("password lookup: 'length' must be an integer") from None
        chars = _password_chars(params.get("chars", _DEFAULT_CHARS))
        encrypt = params.get("encrypt")
        ident = params.get("ident")
        seed = params.get("seed")
        if not relpath:
            raise TemplateError("password lookup: a file path is required")
        path = relpath if os.path.isabs(relpath) else os.path.join(ctx.templar.basedir, relpath)

        if path == os.devnull:
            password, salt = _generate_password(chars, length, seed), None
        else:
            with _password_lock:
                if not os.path.exists(path):
                    password = _generate_password(chars, length, seed)
                    salt = random_salt(16 if encrypt != "bcrypt" else 22) if encrypt else None
                    content = password if not salt else f"{password} salt={salt}"
                    _write_new_file(path, content)
                try:
                    with open(path, encoding="utf-8") as handle:
                        password, salt, stored_ident = _parse_password_file(handle.read().rstrip())
                except OSError as exc:
                    raise TemplateError(f"password lookup: cannot read {path!r}: {exc.strerror}") from None
                ident = ident or stored_ident
                if encrypt and not salt:
                    # keep the salt in the file so the hash stays the same on every run
                    salt = random_salt(22 if encrypt == "bcrypt" else 16)
                    _replace_file(path, f"{password} salt={salt}" + (f" ident={ident}" if ident else ""))
        if encrypt:
            out.append(password_hash(password, str(encrypt), salt=salt, ident=ident))
        else:
            out.append(password)
    return out


LOOKUPS: dict[str, Lookup] = {
    "env": lookup_env,
    "file": lookup_file,
    "unvault": lookup_file,  # file already decrypts vaulted files
    "fileglob": lookup_fileglob,
    "first_found": lookup_first_found,
    "template": lookup_template,
    "pipe": lookup_pipe,
    "lines": lookup_lines,
    "vars": lookup_vars,
    "varnames": lookup_varnames,
    "community.general.flattened": lookup_flattened,
    "password": lookup_password,
    "items": lookup_items,
    "list": lookup_list,
    "indexed_items": lookup_indexed_items,
    "dict": lookup_dict,
    "sequence": lookup_sequence,
    "random_choice": lookup_random_choice,
    "nested": lookup_nested,
    "together": lookup_together,
    "subelements": lookup_subelements,
}


def resolve_lookup(name: str) -> Lookup:
    """`env`, `ansible.builtin.env` and `ansible.legacy.env` all name the same lookup."""
    short = name.rsplit(".", 1)[-1] if name.startswith(("ansible.builtin.", "ansible.legacy.")) else name
    try:
        return LOOKUPS[short]
    except KeyError:
        raise TemplateError(f"lookup plugin {name!r} not found") from None
