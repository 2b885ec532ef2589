"""Throughput of an ``openai:`` evaluation over 1, 2 and 4 replicas of one server, measured side by side.

Two series, each with its replicas started once on loopback (separate processes, free ports) and the
settings taken in turn in every round (1, 2, 4, 1, 2, 4, ...), so drift in the machine's load hits
them alike:

- ``refusalkit_serve``: ``refusalkit serve --model MODEL`` (the tiny random model by default). Each
  replica generates on the CPU, one request at a time; replicas add throughput only where there are
  idle cores (and memory bandwidth) for them.
- ``fixed_latency``: the same server (``refusalkit.serve.create_app``, one request at a time) over a
  model that answers every request after a fixed ``--latency`` seconds of sleep and uses no CPU. This
  is the case of replicas on their own GPUs: each adds its own capacity, and the series shows what the
  client's spread over endpoints makes of it.

Every answer is checked (no error, one per prompt). Prints one JSON object: per series and replica
count, answers/s per round, the median, and the median of the per-round ratios to one replica; the
requests each endpoint got in the last round; provenance.

    python benchmarks/serve_scaleout.py --out benchmarks/results/serve_scaleout.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from refusalkit.data import load_prompts
from refusalkit.provenance import git_state, provenance
from refusalkit.targets.openai import OpenAITarget
from refusalkit.types import GenParams, Response

NOTE = (
    "Measured on loopback on a machine with {cpus} CPU cores. refusalkit_serve replicas all generate on "
    "those same cores, so more replicas cannot add compute: their series shows the spread and its overhead, "
    "not the gain replicas on separate GPUs or machines give. fixed_latency replicas answer after a fixed "
    "sleep and use no CPU, as replicas with their own accelerators would; that series shows the throughput "
    "the client gets from N independent replicas."
)


class LatencyModel:
    """A stand-in model for the fixed-latency replicas: every answer takes ``latency`` seconds of sleep."""

    whitebox = False

    def __init__(self, latency: float) -> None:
        self.id, self.latency = f"fixed-latency-{latency:g}s", latency

    def generate_messages(self, conversations, params=None, progress=False):
        time.sleep(self.latency)
        params = params or GenParams()
        return [
            Response(f"c{i}", "A short answer.", self.id, params.to_dict(), tokens=4) for i in range(len(conversations))
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log, limit: float = 300.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"replica {url} exited with {proc.returncode}: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"replica {url} did not start within {limit:g} s")


@contextmanager
def replica(args: list[str]):
    """A Python process (``args`` after the interpreter, then ``--port PORT``) serving on a free loopback
    port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread each, as replicas would not share a GPU
    log = tempfile.TemporaryFile(mode="w+")  # the replica's stderr, read back if it fails to start
    proc = subprocess.Popen(
        [sys.executable, *args, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log, text=True
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def measure(
    name: str,
    urls: list[str],
    counts: list[int],
    prompts,
    params: GenParams,
    rounds: int,
    concurrency: int,
    timeout: float,
) -> dict:
    """Answers/s of the same prompts through the first k of ``urls`` for each k in ``counts``, in turn."""
    per: dict[int, list[float]] = {k: [] for k in counts}
    spread: dict[int, list[int]] = {}
    for k in counts:  # warm-up: every replica answers once before anything is timed
        OpenAITarget(name, base_url=urls[:k], concurrency=concurrency, timeout=timeout).generate(
            prompts[:k], params, progress=False
        )
    for _ in range(rounds):
        for k in counts:
            target = OpenAITarget(name, base_url=urls[:k], concurrency=concurrency, timeout=timeout)
            t0 = time.perf_counter()
            out = target.generate(prompts, params, progress=False)
            seconds = time.perf_counter() - t0
            errors = [r.error for r in out if r.error]
            if errors or len(out) != len(prompts):
                raise RuntimeError(f"{name} over {k} replicas: {len(errors)} failed answers, e.g. {errors[:1]}")
            per[k].append(len(prompts) / seconds)
            spread[k] = [e["requests"] for e in target.endpoint_stats()]
    base = per[counts[0]]
    return {
        str(k): {
            "answers_per_s": round(statistics.median(v), 2),
            "rounds_answers_per_s": [round(x, 2) for x in v],
            "speedup_vs_1": round(statistics.median(x / b for x, b in zip(v, base)), 2),
            "requests_per_endpoint_last_round": spread[k],
        }
        for k, v in per.items()
    }


def main() -> None:
    started, git = time.time(), git_state()  # the checkout as the measurement starts
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-random")
    ap.add_argument("--replicas", default="1,2,4", help="replica counts to compare; the first is the baseline")
    ap.add_argument("--prompts", default="core")
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=2, help="requests in flight per endpoint")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds per answer of a fixed-latency replica")
    ap.add_argument("--latency-prompts", type=int, default=48)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--series", default="serve,fixed", help="the series to run, comma-separated: serve, fixed")
    ap.add_argument("--condition", default=None, help="how the machine was shared while measuring (recorded as is)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--serve-latency", type=float, default=None, help=argparse.SUPPRESS)  # a fixed-latency replica
    ap.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.serve_latency is not None:
        import uvicorn

        from refusalkit.serve import create_app

        uvicorn.run(create_app(LatencyModel(args.serve_latency)), host="127.0.0.1", port=args.port, log_level="warning")
        return

    counts = [int(k) for k in args.replicas.split(",")]
    prompts = load_prompts(args.prompts, limit=args.limit)
    params = GenParams(max_new_tokens=args.max_new_tokens)
    result = {
        "benchmark": "serve_scaleout",
        "note": NOTE.format(cpus=os.cpu_count()),
        "settings": {
            "replicas": counts,
            "rounds": args.rounds,
            "concurrency_per_endpoint": args.concurrency,
            "client": "refusalkit.targets.openai.OpenAITarget (least outstanding requests)",
        },
    }
    series = set(args.series.split(","))
    result["series_run"] = sorted(series)
    if args.condition:
        result["condition"] = args.condition
    if "serve" in series:
        with ExitStack() as stack:
            serve = ["-c", "from refusalkit.cli import main; main()", "serve", "--model", args.model]
            urls = [stack.enter_context(replica(serve)) for _ in range(max(counts))]
            result["refusalkit_serve"] = {
                "model": args.model,
                "prompts": args.prompts,
                "n": len(prompts),
                "max_new_tokens": args.max_new_tokens,
                "by_replicas": measure(
                    args.model, urls, counts, prompts, params, args.rounds, args.concurrency, args.timeout
                ),
            }
    if "fixed" in series:
        latency_prompts = [f"Question number {i}?" for i in range(args.latency_prompts)]
        with ExitStack() as stack:
            fixed = [str(Path(__file__).resolve()), "--serve-latency", str(args.latency)]
            urls = [stack.enter_context(replica(fixed)) for _ in range(max(counts))]
            result["fixed_latency"] = {
                "latency_s": args.latency,
                "n": len(latency_prompts),
                "ideal_answers_per_s_per_replica": round(1 / args.latency, 2),
                "by_replicas": measure(
                    "fixed-latency", urls, counts, latency_prompts, params, args.rounds, args.concurrency, args.timeout
                ),
            }
    result["provenance"] = provenance(started, git=git)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
