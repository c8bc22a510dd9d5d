"""A run's report set, written into one directory from one :class:`~meshrelease.engine.results.RunResults`:

    results.json        the machine-readable record (its layout is described in engine/results.py)
    report.md           the same for people, as Markdown (:mod:`meshrelease.report.markdown`)
    report.html         one self-contained page (:mod:`meshrelease.report.html`)
    access-logs/*.log   the proxies' access-log lines of one mis-routed request per failed expectation
    screenshots/*.png   what a real browser showed each user at each step (``--browser``)

:mod:`meshrelease.report.publish` puts a set in place of the previous run's; the plugin adds junit.xml.
"""

from __future__ import annotations

from pathlib import Path

from meshrelease.engine.results import RESULTS_FILE, RunResults
from meshrelease.report.html import render_html
from meshrelease.report.markdown import render_markdown
from meshrelease.report.svg import split_chart
from meshrelease.report.text import access_log_files, expected_text, observed_text

__all__ = ["render_html", "render_markdown", "screenshots", "split_chart", "write_reports"]
__all__ += ["expected_text", "observed_text"]


def screenshots(results: RunResults) -> dict[str, bytes]:
    """The screenshots the run holds in memory, by their file name in the report."""
    return {v.screenshot: v.png for s in results.steps for v in s.views if v.screenshot and v.png is not None}


def write_reports(results: RunResults, report_dir: Path) -> list[Path]:
    """Write the report set into ``report_dir`` (created if needed); returns the files written, the three
    reports first."""
    report_dir.mkdir(parents=True, exist_ok=True)
    images = screenshots(results)
    out = [report_dir / RESULTS_FILE, report_dir / "report.md", report_dir / "report.html"]
    results.write(out[0])
    out[1].write_text(render_markdown(results), encoding="utf-8")
    out[2].write_text(render_html(results, images), encoding="utf-8")
    for name, (_, e) in access_log_files(results.steps).items():
        assert e.example is not None
        path = report_dir / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(e.example.access_log) + "\n", encoding="utf-8")
        out.append(path)
    for name, png in images.items():
        path = report_dir / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(png)
        out.append(path)
    return out
