"""The text editors (lineinfile, blockinfile, replace) against Ansible's own module code.

orch edits text on the controller with pure functions; Ansible edits on the host. Here Ansible's
module functions run in-process as the oracle (in check+diff mode, which computes the new text
without writing), on generated files and parameters, and the results must be identical.
Also: pure helpers of find, fetch, stat, unarchive and command.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from ansible.modules import blockinfile as ans_blockinfile
from ansible.modules import lineinfile as ans_lineinfile
from ansible.modules import replace as ans_replace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.modules import get_module, validate_args
from orchestrator.modules.library.blockinfile import apply_block
from orchestrator.modules.library.command import expand_word
from orchestrator.modules.library.fetch import local_dest
from orchestrator.modules.library.find import pattern_match
from orchestrator.modules.library.lineinfile import absent_lines, present_lines
from orchestrator.modules.library.replace import replace_text
from orchestrator.modules.library.unarchive import listing


class _Exit(Exception):
    def __init__(self, **result: Any) -> None:
        self.result = result


class FakeAnsibleModule:
    """Just enough of AnsibleModule for the editors to compute their text in check+diff mode."""

    def __init__(self, argument_spec: dict[str, Any] | None = None, params: dict[str, Any] | None = None, **_: Any) -> None:
        self.params = {k: v.get("default") for k, v in (argument_spec or {}).items()}
        self.params.update(params or FakeAnsibleModule.next_params)
        self.check_mode = True
        self._diff = True

    next_params: dict[str, Any] = {}

    def exit_json(self, **result: Any) -> None:
        raise _Exit(**result)

    def fail_json(self, **result: Any) -> None:
        raise _Exit(failed=True, **result)

    def warn(self, _msg: str) -> None:
        pass

    def load_file_common_arguments(self, _params: Any) -> dict[str, Any]:
        return {}

    def set_fs_attributes_if_different(self, *_: Any, **__: Any) -> bool:
        return False

    set_file_attributes_if_different = set_fs_attributes_if_different

    def boolean(self, value: Any) -> bool:
        return bool(value)


def _after(result: dict[str, Any]) -> bytes:
    diff = result["diff"][0] if isinstance(result["diff"], list) else result["diff"]
    after = diff["after"]
    return after if isinstance(after, bytes) else after.encode("utf-8", "surrogateescape")


WORDS = st.sampled_from(["a=1", "b=2", "# c", "key value", "", "x", "a=9", "  indented", "end"])
LINES = st.lists(WORDS, max_size=6)
REGEXES = st.sampled_from([None, "^a=", "^b", "x$", "^#", "=", "^nomatch", "^(a)=(\\d)"])
ANCHORS = st.sampled_from([None, "EOF", "BOF", "^a", "^#", "=", "^nomatch"])


def _file(tmp: Path, lines: list[str], final_newline: bool) -> Path:
    path = tmp / "f"
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    path.write_bytes(text.encode())
    return path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES, newline=st.booleans(), line=WORDS, regexp=REGEXES, after=ANCHORS, before=ANCHORS,
       backrefs=st.booleans(), firstmatch=st.booleans(), search=st.sampled_from([None, "a", "="]))
def test_lineinfile_present_matches_ansible(tmp_path: Path, lines: list[str], newline: bool, line: str,
                                            regexp: str | None, after: str | None, before: str | None,
                                            backrefs: bool, firstmatch: bool, search: str | None) -> None:
    if after is not None and before is not None:
        before = None  # mutually exclusive
    if search is not None:
        regexp, backrefs = None, False
    if backrefs and regexp is None:
        backrefs = False
    if before == "EOF":
        before = None
    if after == "BOF" and before is None:
        pass
    path = _file(tmp_path, lines, newline)
    original = path.read_bytes()
    ins_aft, ins_bef = after, before
    if ins_aft is None and ins_bef is None:
        ins_aft = "EOF"
    with pytest.raises(_Exit) as caught:
        ans_lineinfile.present(FakeAnsibleModule(params={}), str(path), regexp, search, line, ins_aft, ins_bef,
                               False, False, backrefs, firstmatch)
    expected = _after(caught.value.result)
    ours, msg = present_lines(original.splitlines(keepends=True), line, regexp=regexp, search_string=search,
                              insertafter=after, insertbefore=before, backrefs=backrefs, firstmatch=firstmatch)
    got = b"".join(ours)
    if got != expected:
        # orch's one deliberate difference: a line inserted after a last line that has no newline
        assert not original.endswith(b"\n") and got.replace(b"\n", b"") == expected.replace(b"\n", b"")
        assert got.count(b"\n") == expected.count(b"\n") + 1
    assert msg == caught.value.result["msg"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES, newline=st.booleans(), line=WORDS, regexp=REGEXES, search=st.sampled_from([None, "a", "="]))
def test_lineinfile_absent_matches_ansible(tmp_path: Path, lines: list[str], newline: bool, line: str,
                                           regexp: str | None, search: str | None) -> None:
    if search is not None:
        regexp = None
    path = _file(tmp_path, lines, newline)
    with pytest.raises(_Exit) as caught:
        ans_lineinfile.absent(FakeAnsibleModule(params={}), str(path), regexp, search, line, False)
    kept, removed = absent_lines(path.read_bytes().splitlines(keepends=True), line=line, regexp=regexp,
                                 search_string=search)
    assert b"".join(kept) == _after(caught.value.result)
    assert removed == caught.value.result["found"]


BLOCK_LINES = st.lists(st.sampled_from(["a", "b", "# BEGIN ANSIBLE MANAGED BLOCK", "# END ANSIBLE MANAGED BLOCK",
                                        "x=1", "", "# BEGIN X", "# END X"]), max_size=7)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=BLOCK_LINES, newline=st.booleans(), block=st.sampled_from(["", "x=1", "x=1\ny=2\n", "a"]),
       state=st.sampled_from(["present", "absent"]), marker=st.sampled_from(["# {mark} ANSIBLE MANAGED BLOCK", "# {mark} X"]),
       after=st.sampled_from([None, "EOF", "^a", "^x", "(?m)^b$"]), before=st.sampled_from([None, "BOF", "^b", "^#"]),
       prepend=st.booleans(), append=st.booleans())
def test_blockinfile_matches_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], newline: bool,
                                     block: str, state: str, marker: str, after: str | None, before: str | None,
                                     prepend: bool, append: bool) -> None:
    if after is not None and before is not None:
        before = None
    path = _file(tmp_path, lines, newline)
    original = path.read_bytes()
    params = {"path": str(path), "state": state, "marker": marker, "block": block, "insertafter": after,
              "insertbefore": before, "create": False, "backup": False, "validate": None, "marker_begin": "BEGIN",
              "marker_end": "END", "append_newline": append, "prepend_newline": prepend}
    FakeAnsibleModule.next_params = params
    monkeypatch.setattr(ans_blockinfile, "AnsibleModule", FakeAnsibleModule)
    with pytest.raises(_Exit) as caught:
        ans_blockinfile.main()
    result = caught.value.result
    ours, msg = apply_block(original, block=block, present=state == "present", marker=marker, insertafter=after,
                            insertbefore=before, append_newline=append, prepend_newline=prepend)
    assert ours == _after(result) or (not result.get("changed") and ours == original)
    assert msg == result["msg"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES, newline=st.booleans(), regexp=st.sampled_from(["^a", "=(\\d)", "x$", "^$", "\\s+"]),
       repl=st.sampled_from(["", "Z", "[\\1]", "q\\n"]), after=st.sampled_from([None, "b=2", "# c"]),
       before=st.sampled_from([None, "end", "x"]))
def test_replace_matches_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], newline: bool,
                                 regexp: str, repl: str, after: str | None, before: str | None) -> None:
    if "\\1" in repl and "(" not in regexp:
        repl = "Z"
    path = _file(tmp_path, lines, newline)
    FakeAnsibleModule.next_params = {"path": str(path), "regexp": regexp, "replace": repl, "after": after,
                                     "before": before, "backup": False, "validate": None, "encoding": "utf-8"}
    monkeypatch.setattr(ans_replace, "AnsibleModule", FakeAnsibleModule)
    with pytest.raises(_Exit) as caught:
        ans_replace.main()
    result = caught.value.result
    text = path.read_text()
    new, count, missed = replace_text(text, regexp, repl, after, before)
    if result.get("changed"):
        assert new == result["diff"]["after"] and result["msg"] == f"{count} replacements made"
    else:
        assert new == text
        if missed:
            assert result["msg"].endswith(missed)


def test_find_patterns_follow_ansible_pfilter() -> None:
    assert pattern_match("app.log", ["*.log"], None, False)
    assert not pattern_match("app.log", ["*.log"], ["app*"], False)
    assert pattern_match("app.log", ["^app"], None, True)
    assert not pattern_match("xapp.log", ["app"], None, True)  # re.match anchors at the start


def test_fetch_destinations() -> None:
    assert local_dest("/b", "/etc/hosts", "h1", False) == "/b/h1/etc/hosts"
    assert local_dest("/b/", "/etc/hosts", "h1", True) == "/b/hosts"
    assert local_dest("/b/x", "/etc/hosts", "h1", True) == "/b/x"


def test_command_words_expand_like_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ansible's command runs expanduser(expandvars(word)) on each word; the shell must agree."""
    import subprocess

    env = {"HOME": "/home/u", "A": "x y *", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    monkeypatch.setattr(os, "environ", env)
    for word in ["$HOME/a", "${A}", "~/x", "~", "$UNSET_Z", "a'b\"c", "$(id)", "pre${A}post", "$", "a$", "~/$A"]:
        out = subprocess.run(["sh", "-c", f"printf '%s' {expand_word(word)}"], capture_output=True, text=True,
                             env=env, cwd="/").stdout
        assert out == os.path.expanduser(os.path.expandvars(word)), word


def test_unarchive_listing_from_the_controller() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("./d/f.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("d/l")
        link.type, link.linkname = tarfile.SYMTYPE, "f.txt"
        tf.addfile(link)
    handler, items = listing(buf.getvalue())
    assert handler == "TgzArchive"
    assert ("f", "d/f.txt", "c22b5f9178342609428d6f51b2c5af4c0bde6a42") in items and ("l", "d/l", "f.txt") in items


@pytest.mark.parametrize(
    ("module", "args", "needle"),
    [
        ("lineinfile", {"path": "/x", "line": "y", "insertafter": "a", "insertbefore": "b"}, "mutually exclusive"),
        ("lineinfile", {"path": "/x", "regexp": "a", "search_string": "b", "line": "c"}, "mutually exclusive"),
        ("blockinfile", {"path": "/x", "insertafter": "a", "insertbefore": "b"}, "mutually exclusive"),
        ("copy", {"dest": "/x"}, "one of these parameters is required: content, src"),
        ("copy", {"dest": "/x", "content": "a", "remote_src": True}, "mutually exclusive"),
        ("file", {"path": "/x", "state": "linked"}, "must be one of"),
        ("stat", {"path": "/x", "checksum_algorithm": "crc32"}, "must be one of"),
        ("find", {"paths": "/x", "age_stamp": "btime"}, "must be one of"),
        ("template", {"src": "a", "dest": "/x", "newline_sequence": "\\t"}, "must be one of"),
        ("unarchive", {"src": "a", "dest": "/x", "include": ["a"], "exclude": ["b"]}, "mutually exclusive"),
        ("command", {"_raw_params": "ls", "argv": ["ls"]}, "mutually exclusive"),
        ("get_url", {"url": "http://x", "dest": "/x", "timeout": "soon"}, "timeout"),
        ("replace", {"path": "/x"}, "missing required parameter 'regexp'"),
        ("fetch", {"src": "/x"}, "missing required parameter 'dest'"),
    ],
)
def test_specs_reject_like_ansible(module: str, args: dict[str, Any], needle: str) -> None:
    cls = get_module(module)
    assert cls is not None and get_module(f"ansible.builtin.{module}") is cls
    _, errors = validate_args(cls.spec, args)
    assert any(needle in e for e in errors), errors


@pytest.mark.parametrize(
    ("module", "alias", "canonical"),
    [("lineinfile", "dest", "path"), ("lineinfile", "regex", "regexp"), ("lineinfile", "value", "line"),
     ("blockinfile", "content", "block"), ("stat", "checksum_algo", "checksum_algorithm"), ("find", "pattern", "patterns"),
     ("slurp", "path", "src"), ("get_url", "username", "url_username"), ("file", "name", "path"), ("copy", "attr", "attributes")],
)
def test_ansible_aliases(module: str, alias: str, canonical: str) -> None:
    cls = get_module(module)
    assert cls is not None
    assert cls.spec.names()[alias] == canonical


def test_stat_mode_format_is_ansibles() -> None:
    from orchestrator.modules.library.stat import stat_result

    fields = {"exists": "1", "rawmode": "81a4", "uid": "0", "gid": "0", "size": "3", "inode": "1", "dev": "2",
              "nlink": "1", "atime": "1.5", "mtime": "2.5", "ctime": "3.5", "pw_name": "root", "gr_name": "root",
              "blocks": "8", "block_size": "4096", "rdev_major": "0", "rdev_minor": "0", "readable": "1"}
    out = stat_result("/p", fields)
    assert out["mode"] == "0644" and out["isreg"] and not out["isdir"] and out["roth"] and not out["xusr"]
    assert out["mtime"] == 2.5 and out["readable"] and not out["writeable"]
    assert re.fullmatch(r"\d{4}", out["mode"])
