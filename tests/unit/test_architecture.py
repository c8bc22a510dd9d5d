"""The layout holds: imports point one way (docs/architecture.md), nothing imports the CLI, the engine and the
backends load without pytest, and nothing in the repository cites a file outside it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

SRC = REPO_ROOT / "src" / "meshrelease"

# Each component may import only components of a lower rank (and itself). Same rank, different components:
# no imports between them.
RANKS: dict[str, int] = {
    "_version": 0,
    "errors": 0,
    "k8s": 1,
    "data": 1,
    "verdict": 2,
    "bookinfo": 2,
    "scenario": 3,
    "backends.base": 4,
    "backends.settings": 4,
    "engine": 5,
    "report": 6,
    "backends.local": 7,
    "backends.kube": 7,
    "backends.factory": 8,
    "suite": 9,
    "upgrade": 10,
    "worker_reports": 10,
    "pytest_plugin": 11,
    "backends": 12,  # the face of the backends package
    "cli": 12,
    "__main__": 13,
    "meshrelease": 13,  # the package face: its public names load their modules lazily
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def component(module: str) -> str:
    rest = module.split(".")[1:]
    if not rest:
        return "meshrelease"
    if rest[0] == "backends" and len(rest) > 1:
        return f"backends.{rest[1]}"
    return rest[0]


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every meshrelease module ``path`` imports (also inside functions and TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("meshrelease")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("meshrelease"):
            found.append((node.module, node.lineno))
            # `from meshrelease.x import y` may import the submodule y
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (SRC.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    SRC.parent / candidate.replace(".", "/") / "__init__.py"
                ).exists():
                    found.append((candidate, node.lineno))
    return found


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def test_every_module_belongs_to_a_ranked_component() -> None:
    unranked = sorted({component(m) for m in MODULES} - set(RANKS))
    assert not unranked, f"give these components a rank in RANKS and docs/architecture.md: {unranked}"


def test_imports_point_down_the_layers() -> None:
    problems = []
    for module, path in sorted(MODULES.items()):
        here = component(module)
        for target, line in imports_of(path):
            there = component(target)
            if there == here:
                continue
            if RANKS[there] >= RANKS[here]:
                problems.append(f"{path.relative_to(REPO_ROOT)}:{line}: {here} imports {target} ({there})")
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_nothing_imports_the_cli() -> None:
    offenders = [
        f"{module}: {target}"
        for module, path in MODULES.items()
        if component(module) not in ("cli", "__main__")
        for target, _ in imports_of(path)
        if component(target) == "cli"
    ]
    assert not offenders


def test_no_import_cycle_between_modules() -> None:
    graph = {m: {t for t, _ in imports_of(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    # a package face importing its own submodules is not a cycle of the design, but a submodule importing its
    # package face back is: drop only the face -> submodule edges
    for m in graph:
        if MODULES[m].name == "__init__.py":
            graph[m] = {t for t in graph[m] if not t.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "module",
    [
        "meshrelease.engine.runner",
        "meshrelease.backends.local.mesh",
        "meshrelease.backends.kube.kind_backend",
        "meshrelease.backends.kube.cluster_backend",
        "meshrelease.backends.factory",
        "meshrelease.report.render",
        "meshrelease.upgrade.check",
        "meshrelease.upgrade.kind",
        "meshrelease.suite",
    ],
)
def test_the_engine_and_backends_import_no_pytest(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m == 'pytest' or m.startswith('_pytest'))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"


EXTERNAL = re.compile(
    r"DESIGN\.md|istio-routing\.md|istio-to-envoy\.md|release-guide\.md|(?<![\w/-])bookinfo\.md|ecosystem\.md"
    r"|\breference/[\w-]+\.md|\.\./shared/"
)


def test_no_file_cites_a_document_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    hits = []
    for name in tracked:
        path = REPO_ROOT / name
        if not path.is_file() or path.suffix in (".png", ".svg", ".ico"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if EXTERNAL.search(line) and path.name != "test_architecture.py":
                hits.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not hits, f"{len(hits)} citations of files outside the repository:\n" + "\n".join(hits)
