"""Throughput and verdict agreement of `refusalkit eval` against a naive evaluation loop.

Both sides run in the same process on the same prompts and the same loaded model:

- naive: one prompt at a time, ``--naive-tokens`` (256) new tokens, verdict by string match on the
  full answer (refusalkit's ``prefix`` detector);
- refusalkit: :func:`refusalkit.run.evaluate` (batched, early stop on), once per judge in ``--judges``.

Prints one JSON object: verdicts/s of each side and the ratio; per judge, how often the verdict on the
early-stopped answer equals the same judge's verdict on the full-length answer (the check behind
``refusalkit.run.early_stop_default``) and how often it equals the naive loop's string match.
``--full-length-too`` adds one batched run without early stop, to separate the two speed-ups. The bundled
model refuses almost nothing, so ``--system-prompt`` can push it to refuse to measure agreement on
refusals too.

    python benchmarks/eval_throughput.py --limit 48
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from refusalkit.data import load_prompts
from refusalkit.judge import PrefixDetector, load_detector
from refusalkit.metrics import REFUSALS
from refusalkit.provenance import provenance, run_started
from refusalkit.run import EarlyStop, early_stop_default, evaluate
from refusalkit.targets import load_target
from refusalkit.types import GenParams


def main() -> None:
    started = run_started()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", default="core")
    ap.add_argument("--split", default=None)
    ap.add_argument("--limit", type=int, default=48)
    ap.add_argument("--naive-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--judges", default="prefix", help="comma-separated detectors to run refusalkit eval with")
    ap.add_argument("--compliance-chars", type=int, default=EarlyStop.compliance_chars)
    ap.add_argument("--refusal-chars", type=int, default=EarlyStop.refusal_chars)
    ap.add_argument(
        "--agreement-only",
        action="store_true",
        help="full-length answers from one batched run instead of the naive loop: agreement only, no speed ratio",
    )
    ap.add_argument("--full-length-too", action="store_true", help="also time batched eval without early stop")
    ap.add_argument("--system-prompt", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    prompts = load_prompts(args.prompts, split=args.split, limit=args.limit)
    target = load_target(args.model)
    string_match = PrefixDetector()

    # Naive loop: one prompt at a time, full length, string match. With --agreement-only the full-length
    # answers come from one batched run instead (no timing comparison, only verdict agreement).
    naive_params = GenParams(max_new_tokens=args.naive_tokens, batch_size=1, system_prompt=args.system_prompt)
    t0 = time.perf_counter()
    full, naive = [], {}
    if args.agreement_only:
        full = target.generate(
            prompts,
            GenParams(max_new_tokens=args.naive_tokens, batch_size=args.batch_size, system_prompt=args.system_prompt),
            progress=False,
        )
        naive = {r.prompt_id: v.label for r, v in zip(full, string_match.judge(full))}
    for p in prompts if not args.agreement_only else ():
        (resp,) = target.generate([p], naive_params, progress=False)
        full.append(resp)
        naive[p.id] = string_match.judge([resp])[0].label
    naive_s = time.perf_counter() - t0

    n = len(prompts)
    result = {
        "model": target.id,
        "torch_threads": torch.get_num_threads(),
        "prompts": args.prompts,
        "split": args.split,
        "n": n,
        "system_prompt": args.system_prompt,
        "max_new_tokens": args.naive_tokens,
        "mode": "agreement-only (full-length answers batched)"
        if args.agreement_only
        else "naive loop vs refusalkit eval",
        ("full_length_batched" if args.agreement_only else "naive"): {
            "seconds": round(naive_s, 2),
            "verdicts_per_s": round(n / naive_s, 3),
            "new_tokens": sum(r.tokens for r in full),
            "refusals": sum(v in REFUSALS for v in naive.values()),
        },
        "refusalkit_eval": {},
    }
    # refusalkit eval: batched generation, early stop, run store; once per judge.
    for name in args.judges.split(","):
        detector = load_detector(name)
        params = GenParams(
            max_new_tokens=args.naive_tokens, batch_size=args.batch_size, system_prompt=args.system_prompt
        )
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            stopper = EarlyStop(detector, args.compliance_chars, args.refusal_chars)
            evaluate(target, prompts, params, detector, tmp, early_stop=stopper, progress=False, report=False)
            eval_s = time.perf_counter() - t0
            rows = {r["prompt_id"]: r for r in map(json.loads, open(f"{tmp}/responses.jsonl", encoding="utf-8"))}
        # The same judge on the full-length answers: what early stop must agree with.
        full_verdicts = {r.prompt_id: v.label for r, v in zip(full, detector.judge(full, prompts))}
        early = {pid: r["verdict"] for pid, r in rows.items()}
        result["refusalkit_eval"][name] = {
            "early_stop_on_by_default": early_stop_default(detector),
            "seconds": round(eval_s, 2),
            "verdicts_per_s": round(n / eval_s, 3),
            "batch_size": args.batch_size,
            "early_stop": stopper.settings(),
            "new_tokens": sum(r["tokens"] for r in rows.values()),
            "early_stopped": sum(r["finish_reason"] == "early_stop" for r in rows.values()),
            "refusals": sum(v in REFUSALS for v in early.values()),
            **({} if args.agreement_only else {"speedup_vs_naive": round(naive_s / eval_s, 2)}),
            # early-stopped answers vs full-length answers, same judge: the check behind early_stop_default
            "agreement_with_full_length": _agree(early, full_verdicts),
            # vs the naive loop's string match on full-length answers (differs also when the judges differ)
            "agreement_with_naive": _agree(early, naive),
            "disagreements_with_full_length": [
                {
                    "id": pid,
                    "full_length": full_verdicts[pid],
                    "early_stop": early[pid],
                    "answer_start": rows[pid]["response"][:80],
                }
                for pid in early
                if early[pid] != full_verdicts[pid]
            ],
        }
    if args.full_length_too:
        params = GenParams(
            max_new_tokens=args.naive_tokens, batch_size=args.batch_size, system_prompt=args.system_prompt
        )
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            evaluate(target, prompts, params, string_match, tmp, early_stop=False, progress=False, report=False)
            eval_s = time.perf_counter() - t0
            rows = {r["prompt_id"]: r for r in map(json.loads, open(f"{tmp}/responses.jsonl", encoding="utf-8"))}
        result["refusalkit_eval_no_early_stop"] = {
            "judge": "prefix",
            "seconds": round(eval_s, 2),
            "verdicts_per_s": round(n / eval_s, 3),
            "batch_size": args.batch_size,
            "new_tokens": sum(r["tokens"] for r in rows.values()),
            "speedup_vs_naive": round(naive_s / eval_s, 2),
            "agreement_with_naive": _agree({k: r["verdict"] for k, r in rows.items()}, naive),
        }
    result["provenance"] = provenance(started)
    print(json.dumps(result, indent=2))


def _agree(a: dict[str, str], b: dict[str, str]) -> dict[str, float]:
    """Exact-label agreement and refusal-vs-not agreement of two verdict maps over the same prompts."""
    n = len(a)
    return {
        "exact": round(sum(a[k] == b[k] for k in a) / n, 4),
        "refusal_vs_not": round(sum((a[k] in REFUSALS) == (b[k] in REFUSALS) for k in a) / n, 4),
    }


if __name__ == "__main__":
    main()
