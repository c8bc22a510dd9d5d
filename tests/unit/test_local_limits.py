"""What an applied Deployment may ask of the local backend: at most MAX_LOCAL_REPLICAS pods, no negative
replicas (as the API server), and no container env that changes how the host runs a --workload command."""

from __future__ import annotations

from typing import Any

import pytest

from meshrelease.backends.local.dataplane.pods import MAX_LOCAL_REPLICAS, check_deployments, host_env_problem
from meshrelease.backends.local.validation.kube import deployment_problems
from tests.unit.test_pods import deployment

BOOKINFO = "istio/examples-bookinfo-reviews-v2:1.20.3"
ECHO = "example.com/echo:1"
WORKLOADS = {ECHO: ("python3", "-m", "http.server", "{port}")}


def test_replicas_up_to_the_limit_are_fine_and_above_it_are_refused_naming_limit_and_object() -> None:
    assert check_deployments([deployment("reviews-v2", BOOKINFO, replicas=MAX_LOCAL_REPLICAS)], workloads={}) == []
    (error,) = check_deployments([deployment("reviews-v2", BOOKINFO, replicas=15)], workloads={})
    assert error.startswith("Deployment default/reviews-v2: spec.replicas is 15;")
    assert f"at most {MAX_LOCAL_REPLICAS} replicas" in error


def test_negative_replicas_are_refused_as_the_api_server_refuses_them() -> None:
    (problem,) = deployment_problems(deployment("reviews-v2", BOOKINFO, replicas=-1).spec)
    assert problem.message == "spec.replicas: Invalid value: -1: must be greater than or equal to 0"


def _with_env(image: str, env: list[dict[str, Any]]) -> Any:
    obj = deployment("echo-v1", image)
    obj.body["spec"]["template"]["spec"]["containers"][0]["env"] = env
    return obj


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "BASH_ENV",
        "ENV",
        "PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PERL5LIB",
        "PERL5OPT",
        "NODE_OPTIONS",
        "RUBYOPT",
        "DYLD_INSERT_LIBRARIES",
        "IFS",
        "ld_preload",
    ],
)
def test_host_changing_env_is_refused_for_workload_commands(name: str) -> None:
    obj = _with_env(ECHO, [{"name": "GREETING", "value": "hi"}, {"name": name, "value": "/tmp/x"}])
    (error,) = check_deployments([obj], workloads=WORKLOADS)
    where = "Deployment default/echo-v1: container 'c': spec.template.spec.containers[0].env[1]"
    assert error.startswith(f"{where} {name}:")
    assert "--workload command" in error


def test_ordinary_env_is_fine_and_bookinfo_pods_keep_their_env_in_the_pod() -> None:
    assert check_deployments([_with_env(ECHO, [{"name": "GREETING", "value": "hi"}])], workloads=WORKLOADS) == []
    # Built-in Bookinfo pods never see the host environment: their env is the pod's configuration.
    assert check_deployments([_with_env(BOOKINFO, [{"name": "PATH", "value": "/x"}])], workloads={}) == []


@pytest.mark.parametrize(("name", "value"), [("A\0B", "x"), ("A", "x\0y"), ("A=B", "x"), ("", "x")])
def test_env_the_host_cannot_pass_is_refused(name: str, value: str) -> None:
    assert host_env_problem(name, value) is not None
    assert host_env_problem("GREETING", "hi") is None
