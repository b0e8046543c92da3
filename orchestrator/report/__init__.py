"""Rendering of executor events: live view, Ansible-compatible plain text, JSON, transport stats.

Reporters only consume `orchestrator.events`; they know nothing of SSH or modules, and the
executor knows nothing of rich. Every reporter is thread-safe and never raises into the executor.
"""

from orchestrator.report.factory import make_reporters
from orchestrator.report.format import recap_lines
from orchestrator.report.json_report import JsonReporter
from orchestrator.report.live import COLLAPSE_THRESHOLD, LiveReporter
from orchestrator.report.plain import PlainReporter
from orchestrator.report.stats import StatsReporter

__all__ = [
    "COLLAPSE_THRESHOLD",
    "JsonReporter",
    "LiveReporter",
    "PlainReporter",
    "StatsReporter",
    "make_reporters",
    "recap_lines",
]
