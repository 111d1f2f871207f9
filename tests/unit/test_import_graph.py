"""The package's import graph: no circles, imports only point down the layers of docs/architecture.md, and
every module imports on its own in a fresh interpreter (no hidden order dependence)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chains"

# Lower layers never import higher ones (docs/architecture.md, "Import direction"). A module may import its
# own layer only inside its own subpackage.
LAYERS = [
    ("chains.deadline", "chains.echo"),
    ("chains.errors",),
    ("chains.catalogue", "chains.guardrails", "chains.profiles"),
    ("chains.config",),
    ("chains.caching.facts", "chains.caching.marks"),
    ("chains.limits", "chains.usage", "chains.options", "chains.reasoning", "chains.prompts", "chains.models", "chains.attachments",
     "chains.observability.redaction", "chains.observability.log_format"),
    ("chains.tokens",),
    ("chains.caching",),
    ("chains.calls",),
    ("chains.runtime", "chains.observability"),
    ("chains.routing",),
    ("chains.chain",),
    ("chains.strategies",),
    ("chains.registry",),
    ("chains.bulk",),
    ("chains.service",),
    ("chains.cli", "chains"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: Dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> Set[str]:
    """Every chains module ``path`` imports, at the top or inside a function (not under TYPE_CHECKING)."""
    found: Set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in MODULES}


GRAPH = {name: imported(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank >= 0, f"{module} is in no layer of LAYERS: add it"
    return rank


def subpackage(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def test_there_are_no_import_circles():
    circles: List[List[str]] = []
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert circles == []


def test_imports_point_down_the_layers():
    upward = []
    for module, targets in GRAPH.items():
        for target in targets:
            if target == "chains" or module == "chains":
                continue  # the public API re-exports; nothing inside the package imports it
            if layer(target) > layer(module) or (
                layer(target) == layer(module) and subpackage(target) != subpackage(module)
                and not target.startswith(subpackage(module))
            ):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_nothing_inside_the_package_imports_the_public_api_module():
    assert [m for m, targets in GRAPH.items() if "chains" in targets and m != "chains"] == []


def test_every_module_imports_alone_in_a_fresh_interpreter():
    # One interpreter, one forked child per module: each child starts with no chains module imported (the
    # third-party libraries are imported once, before the forks, to keep this quick).
    script = textwrap.dedent(
        """
        import importlib, os, sys, traceback
        import boto3, botocore, pydantic, yaml, langchain_core.runnables, langchain_core.messages  # noqa
        import langchain_aws, aws_lambda_powertools.logging  # noqa
        assert not [m for m in sys.modules if m == "chains" or m.startswith("chains.")]
        failed = []
        for name in sys.argv[1:]:
            pid = os.fork()
            if pid == 0:
                try:
                    importlib.import_module(name)
                except BaseException:
                    traceback.print_exc()
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            if status:
                failed.append(name)
        print("FAILED", failed)
        sys.exit(1 if failed else 0)
        """
    )
    modules = [m for m in MODULES if not m.endswith("__main__")]
    proc = subprocess.run([sys.executable, "-c", script, *modules], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
