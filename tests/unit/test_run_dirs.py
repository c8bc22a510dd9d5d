"""Run directories record their owner; a start sweeps those whose owner is gone (and nothing else). SIGTERM
during a run is an interruption, as Ctrl-C is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from meshrelease.backends.local.run_dirs import OWNER_FILE, create_run_dir, owner_of, sweep_stale_run_dirs
from meshrelease.errors import Terminated
from meshrelease.suite import sigterm_as_interrupt


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_a_run_dir_records_its_owner_unless_it_is_kept(tmp_path: Path) -> None:
    run_dir = create_run_dir(tmp_path)
    assert run_dir.parent == tmp_path and run_dir.name.startswith("meshrelease-")
    assert owner_of(run_dir) == os.getpid()
    kept = create_run_dir(tmp_path, keep=True)
    assert owner_of(kept) is None


def test_the_sweep_removes_only_run_dirs_of_dead_owners(tmp_path: Path) -> None:
    stale = tmp_path / "meshrelease-stale"
    live = tmp_path / "meshrelease-live"
    unowned = tmp_path / "meshrelease-kept"
    other = tmp_path / "someone-else"
    garbage = tmp_path / "meshrelease-garbage"
    for d in (stale, live, unowned, other, garbage):
        (d / "logs").mkdir(parents=True)
    (stale / OWNER_FILE).write_text(f"{dead_pid()}\n")
    (live / OWNER_FILE).write_text(f"{os.getpid()}\n")
    (other / OWNER_FILE).write_text(f"{dead_pid()}\n")
    (garbage / OWNER_FILE).write_text("not a pid\n")
    (tmp_path / "meshrelease-file").write_text("a file, not a run directory")

    assert sweep_stale_run_dirs(tmp_path) == [stale]
    assert not stale.exists()
    assert all(d.exists() for d in (live, unowned, other, garbage, tmp_path / "meshrelease-file"))


def test_a_start_in_the_default_place_sweeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # let tempfile read TMPDIR again
    stale = tmp_path / "meshrelease-abandoned"
    stale.mkdir()
    (stale / OWNER_FILE).write_text(f"{dead_pid()}\n")
    run_dir = create_run_dir(None)
    assert run_dir.parent == tmp_path
    assert not stale.exists()


def test_sigterm_inside_is_an_interruption_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("SIGTERM did not interrupt")
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Terminated, KeyboardInterrupt)
