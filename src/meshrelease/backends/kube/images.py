"""Getting a kind session's images into the node without the node pulling them.

containerd inside a kind node pulls anonymously: a ``docker login`` on the host (CI's docker/login-action)
does not reach it, so a cold cluster that pulls Istio and Bookinfo from docker.io itself runs into Docker
Hub's anonymous rate limit (kubernetes-sigs/kind#3977). With ``--kind-image-pull host`` (the default) every
image the session will run is pulled by the host's docker, with the host's credentials, then saved for the
host's platform into one archive and loaded with ``kind load image-archive``. ``docker save --platform``
is the workaround kind documents for Docker's containerd image store, where ``kind load docker-image`` fails
on multi-platform images (kubernetes-sigs/kind#3795); a docker that does not know ``--platform`` (older than
28) saves without it, which its classic image store handles. ``--kind-image-pull node`` leaves the pulls to
the node (registry.istio.io, or a mirror configured in the kind config).

The images are the ones ``istioctl manifest generate`` renders for the install file (istiod and the gateway;
injected sidecars use the gateway's proxyv2 image) and the Bookinfo Deployments the session applies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.errors import CommandError


class HostImages:
    """Pulls images with the host's docker and saves them into one archive for ``kind load``."""

    def __init__(self, runner: CommandRunner, docker: str, *, pull_timeout: float = 600.0) -> None:
        self.runner = runner
        self.docker = docker
        self.pull_timeout = pull_timeout

    def platform(self) -> str:
        """``<os>/<arch>`` of the docker engine (``docker version``), e.g. ``linux/amd64``."""
        result = self.runner.run([self.docker, "version", "--format", "{{json .}}"], timeout=30)
        try:
            server = json.loads(result.stdout).get("Server") or {}
        except (ValueError, AttributeError):
            server = {}
        os_name, arch = str(server.get("Os") or "linux"), str(server.get("Arch") or "amd64")
        return f"{os_name}/{arch}"

    def present(self, image: str) -> bool:
        argv = [self.docker, "image", "inspect", "--format", "{{.Id}}", image]
        result = self.runner.run(argv, timeout=30, check=False)
        return result.returncode == 0

    def pull(self, images: Sequence[str], platform: str) -> list[str]:
        """``docker pull --platform <p>`` each image the host does not have; returns those pulled."""
        pulled: list[str] = []
        for image in images:
            if self.present(image):
                continue
            self.runner.run(
                [self.docker, "pull", "--platform", platform, image],
                timeout=self.pull_timeout,
                hint="a docker.io image over the anonymous rate limit needs `docker login` on this host",
            )
            pulled.append(image)
        return pulled

    def save(self, images: Sequence[str], archive: Path, platform: str) -> Path:
        """``docker save --platform <p> -o <archive> <images…>`` (without ``--platform`` on a docker that lacks it)."""
        archive.parent.mkdir(parents=True, exist_ok=True)
        argv = [self.docker, "save", "--platform", platform, "-o", str(archive), *images]
        try:
            self.runner.run(argv, timeout=self.pull_timeout)
        except CommandError as exc:
            if "unknown flag" not in exc.stderr:
                raise
            self.runner.run([self.docker, "save", "-o", str(archive), *images], timeout=self.pull_timeout)
        return archive
