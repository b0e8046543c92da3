"""locale_gen (community.general.locale_gen): generated glibc locales (Debian's /etc/locale.gen).

One round trip reads /usr/share/i18n/SUPPORTED and `locale -a`; availability and presence follow
community.general (a name must be listed as supported or already generated; `locale -a`'s
lower-case charsets are normalised: C.utf8 is C.UTF-8). A change uncomments (or comments) the
names' lines in /etc/locale.gen, written atomically, and runs `locale-gen`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import write_content_script
from orchestrator.modules.spec import ArgSpec, Param

ETC_LOCALE_GEN = "/etc/locale.gen"
NORMALIZATION = {
    ".utf8": ".UTF-8", ".eucjp": ".EUC-JP", ".iso885915": ".ISO-8859-15", ".cp1251": ".CP1251",
    ".koi8r": ".KOI8-R", ".armscii8": ".ARMSCII-8", ".euckr": ".EUC-KR", ".gbk": ".GBK",
    ".gb18030": ".GB18030", ".euctw": ".EUC-TW",
}  # fmt: skip
_SUPPORTED_LINE = re.compile(r"^\s*#?\s*(?P<locale>\S+[\._\S]+) (?P<charset>\S+)\s*$")


def fix_case(name: str) -> str:
    for old, new in NORMALIZATION.items():
        name = name.replace(old, new)
    return name


def not_present(names: list[str], generated: list[str]) -> list[str]:
    have = {fix_case(line) for line in generated}
    return [n for n in names if fix_case(n) not in have]


def edit_locale_gen(text: str, names: list[str], enabled: bool) -> str:
    """community.general's set_locale_glibc: each name's line (un)commented. Pure."""
    lines = text.splitlines(True)
    for name in names:
        search = re.compile(rf"^#?\s*{re.escape(name)} (?P<charset>.+)")
        replace = rf"{name} \g<charset>" if enabled else rf"# {name} \g<charset>"
        lines = [search.sub(replace, line) for line in lines]
    return "".join(lines)


@register
class LocaleGen(Module):
    """Generate or remove glibc locales."""

    name = "locale_gen"
    aliases = ("community.general.locale_gen",)
    spec = ArgSpec(
        params={
            "name": Param("list", elements="str", required=True),
            "state": Param("str", default="present", choices=("absent", "present")),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        names, state = args["name"], args["state"]
        probe = ctx.query(
            f"[ -f {ETC_LOCALE_GEN} ] || orch_fail '/var/lib/locales/supported.d and {ETC_LOCALE_GEN} are missing."
            ' Is the package "locales" installed?\'\n'
            "orch_section supported; cat /usr/share/i18n/SUPPORTED 2>/dev/null\n"
            "orch_section generated; locale -a || exit 1\n"
            f"orch_section locale_gen; cat {ETC_LOCALE_GEN}"
        )
        if probe.rc != 0:
            raise ModuleFailed(
                probe.err.strip() or "locale_gen: could not read the host's locales", rc=probe.rc
            )
        supported_text = probe.wire.text("supported")
        generated_text = probe.wire.text("generated")
        locale_gen_text = probe.wire.text("locale_gen")
        listed = {m["locale"] for m in map(_SUPPORTED_LINE.match, supported_text.splitlines()) if m}
        unknown = not_present([n for n in names if n not in listed], generated_text.splitlines())
        if unknown:
            raise ModuleFailed(
                f"The following locales you have entered are not available on your system: {', '.join(unknown)}"
            )
        present = not not_present(names, generated_text.splitlines())
        if present == (state == "present"):
            return {"changed": False, "name": names}
        new_text = edit_locale_gen(locale_gen_text, names, enabled=state == "present")
        ctx.converge(
            "return 10",
            f'd={ETC_LOCALE_GEN}\nwant_owner= want_group= want_mode=\norch_statvars "$d"\n'
            + write_content_script(new_text.encode(), None, None, False)
            + "\nlocale-gen >/dev/null",
        )
        ctx.add_diff(locale_gen_text, new_text, ETC_LOCALE_GEN, ETC_LOCALE_GEN)
        return {"changed": True, "name": names}
