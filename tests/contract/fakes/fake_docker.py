#!/usr/bin/env python3
"""Fake ``docker`` for the contract tests (see kubefakes_state.py): the host's docker engine.

``world["docker"]`` holds whether the daemon answers, the images the host has, its platform and version.
Answers follow the docker CLI: ``version --format '{{json .}}'`` prints ``"Server":null`` and exits 1 with
"Cannot connect to the Docker daemon …" when the daemon is down; ``pull`` adds an image (the host's login is
never rate-limited here); ``save -o`` writes a JSON list of the saved references where docker writes a tar,
which the fake kind's ``load image-archive`` reads.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import kubefakes_state as fk

NO_DAEMON = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def _flag(argv: list[str], *names: str) -> str | None:
    for name in names:
        if name in argv:
            return argv[argv.index(name) + 1]
    return None


def _positionals(argv: list[str], value_flags: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in value_flags:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def handle(state: dict[str, Any], argv: list[str]) -> str:
    docker = state["docker"]
    client = {"Version": "29.1.3", "ApiVersion": "1.52", "Os": "linux", "Arch": docker["arch"]}
    if argv[:1] == ["version"]:
        if not docker["daemon"]:
            sys.stdout.write(json.dumps({"Client": client, "Server": None}) + "\n")
            raise fk.ToolExit(1, NO_DAEMON)
        server = {"Version": docker["version"], "ApiVersion": "1.52", "Os": docker["os"], "Arch": docker["arch"]}
        return json.dumps({"Client": client, "Server": server})
    if not docker["daemon"]:
        raise fk.ToolExit(1, NO_DAEMON)
    if argv[:1] == ["info"]:
        return docker.get("root_dir", "/var/lib/docker")
    if argv[:2] == ["image", "inspect"]:
        image = _positionals(argv[2:], ("--format", "-f"))[0]
        if image not in docker["images"]:
            raise fk.ToolExit(1, f"Error response from daemon: No such image: {image}")
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest()
    if argv[:1] == ["pull"]:
        image = _positionals(argv[1:], ("--platform",))[0]
        if image not in docker["images"]:
            docker["images"].append(image)
        repository, _, tag = image.rpartition(":")
        return f"{tag}: Pulling from {repository}\nStatus: Downloaded newer image for {image}\n{image}"
    if argv[:1] == ["save"]:
        target = _flag(argv, "-o", "--output")
        images = _positionals(argv[1:], ("-o", "--output", "--platform"))
        missing = [i for i in images if i not in docker["images"]]
        if missing:
            raise fk.ToolExit(1, f"Error response from daemon: reference does not exist: {missing[0]}")
        with open(str(target), "w", encoding="utf-8") as handle:
            json.dump({"images": images, "platform": _flag(argv, "--platform")}, handle)
        return ""
    raise fk.ToolExit(1, f"docker: unknown command: docker {' '.join(argv[:1])}")


def main(argv: list[str]) -> int:
    return fk.run_tool("docker", handle, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
