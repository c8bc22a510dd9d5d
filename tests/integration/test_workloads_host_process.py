"""The workload host process: the JSON-lines protocol on stdin/stdout, pods in it serving a full chain, and
the child always reaped (EOF, SIGTERM, and kill after a timeout)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from meshrelease.bookinfo.page import parse_page
from meshrelease.bookinfo.workloads import PodConfig, WorkloadHostError, WorkloadHostProcess, default_env


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def gone(pid: int) -> bool:
    """True when no process ``pid`` exists any more (not even a zombie): it was reaped."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
def proc() -> Iterator[WorkloadHostProcess]:
    child = WorkloadHostProcess(reply_timeout=20)
    try:
        yield child
    finally:
        child.close(timeout=5)


def test_pods_in_the_host_serve_the_chain_and_stop(proc: WorkloadHostProcess) -> None:
    ratings = proc.start_pod(PodConfig("ratings", "ratings-v1-aaaaaaaaaa-bbbbb", default_env("ratings", "v1")))
    details = proc.start_pod(PodConfig("details", "details-v1-aaaaaaaaaa-bbbbb", default_env("details", "v1")))
    reviews = proc.start_pod(
        PodConfig(
            "reviews",
            "reviews-v3-aaaaaaaaaa-bbbbb",
            default_env("reviews", "v3"),
            upstreams={"ratings:9080": f"127.0.0.1:{ratings}"},
        )
    )
    page = proc.start_pod(
        PodConfig(
            "productpage",
            "productpage-v1-aaaaaaaaaa-bbbbb",
            {},
            ui="classic",
            upstreams={"details:9080": f"127.0.0.1:{details}", "reviews:9080": f"127.0.0.1:{reviews}"},
        )
    )
    assert sorted(proc.ping()) == sorted(
        [
            "ratings-v1-aaaaaaaaaa-bbbbb",
            "details-v1-aaaaaaaaaa-bbbbb",
            "reviews-v3-aaaaaaaaaa-bbbbb",
            "productpage-v1-aaaaaaaaaa-bbbbb",
        ]
    )
    obs = parse_page(requests.get(f"http://127.0.0.1:{page}/productpage", timeout=10).text)
    assert (obs.ui, obs.version, obs.stars, obs.full_stars, obs.details_error) == (
        "classic",
        "v3",
        "red",
        9,
        False,
    )

    proc.stop_pod("ratings-v1-aaaaaaaaaa-bbbbb")
    assert refuses(ratings)
    assert "ratings-v1-aaaaaaaaaa-bbbbb" not in proc.ping()
    obs = parse_page(requests.get(f"http://127.0.0.1:{page}/productpage", timeout=10).text)
    assert (obs.version, obs.ratings_error, obs.stars) == ("v3", True, "none")

    pid = proc.pid
    assert proc.close(timeout=10) == 0
    assert gone(pid)
    for port in (details, reviews, page):
        assert refuses(port)


def test_start_errors_are_replies_not_crashes(proc: WorkloadHostProcess) -> None:
    port = proc.start_pod(PodConfig("details", "details-v1-dup", {}))
    with pytest.raises(WorkloadHostError, match="already running"):
        proc.start_pod(PodConfig("details", "details-v1-dup", {}))
    with pytest.raises(WorkloadHostError, match="cannot listen"):
        proc.start_pod(PodConfig("details", "details-v1-other", {}, port=port))
    with pytest.raises(WorkloadHostError, match="not a Bookinfo service"):
        proc.start_pod(PodConfig("mongodb", "mongodb-v1-x", {}))
    with pytest.raises(WorkloadHostError, match="no pod named"):
        proc.stop_pod("nobody")
    assert proc.ping() == ["details-v1-dup"]


def test_raw_protocol_answers_one_json_line_per_command_in_order() -> None:
    commands = [
        '{"op": "ping"}',
        "this is not json",
        '{"op": "reboot"}',
        '["start"]',
        json.dumps({"op": "start", "pod": {"service": "ratings", "name": "ratings-v1-raw", "env": {}}}),
        json.dumps({"op": "start", "pod": {"service": "ratings", "name": "bad", "colour": "red"}}),
        '{"op": "ping"}',
        '{"op": "stop", "name": "ratings-v1-raw"}',
        '{"op": "ping"}',
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "meshrelease.bookinfo.workloads", "--host"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate("\n".join(commands) + "\n", timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == 0, err
    replies = [json.loads(line) for line in out.splitlines()]  # every stdout line is a JSON reply
    assert len(replies) == len(commands)
    assert replies[0] == {"ok": True, "pods": []}
    assert [r["ok"] for r in replies[1:4]] == [False, False, False]
    assert "unknown op" in replies[2]["error"]
    assert replies[4]["ok"] is True and replies[4]["name"] == "ratings-v1-raw" and replies[4]["port"] > 0
    assert replies[5] == {"ok": False, "name": "bad", "error": replies[5]["error"]}
    assert "colour" in replies[5]["error"]
    assert replies[6] == {"ok": True, "pods": ["ratings-v1-raw"]}
    assert replies[7] == {"ok": True, "name": "ratings-v1-raw"}
    assert replies[8] == {"ok": True, "pods": []}
    assert refuses(replies[4]["port"])


def test_sigterm_stops_pods_and_exits_zero() -> None:
    child = WorkloadHostProcess()
    try:
        port = child.start_pod(PodConfig("details", "details-v1-term", {}))
        os.kill(child.pid, signal.SIGTERM)
        assert child.close(timeout=10) == 0
    finally:
        child.close(timeout=5)
    assert gone(child.pid)
    assert refuses(port)


def test_close_kills_a_child_that_does_not_exit_and_reaps_it() -> None:
    child = WorkloadHostProcess()
    try:
        child.start_pod(PodConfig("details", "details-v1-stuck", {}))
        os.kill(child.pid, signal.SIGSTOP)  # a stopped child cannot react to EOF
        status = child.close(timeout=0.5)
    finally:
        child.close(timeout=5)
    assert status == -signal.SIGKILL
    assert gone(child.pid)


def test_requests_after_close_or_child_death_raise_clear_errors() -> None:
    child = WorkloadHostProcess(reply_timeout=10)
    try:
        os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(WorkloadHostError, match="workload host process"):
            child.ping()
    finally:
        child.close(timeout=5)
    assert gone(child.pid)
    with pytest.raises(WorkloadHostError, match="closed"):
        child.ping()


def test_child_logs_go_to_the_log_file_not_stdout(tmp_path: Path) -> None:
    log_file = tmp_path / "workloads.log"
    with WorkloadHostProcess(log_path=log_file) as child:
        port = child.start_pod(PodConfig("details", "details-v1-logged", {}))
        child.stop_pod("details-v1-logged")
        assert child.ping() == []  # the reply stream is still clean JSON after the log lines
    text = log_file.read_text()
    assert f"pod details-v1-logged (details) listening on 127.0.0.1:{port}" in text
    assert "pod details-v1-logged stopped" in text
