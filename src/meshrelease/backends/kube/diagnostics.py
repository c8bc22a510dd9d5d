"""What goes into a failed step's report on a real mesh: the proxies' routes and their last access-log lines.

Each part is read on its own and a part that cannot be read says why, so one broken piece (a replaced pod, an
istiod istioctl cannot reach) never hides the rest. Access logs are the ``istio-proxy`` container's stdout
(the kind backend installs Istio with ``meshConfig.accessLogFile: /dev/stdout``; on an existing mesh they are
there only if the mesh enables access logging).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.routes import summarize
from meshrelease.errors import MeshReleaseError

PROXY_CONTAINER = "istio-proxy"


@dataclass(frozen=True)
class ProxyRef:
    """How to find one proxy: a label selector in a namespace."""

    label: str  # "productpage" / "ingress gateway"
    namespace: str
    selector: str


class ProxyDiagnostics:
    """Reads routes, access logs and proxy-status of the proxies that matter for a release step."""

    def __init__(self, workload: Kubectl, istioctl: Istioctl, proxies: list[ProxyRef], *, tail: int = 20) -> None:
        self.workload = workload
        self.istioctl = istioctl
        self.proxies = proxies
        self.tail = tail

    def pod(self, ref: ProxyRef) -> str:
        pods = self.workload.pods(ref.namespace, ref.selector)
        if not pods:
            raise MeshReleaseError(f"no pod matches -l {ref.selector} in namespace {ref.namespace}")
        return str(pods[0]["metadata"]["name"])

    def collect(self) -> dict[str, str]:
        """Routes and the last access-log lines of every proxy, then proxy-status; errors as text."""
        out: dict[str, str] = {}
        for ref in self.proxies:
            try:
                pod = self.pod(ref)
            except MeshReleaseError as exc:
                out[f"{ref.label} proxy"] = str(exc)
                continue
            proxy_id = f"{pod}.{ref.namespace}"
            out[f"{ref.label} routes ({proxy_id})"] = self._routes(proxy_id)
            log = self._logs(pod, ref.namespace, PROXY_CONTAINER, self.tail)
            out[f"{ref.label} access log ({proxy_id}, last {self.tail} lines)"] = log.rstrip() or "(empty)"
        try:
            out["istioctl proxy-status"] = self.istioctl.proxy_status_text().rstrip()
        except MeshReleaseError as exc:
            out["istioctl proxy-status"] = _unreadable(exc)
        return out

    def access_log_lines(self, request_id: str, *, tail: int = 500) -> list[str]:
        """Access-log lines (any proxy) that carry ``request_id``; [] when none or unreadable."""
        lines: list[str] = []
        for ref in self.proxies:
            try:
                pod = self.pod(ref)
                text = self.workload.logs(pod, namespace=ref.namespace, container=PROXY_CONTAINER, tail=tail)
            except MeshReleaseError:
                continue
            lines += [f"{ref.label}: {line}" for line in text.splitlines() if request_id in line]
        return lines

    def save_logs(self, dest: Path, *, containers: dict[str, list[str]]) -> list[Path]:
        """Write the logs of each proxy's pod (``containers``: label -> container names) under ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for ref in self.proxies:
            try:
                pod = self.pod(ref)
            except MeshReleaseError as exc:
                path = dest / f"{ref.label.replace(' ', '-')}.error.txt"
                path.write_text(str(exc) + "\n", encoding="utf-8")
                written.append(path)
                continue
            for container in containers.get(ref.label, [PROXY_CONTAINER]):
                path = dest / f"{ref.namespace}.{pod}.{container}.log"
                path.write_text(self._logs(pod, ref.namespace, container, None), encoding="utf-8")
                written.append(path)
        return written

    def _routes(self, proxy_id: str) -> str:
        try:
            return summarize(self.istioctl.routes(proxy_id), only_namespace=self.proxies[0].namespace)
        except MeshReleaseError as exc:
            return _unreadable(exc)

    def _logs(self, pod: str, namespace: str, container: str, tail: int | None) -> str:
        try:
            return self.workload.logs(pod, namespace=namespace, container=container, tail=tail)
        except MeshReleaseError as exc:
            return _unreadable(exc)


def _unreadable(exc: MeshReleaseError) -> str:
    return f"(could not read: {str(exc).splitlines()[0]})"
