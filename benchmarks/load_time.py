"""Load time of the bundled model: first load (GGUF -> safetensors conversion) vs cached load.

Each load runs in a fresh Python process with an empty ``$REFUSALKIT_HOME`` for the first load, so
nothing is warm. ``load_s`` is the time of ``load_target('smollm2-135m')`` after torch and
transformers are imported; ``process_s`` is the whole process including those imports.
Prints JSON.  Usage: python benchmarks/load_time.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from refusalkit.provenance import provenance, run_started

CHILD = """
import json, time
import torch, transformers  # imported before timing: the same for both sides
from refusalkit.targets import load_target
t = time.perf_counter()
target = load_target("smollm2-135m")
load_s = time.perf_counter() - t
out = target.generate(["Say hi."], __import__("refusalkit").GenParams(max_new_tokens=4), progress=False)[0]
print(json.dumps({"load_s": load_s, "ok": out.error is None and out.tokens > 0}))
"""


def one_load(home: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "REFUSALKIT_HOME": home},
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def main() -> None:
    started = run_started()
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        first = one_load(home)
        cached = [one_load(home) for _ in range(args.repeats)]
    med = statistics.median(c["load_s"] for c in cached)
    print(
        json.dumps(
            {
                "model": "smollm2-135m",
                "first_load_s": round(first["load_s"], 2),
                "first_process_s": round(first["process_s"], 2),
                "cached_load_s_median": round(med, 2),
                "cached_load_s_all": [round(c["load_s"], 2) for c in cached],
                "cached_process_s_median": round(statistics.median(c["process_s"] for c in cached), 2),
                "speedup": round(first["load_s"] / med, 1),
                "cached_under_3s": med < 3.0,
                "generation_ok": all(c["ok"] for c in [first, *cached]),
                "provenance": provenance(started),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
