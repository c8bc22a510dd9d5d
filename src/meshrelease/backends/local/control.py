"""The control endpoint of ``meshrelease serve`` and its client (``meshrelease apply/delete/get/status``).

``serve`` listens on 127.0.0.1 only, with a random token, and records where in a state file
(``$MESHRELEASE_HOME/serve.json``, default ``~/.meshrelease``, mode 0600). The other commands read that
file and talk to the running mesh like kubectl talks to an API server.

The state file lives in :mod:`~meshrelease.backends.local.serve_state`. Every request gets a JSON answer:
the result, or ``{"error": …}`` with a status code (400 for a malformed request, 401 for a bad token, 404,
413, 422 for a refused change, 500 for a bug); a request is checked whole before it touches the mesh, so a
bad field never leaves a change half made.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from meshrelease.backends.local.listing import keys_to_delete, list_objects
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.serve_state import (
    AlreadyServing,
    CorruptState,
    claim_state,
    ensure_not_serving,
    read_state,
    release_state,
    state_dir,
    state_file,
)
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.k8s.manifest import Manifest, load_manifest_text, namespace_conflict, with_default_namespace

__all__ = [
    "AlreadyServing",
    "BadRequest",
    "ChangeRequest",
    "ControlClient",
    "ControlServer",
    "CorruptState",
    "claim_state",
    "ensure_not_serving",
    "parse_change",
    "read_state",
    "release_state",
    "state_dir",
    "state_file",
]

TOKEN_HEADER = "X-Meshrelease-Token"  # noqa: S105 - a header name, not a secret
MAX_BODY = 16 * 1024 * 1024
"""The largest request body the endpoint reads (a manifest file far larger than any real one)."""
MAX_SYNC_TIMEOUT = 3600.0
DEFAULT_SYNC_TIMEOUT = 30.0


class BadRequest(MeshReleaseError):
    """A request the endpoint cannot read (malformed JSON, a field of the wrong type): HTTP 400."""


@dataclass(frozen=True)
class ChangeRequest:
    """An apply or delete, checked whole before it touches the mesh: the documents of ``text`` (parsed,
    namespaces filled in), or ``kind`` and ``names`` for ``delete KIND NAME…``."""

    delete: bool
    source: str
    docs: list[Manifest]
    kind: str
    names: list[str]
    namespace: str
    ignore_not_found: bool
    timeout: float


def _field(body: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise BadRequest(f"request field {key!r} must be {_KIND_NAMES[kind]}, not {json.dumps(value)[:80]}")
    return value


_KIND_NAMES: dict[type, str] = {str: "a string", bool: "true or false", list: "a list", float: "a number"}


def parse_change(body: Any, *, delete: bool) -> ChangeRequest:
    """The request of ``/apply`` or ``/delete``, every field checked (BadRequest) and the manifest text
    parsed (UserInputError naming file and line) before anything changes."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    known = {"text", "source", "namespace", "ignore_not_found", "timeout", "kind", "names"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest(f"unknown request field(s): {', '.join(unknown)}")
    timeout = body.get("timeout", DEFAULT_SYNC_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_SYNC_TIMEOUT:
        raise BadRequest(
            f"request field 'timeout' must be a number of seconds in (0, {MAX_SYNC_TIMEOUT:g}], "
            f"not {json.dumps(timeout)[:80]}"
        )
    namespace = _field(body, "namespace", str, "")
    source = _field(body, "source", str, "") or "-"
    kind = _field(body, "kind", str, "")
    names = _field(body, "names", list, [])
    if not all(isinstance(n, str) for n in names):
        raise BadRequest("request field 'names' must be a list of strings")
    ignore_not_found = _field(body, "ignore_not_found", bool, False)
    text = _field(body, "text", str, "")
    docs: list[Manifest] = []
    if kind:
        if not delete:
            raise BadRequest("apply takes manifest text, not 'kind' and 'names'")
        if "text" in body:
            raise BadRequest("give either 'text' or 'kind' and 'names', not both")
    else:
        docs = load_manifest_text(text, source)
        if not docs:
            raise UserInputError("no objects passed to " + ("delete" if delete else "apply"), path=source)
        if namespace:
            conflicts = [c for c in (namespace_conflict(d, namespace) for d in docs) if c]
            if conflicts:
                raise UserInputError("\n".join(conflicts))
            docs = [with_default_namespace(d, namespace) for d in docs]
    return ChangeRequest(
        delete=delete,
        source=source,
        docs=docs,
        kind=kind,
        names=list(names),
        namespace=namespace,
        ignore_not_found=ignore_not_found,
        timeout=float(timeout),
    )


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"the request body holds {name}, which is not a JSON number")


class _NotFound(MeshReleaseError):
    """No such endpoint: HTTP 404."""


class _TooLarge(MeshReleaseError):
    """A body over MAX_BODY: HTTP 413."""


class ControlServer:
    """HTTP control endpoint for a running LocalMesh (127.0.0.1, token-protected, one thread per request)."""

    def __init__(self, mesh: LocalMesh, port: int = 0) -> None:
        self.mesh = mesh
        self.token = secrets.token_urlsafe(24)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                if not secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), server.token):
                    self._send(HTTPStatus.UNAUTHORIZED, {"error": "bad or missing token"})
                    return False
                return True

            def _answer(self, action: Callable[[], Any]) -> None:
                """Send ``action()``'s result, or its error as JSON with a status code: never a dropped
                connection, whatever the request held."""
                try:
                    self._send(HTTPStatus.OK, action())
                except BadRequest as exc:
                    self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                except _NotFound as exc:
                    self._send(HTTPStatus.NOT_FOUND, {"error": str(exc)})
                except _TooLarge as exc:
                    self.close_connection = True  # the unread body must not be taken for the next request
                    self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(exc)})
                except MeshReleaseError as exc:
                    self._send(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)})
                except Exception as exc:  # a bug in meshrelease: still an answer, with what happened
                    self._send(
                        HTTPStatus.INTERNAL_SERVER_ERROR,
                        {"error": f"internal error in meshrelease serve: {type(exc).__name__}: {exc}"},
                    )

            def _body(self) -> Any:
                raw_length = self.headers.get("Content-Length")
                try:
                    length = int(raw_length) if raw_length is not None else 0
                except ValueError:
                    raise BadRequest(f"Content-Length {raw_length!r} is not a number") from None
                if length < 0:
                    raise BadRequest(f"Content-Length {length} is negative")
                if length > MAX_BODY:
                    raise _TooLarge(f"the request body ({length} bytes) is larger than {MAX_BODY} bytes")
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise BadRequest(f"the request body is not JSON: {exc}") from None

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}

                def get() -> Any:
                    if url.path == "/status":
                        return server.mesh.status()
                    if url.path == "/objects":
                        return server.objects(query)
                    raise _NotFound(f"no such endpoint {url.path}")

                self._answer(get)

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                path = urlparse(self.path).path

                def post() -> Any:
                    if path not in ("/apply", "/delete"):
                        raise _NotFound(f"no such endpoint {path}")
                    return server.change(parse_change(self._body(), delete=path == "/delete"))

                self._answer(post)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="meshrelease-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def apply(self, body: Any, *, delete: bool) -> dict[str, Any]:
        """``apply -f``/``delete -f`` of one file's text; ``namespace`` (``-n``) fills in and checks namespaces.
        ``delete KIND NAME...`` sends ``kind`` and ``names`` instead of a text."""
        return self.change(parse_change(body, delete=delete))

    def change(self, request: ChangeRequest) -> dict[str, Any]:
        """Carry out a checked request, then wait until every proxy runs it."""
        if request.kind:
            keys = keys_to_delete(request.kind, request.names, request.namespace or "default")
            result = self.mesh.delete_keys(keys, ignore_not_found=request.ignore_not_found)
        elif request.delete:
            result = self.mesh.delete(request.docs, source=request.source, ignore_not_found=request.ignore_not_found)
        else:
            result = self.mesh.apply(request.docs, source=request.source)
        synced = self.mesh.wait_synced(timeout=request.timeout)
        return {"lines": result.lines, "warnings": result.warnings, "synced_seconds": round(synced, 4)}

    def objects(self, query: dict[str, str]) -> dict[str, Any]:
        names = [n for n in query.get("names", "").split(",") if n]
        namespace = None if query.get("all_namespaces") else query.get("namespace") or None
        return list_objects(self.mesh, query.get("kind", ""), names, namespace)


class ControlClient:
    """Talks to the running ``meshrelease serve`` found through the state file."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self._session = requests.Session()
        self._session.headers[TOKEN_HEADER] = str(state["token"])

    @classmethod
    def connect(cls) -> ControlClient:
        state = read_state()
        if state is None:
            raise MeshReleaseError(
                "no local mesh is running",
                hint="start one in another terminal with `meshrelease serve` (or check MESHRELEASE_HOME)",
            )
        return cls(state)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = self._session.request(method, self.state["control_url"] + path, timeout=120, **kwargs)
        except requests.RequestException as exc:
            raise MeshReleaseError(
                f"cannot reach meshrelease serve at {self.state['control_url']}: {exc.__class__.__name__}",
                hint="is `meshrelease serve` still running?",
            ) from exc
        try:
            data: dict[str, Any] = resp.json()
        except ValueError:
            raise MeshReleaseError(
                f"meshrelease serve at {self.state['control_url']} answered HTTP {resp.status_code} without "
                f"a JSON body: {resp.text[:200]!r}",
                hint="is the address in the state file still that of `meshrelease serve`?",
            ) from None
        if not isinstance(data, dict):
            raise MeshReleaseError(f"meshrelease serve answered HTTP {resp.status_code} with {str(data)[:200]}")
        if resp.status_code != 200:
            raise MeshReleaseError(str(data.get("error", resp.text)))  # the server's whole message, as it wrote it
        return data

    def apply(
        self, text: str, source: str, *, delete: bool = False, namespace: str = "", ignore_not_found: bool = False
    ) -> dict[str, Any]:
        body = {"text": text, "source": source, "namespace": namespace, "ignore_not_found": ignore_not_found}
        return self._call("POST", "/delete" if delete else "/apply", json=body)

    def delete_named(self, kind: str, names: list[str], namespace: str, *, ignore_not_found: bool) -> dict[str, Any]:
        body = {"kind": kind, "names": names, "namespace": namespace, "ignore_not_found": ignore_not_found}
        return self._call("POST", "/delete", json=body)

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def objects(self, **query: str) -> dict[str, Any]:
        return self._call("GET", "/objects", params={k: v for k, v in query.items() if v})
