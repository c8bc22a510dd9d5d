"""The control endpoint of ``meshrelease serve`` and its client (``meshrelease apply/delete/get/status``).

``serve`` listens on 127.0.0.1 only, with a random token, and records where in a state file
(``$MESHRELEASE_HOME/serve.json``, default ``~/.meshrelease``, mode 0600). The other commands read that
file and talk to the running mesh like kubectl talks to an API server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from meshrelease.backends.local.dataplane.reaper import pid_alive
from meshrelease.backends.local.listing import keys_to_delete, list_objects
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.k8s.manifest import load_manifest_text, namespace_conflict, with_default_namespace

TOKEN_HEADER = "X-Meshrelease-Token"  # noqa: S105 - a header name, not a secret


def state_dir() -> Path:
    return Path(os.environ.get("MESHRELEASE_HOME") or Path.home() / ".meshrelease")


def state_file() -> Path:
    return state_dir() / "serve.json"


def read_state() -> dict[str, Any] | None:
    """The running serve's state, or None when there is none (a stale file is ignored)."""
    path = state_file()
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not pid_alive(int(state.get("pid", -1))):
        return None
    return state


class AlreadyServing(MeshReleaseError):
    """Raised when another ``meshrelease serve`` is running with the same state directory."""


def ensure_not_serving() -> None:
    """Raise AlreadyServing when another process serves a mesh with this state directory."""
    existing = read_state()
    if existing is not None and existing.get("pid") != os.getpid():
        raise AlreadyServing(
            f"meshrelease serve is already running (pid {existing['pid']}, productpage at "
            f"{existing.get('ingress_url')}/productpage)",
            hint=f"stop it with Ctrl-C (or `kill {existing['pid']}`), or set MESHRELEASE_HOME to another "
            "directory to run a second mesh",
        )


def claim_state(ingress_url: str, control_url: str, token: str, run_dir: str) -> Path:
    ensure_not_serving()
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "pid": os.getpid(),
        "control_url": control_url,
        "token": token,
        "ingress_url": ingress_url,
        "run_dir": run_dir,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_name(".serve.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)
    return path


def release_state() -> None:
    path = state_file()
    with contextlib.suppress(OSError, json.JSONDecodeError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


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

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    if url.path == "/status":
                        self._send(HTTPStatus.OK, server.mesh.status())
                    elif url.path == "/objects":
                        self._send(HTTPStatus.OK, server.objects(query))
                    else:
                        self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})
                except MeshReleaseError as exc:
                    self._send(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)})

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if self.path == "/apply":
                        self._send(HTTPStatus.OK, server.apply(body, delete=False))
                    elif self.path == "/delete":
                        self._send(HTTPStatus.OK, server.apply(body, delete=True))
                    else:
                        self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
                except (MeshReleaseError, json.JSONDecodeError) as exc:
                    self._send(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)})

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

    def apply(self, body: dict[str, Any], *, delete: bool) -> dict[str, Any]:
        """``apply -f``/``delete -f`` of one file's text; ``namespace`` (``-n``) fills in and checks namespaces.
        ``delete KIND NAME...`` sends ``kind`` and ``names`` instead of a text."""
        namespace = str(body.get("namespace") or "")
        if delete and body.get("kind"):
            keys = keys_to_delete(str(body["kind"]), [str(n) for n in body.get("names") or []], namespace or "default")
            result = self.mesh.delete_keys(keys, ignore_not_found=bool(body.get("ignore_not_found")))
        else:
            source = str(body.get("source") or "-")
            docs = load_manifest_text(str(body.get("text", "")), source)
            if not docs:
                raise UserInputError("no objects passed to " + ("delete" if delete else "apply"), path=source)
            if namespace:
                conflicts = [c for c in (namespace_conflict(d, namespace) for d in docs) if c]
                if conflicts:
                    raise UserInputError("\n".join(conflicts))
                docs = [with_default_namespace(d, namespace) for d in docs]
            if delete:
                result = self.mesh.delete(docs, source=source, ignore_not_found=bool(body.get("ignore_not_found")))
            else:
                result = self.mesh.apply(docs, source=source)
        synced = self.mesh.wait_synced(timeout=float(body.get("timeout", 30)))
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
        data: dict[str, Any] = resp.json()
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
