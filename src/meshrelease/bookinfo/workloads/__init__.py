"""meshrelease's own Bookinfo-compatible workloads: productpage, details v1, reviews v1/v2/v3 and ratings v1
as async HTTP apps, many pods per event loop, each on its own 127.0.0.1 port.

Run them standalone with ``python -m meshrelease.bookinfo.workloads --standalone``; the local mesh runs
them in a host process (:class:`WorkloadHostProcess`) and routes their outbound calls through sidecars.
"""

from meshrelease.bookinfo.workloads.config import (
    PodConfig,
    Timeouts,
    WorkloadConfigError,
    default_env,
    pod_config_from_mapping,
)
from meshrelease.bookinfo.workloads.host import RunningPod, WorkloadHost, start_pod
from meshrelease.bookinfo.workloads.host_process import WorkloadHostError, WorkloadHostProcess
from meshrelease.bookinfo.workloads.outbound import PROPAGATED_HEADERS
from meshrelease.bookinfo.workloads.threaded import ThreadedWorkloadHost

__all__ = [
    "PROPAGATED_HEADERS",
    "PodConfig",
    "RunningPod",
    "ThreadedWorkloadHost",
    "Timeouts",
    "WorkloadConfigError",
    "WorkloadHost",
    "WorkloadHostError",
    "WorkloadHostProcess",
    "default_env",
    "pod_config_from_mapping",
    "start_pod",
]
