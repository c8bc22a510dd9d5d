"""The one YAML loader against hostile or odd input: alias bombs, recursive aliases, deep nesting, binary and
Latin-1 files, binary stdin to `apply -f -` — each a clear error naming the file (and line), never a hang.
Timings and memory of the same inputs are printed by bench/malformed_inputs.py."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from meshrelease.cli.objects import _read_text
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.k8s.manifest import load_manifest_text, load_manifests
from meshrelease.k8s.yaml import MAX_ALIAS_EXPANSION
from meshrelease.scenario.loader import load_scenario
from tests.hostile_inputs import BILLION_LAUGHS, alias_bomb

HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def test_the_641_byte_billion_laughs_is_refused_naming_file_and_line() -> None:
    assert len(BILLION_LAUGHS.encode()) == 641
    with pytest.raises(UserInputError) as info:
        load_manifest_text(BILLION_LAUGHS, "bomb.yaml")
    assert info.value.path == "bomb.yaml"
    assert info.value.line is not None and info.value.line > 1
    assert "alias" in str(info.value) and str(MAX_ALIAS_EXPANSION) in str(info.value)


def test_an_alias_bomb_in_a_step_description_is_refused_at_load(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    (folder / "scenario.yaml").write_text(
        "steps:\n  - name: one\n    apply: [m.yaml]\n    description: " + alias_bomb(9, indent="      ") + "\n"
        "    expect: [{reviews: v1}]\n"
    )
    with pytest.raises(UserInputError, match="alias") as info:
        load_scenario(folder)
    assert info.value.path == str(folder / "scenario.yaml")


@pytest.mark.parametrize(("text", "fragment"), [("a: &x [1, *x]", "recursive alias"), ("a: &x {b: *x}", "recursive")])
def test_recursive_aliases_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(UserInputError, match=fragment):
        load_manifest_text(HEAD + "data:\n  " + text + "\n", "r.yaml")


def test_small_anchors_aliases_and_merge_keys_keep_working() -> None:
    text = HEAD + "data:\n  base: &b {x: '1'}\n  other: {<<: *b, y: '2'}\n  l: &l [a, b]\n  m: *l\n"
    (doc,) = load_manifest_text(text, "ok.yaml")
    assert doc["data"] == {"base": {"x": "1"}, "other": {"x": "1", "y": "2"}, "l": ["a", "b"], "m": ["a", "b"]}
    # Aliases that add nodes below the budget are fine, however many there are.
    (doc,) = load_manifest_text(HEAD + "data: " + alias_bomb(3, indent="  ") + "\n", "small.yaml")
    assert len(doc["data"][2]) == 9 and doc["data"][2][8] == [["lol"] * 9] * 9


def test_20000_deep_nesting_is_a_clear_error() -> None:
    with pytest.raises(UserInputError, match="nest") as info:
        load_manifest_text("a: " + "[" * 20000 + "]" * 20000 + "\n", "deep.yaml")
    assert info.value.path == "deep.yaml"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("kind: Caf\u00e9\n".encode("latin-1"), "not UTF-8"),
        (bytes(range(256)), "not UTF-8"),
        (b"kind: x\x00\x01\x02\n", "invalid YAML"),
    ],
)
def test_binary_and_latin1_files_are_clear_errors(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match=fragment) as info:
        load_manifests(path)
    assert info.value.path == str(path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_bytes(content)
    with pytest.raises(UserInputError, match=fragment):
        load_scenario(scenario)


def test_binary_stdin_to_apply_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00binary"))
    monkeypatch.setattr(sys, "stdin", stdin)
    with pytest.raises(MeshReleaseError, match="stdin: the manifest is not UTF-8"):
        _read_text("-")
