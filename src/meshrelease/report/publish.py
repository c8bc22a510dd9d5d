"""Putting a run's report set in place of the previous run's, so a report directory never mixes two runs.

The set is written into a fresh directory next to the report directory, then swapped in: when the report
directory does not exist yet, by renaming the new one; otherwise every entry a report set may hold (REPORT_ENTRIES)
is removed from it — also those this run does not write, e.g. an earlier run's junit.xml or access logs — and the
new entries are moved in. Anything else in the directory (a user's own files, logs collected with
``--collect-logs``) is left alone.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from meshrelease.engine.results import RESULTS_FILE, RunResults
from meshrelease.report.render import write_reports
from meshrelease.report.text import ACCESS_LOG_DIR

JUNIT_FILE = "junit.xml"
SCREENSHOT_DIR = "screenshots"
KEPT_RUNS_DIR = "runs"  # --keep-run-dir: the local mesh's run directories (see backends/settings.py)
REPORT_ENTRIES = (RESULTS_FILE, "report.md", "report.html", JUNIT_FILE, ACCESS_LOG_DIR, SCREENSHOT_DIR, KEPT_RUNS_DIR)


def remove_entry(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def publish_reports(
    results: RunResults,
    report_dir: Path,
    *,
    junit: Path | None = None,
    keep: Sequence[str] = (),
) -> list[Path]:
    """Write the report set of ``results`` (plus the JUnit file ``junit``, moved in as junit.xml) and put it in
    place of whatever report set ``report_dir`` held. ``keep`` names entries of the directory that belong to
    this run and stay (e.g. its kept run directories, or junit.xml when --junitxml wrote it there). Returns the
    files of the new set, in the report directory."""
    report_dir = Path(report_dir)
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}.", suffix=".new", dir=report_dir.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would become the report directory's
    try:
        written = write_reports(results, staging)
        if junit is not None and junit.is_file():
            shutil.move(str(junit), staging / JUNIT_FILE)
            written.insert(3, staging / JUNIT_FILE)
        if not report_dir.exists():
            staging.rename(report_dir)
        else:
            for name in REPORT_ENTRIES:
                if name not in keep:
                    remove_entry(report_dir / name)
            for entry in staging.iterdir():
                entry.rename(report_dir / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [report_dir / p.relative_to(staging) for p in written]
