"""Running kind, kubectl and istioctl: argument lists, a timeout on every call, errors with argv and stderr.

Never a shell (pytest-kubernetes joins arguments into one ``shell=True`` string, which breaks on spaces and
quotes; docs/real-clusters.md, pytest-kubernetes item 3). The runner keeps a short history of what ran (argv,
exit code, seconds — never stdout, which for ``kind get kubeconfig`` holds credentials) for diagnostics.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from meshrelease.errors import CommandError, ToolMissingError


class CommandTimeout(CommandError):
    """Raised when a command outlives its timeout; it was killed. ``stderr`` holds what it wrote so far."""

    def __init__(self, argv: Sequence[str], timeout: float, stderr: str) -> None:
        self.timeout = timeout
        note = f"killed after the {timeout:g} s timeout"
        super().__init__(argv, -9, f"{stderr.rstrip()}\n{note}".strip(), hint="the cluster may be slow or down")


@dataclass(frozen=True)
class CommandResult:
    """What a finished command printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class HistoryEntry:
    argv: tuple[str, ...]
    returncode: int
    seconds: float


class CommandRunner:
    """Runs commands as argument lists with a timeout; failures raise :class:`CommandError`."""

    def __init__(self, *, env: Mapping[str, str] | None = None, history_size: int = 200) -> None:
        self._env = dict(env) if env is not None else None
        self.history: deque[HistoryEntry] = deque(maxlen=history_size)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        hint: str | None = None,
    ) -> CommandResult:
        """Run ``argv``; raise CommandError (exit code != 0, when ``check``) or CommandTimeout."""
        args = tuple(str(a) for a in argv)
        env = self._env if self._env is not None else dict(os.environ)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                args,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                env=env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            self.history.append(HistoryEntry(args, -9, time.monotonic() - started))
            raise CommandTimeout(args, timeout, _text(exc.stderr)) from None
        except FileNotFoundError:
            raise ToolMissingError(
                f"{args[0]} is not there any more (it was found when the session started)",
                hint="reinstall it or point the option at the right binary",
            ) from None
        seconds = time.monotonic() - started
        self.history.append(HistoryEntry(args, proc.returncode, seconds))
        if check and proc.returncode != 0:
            raise CommandError(args, proc.returncode, proc.stderr or proc.stdout, hint=hint)
        return CommandResult(args, proc.returncode, proc.stdout, proc.stderr, seconds)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data
