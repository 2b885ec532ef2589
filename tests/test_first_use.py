"""Two processes using a model for the first time at once: one builds it, the other uses that build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from refusalkit.targets.bundled import ensure_smollm2

# Each child waits for the go file, then builds tiny-random. The build is slowed a little (and counted)
# so that the two builds overlap on any machine.
CHILD = r"""
import json, os, sys, time
from pathlib import Path
from refusalkit.targets import bundled

home = Path(os.environ["REFUSALKIT_HOME"])
real = bundled._build_tiny_random

def slow_build(dest):
    with open(home / "builds.log", "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(0.5)
    real(dest)

bundled._build_tiny_random = slow_build
go = home / "go"
deadline = time.time() + 60
while not go.exists() and time.time() < deadline:
    time.sleep(0.01)
path = bundled.ensure_tiny_random()
print(json.dumps({"path": str(path), "files": sorted(p.name for p in path.iterdir())}))
"""


def test_two_processes_build_tiny_random_once_into_an_empty_home(tmp_path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    # tiny-random takes its tokenizer from the converted bundled model; reuse the converted copy
    (home / "models" / "smollm2-135m").symlink_to(ensure_smollm2())
    env = {
        **os.environ,
        "REFUSALKIT_HOME": str(home),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    time.sleep(0.2)
    (home / "go").touch()
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    dest = home / "models" / "tiny-random"
    assert {r["path"] for r in reports} == {str(dest)}
    assert reports[0]["files"] == reports[1]["files"] and "config.json" in reports[0]["files"]
    assert len((home / "builds.log").read_text().split()) == 1, "the second process built the model again"
    leftovers = [p.name for p in (home / "models").iterdir() if ".tmp" in p.name]
    assert leftovers == []

    from refusalkit.targets.hf import HFTarget

    target = HFTarget.load(str(dest))
    assert target.model.config.num_hidden_layers == 2
