#!/usr/bin/env python3
"""Fake ``docker`` for the contract tests: only has to exist (kind would use it); records any call."""

from __future__ import annotations

import sys
from typing import Any

import kubefakes_state as fk


def handle(state: dict[str, Any], argv: list[str]) -> str:
    return "Docker version 27.0.0, build fake"


def main(argv: list[str]) -> int:
    return fk.run_tool("docker", handle, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
