"""Reports of a run: :mod:`~meshrelease.report.render` (results.json, report.md, report.html),
:mod:`~meshrelease.report.failure` (the expected-vs-observed table of a failed step) and
:mod:`~meshrelease.report.compare` (what changed between two runs)."""

from meshrelease.report.compare import Comparison, compare_files, compare_runs
from meshrelease.report.failure import StepFailed, failure_message
from meshrelease.report.render import render_html, render_markdown, write_reports

__all__ = [
    "Comparison",
    "StepFailed",
    "compare_files",
    "compare_runs",
    "failure_message",
    "render_html",
    "render_markdown",
    "write_reports",
]
