"""Harmfulness-gated ablation as a mitigation in `refusalkit study`, next to variants (a)–(c).

On the safety-aligned model (variant a) the study fits the refusal direction with refusalkit's
standard selection (:func:`refusalkit.internals.pipeline.run_directions`) and, from the same
activations, the harmfulness direction (difference of means at ``t_inst``). The prompts come from the
alignment set's *train* split: harmful requests vs plain benign requests, a seeded sample spread over
the whole file (it is ordered by category), with any text of the core test split left out. The
gated target is :class:`~refusalkit.internals.steering.SteeredTarget` in mode ``gated``: for each
prompt, the projection of ``t_inst`` on the harmfulness direction at the layer that best separates the
training prompts is compared with the midpoint of the two training means; prompts rated harmless get
the refusal direction ablated at every layer, the others are generated unsteered. The study
evaluates it on the same core test prompts, with the same detector and generation settings, as every
other variant, and records the gate's own verdicts on those prompts.

Cached in ``OUT/gated/`` (``directions.safetensors``/``.json``/``.html`` from ``run_directions``,
``gate.json`` with a key of the aligned model, the fitting prompts and settings, and the evaluated
prompts): a re-run with the same key reuses the directions and the gate statistics, and the run store
reuses the answers (the gated target's id names the directions file's hash).
"""

from __future__ import annotations

import hashlib
import html
import json
import random
from pathlib import Path
from typing import Sequence

import numpy as np

from ..types import Prompt
from .data import as_prompt

SIGNAL = (
    "projection of t_inst on the harmfulness direction at the gate layer; rated harmful when at or above "
    "the midpoint of the harmful and harmless training means"
)


def fit_prompts(rows: Sequence[dict], n_per_side: int, exclude: set[str], seed: int = 0) -> list[Prompt]:
    """Up to ``n_per_side`` harmful and as many plain benign requests of the alignment set's train split
    (seeded sample, so every category is represented), none whose text is in ``exclude``."""
    out: list[Prompt] = []
    for label in ("harmful", "benign"):
        side = [
            as_prompt(r) for r in rows if r["label"] == label and r.get("split") == "train" and r["text"] not in exclude
        ]
        out += random.Random(seed).sample(side, min(n_per_side, len(side)))
    return out


def gated_target(aligned, directions_file: str | Path):
    """The aligned target with harmfulness-gated ablation; its id names the exact directions file, so
    the run store never reuses answers from other directions."""
    from ..internals.steering import SteeredTarget

    digest = hashlib.sha256(Path(directions_file).read_bytes()).hexdigest()[:8]
    target = SteeredTarget(aligned, directions_file, "gated")
    target.id = f"{aligned.id}+gated-{digest}"
    return target


def gate_accuracy(gated, prompts: Sequence[Prompt]) -> dict:
    """The gate's verdicts on ``prompts``: share rated harmful per group (Wilson 95%), harmful prompts
    let through to ablation, benign prompts kept from it, accuracy and AUROC of the signal."""
    from sklearn.metrics import roc_auc_score

    from ..metrics import GROUPS, wilson

    scores = gated.harm_scores([p.text for p in prompts]).numpy()
    flagged = scores >= 0
    y = np.array([p.label == "harmful" for p in prompts])
    recs = [{"prompt_label": p.label, "type": p.type} for p in prompts]
    groups = {}
    for name, keep in GROUPS.items():
        idx = np.array([keep(r) for r in recs], dtype=bool)
        groups[name] = wilson(int(flagged[idx].sum()), int(idx.sum()))
    return {
        "n": len(prompts),
        "rated_harmful": groups,
        "harmful_let_through_to_ablation": int((y & ~flagged).sum()),
        "benign_not_ablated": int((~y & flagged).sum()),
        "accuracy": round(float((flagged == y).mean()), 4) if len(y) else None,
        "auroc": round(float(roc_auc_score(y, scores)), 4) if 0 < y.sum() < len(y) else None,
    }


def fit_gate(aligned, rows: Sequence[dict], prompts: Sequence[Prompt], settings, out: str | Path, log=lambda msg: None):
    """Fit (or reuse) the directions on ``aligned`` and return ``(gated target, gate summary)``.

    ``settings`` is the study's: ``gate_fit`` / ``gate_val`` prompts per side for the difference of
    means / the candidate scoring, ``gate_layer_stride`` and ``gate_positions`` for the candidate set.
    """
    from ..data import load_prompts
    from ..internals.pipeline import run_directions

    folder = Path(out) / "gated"
    exclude = {p.text for p in load_prompts("core", split="test")}  # never fit on the core test split
    fit = fit_prompts(rows, settings.gate_fit + settings.gate_val, exclude)
    positions = list(settings.gate_positions) if settings.gate_positions is not None else None
    key = hashlib.sha256(
        json.dumps(
            [
                aligned.id,
                [p.id for p in fit],
                settings.gate_fit,
                settings.gate_val,
                settings.gate_layer_stride,
                positions,
                [p.id for p in prompts],
            ]
        ).encode()
    ).hexdigest()[:16]
    info_path, dfile = folder / "gate.json", folder / "directions.safetensors"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if info.get("key") == key and dfile.exists():
        return gated_target(aligned, dfile), info
    log("fitting the refusal and harmfulness directions of (a) for the gated variant")
    d = run_directions(
        aligned, fit, folder, settings.gate_fit, settings.gate_val, settings.gate_layer_stride, positions
    )
    gated = gated_target(aligned, dfile)
    log("scoring the gate on the evaluated prompts")
    info = {
        "key": key,
        "signal": SIGNAL,
        "fit": {
            "source": "alignment set, train split: harmful vs plain benign requests (core test texts excluded)",
            "n_train_per_side": d["n_train_per_side"],
            "n_val_per_side": d["n_val_per_side"],
        },
        "refusal_direction": {
            **d["selected"],
            "relaxed_filters": d["relaxed_filters"],
            "candidate_layers": d["candidate_layers"],
            "candidate_positions": positions or "all",
            "layer_stride": settings.gate_layer_stride,
        },
        "gate_layer": d["gate_layer"],
        "directions_file": str(dfile),
        "core_test": gate_accuracy(gated, prompts),
    }
    folder.mkdir(parents=True, exist_ok=True)
    info_path.write_text(json.dumps(info, indent=1))
    return gated, info


def rate_checks(variants: dict):
    """``(r, test)`` for comparing study variants: ``r(variant, metric)`` is a rate (None where no prompt
    was scored or the variant was not run) and ``test(fn, *rates)`` is ``fn(*rates)`` as a bool, or None
    when a rate is missing."""

    def r(name, key):
        return variants[name][key]["rate"] if name in variants else None

    def test(fn, *rates):
        return None if any(x is None for x in rates) else bool(fn(*rates))

    return r, test


def compare(variants: dict) -> dict:
    """Informational comparisons of the gated variant with (a) and (c) (reported beside the study's checks, not among them)."""
    r, test = rate_checks(variants)
    g_h, g_t, g_p = (
        r("gated", "harmful_refusal"),
        r("gated", "trigger_benign_refusal"),
        r("gated", "plain_benign_refusal"),
    )
    return {
        "gated_trigger_over_refusal_below_a": test(lambda g, a: g < a, g_t, r("safety", "trigger_benign_refusal")),
        "gated_plain_over_refusal_below_a": test(lambda g, a: g < a, g_p, r("safety", "plain_benign_refusal")),
        "gated_harmful_refusal_within_5_points_of_a": test(
            lambda g, a: g >= a - 0.05, g_h, r("safety", "harmful_refusal")
        ),
        "gated_trigger_over_refusal_below_c": test(lambda g, c: g < c, g_t, r("triggers", "trigger_benign_refusal")),
    }


def section(gate: dict) -> str:
    """The study page's section on the gated variant."""
    d, ct = gate["refusal_direction"], gate["core_test"]

    def pct(x):
        return (
            "n/a"
            if x["rate"] is None
            else f"{100 * x['rate']:.1f}% [{100 * x['lo']:.1f}, {100 * x['hi']:.1f}] (n={x['n']})"
        )

    rated = "".join(f"<tr><td>{html.escape(k)}</td><td>{pct(v)}</td></tr>" for k, v in ct["rated_harmful"].items())
    compared = "".join(
        f"<li>{k}: <b>{ {True: 'yes', False: 'no', None: 'n/a'}[ok] }</b></li>"
        for k, ok in gate.get("compared", {}).items()
    )
    relaxed = ", ".join(d["relaxed_filters"]) or "none"
    return f"""<h2>Harmfulness-gated ablation of (a)</h2>
<p>The refusal direction of (a) is ablated only on prompts that (a)'s own harmfulness signal rates harmless ({html.escape(gate["signal"])});
the others are answered unsteered. Directions fitted on {html.escape(gate["fit"]["source"])}: {gate["fit"]["n_train_per_side"]} per side for the means,
{gate["fit"]["n_val_per_side"]} per side to select. Selected refusal direction: layer {d["layer"]}, position {html.escape(str(d["position"]))}
(bypass {d["bypass"]:.3f}, induce {d["induce"]:.3f}, KL {d["kl"]:.3f}; relaxed filters: {html.escape(relaxed)}; candidate layers {d["candidate_layers"]},
positions {html.escape(str(d["candidate_positions"]))}). Gate layer {gate["gate_layer"]}. Full search: gated/directions.html.</p>
<p>The gate on the evaluated core test prompts: accuracy {ct["accuracy"]}, AUROC {ct["auroc"]};
{ct["harmful_let_through_to_ablation"]} harmful prompts let through to ablation, {ct["benign_not_ablated"]} benign prompts kept from it.</p>
<table><tr><th>group</th><th>rated harmful (not ablated)</th></tr>{rated}</table>
<p>Compared with (a) and (c) on the core test split (informational, not targets):</p><ul>{compared}</ul>"""
