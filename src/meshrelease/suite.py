"""``run_suite()``: the one place meshrelease starts pytest on release scenarios.

``meshrelease run`` and the upgrade checks call it; a plain ``pytest DIR`` run behaves the same, because
everything a run needs (options, collection, fixtures, reports with their JUnit file) is in the pytest plugin,
which pytest loads from the installed package's entry point. ``run_suite`` only adds what a command-line user
expects: the report directory named explicitly (so a run that collects nothing still replaces the report) and
verbose step lines. Its exit code is pytest's: 0 all passed, 1 a step failed, 2 interrupted (or collection
errors), 3 internal error, 4 usage error, 5 nothing collected.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from meshrelease.backends.settings import DEFAULT_REPORT_DIR, to_argv
from meshrelease.errors import Terminated, UserInputError

DEFAULT_SCENARIOS = "scenarios"


def scenario_paths(paths: Sequence[str]) -> list[str]:
    """The paths to run: as given, or ``./scenarios``. Any pytest node id is a path too (``file::scenario``,
    ``file::scenario::step``, as a FAILED line prints it): its file part must exist.

    Raises UserInputError for a path that does not exist."""
    if not paths:
        if not Path(DEFAULT_SCENARIOS).is_dir():
            raise UserInputError(
                f"no scenario path given and there is no ./{DEFAULT_SCENARIOS} folder here ({Path.cwd()})",
                hint="name a scenario folder, a scenario.yaml or a folder holding them, e.g. "
                "`meshrelease run path/to/my-scenarios`",
            )
        return [DEFAULT_SCENARIOS]
    for p in paths:
        file_part = p.split("::", 1)[0]
        if not Path(file_part).exists():
            raise UserInputError(
                f"no such scenario path: {file_part}",
                hint="give a scenario folder, a scenario.yaml, a folder holding them, or a node id "
                "(scenarios/x/scenario.yaml::x::step)",
            )
    return list(paths)


def pytest_argv(
    paths: Sequence[str],
    *,
    options: Mapping[str, Any] | None = None,
    keyword: str | None = None,
    pytest_args: Sequence[str] = (),
) -> list[str]:
    """The pytest command line of a run: paths, the options (dest -> value, as the option table names them)
    with the report directory always named, ``-k``, ``-v`` unless ``-q``/``-v`` was given, then
    ``pytest_args`` as they are (a ``--junitxml`` among them sends the JUnit file there instead)."""
    opts = dict(options or {})
    opts["report_dir"] = opts.get("report_dir") or os.environ.get("MESHRELEASE_REPORT_DIR") or DEFAULT_REPORT_DIR
    argv = [*paths, *to_argv(opts)]
    if keyword:
        argv += ["-k", keyword]
    if not any(a in ("-q", "--quiet", "-v", "--verbose") or a.startswith(("-vv", "-qq")) for a in pytest_args):
        argv.append("-v")
    # meshrelease is imported before pytest starts, so its plugin module cannot be assertion-rewritten.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning", *pytest_args]
    return argv


def run_suite(
    paths: Sequence[str],
    *,
    options: Mapping[str, Any] | None = None,
    keyword: str | None = None,
    pytest_args: Sequence[str] = (),
) -> int:
    """Run the scenarios under ``paths`` with pytest in this process; returns pytest's exit code. SIGTERM
    ends the run as Ctrl-C does (report written, mesh torn down, exit code 2)."""
    import pytest  # only a run needs pytest

    with sigterm_as_interrupt():
        return int(pytest.main(pytest_argv(paths, options=options, keyword=keyword, pytest_args=pytest_args)))


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`~meshrelease.errors.Terminated` (a KeyboardInterrupt) in the main
    thread; the previous handler is restored after. Elsewhere than in the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
