"""Headline numbers of refusalkit's internals on one model, printed as JSON.

    python benchmarks/internals.py [--model smollm2-135m-aligned] [--prompts core] [--n 32]

Fits the refusal/harmfulness directions on the prompt set's train split, then measures on its test
split (the first ``n`` prompts per side in file order, greedy answers of ``--max-new-tokens`` tokens judged by the default
detector): harmful refusal before/after directional ablation, harmless refusal before/after
activation addition, harmfulness-gated ablation, Latent Guard AUROC/accuracy, refusal-vs-harmfulness
cosine per layer, and the effect of zero-ablating the top refusal heads. Every analysis also writes
its JSON + HTML page under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from refusalkit.internals.page import load_prompt_set
from refusalkit.provenance import provenance, run_started
from refusalkit.internals.pipeline import parse_layers, run_directions, run_guard, run_heads, run_steer, train_test
from refusalkit.targets import ALIASES, load_target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", default=None, help="default: smollm2-135m-aligned if that alias exists, else smollm2-135m"
    )
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--prompts", default="core")
    ap.add_argument("--n", type=int, default=32, help="test prompts per side")
    ap.add_argument("--n-train", type=int, default=48)
    ap.add_argument("--n-val", type=int, default=8)
    ap.add_argument("--layer-stride", type=int, default=2)
    ap.add_argument(
        "--layers", default=None, help="candidate layers, e.g. 20-29 (replaces the drop-the-last-20%% rule)"
    )
    ap.add_argument(
        "--positions", default=None, help="comma-separated post-instruction indices to search (default all)"
    )
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)")
    ap.add_argument("--out", default="runs/bench_internals")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = args.model or ("smollm2-135m-aligned" if "smollm2-135m-aligned" in ALIASES else "smollm2-135m")
    out = Path(args.out)
    started = run_started()
    t0 = time.time()
    target = load_target(model, adapter=args.adapter)
    train, test, how = train_test(load_prompt_set(args.prompts))
    positions = [int(p) for p in args.positions.split(",")] if args.positions else None
    d = run_directions(
        target,
        train,
        out / "directions",
        args.n_train,
        args.n_val,
        args.layer_stride,
        positions,
        progress=False,
        layers=parse_layers(args.layers),
    )
    t_dir = time.time() - t0
    from refusalkit.internals.directions import Directions

    dirs = Directions.load(d["directions_file"])
    s = run_steer(
        target,
        dirs,
        test,
        out / "steer",
        args.alpha,
        args.n,
        args.max_new_tokens,
        alphas=(0.5, 1.0, 2.0),
        progress=False,
    )
    g = run_guard(target, train, test, out / "guard", dirs, args.alpha, args.n, progress=False)
    h = run_heads(target, dirs.refusal, test, out / "heads", None, args.n, args.max_new_tokens, progress=False)
    rates = s["rates"]
    add = f"add{args.alpha:+g}"
    rate = lambda v, side: rates[v][side]["rate"]  # noqa: E731
    result = {
        "model": target.id,
        "prompts": f"{args.prompts} ({how}); test prompts per side: {s['n_per_side']}",
        "settings": {
            "n_train_per_side": d["n_train_per_side"],
            "n_val_per_side": d["n_val_per_side"],
            "layer_stride": args.layer_stride,
            "layers": d["candidate_layers"],
            "positions": positions or "all",
            "alpha": args.alpha,
            "max_new_tokens": args.max_new_tokens,
            "threads": args.threads,
        },
        "selected": {
            "layer": d["selected"]["layer"],
            "position": d["selected"]["position"],
            "bypass": d["selected"]["bypass"],
            "induce": d["selected"]["induce"],
            "kl": d["selected"]["kl"],
            "relaxed_filters": d["relaxed_filters"],
            "baseline_metric": d["baseline"],
        },
        "ablation_harmful_refusal": {
            "before": rate("base", "harmful_refusal"),
            "after": rate("ablate", "harmful_refusal"),
        },
        "ablation_benign_refusal": {
            "before": rate("base", "benign_refusal"),
            "after": rate("ablate", "benign_refusal"),
        },
        "addition_harmless_refusal": {
            "before": rate("base", "benign_refusal"),
            "after": rate(add, "benign_refusal"),
            "alpha": args.alpha,
        },
        "gated_ablation": {
            "harmful_refusal": rate("gated", "harmful_refusal"),
            "benign_refusal": rate("gated", "benign_refusal"),
            "gate_layer": dirs.gate_layer,
        },
        "latent_guard_test": {
            k: {m: v["test"][m] for m in ("auroc", "accuracy", "layer")} for k, v in g["guards"].items()
        },
        "steering_vs_guard_benign": [
            {
                "condition": c["condition"],
                "refusal_first_token": c["refusal_first_token"]["rate"],
                "guard_flag_rate": c["guard_flag_rate"],
            }
            for c in g["steering_vs_guard"]
        ],
        "cosine_refusal_harmfulness_per_layer": [round(c, 3) for c in d["cosine_refusal_harmfulness_per_layer"]],
        "head_ablation": {
            "k": h["k"],
            **{name: {side: row[side]["rate"] for side in row} for name, row in h["ablation"].items()},
            "top_driving": [(x["layer"], x["head"]) for x in h["top_heads"]["driving"]],
        },
        "seconds": {"directions": round(t_dir, 1), "total": round(time.time() - t0, 1)},
        "out": str(out),
    }
    result["provenance"] = provenance(started)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
