"""Malformed and hostile inputs against ``meshrelease``: every one must be a clear error, none a traceback, a
hang or a change of the mesh.

Starts ``meshrelease serve`` (its own ``MESHRELEASE_HOME``, any free port), then tries each case of
:data:`CASES`: manifests through ``meshrelease apply -f -`` (odd YAML, alias bombs, wrong types, unknown kinds,
non-finite numbers, limits of the local backend), raw requests to the control endpoint, bad command lines,
and scenario files through the scenario loader. After each case touching the mesh it compares the stored
objects (``get -A -o json``) and the pods with those before (not the configuration version number: a change
Envoy refuses is rolled back by pushing the previous configuration again, under a new number). Then it prints

    N tried, N clear errors, 0 tracebacks, 0 hangs, 0 state changes

and the time and peak memory of refusing the 641-byte "billion laughs" (targets: under 1 s, under 200 MB), and
exits non-zero if any count is wrong or a target is missed. ``tests/unit/test_malformed_inputs.py`` runs the
cases that need no mesh, so the table is exercised in CI.

Usage: python bench/malformed_inputs.py [--timeout 20] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Target = Literal["apply", "http", "cli", "cli-serve", "scenario"]
Verdict = Literal["clear error", "accepted", "traceback", "hang"]


def alias_bomb(levels: int, *, indent: str = "") -> str:
    """A "billion laughs" YAML flow value: ``levels`` anchors, each a list of nine aliases of the one before,
    so it expands to 9**levels strings. As a block under a key, each line indented by ``indent``."""
    lines = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        prev = f"*a{level - 1}"
        lines.append(f"&a{level} [" + ",".join([prev] * 9) + "]")
    return "[" + f",\n{indent}".join(lines) + "]"


_BOMB_BODY = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  lol: " + alias_bomb(10, indent="   ")
BILLION_LAUGHS = _BOMB_BODY + "\n# " + ("lol" * 300)[: 641 - len(_BOMB_BODY) - 4] + "\n"
"""A 641-byte manifest (the size of the issue's) whose aliases expand to 9**10 (3.5 billion) strings."""

ECHO_IMAGE = "registry.example.com/bench/echo:1"

VS_HEAD = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n"
VS_ROUTE = VS_HEAD + "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n"


def vs_weight(weight: str) -> str:
    return VS_ROUTE + f"      weight: {weight}\n    - destination: {{host: reviews, subset: v2}}\n      weight: 50\n"


def deployment(*, replicas: str = "1", image: str = ECHO_IMAGE, env: str = "") -> str:
    env_block = f"        env:\n        - {{name: {env}, value: /tmp/x}}\n" if env else ""
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: echo-v1\nspec:\n"
        f"  replicas: {replicas}\n  selector:\n    matchLabels: {{app: echo}}\n  template:\n"
        "    metadata:\n      labels: {app: echo, version: v1}\n    spec:\n      containers:\n"
        f"      - name: echo\n        image: {image}\n" + env_block
    )


DR_HEAD = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\nspec:\n"


@dataclass(frozen=True)
class Case:
    """One malformed input. ``data``: manifest bytes (apply), scenario.yaml bytes (scenario), argv words after
    ``meshrelease`` (cli, cli-serve: the latter with the running serve), or ``(path, body)`` (http)."""

    name: str
    target: Target
    data: Any
    expect: str = ""  # a fragment the error must contain ("" = any clear error)


def _apply(name: str, text: str | bytes, expect: str = "") -> Case:
    return Case(name, "apply", text.encode() if isinstance(text, str) else text, expect)


def _scenario(name: str, text: str | bytes, expect: str) -> Case:
    return Case(name, "scenario", text.encode() if isinstance(text, str) else text, expect)


STEP = "steps:\n  - name: one\n    apply: [m.yaml]\n"

CASES: list[Case] = [
    # -- odd YAML, through `apply -f -`
    _apply("billion laughs (641 bytes)", BILLION_LAUGHS),
    _apply("alias bomb, 7 levels", BILLION_LAUGHS.replace(alias_bomb(10, indent="   "), alias_bomb(7, indent="   "))),
    _apply("recursive alias", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &d {a: *d}\n"),
    _apply("20,000-deep nesting", "a: " + "[" * 20000 + "]" * 20000 + "\n"),
    _apply("binary bytes", bytes(range(256)) * 4),
    _apply("Latin-1 text", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\u00e9}\n".encode("latin-1")),
    _apply("NUL bytes", b"apiVersion: v1\x00\x00\nkind: x\n"),
    _apply("unclosed flow sequence", "apiVersion: v1\nkind: [ConfigMap\n"),
    _apply("tab indentation", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n"),
    _apply("duplicate key", VS_HEAD.replace("kind: VirtualService", "kind: VirtualService\nkind: Gateway")),
    _apply("a bare scalar document", "just a string\n"),
    _apply("a list document", "- a\n- b\n"),
    _apply("empty input", ""),
    _apply("only comments", "# nothing\n# here\n"),
    _apply("only document markers", "---\n---\n...\n"),
    _apply("malformed JSON", '{"apiVersion": "v1", "kind": '),
    _apply("unknown tag", "apiVersion: v1\nkind: !!python/object:os.system ConfigMap\nmetadata: {name: x}\n"),
    _apply("a List whose items is a string", "apiVersion: v1\nkind: List\nitems: nope\n"),
    # -- wrong types and missing fields
    _apply("no apiVersion", "kind: VirtualService\nmetadata: {name: x}\n"),
    _apply("no kind", "apiVersion: v1\nmetadata: {name: x}\n"),
    _apply("no metadata.name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"),
    _apply("metadata.name a number", "apiVersion: v1\nkind: Service\nmetadata: {name: 42}\n"),
    _apply("unknown kind", "apiVersion: example.com/v1\nkind: Frobnicator\nmetadata: {name: x}\n"),
    _apply("unknown Istio version", VS_ROUTE.replace("networking.istio.io/v1", "networking.istio.io/v9")),
    _apply("spec a string", VS_HEAD + "  nothing\n"),
    _apply("hosts a string", VS_HEAD + "  hosts: reviews\n  http: []\n"),
    _apply("http a mapping", VS_HEAD + "  hosts: [reviews]\n  http: {route: x}\n"),
    _apply("unknown field", VS_ROUTE + "    frobnicate: true\n"),
    _apply("weight .nan", vs_weight(".nan")),
    _apply("weight .inf", vs_weight(".inf")),
    _apply("weight -.inf", vs_weight("-.inf")),
    _apply("weight 1.0e+999", vs_weight("1.0e+999")),
    _apply("weight a word", vs_weight("fifty")),
    _apply("weight negative", vs_weight("-10")),
    _apply("weight beyond int32", vs_weight("10000000000")),
    _apply("route timeout a word", VS_ROUTE + "    timeout: abc\n"),
    _apply("route timeout .inf", VS_ROUTE + "    timeout: .inf\n"),
    _apply("destination without host", VS_HEAD + "  hosts: [reviews]\n  http:\n  - route:\n    - weight: 100\n"),
    _apply("name with capitals", VS_ROUTE.replace("name: reviews", "name: Reviews")),
    _apply("name of 300 characters", VS_ROUTE.replace("name: reviews", "name: " + "a" * 300)),
    _apply("namespace that does not exist", VS_ROUTE.replace("name: reviews", "name: reviews\n  namespace: nowhere")),
    _apply("DestinationRule host an IP", DR_HEAD + "  host: 10.0.0.1\n"),
    _apply("DestinationRule subset without name", DR_HEAD + "  host: reviews\n  subsets:\n  - labels: {version: v1}\n"),
    # -- limits of the local backend
    _apply("replicas 15", deployment(replicas="15")),
    _apply("replicas -1", deployment(replicas="-1")),
    _apply("replicas .inf", deployment(replicas=".inf")),
    _apply("replicas a word", deployment(replicas="many")),
    _apply("env LD_PRELOAD", deployment(env="LD_PRELOAD")),
    _apply("env BASH_ENV", deployment(env="BASH_ENV")),
    _apply("env PATH", deployment(env="PATH")),
    _apply("env PYTHONPATH", deployment(env="PYTHONPATH")),
    _apply("env NODE_OPTIONS", deployment(env="NODE_OPTIONS")),
    _apply("env DYLD_INSERT_LIBRARIES", deployment(env="DYLD_INSERT_LIBRARIES")),
    _apply("image nobody runs", deployment(image="registry.example.com/bench/unmapped:1")),
    # -- raw requests to the control endpoint
    Case("body not JSON", "http", ("/apply", b"{not json")),
    Case("body a JSON list", "http", ("/apply", b"[1, 2]")),
    Case("timeout a word", "http", ("/apply", json.dumps({"text": VS_ROUTE, "timeout": "abc"}).encode())),
    Case("timeout NaN", "http", ("/apply", b'{"text": "a: b", "timeout": NaN}')),
    Case("timeout Infinity", "http", ("/apply", b'{"text": "a: b", "timeout": Infinity}')),
    Case("namespace a number", "http", ("/apply", json.dumps({"text": VS_ROUTE, "namespace": 7}).encode())),
    Case("text a number", "http", ("/apply", json.dumps({"text": 7}).encode())),
    Case("unknown endpoint", "http", ("/frobnicate", b"{}")),
    Case("body not UTF-8", "http", ("/apply", b"\xff\xfe\xfd")),
    # -- command lines
    Case("serve --port 70000", "cli", ("serve", "--port", "70000"), "70000 is not a TCP port"),
    Case("serve --port -1", "cli", ("serve", "--port", "-1"), "-1 is not a TCP port"),
    Case("serve --propagation-delay nan..nan", "cli", ("serve", "--propagation-delay", "nan..nan"), "must be finite"),
    Case("serve --propagation-delay inf", "cli", ("serve", "--propagation-delay", "inf"), "must be finite"),
    Case("run --delta nan", "cli", ("run", "--delta", "nan", "scenarios"), "--delta: 'nan' is not a finite number"),
    Case(
        "run --converge-timeout inf",
        "cli",
        ("run", "--converge-timeout", "inf", "scenarios"),
        "'inf' is not a finite number",
    ),
    Case("run --alpha 2", "cli", ("run", "--alpha", "2", "scenarios"), "must be between 0 and 0.5"),
    Case("run a path that does not exist", "cli", ("run", "no/such/scenarios"), "no such scenario path"),
    Case("apply without -f", "cli-serve", ("apply",)),
    Case("apply -f a missing file", "cli-serve", ("apply", "-f", "no-such-file.yaml")),
    Case("get an unknown kind", "cli-serve", ("get", "frobnicators")),
    Case("get -o an unknown format", "cli-serve", ("get", "vs", "-o", "toml")),
    Case("delete a kind without names", "cli-serve", ("delete", "vs")),
    Case("delete -f and names", "cli-serve", ("delete", "-f", "x.yaml", "vs", "reviews")),
    Case("delete an object that does not exist", "cli-serve", ("delete", "vs", "no-such-vs")),
    # -- scenario files, through the loader
    _scenario(
        "alias bomb in a step description",
        STEP + "    description: " + alias_bomb(10, indent="      ") + "\n",
        "alias bomb",
    ),
    _scenario(
        "weight .nan", STEP + "    expect: [{reviews: {v1: .nan, v2: 50}}]\n", "weight nan is not a finite number"
    ),
    _scenario(
        "weight .inf", STEP + "    expect: [{reviews: {v1: .inf, v2: 50}}]\n", "weight inf is not a finite number"
    ),
    _scenario("timeout .inf", STEP + "    timeout: .inf\n    expect: [{reviews: v1}]\n", "is not a positive duration"),
    _scenario("timeout two days", STEP + "    timeout: 2880m\n    expect: [{reviews: v1}]\n", "at most 1 day"),
    _scenario(
        "latency max .inf",
        STEP + "    expect: [{reviews: v1, latency: {max: .inf}}]\n",
        "latency.max inf is not a duration",
    ),
    _scenario("delta .nan", STEP + "    expect: [{reviews: v1, delta: .nan}]\n", "delta is nan"),
    _scenario("binary file", bytes(range(256)), "not UTF-8"),
    _scenario("Latin-1 file", ("description: caf\u00e9\n" + STEP).encode("latin-1"), "not UTF-8"),
    _scenario("20,000-deep nesting", "steps: " + "[" * 20000 + "]" * 20000 + "\n", "nesting depth"),
    _scenario("recursive alias", "steps: &s [*s]\n", "recursive alias"),
    _scenario("unknown key", "stepz: []\n", "unknown key 'stepz'"),
    _scenario("steps a mapping", "steps: {one: two}\n", "has no steps"),
    _scenario(
        "a version that is not one", STEP + "    expect: [{reviews: version-two}]\n", "expected a version such as v1"
    ),
    _scenario(
        "duplicate step names",
        STEP + "    expect: [{reviews: v1}]\n" + STEP[7:] + "    expect: [{reviews: v1}]\n",
        "duplicate step name",
    ),
    _scenario("status 999", STEP + "    expect: [{status: 999}]\n", "HTTP status code"),
    _scenario("user a number", STEP + "    expect: [{user: 42, reviews: v1}]\n", "user must be a user name"),
    _scenario(
        "missing manifest", "steps:\n  - name: one\n    apply: [nope.yaml]\n    expect: [{reviews: v1}]\n", "not found"
    ),
    _scenario("no expectations", STEP, "has no expectations"),
]

NO_MESH_TARGETS: tuple[Target, ...] = ("cli", "scenario")
"""Targets whose cases need no running mesh (the test runs those)."""


@dataclass
class Outcome:
    case: Case
    verdict: Verdict
    seconds: float
    detail: str
    state_changed: bool = False


# ----------------------------------------------------------------------------------------------- running cases
def cli_env(home: Path) -> dict[str, str]:
    """This environment for a ``meshrelease`` child: its own home, no other MESHRELEASE_ setting, and
    PYTHONPATH made absolute (children run in another folder but must import the same meshrelease)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHRELEASE_")}
    env.update(MESHRELEASE_HOME=str(home), PYTHONUNBUFFERED="1")
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env


def _judge_process(code: int | None, out: str, err: str) -> tuple[Verdict, str]:
    text = out + err
    if "Traceback" in text:
        return "traceback", text.strip().splitlines()[-1]
    if code == 0:
        return "accepted", (out.strip().splitlines() or ["(no output)"])[0]
    first = (err.strip().splitlines() or out.strip().splitlines() or ["(no message)"])[0]
    if code in (1, 2, 4) and "error" in err.lower():
        return "clear error", first
    return "traceback", f"exit {code} without an error message: {first}"


def run_process(argv: list[str], env: dict[str, str], stdin: bytes, timeout: float, cwd: Path) -> tuple[Verdict, str]:
    try:
        proc = subprocess.run(argv, input=stdin, env=env, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "hang", f"no answer within {timeout:g} s"
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    return _judge_process(proc.returncode, out, err)


def run_scenario_case(case: Case, work: Path, timeout: float) -> tuple[Verdict, str]:
    """Load the scenario in a thread of this process; a load still running after ``timeout`` is a hang."""
    from meshrelease.errors import MeshReleaseError
    from meshrelease.scenario.loader import load_scenario

    folder = work / f"scenario-{uuid.uuid4().hex[:12]}"  # a valid scenario name, so only the case can fail
    folder.mkdir()
    (folder / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    (folder / "scenario.yaml").write_bytes(case.data)
    box: list[tuple[Verdict, str]] = []

    def load() -> None:
        try:
            load_scenario(folder)
            box.append(("accepted", "loaded"))
        except MeshReleaseError as exc:
            box.append(("clear error", str(exc)))
        except BaseException as exc:  # what the bench looks for
            box.append(("traceback", f"{type(exc).__name__}: {exc}"[:200]))

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout)
    return box[0] if box else ("hang", f"still loading after {timeout:g} s")


def run_http_case(case: Case, home: Path, timeout: float) -> tuple[Verdict, str]:
    state = json.loads((home / "serve.json").read_text(encoding="utf-8"))
    host, port = state["control_url"].removeprefix("http://").split(":")
    path, body = case.data
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"X-Meshrelease-Token": state["token"]})
        resp = conn.getresponse()
        raw = resp.read()
    except TimeoutError:
        return "hang", f"no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return "traceback", f"connection dropped: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    try:
        data = json.loads(raw)
    except ValueError:
        return "traceback", f"HTTP {resp.status} without a JSON body"
    if resp.status == 200:
        return "accepted", "HTTP 200"
    if 400 <= resp.status < 500 and isinstance(data, dict) and data.get("error"):
        return "clear error", f"HTTP {resp.status}: {str(data['error']).splitlines()[0]}"
    return "traceback", f"HTTP {resp.status}: {str(data)[:200]}"


def run_case(case: Case, *, home: Path, work: Path, timeout: float) -> tuple[Verdict, str]:
    cli = [sys.executable, "-m", "meshrelease"]
    if case.target == "apply":
        return run_process([*cli, "apply", "-f", "-"], cli_env(home), case.data, timeout, work)
    if case.target in ("cli", "cli-serve"):
        return run_process([*cli, *case.data], cli_env(home), b"", timeout, work)
    if case.target == "http":
        return run_http_case(case, home, timeout)
    return run_scenario_case(case, work, timeout)


# ------------------------------------------------------------------------------------------------ the mesh
class Serve:
    """``meshrelease serve`` on a free port with its own home; always stopped and reaped by :meth:`close`."""

    def __init__(self, home: Path, work: Path) -> None:
        self.home = home
        command = f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1"
        argv = [sys.executable, "-m", "meshrelease", "serve", "--port", "0", "--workload", f"{ECHO_IMAGE}={command}"]
        self.log = (work / "serve.log").open("wb")
        self.proc = subprocess.Popen(argv, env=cli_env(home), cwd=work, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self.home / "serve.json").is_file():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"meshrelease serve did not start (exit {self.proc.poll()}); see {self.log.name}")
            time.sleep(0.2)

    def snapshot(self) -> str:
        """The mesh as a user sees it: stored objects and pods."""
        os.environ["MESHRELEASE_HOME"] = str(self.home)
        from meshrelease.backends.local.control import ControlClient

        client = ControlClient.connect()
        status = client.status()
        pods = sorted(w["pod"] for w in status["workloads"])
        objects = _without_ages(client.objects(all_namespaces="1"))
        return json.dumps({"objects": objects, "pods": pods}, sort_keys=True)

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(timeout=60)
        self.log.close()


def _without_ages(value: Any) -> Any:
    """The listing without its ``age`` columns, which change with the clock, not with the mesh."""
    if isinstance(value, dict):
        return {k: _without_ages(v) for k, v in value.items() if k != "age"}
    if isinstance(value, list):
        return [_without_ages(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------- the bomb figure
BOMB_PROBE = """
import json, resource, sys, time
from meshrelease.errors import MeshReleaseError
from meshrelease.k8s.manifest import load_manifest_text
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
text = sys.stdin.read()
t0 = time.perf_counter()
try:
    load_manifest_text(text, "bomb.yaml")
    refused = False
except MeshReleaseError:
    refused = True
seconds = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"refused": refused, "seconds": seconds, "before_kb": before, "after_kb": after}))
"""


def bomb_figure(timeout: float) -> dict[str, Any]:
    """Refuse the billion laughs in a fresh process: seconds, and peak RSS (with and without the attempt)."""
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_PROBE],
        input=BILLION_LAUGHS,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        return {"refused": False, "seconds": float("inf"), "after_kb": 0, "before_kb": 0, "error": proc.stderr[-500:]}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


# ---------------------------------------------------------------------------------------------------- main
def try_cases(
    cases: list[Case],
    *,
    home: Path,
    work: Path,
    timeout: float,
    snapshot: Callable[[], str] | None = None,
    say: Callable[[str], None] = print,
) -> list[Outcome]:
    """Run each case; with ``snapshot``, compare the mesh before and after each case that could change it."""
    outcomes: list[Outcome] = []
    for case in cases:
        before = snapshot() if snapshot is not None and case.target not in NO_MESH_TARGETS else None
        t0 = time.monotonic()
        verdict, detail = run_case(case, home=home, work=work, timeout=timeout)
        if verdict == "clear error" and case.expect and case.expect not in detail:
            verdict, detail = "accepted", f"refused for another reason than {case.expect!r}: {detail}"
        outcome = Outcome(case, verdict, time.monotonic() - t0, detail)
        if before is not None and snapshot is not None:
            outcome.state_changed = snapshot() != before
        outcomes.append(outcome)
        mark = "ok " if verdict == "clear error" and not outcome.state_changed else "BAD"
        changed = " STATE CHANGED" if outcome.state_changed else ""
        say(f"{mark} {case.target:9} {case.name:40} {verdict:11} {outcome.seconds:6.2f} s{changed}  {detail[:90]}")
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds one case may take before it is a hang")
    parser.add_argument("--only", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only.lower() in c.name.lower()]
    with tempfile.TemporaryDirectory(prefix="meshrelease-bench-") as tmp:
        work = Path(tmp)
        home = work / "home"
        serve = Serve(home, work)
        try:
            serve.wait_ready()
            rss_before = serve.peak_rss_mb()
            outcomes = try_cases(cases, home=home, work=work, timeout=args.timeout, snapshot=serve.snapshot)
            rss_after = serve.peak_rss_mb()
        finally:
            serve.close()
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("clear error", "accepted", "traceback", "hang")}
    changes = sum(o.state_changed for o in outcomes)
    print()
    print(
        f"{len(outcomes)} tried, {counts['clear error']} clear errors, {counts['traceback']} tracebacks, "
        f"{counts['hang']} hangs, {changes} state changes, {counts['accepted']} accepted"
    )
    if rss_before is not None and rss_after is not None:
        print(f"meshrelease serve peak RSS: {rss_before:.0f} MB before the cases, {rss_after:.0f} MB after")
    bomb = bomb_figure(args.timeout)
    peak_mb = bomb["after_kb"] / 1024
    print(
        f"{len(BILLION_LAUGHS.encode())}-byte billion laughs: refused={bomb['refused']} in "
        f"{bomb['seconds'] * 1000:.1f} ms, process peak RSS {peak_mb:.0f} MB "
        f"({bomb['before_kb'] / 1024:.0f} MB before parsing); targets < 1 s, < 200 MB"
    )
    ok = (
        counts["clear error"] == len(outcomes)
        and changes == 0
        and len(cases) == len(outcomes)
        and bomb["refused"]
        and bomb["seconds"] < 1.0
        and peak_mb < 200
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
