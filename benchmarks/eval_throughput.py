"""Throughput and verdict agreement of `refusalkit eval` against a naive evaluation loop.

Both sides run in the same process on the same prompts and the same loaded model:

- naive: one prompt at a time, ``--naive-tokens`` (256) new tokens, verdict by string match on the
  full answer (refusalkit's ``prefix`` detector);
- refusalkit: :func:`refusalkit.run.evaluate` (batched, early stop on, judge ``--judge``).

Prints one JSON object: verdicts/s of each side, the ratio, and how often the two verdicts agree
(exact label, and refusal vs not). Agreement is the check behind ``EARLY_STOP_DEFAULT``. The bundled
model refuses almost nothing, so ``--system-prompt`` can push it to refuse to measure agreement on
refusals too.

    python benchmarks/eval_throughput.py --limit 48
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

from refusalkit.data import load_prompts
from refusalkit.judge import PrefixDetector, load_detector
from refusalkit.run import EarlyStop, evaluate
from refusalkit.targets import load_target
from refusalkit.types import GenParams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", default="core")
    ap.add_argument("--split", default=None)
    ap.add_argument("--limit", type=int, default=48)
    ap.add_argument("--naive-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--judge", default="prefix")
    ap.add_argument("--compliance-chars", type=int, default=EarlyStop.compliance_chars)
    ap.add_argument("--system-prompt", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    prompts = load_prompts(args.prompts, split=args.split, limit=args.limit)
    target = load_target(args.model)
    string_match = PrefixDetector()

    # Naive loop: one prompt at a time, full length, string match.
    naive_params = GenParams(max_new_tokens=args.naive_tokens, batch_size=1, system_prompt=args.system_prompt)
    t0 = time.perf_counter()
    naive = {}
    naive_tokens = 0
    for p in prompts:
        (resp,) = target.generate([p], naive_params, progress=False)
        naive[p.id] = string_match.judge([resp])[0].label
        naive_tokens += resp.tokens
    naive_s = time.perf_counter() - t0

    # refusalkit eval: batched generation, early stop, run store.
    detector = load_detector(args.judge)
    params = GenParams(max_new_tokens=args.naive_tokens, batch_size=args.batch_size, system_prompt=args.system_prompt)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        evaluate(target, prompts, params, detector, tmp, early_stop=EarlyStop(detector, args.compliance_chars),
                 progress=False, report=False)
        eval_s = time.perf_counter() - t0
        rows = [json.loads(line) for line in open(f"{tmp}/responses.jsonl", encoding="utf-8")]
    ours = {r["prompt_id"]: r for r in rows}

    n = len(prompts)
    refusal = lambda v: v in ("full_refusal", "partial_refusal")  # noqa: E731
    same = [p.id for p in prompts if naive[p.id] == ours[p.id]["verdict"]]
    same_binary = [p.id for p in prompts if refusal(naive[p.id]) == refusal(ours[p.id]["verdict"])]
    print(json.dumps({
        "model": target.id, "torch_threads": __import__("torch").get_num_threads(), "prompts": args.prompts, "split": args.split, "n": n, "judge": args.judge,
        "system_prompt": args.system_prompt, "compliance_chars": args.compliance_chars,
        "naive": {"seconds": round(naive_s, 2), "verdicts_per_s": round(n / naive_s, 3), "new_tokens": naive_tokens,
                  "refusals": sum(refusal(v) for v in naive.values())},
        "refusalkit_eval": {"seconds": round(eval_s, 2), "verdicts_per_s": round(n / eval_s, 3),
                            "batch_size": args.batch_size, "new_tokens": sum(r["tokens"] for r in rows),
                            "early_stopped": sum(r["finish_reason"] == "early_stop" for r in rows),
                            "refusals": sum(refusal(r["verdict"]) for r in rows)},
        "speedup": round(naive_s / eval_s, 2),
        "agreement": round(len(same) / n, 4),
        "agreement_refusal_vs_not": round(len(same_binary) / n, 4),
        "disagreements": [{"id": pid, "naive": naive[pid], "eval": ours[pid]["verdict"]} for pid in naive if pid not in same],
    }, indent=2))


if __name__ == "__main__":
    main()
