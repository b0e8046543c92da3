"""Pure parts of the modules real roles needed (issue 15), against the collections' own code.

mount's fstab editing is compared with ansible.posix's `_set_mount_save_old` on generated fstabs,
the role argument validator with ansible-core's ArgumentSpecValidator on generated values, and
pam_limits with community.general's module run by ansible itself on the controller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orchestrator.modules.base import ModuleFailed, get_module
from orchestrator.modules.library.mount import set_mount, unset_mount
from orchestrator.modules.library.pam_limits import edit_limits
from orchestrator.modules.library.validate_argument_spec import validate_spec
from orchestrator.modules.spec import validate_args


@pytest.mark.parametrize(
    "name",
    ["mount", "ansible.posix.mount", "pam_limits", "community.general.pam_limits",
     "validate_argument_spec", "ansible.builtin.validate_argument_spec", "selinux", "ansible.posix.selinux", "dnf",
     "locale_gen", "community.general.locale_gen", "community.postgresql.postgresql_user",
     "community.postgresql.postgresql_db", "community.postgresql.postgresql_privs"],
)  # fmt: skip
def test_names_resolve(name: str) -> None:
    assert get_module(name) is not None


@pytest.mark.parametrize(
    ("module", "args", "error"),
    [
        ("mount", {"path": "/mnt/x", "state": "mounted", "src": "tmpfs"}, "state=mounted requires: fstype"),
        ("mount", {"path": "/mnt/x", "state": "ephemeral"}, "parameter 'state' must be one of"),
        (
            "pam_limits",
            {"domain": "*", "limit_type": "hard", "limit_item": "cores", "value": "0"},
            "'limit_item'",
        ),
        ("pam_limits", {"domain": "*", "limit_type": "hard", "limit_item": "core"}, "'value'"),
    ],
)
def test_bad_input_names_the_key(module: str, args: dict[str, Any], error: str) -> None:
    cls = get_module(module)
    assert cls is not None
    _, errors = validate_args(cls.spec, args)
    assert any(error in e for e in errors), errors


# ---- mount: the fstab as ansible.posix writes it ---------------------------------------------------

posix_mount = pytest.importorskip("ansible_collections.ansible.posix.plugins.modules.mount")


class _FakeModule:
    check_mode = True
    params = {"backup": False}


_field = st.sampled_from(["/dev/sda1", "proc", "tmpfs", "UUID=ab-cd", "none", "/srv/my disk"])
_point = st.sampled_from(["/", "/proc", "/tmp", "/boot", "none", "/srv/a b"])
_line = st.one_of(
    st.sampled_from(["", "# a comment", "  # indented", "garbage", "a b c d e f g"]),
    st.builds(
        lambda src, point, fs, opts, n: " ".join([src.replace(" ", "\\040"), point.replace(" ", "\\040"), fs, opts][: 3 + (n > 0)] + ["0", "1"][: max(0, n - 1)]),
        _field, _point, st.sampled_from(["ext4", "proc", "tmpfs", "swap"]),
        st.sampled_from(["defaults", "rw,nosuid", "rw,nosuid,nodev,noexec,relatime,hidepid=2"]), st.integers(0, 3),
    ),
)  # fmt: skip


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    lines=st.lists(_line, max_size=6),
    trailing_newline=st.booleans(),
    src=_field,
    point=_point,
    fstype=st.sampled_from(["ext4", "proc", "tmpfs", "swap"]),
    opts=st.sampled_from(["defaults", "rw,nosuid,nodev,noexec,relatime,hidepid=2"]),
    dump=st.sampled_from(["0", "1"]),
)
def test_fstab_edits_match_ansible_posix(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[str],
    trailing_newline: bool,
    src: str,
    point: str,
    fstype: str,
    opts: str,
    dump: str,
) -> None:
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    fstab = tmp_path_factory.mktemp("fstab") / "fstab"
    fstab.write_text(text)
    wanted = {"src": src, "name": point, "fstype": fstype, "opts": opts, "dump": dump, "passno": "0"}
    _, _, theirs_changed = posix_mount._set_mount_save_old(_FakeModule(), {**wanted, "fstab": str(fstab)})
    # ansible.posix builds the new lines in its function; rerun it writing, to read them back
    module = _FakeModule()
    module.check_mode = False
    posix_mount._set_mount_save_old(module, {**wanted, "fstab": str(fstab)})
    ours, changed = set_mount(text, wanted)
    assert (ours, changed) == (fstab.read_text(), theirs_changed)
    fstab.write_text(text)
    _, theirs_removed = posix_mount.unset_mount(
        _FakeModule(), {"name": point, "src": src, "fstab": str(fstab)}
    )
    assert unset_mount(text, point, src)[1] == theirs_removed


# ---- role argument specs: ansible-core's validator -------------------------------------------------

arg_spec = pytest.importorskip("ansible.module_utils.common.arg_spec")

SPEC: dict[str, Any] = {
    "count": {"type": "int", "default": 3},
    "ratio": {"type": "float"},
    "enabled": {"type": "bool"},
    "name": {"type": "str", "required": True},
    "mode": {"choices": ["a", "b"]},
    "paths": {"type": "list", "elements": "str"},
    "ports": {"type": "list", "elements": "int", "choices": [80, 443]},
    "opts": {"type": "dict", "options": {"size": {"type": "int", "required": True}}},
    "users": {"type": "list", "elements": "dict", "options": {"uid": {"type": "int"}}},
    "anything": {"type": "raw"},
}

_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 500), st.sampled_from([1.5, 2.0]),
    st.sampled_from(["", "a", "b", "c", "12", "1.0", "yes", "off", "x,y", "80", "/tmp/x"]),
)  # fmt: skip
_mapping = st.dictionaries(st.sampled_from(["size", "uid", "other"]), _scalar, max_size=2)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3), _mapping, st.lists(_mapping, max_size=2))


def _comparable(errors: Iterable[str]) -> list[str]:
    """ansible-core lists the valid booleans in a set's order and, for several unsupported names,
    the supported ones of any of them: compare up to there."""
    return [e.split(" Valid booleans include:")[0].split(" Supported parameters")[0] for e in errors]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(params=st.dictionaries(st.sampled_from([*SPEC, "stray"]), _value, max_size=5))
def test_argument_spec_errors_match_ansible(params: dict[str, Any]) -> None:
    # Sub-options get well-shaped values: ansible-core crashes or reports twice on other shapes.
    assume(isinstance(params.get("opts", {}), dict))
    assume(
        isinstance(params.get("users", []), list)
        and all(isinstance(u, dict) for u in params.get("users", []))
    )
    theirs = arg_spec.ArgumentSpecValidator(json.loads(json.dumps(SPEC))).validate(
        json.loads(json.dumps(params)), validate_role_argument_spec=True
    )
    assert _comparable(validate_spec(SPEC, params)) == _comparable(str(e) for e in theirs.error_messages)


# ---- pam_limits: community.general's module, run by ansible on the controller --------------------

ANSIBLE = Path(sys.executable).parent / "ansible"
LIMITS = "# /etc/security/limits.conf\n#\n*   soft   nofile   1024   # open files\n@ops hard core 5\n\nroot - nproc unlimited\n"


@pytest.mark.skipif(not ANSIBLE.exists(), reason="needs ansible next to the interpreter")
@pytest.mark.parametrize(
    "args",
    [
        {"domain": "*", "limit_type": "hard", "limit_item": "core", "value": "0", "comment": "no dumps"},
        {"domain": "*", "limit_type": "soft", "limit_item": "nofile", "value": "4096"},
        {"domain": "@ops", "limit_type": "hard", "limit_item": "core", "value": "2", "use_max": True},
        {"domain": "@ops", "limit_type": "hard", "limit_item": "core", "value": "2", "use_min": True},
        {"domain": "root", "limit_type": "-", "limit_item": "nproc", "value": "100", "use_min": True},
        {"domain": "*", "limit_type": "soft", "limit_item": "nofile", "value": "1024"},
    ],
)
def test_pam_limits_writes_what_community_general_writes(tmp_path: Path, args: dict[str, Any]) -> None:
    theirs = tmp_path / "theirs.conf"
    theirs.write_text(LIMITS)
    full = {"use_max": False, "use_min": False, "comment": "", **args}
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-m", "community.general.pam_limits",
         "-a", json.dumps({**args, "dest": str(theirs)})],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
             "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_PYTHON_INTERPRETER": sys.executable},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new, changed, _ = edit_limits(LIMITS, full, "x")
    assert new == theirs.read_text()
    assert changed == ('"changed": true' in proc.stdout)


def test_pam_limits_rejects_bad_values() -> None:
    from orchestrator.modules.library.pam_limits import check_value

    with pytest.raises(ModuleFailed, match="'nofile' is invalid"):
        check_value("nofile", "lots")
    with pytest.raises(ModuleFailed, match="range -20 to 19"):
        check_value("nice", "30")
    with pytest.raises(ModuleFailed, match="Invalid configuration found in 'f'"):
        edit_limits("* hard core many\n", {"domain": "*", "limit_type": "hard", "limit_item": "core",
                                            "value": "0", "comment": "", "use_max": False, "use_min": False}, "f")  # fmt: skip


def test_locale_names_and_locale_gen_lines() -> None:
    from orchestrator.modules.library.locale_gen import edit_locale_gen, fix_case, not_present

    assert fix_case("C.utf8") == "C.UTF-8" and fix_case("de_DE.iso885915@euro") == "de_DE.ISO-8859-15@euro"
    assert not_present(["C.UTF-8", "de_DE.UTF-8"], ["C", "C.utf8", "POSIX"]) == ["de_DE.UTF-8"]
    text = "# de_DE ISO-8859-1\n# de_DE.UTF-8 UTF-8\n#  en_US.UTF-8 UTF-8\n"
    enabled = edit_locale_gen(text, ["de_DE.UTF-8", "en_US.UTF-8"], enabled=True)
    assert enabled == "# de_DE ISO-8859-1\nde_DE.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\n"
    assert edit_locale_gen(enabled, ["de_DE.UTF-8"], enabled=False).splitlines()[1] == "# de_DE.UTF-8 UTF-8"
