"""The control endpoint of `meshrelease serve` against malformed requests: every one gets a JSON error body
with a status code (never a dropped connection), and a request that fails its checks changes nothing.
A stand-in mesh records what reached it; no Envoy runs here."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from meshrelease.backends.base import ApplyResult
from meshrelease.backends.local.control import TOKEN_HEADER, ControlServer

VS = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec: {hosts: [reviews]}\n"


class RecordingMesh:
    """What the endpoint asks of the mesh; ``fail`` makes status() raise an unexpected exception."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    def apply(self, docs: Any, *, source: str | None = None) -> ApplyResult:
        self.calls.append(f"apply {len(docs)}")
        return ApplyResult(lines=["virtualservice.networking.istio.io/reviews created"])

    def delete(self, docs: Any, **_: Any) -> ApplyResult:
        self.calls.append("delete")
        return ApplyResult()

    def delete_keys(self, keys: Any, **_: Any) -> ApplyResult:
        self.calls.append("delete_keys")
        return ApplyResult()

    def wait_synced(self, timeout: float) -> float:
        self.calls.append(f"wait {timeout:g}")
        return 0.01

    def status(self) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("boom")
        return {"ok": True}


@pytest.fixture(scope="module")
def shared_endpoint() -> Iterator[tuple[ControlServer, RecordingMesh]]:
    mesh = RecordingMesh()
    server = ControlServer(mesh, port=0)  # type: ignore[arg-type]
    server.start()
    try:
        yield server, mesh
    finally:
        server.close()


@pytest.fixture
def endpoint(shared_endpoint: tuple[ControlServer, RecordingMesh]) -> tuple[ControlServer, RecordingMesh]:
    """The module's endpoint, with a fresh record of what reached its mesh."""
    shared_endpoint[1].calls.clear()
    shared_endpoint[1].fail = False
    return shared_endpoint


def request(
    server: ControlServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        sent = {TOKEN_HEADER: server.token, **(headers or {})}
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"text": VS, "timeout": "abc"}).encode(), "'timeout' must be a number of seconds"),
        (json.dumps({"text": VS, "timeout": -1}).encode(), "'timeout' must be a number of seconds"),
        (b'{"text": "x", "timeout": NaN}', "NaN, which is not a JSON number"),
        (b'{"text": "x", "timeout": Infinity}', "Infinity"),
        (json.dumps({"text": VS, "timeout": 1e9}).encode(), "'timeout' must be a number of seconds"),
        (json.dumps({"text": VS, "namespace": 7}).encode(), "'namespace' must be a string"),
        (json.dumps({"text": VS, "ignore_not_found": "yes"}).encode(), "'ignore_not_found' must be true or false"),
        (json.dumps({"text": 42}).encode(), "'text' must be a string"),
        (json.dumps({"text": VS, "extra": 1}).encode(), "unknown request field(s): extra"),
        (json.dumps({"kind": "vs", "names": ["a"]}).encode(), "apply takes manifest text"),
    ],
)
def test_a_malformed_apply_is_a_400_json_error_and_changes_nothing(
    endpoint: tuple[ControlServer, RecordingMesh], body: bytes, fragment: str
) -> None:
    server, mesh = endpoint
    status, data = request(server, "POST", "/apply", body, {"Content-Type": "application/json"})
    assert status == 400
    assert fragment in data["error"]
    assert mesh.calls == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("kind: [", "invalid YAML"), ("", "no objects passed to apply"), ("a: .nan\n", "not a finite number")],
)
def test_a_manifest_the_endpoint_cannot_read_is_a_422_naming_the_source(
    endpoint: tuple[ControlServer, RecordingMesh], text: str, fragment: str
) -> None:
    server, mesh = endpoint
    body = json.dumps({"text": text, "source": "my.yaml"}).encode()
    status, data = request(server, "POST", "/apply", body)
    assert status == 422
    assert "my.yaml" in data["error"] and fragment in data["error"]
    assert mesh.calls == []


def test_a_good_apply_reaches_the_mesh_once_with_its_timeout(endpoint: tuple[ControlServer, RecordingMesh]) -> None:
    server, mesh = endpoint
    status, data = request(server, "POST", "/apply", json.dumps({"text": VS, "timeout": 12}).encode())
    assert status == 200 and data["lines"] == ["virtualservice.networking.istio.io/reviews created"]
    assert mesh.calls == ["apply 1", "wait 12"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "fragment"),
    [
        ("GET", "/nope", {}, 404, "no such endpoint /nope"),
        ("POST", "/nope", {}, 404, "no such endpoint /nope"),
        ("GET", "/status", {TOKEN_HEADER: "wrong"}, 401, "bad or missing token"),
        ("POST", "/apply", {"Content-Length": "abc"}, 400, "Content-Length 'abc' is not a number"),
        ("POST", "/apply", {"Content-Length": "-5"}, 400, "negative"),
        ("POST", "/apply", {"Content-Length": str(1 << 40)}, 413, "larger than"),
    ],
)
def test_every_endpoint_error_is_json_with_a_status(
    endpoint: tuple[ControlServer, RecordingMesh],
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    server, mesh = endpoint
    got, data = request(server, method, path, headers=headers)
    assert got == status
    assert fragment in data["error"]
    assert mesh.calls == []


def test_an_unexpected_failure_is_a_500_json_error(endpoint: tuple[ControlServer, RecordingMesh]) -> None:
    server, mesh = endpoint
    mesh.fail = True
    status, data = request(server, "GET", "/status")
    assert status == 500
    assert data["error"] == "internal error in meshrelease serve: RuntimeError: boom"
