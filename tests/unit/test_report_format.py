"""The shared text of results: banners, status lines, failure blocks, diffs, the PLAY RECAP."""

from __future__ import annotations

import pytest

from orchestrator.events import Message, PlayStart, TaskStart
from orchestrator.report import format as fmt
from orchestrator.report import recap_lines
from orchestrator.results import Diff, HostStats, Status, TaskResult

# Copied from `ansible-playbook` 2.19 output (ANSIBLE_NOCOLOR=1, not a TTY), trailing spaces included.
ANSIBLE_RECAP = [
    "a-very-long-hostname-that-exceeds-26.example.com : ok=4    changed=3    unreachable=0    failed=0"
    "    skipped=1    rescued=0    ignored=1   ",
    "dead                       : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0"
    "    ignored=0   ",
    "h1                         : ok=4    changed=3    unreachable=0    failed=0    skipped=1    rescued=0"
    "    ignored=1   ",
]
ANSIBLE_PLAY_BANNER = "PLAY [web] *********************************************************************"
ANSIBLE_TASK_BANNER = "TASK [Install nginx] ***********************************************************"
ANSIBLE_RECAP_BANNER = "PLAY RECAP *********************************************************************"


def result(status: Status = Status.OK, **kwargs: object) -> TaskResult:
    return TaskResult(host=str(kwargs.pop("host", "h1")), task="t", status=status, **kwargs)  # type: ignore[arg-type]


def test_banners_are_80_wide_like_ansible_without_a_tty() -> None:
    assert fmt.banner("PLAY [web]") == ANSIBLE_PLAY_BANNER
    assert fmt.banner("TASK [Install nginx]") == ANSIBLE_TASK_BANNER
    assert fmt.banner(fmt.RECAP_BANNER) == ANSIBLE_RECAP_BANNER
    assert len(ANSIBLE_PLAY_BANNER) == 80


def test_banner_keeps_three_stars_for_long_titles_and_follows_the_terminal() -> None:
    long = "TASK [" + "x" * 100 + "]"
    assert fmt.banner(long) == long + " ***"
    assert fmt.columns_for_width(None) == 79
    assert fmt.columns_for_width(60) == 79  # never narrower than Ansible's minimum
    assert len(fmt.banner("PLAY [web]", fmt.columns_for_width(120))) == 120


def test_titles() -> None:
    assert fmt.play_title(PlayStart(name="web", hosts=())) == "PLAY [web]"
    assert fmt.play_title(PlayStart(name="", hosts=())) == "PLAY"
    assert fmt.task_title(TaskStart(name="restart", hosts=(), is_handler=True)) == "RUNNING HANDLER [restart]"
    assert fmt.task_title(TaskStart(name="role : Install", hosts=())) == "TASK [role : Install]"


def test_recap_lines_match_ansible_exactly_sorted_by_host() -> None:
    stats = {
        "h1": HostStats(ok=4, changed=3, skipped=1, ignored=1),
        "dead": HostStats(unreachable=1),
        "a-very-long-hostname-that-exceeds-26.example.com": HostStats(ok=4, changed=3, skipped=1, ignored=1),
    }
    assert recap_lines(stats) == ANSIBLE_RECAP


def test_recap_counter_columns_are_padded_to_four() -> None:
    (line,) = recap_lines({"web1": HostStats(ok=12345, changed=10, failed=1)})
    assert line == (
        "web1                       : ok=12345 changed=10   unreachable=0    failed=1    skipped=0    "
        "rescued=0    ignored=0   "
    )


def test_recap_matches_ansibles_own_functions_colored_and_not(monkeypatch: pytest.MonkeyPatch) -> None:
    color = pytest.importorskip("ansible.utils.color")
    from orchestrator.report.plain import stringc

    stats = {
        "ok-host": HostStats(ok=2),
        "changed-host": HostStats(ok=3, changed=1, rescued=1, ignored=2),
        "bad-host": HostStats(ok=1, failed=1, skipped=4),
        "gone": HostStats(unreachable=1),
    }

    def ansible_line(host: str, s: HostStats, colored: bool) -> str:
        t = dict(s.as_dict(), failures=s.failed)
        c = color.C
        return "%s : %s %s %s %s %s %s %s" % (  # noqa: UP031 - Ansible's own format, on purpose
            color.hostcolor(host, t, colored),
            color.colorize("ok", t["ok"], c.COLOR_OK if colored else None),
            color.colorize("changed", t["changed"], c.COLOR_CHANGED if colored else None),
            color.colorize("unreachable", t["unreachable"], c.COLOR_UNREACHABLE if colored else None),
            color.colorize("failed", t["failures"], c.COLOR_ERROR if colored else None),
            color.colorize("skipped", t["skipped"], c.COLOR_SKIP if colored else None),
            color.colorize("rescued", t["rescued"], c.COLOR_OK if colored else None),
            color.colorize("ignored", t["ignored"], c.COLOR_WARN if colored else None),
        )

    monkeypatch.setattr(color, "ANSIBLE_COLOR", False)
    assert recap_lines(stats) == [ansible_line(h, stats[h], False) for h in sorted(stats)]
    monkeypatch.setattr(color, "ANSIBLE_COLOR", True)
    ours = ["".join(stringc(t, c) for t, c in fmt.recap_parts(h, stats[h])) for h in sorted(stats)]
    assert ours == [ansible_line(h, stats[h], True) for h in sorted(stats)]


@pytest.mark.parametrize(
    ("res", "line"),
    [
        (result(Status.OK), "ok: [h1]"),
        (result(Status.CHANGED), "changed: [h1]"),
        (result(Status.SKIPPED), "skipping: [h1]"),
        (result(Status.FAILED), "fatal: [h1]: FAILED!"),
        (result(Status.UNREACHABLE), "fatal: [h1]: UNREACHABLE!"),
        (result(Status.OK, item_label="foo"), "ok: [h1] => (item=foo)"),
        (result(Status.CHANGED, item_label="foo"), "changed: [h1] => (item=foo)"),
        (result(Status.SKIPPED, item_label="foo"), "skipping: [h1] => (item=foo) "),
        (result(Status.FAILED, item_label="b"), "failed: [h1] (item=b)"),
        (result(Status.OK, delegated_to="db1"), "ok: [h1 -> db1]"),
        (result(Status.OK, delegated_to="h1"), "ok: [h1]"),
    ],
)
def test_status_lines_are_ansibles(res: TaskResult, line: str) -> None:
    assert fmt.status_line(res) == line


def test_failure_lines_are_verbatim_not_json() -> None:
    res = result(
        Status.FAILED,
        msg="non-zero return code",
        rc=3,
        stdout='He said "hi"\n\tC:\\path\n',
        stderr="E: Unable to locate package ngnix\n",
        data={"cmd": ["apt-get", "install"], "delta": "0:00:01"},
    )
    assert fmt.failure_lines(res, "site.yml:12", verbosity=0) == [
        "fatal: [h1]: FAILED! => non-zero return code",
        "  rc: 3",
        "  stdout:",
        '    He said "hi"',
        "    \tC:\\path",
        "  stderr: E: Unable to locate package ngnix",
        "  task path: site.yml:12",
    ]
    verbose = fmt.failure_lines(res, "site.yml:12", verbosity=1)
    assert verbose[-5:] == [
        "  cmd:",
        "    - apt-get",
        "    - install",
        "  delta: 0:00:01",
        "  task path: site.yml:12",
    ]


def test_failure_with_multiline_msg_and_no_output() -> None:
    res = result(Status.FAILED, msg="Assertion failed\nexpected: 1\ngot: 2", item_label="x")
    assert fmt.failure_lines(res, "", verbosity=0) == [
        "failed: [h1] (item=x)",
        "  msg:",
        "    Assertion failed",
        "    expected: 1",
        "    got: 2",
    ]


def test_verbose_lines_inline_when_short_block_when_long() -> None:
    assert fmt.verbose_lines(result(Status.OK, data={"ping": "pong"}), 0) == ["ok: [h1]"]
    assert fmt.verbose_lines(result(Status.OK, data={"ping": "pong", "changed": False}), 1) == [
        "ok: [h1] => ping: pong"
    ]
    lines = fmt.verbose_lines(
        result(Status.CHANGED, rc=0, stdout="a\nb\n", data={"stdout_lines": ["a", "b"]}), 1
    )
    assert lines == ["changed: [h1] =>", "    rc: 0", "    stdout:", "      a", "      b"]


def test_debug_style_results_show_data_without_verbosity() -> None:
    res = result(Status.OK, data={"msg": "hello", "_ansible_verbose_always": True})
    assert fmt.verbose_lines(res, 0) == ["ok: [h1] => msg: hello"]
    hidden = result(Status.OK, data={"msg": "x", "_ansible_verbose_override": True})
    assert fmt.verbose_lines(hidden, 3) == ["ok: [h1]"]


def test_yamlish_nesting_and_empties() -> None:
    value = {"b": [1, {"x": None}], "a": {}, "c": [], "d": True, "e": ""}
    assert fmt.yamlish([("data", value)]) == [
        "data:",
        "  a: {}",
        "  b:",
        "    - 1",
        "    -",
        "      x: null",
        "  c: []",
        "  d: true",
        '  e: ""',
    ]


def test_diff_lines_unified_with_headers() -> None:
    diff = Diff(before="x\n", after="a\nb\n", before_header="/etc/motd", after_header="/etc/motd")
    assert fmt.diff_lines([diff]) == [
        "--- before: /etc/motd",
        "+++ after: /etc/motd",
        "@@ -1 +1,2 @@",
        "-x",
        "+a",
        "+b",
        "",
    ]
    assert fmt.diff_lines([Diff(before="same\n", after="same\n")]) == []
    assert fmt.diff_lines([Diff(before="", after="new")])[:2] == ["--- before", "+++ after"]


def test_diff_lines_match_ansibles_get_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    callback = pytest.importorskip("ansible.plugins.callback")
    monkeypatch.setattr("ansible.utils.color.ANSIBLE_COLOR", False)  # `pytest -s` on a TTY
    cases = [
        Diff(before="x\n", after="a\nb", before_header="/p", after_header="/p"),
        Diff(before="", after="line\n", after_header="/new"),
        Diff(before="1\n2\n3\n4\n5\n6\n7\n8\n9\n", after="1\n2\n3\n4\nfive\n6\n7\n8\n9\n"),
    ]
    base = callback.CallbackBase()
    for diff in cases:
        spec = {"before": diff.before, "after": diff.after}
        if diff.before_header != "before":
            spec["before_header"] = diff.before_header
        if diff.after_header != "after":
            spec["after_header"] = diff.after_header
        assert "\n".join(fmt.diff_lines([diff])) + "\n" == base._get_diff(spec)


def test_message_lines() -> None:
    assert fmt.message_line(Message(level="warning", text="yes is a string")) == "[WARNING]: yes is a string"
    assert fmt.message_line(Message(level="error", text="boom", host="h2")) == "[ERROR]: [h2]: boom"
    assert fmt.message_line(Message(level="info", text="note")) == "note"
