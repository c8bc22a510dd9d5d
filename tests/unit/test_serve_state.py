"""The state file of `meshrelease serve` (it holds the token): 0600, created exclusively and never through a
link, in a private home; a corrupt file is a clear error for the client and is replaced by the next serve.
Also the serve options that fail before anything starts."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from meshrelease.backends.local.control import ControlClient
from meshrelease.backends.local.serve_state import (
    CorruptState,
    claim_state,
    ensure_not_serving,
    read_state,
    release_state,
)
from meshrelease.cli.main import main
from meshrelease.errors import MeshReleaseError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("MESHRELEASE_HOME", str(path))
    return path


def claim() -> Path:
    return claim_state("http://127.0.0.1:1", "http://127.0.0.1:2", "secret-token", "/tmp/run")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_state_file_is_0600_in_a_0700_home(home: Path) -> None:
    old = os.umask(0o022)
    try:
        path = claim()
    finally:
        os.umask(old)
    assert (mode(home), mode(path)) == (0o700, 0o600)
    state = read_state()
    assert state is not None and state["token"] == "secret-token" and state["pid"] == os.getpid()
    release_state()
    assert not path.exists()


def test_a_stale_temporary_file_does_not_make_the_state_readable(home: Path) -> None:
    home.mkdir(mode=0o700)
    stale = home / ".serve.json.tmp"
    stale.write_text("old")
    stale.chmod(0o644)
    path = claim()
    assert mode(path) == 0o600
    assert not stale.exists()


def test_a_link_in_place_of_the_temporary_file_is_not_written_through(home: Path, tmp_path: Path) -> None:
    home.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched")
    (home / ".serve.json.tmp").symlink_to(target)
    path = claim()
    assert target.read_text() == "untouched"
    assert not path.is_symlink() and mode(path) == 0o600


def test_a_home_that_others_may_write_is_refused(home: Path) -> None:
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(MeshReleaseError, match="may be written by group or others") as info:
        claim()
    assert "chmod 700" in str(info.value)
    assert not (home / "serve.json").exists()


def test_the_default_home_is_tightened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHRELEASE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    default = tmp_path / ".meshrelease"
    default.mkdir(mode=0o755)
    default.chmod(0o755)
    claim()
    assert mode(default) == 0o700
    release_state()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "is not JSON"),
        (b"\xff\xfe\x00", "cannot be read"),
        (b"[]", "is not a JSON object"),
        (b'{"pid": 1}', "has no control_url, token"),  # pid 1 is alive
        (b'{"pid": "abc", "control_url": "", "token": "", "ingress_url": "", "run_dir": ""}', "names no process"),
        (b'{"pid": 1, "control_url": 5, "token": "", "ingress_url": "", "run_dir": ""}', "not a string"),
    ],
)
def test_a_corrupt_state_file_is_a_clear_error_for_the_client_and_no_obstacle_to_serve(
    home: Path, content: bytes, fragment: str
) -> None:
    home.mkdir(mode=0o700)
    (home / "serve.json").write_bytes(content)
    with pytest.raises(CorruptState, match=fragment) as info:
        ControlClient.connect()
    assert str(home / "serve.json") in str(info.value) and "remove the file" in str(info.value)
    ensure_not_serving()  # a corrupt file names no running serve
    claim()
    assert json.loads((home / "serve.json").read_text())["pid"] == os.getpid()
    release_state()


def test_a_corrupt_state_file_is_an_error_message_of_the_cli(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home.mkdir(mode=0o700)
    (home / "serve.json").write_text("garbage")
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the state file") and "Traceback" not in err


@pytest.mark.parametrize(("port", "fragment"), [("70000", "70000 is not a TCP port"), ("-1", "-1 is not a TCP port")])
def test_serve_with_a_bad_port_is_an_error_before_anything_starts(
    home: Path, capsys: pytest.CaptureFixture[str], port: str, fragment: str
) -> None:
    assert main(["serve", "--port", port]) == 1
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not home.exists()  # nothing started, nothing written
