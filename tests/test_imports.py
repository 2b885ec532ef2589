"""The package's import graph has no cycles, and every module imports on its own.

The graph is read statically (ast over ``src/refusalkit``), counting imports inside functions too: a
lazy import hides a cycle from the interpreter, not from a reader. It is checked twice: between
modules, and between the package's parts (each subpackage, and each top-level module, one node), so
``triggers -> train`` while ``train -> triggers`` is a cycle even when no two modules close it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "refusalkit"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """refusalkit modules that ``name`` imports anywhere in its file (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            bases = [a.name for a in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            bases, names = [base], [a.name for a in node.names]
        else:
            continue
        for base in bases:
            if not base.startswith("refusalkit"):
                continue
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            out.update(subs or [base])  # `from pkg import module` names the module, else the package
    out.discard(name)
    return {m for m in out if m in known}


def part(module: str) -> str:
    """The node a module belongs to in the parts graph: refusalkit.X for refusalkit.X[.Y...]."""
    return ".".join(module.split(".")[:2])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that starts and ends at the same node, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def graphs() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    mods = modules()
    known = set(mods)
    by_module = {m: imports_of(m, p, known) for m, p in mods.items()}
    by_part: dict[str, set[str]] = {}
    for m, deps in by_module.items():
        by_part.setdefault(part(m), set()).update(part(d) for d in deps if part(d) != part(m))
    by_part.pop("refusalkit", None)  # the package's face: refusalkit/__init__.py
    return by_module, by_part


def test_cycle_finder_finds_a_cycle_and_no_false_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_are_read_inside_functions_and_relative_ones_resolved(tmp_path):
    src = tmp_path / "refusalkit" / "train"
    src.mkdir(parents=True)
    f = src / "study.py"
    f.write_text(
        "from ..triggers import data as tdata\n\ndef f():\n    from .data import x\n    import refusalkit.metrics\n"
    )
    known = {"refusalkit.triggers", "refusalkit.triggers.data", "refusalkit.train.data", "refusalkit.metrics"}
    assert imports_of("refusalkit.train.study", f, known) == known - {"refusalkit.triggers"}


def test_no_import_cycle_between_modules():
    by_module, _ = graphs()
    assert find_cycle(by_module) is None


def test_no_import_cycle_between_the_package_parts():
    _, by_part = graphs()
    assert find_cycle(by_part) is None


def test_every_module_imports_in_a_fresh_interpreter():
    """Each module imported first, alone: an import-order cycle shows up as an ImportError. Third-party
    libraries are imported once; each module is then imported in a forked child that has imported no
    refusalkit module yet."""
    names = sorted(modules())
    script = textwrap.dedent(f"""
        import os, sys, traceback
        sys.path.insert(0, {str(SRC)!r})
        import numpy, sklearn, scipy, pandas, torch, transformers, typer, rich  # noqa: F401
        failed = []
        for name in {names!r}:
            pid = os.fork()
            if pid == 0:
                try:
                    __import__(name)
                except BaseException:
                    traceback.print_exc()
                    os._exit(1)
                os._exit(0)
            if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
                failed.append(name)
        print("FAILED", failed)
        sys.exit(1 if failed else 0)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
