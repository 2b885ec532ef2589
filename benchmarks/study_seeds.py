"""How much of the study's safety / over-refusal trade-off is the training seed?

Trains variants (a) safety SFT and (c) + trigger-aware data with the study's default settings under
several LoRA seeds (the seed sets the adapters' initialisation and the batch order; the data, budget,
prompts and detector stay the same) and prints JSON: each seed's harmful, trigger-benign and
plain-benign refusal rates on the core test split, the issue's two (c)-vs-(a) targets per seed, and
their spread over seeds.

    python benchmarks/study_seeds.py [--out runs/study] [--seeds 0 1 2] [--model smollm2-135m] [--quick] [--heldout]
        [--suites ood] [--lr X] [--k K] [--preference W]

``--heldout`` also generates and judges each seed's (a) and (c) answers on the alignment set's held-out
intents (its test split: harmful requests, their trigger twins, plain benign), which no variant trains on
and no setting was chosen on, and adds their rates under ``heldout``.

``--suites ood`` also rates each seed's (a) and (c) on the named bundled suites (the out-of-distribution
suite's test split, which no setting was chosen on) and adds their rates, the two targets and their spread
under ``suites``.

``--lr`` and ``--k`` change the peak learning rate and K (the helpful examples (b) and (c) add on top of
the safety mix) for every seed, and ``--preference W`` sets the weight of the preference term in (c)'s SFT
loss (``refusalkit.train.sft``; default the study's, 0 = plain SFT): point ``--out`` at a copy of the study
folder when it differs from the study's, since (c) trains anew into it.

Seed 0 is the study's own: with ``--out`` pointing at a `refusalkit study` folder its adapters and
answers are reused. Other seeds go to ``OUT/seeds/N``. On 2 CPU cores each new seed takes about 20
minutes; on a GPU, about 5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from refusalkit.train.study import (
    StudySettings,
    _evaluate,
    _headline,
    _suite,
    SUITE_SPLITS,
    check_targets,
    heldout_prompts,
    runs_dir,
    study_rows,
    train_study_variant,
)
from refusalkit.triggers import data as tdata
from refusalkit.harm import PromptHarmClassifier
from refusalkit.provenance import provenance, run_started

FIX_TARGETS = ("c_trigger_over_refusal_le_half_of_a", "c_harmful_refusal_within_5_points_of_a")
METRICS = ("harmful_refusal", "trigger_benign_refusal", "plain_benign_refusal")


def spread(values: list[float | None]) -> dict | None:
    """min / mean / max over seeds (None when no seed had the rate, e.g. no prompt of that kind scored)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": round(min(values), 4), "mean": round(statistics.mean(values), 4), "max": round(max(values), 4)}


def rates(headline: dict) -> dict:
    """One variant's three refusal rates, with the counts behind them."""
    return {k: {"rate": headline[k]["rate"], "refused": headline[k]["k"], "n": headline[k]["n"]} for k in METRICS}


def summarise(blocks: list[dict]) -> dict:
    """(a)'s and (c)'s rates, their gaps and how many seeds met the two fix targets, spread over seeds;
    ``blocks``: one per seed, each with ``safety`` and ``triggers`` rates and ``targets``."""

    def over_seeds(fn) -> dict | None:
        """``fn(rates of one seed)`` spread over seeds; a seed missing a rate it needs is left out."""
        values = []
        for block in blocks:
            try:
                values.append(fn({(m, k): block[m][k]["rate"] for m in ("safety", "triggers") for k in METRICS}))
            except TypeError:  # a rate it needs is None
                values.append(None)
        return spread(values)

    met = [block["targets"] for block in blocks]
    return {
        "a_harmful_refusal": over_seeds(lambda r: r["safety", "harmful_refusal"]),
        "c_harmful_refusal": over_seeds(lambda r: r["triggers", "harmful_refusal"]),
        "a_minus_c_harmful_points": over_seeds(
            lambda r: 100 * (r["safety", "harmful_refusal"] - r["triggers", "harmful_refusal"])
        ),
        "a_trigger_benign_refusal": over_seeds(lambda r: r["safety", "trigger_benign_refusal"]),
        "c_trigger_benign_refusal": over_seeds(lambda r: r["triggers", "trigger_benign_refusal"]),
        "c_over_a_trigger_benign": over_seeds(
            lambda r: r["triggers", "trigger_benign_refusal"] / max(r["safety", "trigger_benign_refusal"], 1e-9)
        ),
        "seeds_meeting": {
            k: f"{sum(t[k] is True for t in met)} of {sum(t[k] is not None for t in met)}" for k in FIX_TARGETS
        },
    }


def main() -> None:
    started = run_started()
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/study")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--quick", action="store_true", help="tiny settings (smoke test; numbers not meaningful)")
    ap.add_argument(
        "--heldout", action="store_true", help="also rate (a) and (c) on the alignment set's held-out intents"
    )
    ap.add_argument(
        "--suites",
        nargs="*",
        default=[],
        choices=[s for s in SUITE_SPLITS if s != "core"],
        help="also rate (a) and (c) on these bundled suites (beside the core test split)",
    )
    ap.add_argument("--lr", type=float, help="peak learning rate (default: the study's)")
    ap.add_argument("--k", type=int, help="K, the helpful examples (c) adds to the safety mix (default: the study's)")
    ap.add_argument(
        "--preference",
        type=float,
        default=StudySettings.preference,
        help=f"weight of (c)'s preference term (default {StudySettings.preference}, the study's; 0: plain SFT)",
    )
    args = ap.parse_args()
    base_settings = (StudySettings.quick if args.quick else StudySettings)(model=args.model).training(lr=args.lr)
    base_settings.preference = args.preference
    if args.k is not None:
        base_settings.budget = replace(base_settings.budget, extra=args.k)
    if base_settings.trigger_source != "pairs":
        raise SystemExit("study_seeds trains (c) on the 'pairs' trigger source only")
    rows, first_triggers = study_rows(base_settings)
    prompts = _suite(base_settings.eval_limit)
    held = heldout_prompts(rows)
    extra = {name: _suite(base_settings.ood_limit, name) for name in args.suites}
    trigger_pairs = tdata.build("pairs", rows, PromptHarmClassifier.from_align_rows(rows)).pairs
    per_seed, timings = {}, {}
    for seed in args.seeds:
        t0 = time.time()
        settings = replace(base_settings, sft=replace(base_settings.sft, seed=seed))
        out = Path(args.out) if seed == 0 else Path(args.out) / "seeds" / str(seed)
        variants, heldout = {}, {}
        on_suites: dict[str, dict] = {name: {} for name in extra}
        for method in ("safety", "triggers"):
            target, _ = train_study_variant(
                settings, rows, method, out, trigger_pairs if method == "triggers" else None, first_triggers
            )
            variants[method] = _headline(_evaluate(target, prompts, settings, out / "runs" / method))
            if args.heldout:
                heldout[method] = _headline(_evaluate(target, held, settings, out / "heldout" / method))
            for name, suite_prompts in extra.items():
                on_suites[name][method] = _headline(
                    _evaluate(target, suite_prompts, settings, runs_dir(out, name) / method, name)
                )
            del target
        targets = check_targets(variants)
        per_seed[str(seed)] = {
            **{m: rates(v) for m, v in variants.items()},
            "targets": {k: targets[k] for k in FIX_TARGETS},
        }
        if heldout:
            per_seed[str(seed)]["heldout"] = {m: rates(v) for m, v in heldout.items()}
        if on_suites:
            per_seed[str(seed)]["suites"] = {
                name: {
                    **{m: rates(v) for m, v in found.items()},
                    "targets": {k: check_targets(found)[k] for k in FIX_TARGETS},
                }
                for name, found in on_suites.items()
            }
        timings[str(seed)] = round(time.time() - t0, 1)

    summary = summarise(list(per_seed.values()))
    for name in extra:
        summary[name] = summarise([result["suites"][name] for result in per_seed.values()])
    print(
        json.dumps(
            {
                "model": base_settings.model,
                "n_eval_prompts": len(prompts),
                "varies": "sft.seed (LoRA init, batch order)",
                "settings": {
                    "lr": base_settings.sft.lr,
                    "k": base_settings.budget.extra,
                    "look_alikes": base_settings.look_alikes,
                    "preference": base_settings.preference,
                    "preference_beta": base_settings.sft.preference_beta,
                },
                "seeds": per_seed,
                "summary": summary,
                "timings_s": timings,
                "provenance": provenance(started),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
