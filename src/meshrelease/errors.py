"""The exception hierarchy of meshrelease.

Every error a user can cause (a bad scenario file, an invalid manifest, a missing tool) is a
:class:`MeshReleaseError`: its message names the file, object or field and says what to do next, so the
CLI and the pytest plugin print it without a traceback. Anything else is a bug in meshrelease.
"""

from __future__ import annotations

from collections.abc import Sequence


class MeshReleaseError(Exception):
    """Base class. ``hint`` (optional) is the next step for the user, printed after the message."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UserInputError(MeshReleaseError):
    """Raised when a file the user wrote is wrong: names the file and, when known, the line and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = ""
        if path is not None:
            where = path if line is None else f"{path}:{line}"
        text = message
        if field is not None and field not in message:
            text = f"{field}: {message}"
        super().__init__(f"{where}: {text}" if where else text, hint=hint)


class ValidationError(MeshReleaseError):
    """Raised when applied objects are rejected (Istio's webhook messages, unsupported kinds/fields).

    ``errors`` holds one line per problem, each naming the object (``kind/namespace/name``) and field.
    Nothing was changed when this is raised.
    """

    def __init__(self, errors: Sequence[str], *, source: str | None = None, hint: str | None = None) -> None:
        self.errors = list(errors)
        self.source = source
        head = f'error when applying "{source}"' if source else "the objects were rejected"
        body = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{head}; nothing was changed:\n{body}", hint=hint)


class CommandError(MeshReleaseError):
    """Raised when an external command (kubectl, kind, istioctl, envoy) fails: argv, exit code and stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str, *, hint: str | None = None) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        shown = " ".join(_quote(a) for a in self.argv)
        tail = stderr.strip()
        if len(tail) > 4000:
            tail = "…" + tail[-4000:]
        super().__init__(f"command failed (exit {returncode}): {shown}\n{tail}".rstrip(), hint=hint)


class ToolMissingError(MeshReleaseError):
    """Raised before anything starts when required executables are not installed."""


class WaitTimeout(MeshReleaseError):
    """Raised when a bounded wait ends: the message reports the last state that was observed."""

    def __init__(self, what: str, timeout: float, last_state: str, *, hint: str | None = None) -> None:
        self.what = what
        self.timeout = timeout
        self.last_state = last_state
        super().__init__(f"timed out after {timeout:g} s waiting for {what}; last seen: {last_state}", hint=hint)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


class ProcessDied(MeshReleaseError):
    """A process the mesh needs (a proxy, the workload host, a workload command) is no longer running. A backend
    raising it cannot serve again as it is: :class:`~meshrelease.backends.base.LazyBackend` starts a fresh one
    for the next step, and the step runner replays that step's scenario from its first step."""


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when ``meshrelease run`` gets SIGTERM, so the run ends as on Ctrl-C: the
    steps' fixtures tear the mesh down, the report says the run was interrupted, the exit code is 2."""
