"""Static checks on code the unit tests never import: the benchmark scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_scripts_have_no_undefined_names():
    # A name left behind by a refactor only fails when a long benchmark reaches that line; pyflakes'
    # undefined-name check (through ruff, in the dev extra) finds it without running anything.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "F821",
            "--output-format",
            "concise",
            "--no-cache",
            str(ROOT / "benchmarks"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
