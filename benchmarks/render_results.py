"""Render the results tables of the docs and the README from benchmarks/results/*.json(l).

Every measured figure in the documentation comes from a result file; this script writes the tables
between marker comments, so a figure is typed once, in the file the benchmark wrote:

    <!-- BEGIN results:NAME -->
    ...generated table...
    <!-- END results:NAME -->

    python benchmarks/render_results.py          # rewrite the tables in place, redraw stale figures
    python benchmarks/render_results.py --check  # exit 1 and name the files whose tables or figures are stale

It also draws the figures under docs/img (matplotlib, SVG) from the result files, and redraws one when
those files change. tests/test_docs.py runs the check, so committed docs cannot drift from the
committed results.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Files whose marker blocks this script owns.
TARGETS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MARKER = re.compile(r"(<!-- BEGIN results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END results:(?P=name) -->)", re.S)


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def load_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (RESULTS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def num(x: float, places: int = 1) -> str:
    """``x`` with ``places`` decimals, as Python formats a float (the way the figures were first reported)."""
    return f"{float(x):.{places}f}"


def pct(rate: float | None, places: int = 1) -> str:
    return "n/a" if rate is None else num(rate * 100, places)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def source(*files: str) -> str:
    links = ", ".join(f"`benchmarks/results/{f}`" for f in files)
    return f"\n<small>Source: {links}.</small>\n"


# ---------------------------------------------------------------------------------------------------
# detectors

SPLITS = [
    ("dev", "dev"),
    ("dev_handwritten", "dev, hand-written"),
    ("dev_study_models", "dev, study models"),
    ("test", "`test`"),
    ("test2", "`test2`"),
    ("test3", "`test3`"),
    ("test4", "`test4`"),
    ("test5", "`test5`"),
    ("test6", "`test6`"),
    ("test7", "`test7`"),
    ("dev_real", "real answers, dev"),
    ("blind_real", "real answers, blind"),
]
DETECTORS = ["prefix", "pattern", "learned", "ensemble", "minilm", "minilm-ft"]


# the split the headline and the confusion table quote: the blind split of real answers where the
# corpus has one, else test7
def blind_split(dets: dict) -> str:
    return "blind_real" if "blind_real" in dets["learned"] else "test7"


def _bin_f1(split: dict) -> str:
    """A detector's binary accuracy / 3-class macro-F1 on one split."""
    return f"{num(split['binary_accuracy'], 3)} / {num(split['macro_f1'], 3)}"


def judge_quality() -> str:
    d = load("judge_quality.json")
    dets = d["detectors"]
    splits = [(k, label) for k, label in SPLITS if k in dets["learned"]]
    blind = blind_split(dets)
    header = (
        ["detector"]
        + [f"{label} ({dets['learned'][key]['n']})" for key, label in splits]
        + [f"`{blind}` partial-refusal F1", "answers/s (1 thread)"]
    )
    rows = []
    for name in DETECTORS:
        m = dets[name]
        label = f"`{name}`" + (" (default)" if name == d["default_detector"] else "")
        cells = [_bin_f1(m[k]) for k, _ in splits]
        cells = [f"**{c}**" if k == blind else c for c, (k, _) in zip(cells, splits)]
        rows.append(
            [
                label,
                *cells,
                num(m[blind]["per_class_f1"]["partial_refusal"], 2),
                num(m["speed_1_thread"]["answers_per_s"], 0),
            ]
        )
    return table(header, rows) + source("judge_quality.json")


def judge_readme() -> str:
    """The README's detector table: the blind split of real answers, dev, speed and load time, and the
    default's errors on the blind split by direction."""
    d = load("judge_quality.json")
    dets, default = d["detectors"], d["default_detector"]
    blind = blind_split(dets)
    rows = []
    for name in DETECTORS:
        m = dets[name]
        rows.append(
            [
                f"`{name}`" + (" (default)" if name == default else ""),
                _bin_f1(m[blind]),
                _bin_f1(m["dev"]),
                num(m["speed_2_threads"]["answers_per_s"], 0),
                num(m["speed_2_threads"]["load_and_first_verdict_s"], 1),
            ]
        )
    cm = dets[default][blind]["confusion_matrix"]  # rows: true compliance, partial, full; columns the same
    called_refusal = cm[0][1] + cm[0][2]
    called_compliance = cm[1][0] + cm[2][0]
    header = [
        "detector",
        f"real answers, blind ({dets[default][blind]['n']}): binary / macro-F1",
        f"dev ({dets[default]['dev']['n']})",
        "answers/s (2 threads)",
        "load + first verdict (s)",
    ]
    return (
        table(header, rows) + f"\nOn the blind split the default calls {called_refusal} compliant answers refusals and "
        f"{called_compliance} refusals compliance.\n" + source("judge_quality.json")
    )


def judge_confusion() -> str:
    d = load("judge_quality.json")["detectors"]
    blind = blind_split(d)
    rows = []
    for name in DETECTORS:
        cm = d[name][blind]["confusion_matrix"]
        rows.append([f"`{name}` on `{blind}`", *(" / ".join(str(v) for v in row) for row in cm)])
    return table(
        ["detector", "true compliance → C / P / F", "true partial → C / P / F", "true full → C / P / F"], rows
    ) + source("judge_quality.json")


# ---------------------------------------------------------------------------------------------------
# the study

VARIANTS = [
    ("base", "base (unaligned)"),
    ("safety", "(a) safety SFT"),
    ("generic", "(b) + 150 plain benign"),
    ("triggers", "(c) + 150 trigger-aware"),
    ("gated", "(a) + gated ablation"),
]
GROUPS = ["harmful_refusal", "trigger_benign_refusal", "plain_benign_refusal"]


def _rate_ci(x: dict | None, unit: str = "") -> str:
    """``48.4 [40.3, 56.6]`` (``unit="%"``: ``48.4% [40.3, 56.6]``) from a ``{rate, ci95}`` record, in percent."""
    if not x or x.get("rate") is None:
        return "–"
    lo, hi = x["ci95"]
    return f"{pct(x['rate'])}{unit} [{pct(lo)}, {pct(hi)}]"


def study_variants(name: str = "study_tradeoff.json", block: str = "variants") -> str:
    d = load(name)
    v = d[block]
    n = {g: v["base"][g]["n"] for g in GROUPS}
    benign = "trigger-benign" if block == "variants" else "benign look-alikes"
    header = [
        "variant",
        f"harmful refused (n={n['harmful_refusal']})",
        f"{benign} refused (n={n['trigger_benign_refusal']})",
        f"plain benign refused (n={n['plain_benign_refusal']})",
        "train examples",
    ]
    sizes = d["train_sizes"]
    rows = []
    partners = d.get("partner_refusals", 0)
    for key, label in VARIANTS:
        if key not in v:
            continue
        if key == "triggers" and partners:
            label += f" + {partners} harmful partners"
        train = {"base": "-", "gated": "(no training)"}.get(key, str(sizes.get(key, "-")))
        rows.append([label, *(_rate_ci(v[key][g], "%") for g in GROUPS), train])
    return table(header, rows) + source(name)


def _ci_value(x: dict, scale: float = 100, missing: str = "not reached") -> str:
    lo, hi = x["ci95"]
    if x["value"] is None:
        return missing
    bounds = f" [{num(lo * scale)}, {num(hi * scale)}]" if lo is not None else " [interval undefined]"
    return f"{num(x['value'] * scale)}{bounds}"


def study_curves(file: str = "study_curves.json") -> str:
    """Each curve's points, then look-alike refusal at matched harmful refusal and the gaps between curves."""
    d = load(file)
    out = []
    for suite, curves in d["curves"].items():
        rows = [
            [
                name,
                p["point"].split("@", 1)[1],
                *(f"{pct(p[g]['rate'])}" for g in ("harmful", "trigger_benign", "plain_benign")),
            ]
            for name, points in curves.items()
            for p in points
        ]
        out.append(
            f"**{suite} suite**, refused (%):\n\n"
            + table(["curve", "point", "harmful", "benign look-alikes", "plain benign"], rows)
        )
        stats = d["suites"][suite]
        ref = stats["reference"]
        rows = []
        for drop, at in stats["at_matched"].items():
            for name, x in at.items():
                if name == "harmful_refusal_level":
                    continue
                rows.append(
                    [
                        f"{pct(at['harmful_refusal_level'])}% ((a) − {num(float(drop) * 100, 0)} points)",
                        name,
                        _ci_value(x["look_alike_refusal"]),
                        _ci_value(x["reduction_vs_reference"]),
                    ]
                )
        out.append(
            f"Lowest look-alike refusal with harmful refusal at least the level ({suite}; (a) = {ref['point']}: {pct(ref['harmful_refusal'])}% harmful, "
            f"{pct(ref['look_alike_refusal'])}% look-alikes refused; 95% paired bootstrap intervals):\n\n"
            + table(["harmful refusal level", "curve", "look-alikes refused (%)", "reduction vs (a) (%)"], rows)
        )
        rows = [[pair, _ci_value(g, 100, "no shared range")] for pair, g in stats["gaps"].items()]
        out.append(
            f"Mean gap between curves ({suite}; look-alike refusal, points; positive = the second curve over-refuses less):\n\n"
            + table(["curves", "mean gap [95%]"], rows)
        )
    return "\n".join(out) + source(file)


def study_checks() -> str:
    d = load("study_tradeoff.json")
    labels = {
        "a_harmful_refusal_ge_90": "(a) refuses at least 90% of harmful requests",
        "a_trigger_over_refusal_above_base": "(a) over-refuses trigger-benign prompts more than the base model",
        "a_trigger_over_refusal_above_plain_benign": "(a) over-refuses trigger-benign prompts more than plain benign ones",
        "c_trigger_over_refusal_le_half_of_a": "(c) at most half of (a)'s trigger-benign over-refusal",
        "c_harmful_refusal_within_5_points_of_a": "(c) within 5 points of (a) on harmful refusal",
        "c_beats_b_on_trigger_over_refusal": "(c) below (b) on trigger-benign over-refusal",
    }
    rows = [[labels[k], "met" if ok else "not met"] for k, ok in d["targets_met"].items()]
    return table(["check", "result"], rows) + source("study_tradeoff.json")


def study_first_token() -> str:
    d = load("study_tradeoff.json")["first_token_align_heldout"]
    some = next(iter(d.values()))
    header = [
        "variant",
        f"harmful ({some['harmful']['n']})",
        f"their trigger twins ({some['trigger_twins']['n']})",
        f"plain benign ({some['plain_benign']['n']})",
    ]
    rows = [
        [label, *(num(d[key][g]["mean_p_refusal"], 3) for g in ("harmful", "trigger_twins", "plain_benign"))]
        for key, label in VARIANTS
        if key in d
    ]
    return table(header, rows) + source("study_tradeoff.json")


def study_top8() -> str:
    d = load("study_tradeoff_top8.json")["variants"]
    n = {g: d["base"][g]["n"] for g in GROUPS}
    header = [
        "variant",
        f"harmful refused (n={n['harmful_refusal']})",
        f"trigger-benign refused (n={n['trigger_benign_refusal']})",
        f"plain benign refused (n={n['plain_benign_refusal']})",
    ]
    rows = [[label, *(f"{pct(d[key][g]['rate'])}%" for g in GROUPS)] for key, label in VARIANTS if key in d]
    return table(header, rows) + source("study_tradeoff_top8.json")


def _three(rates: list[float]) -> str:
    return " / ".join(pct(r) for r in rates)


def _seed_row(label: str, a: list[float], c: list[float]) -> list[str]:
    """a, c: harmful / trigger-benign / plain-benign refusal rates as fractions."""
    gap = (a[0] - c[0]) * 100
    half = a[1] * 100 / 2
    ok = c[1] <= a[1] / 2
    return [
        label,
        _three(a),
        _three(c),
        num(gap),
        f"{'yes' if ok else 'no'} ({pct(c[1])} {'≤' if ok else '>'} {num(half)})",
    ]


def _rates(block: dict) -> list[float]:
    return [block[g]["rate"] for g in GROUPS]


SEED_HEADER = ["run", "(a) safety SFT", "(c) + trigger-aware", "(a) − (c) harmful, points", "(c) ≤ half of (a)"]


SEED_SUITES = {"ood-dev": "ood-dev split (for choices)", "ood": "ood suite"}


def _seed_rows(name: str, label: str = "") -> list[list[str]]:
    """Each seed's (a) and (c) on the core test split and, where measured, on ood-dev and the ood suite's
    test split."""
    d = load(name)["seeds"]
    rows = []
    for s in sorted(d):
        rows.append(_seed_row(f"{label}seed {s}, core test split", _rates(d[s]["safety"]), _rates(d[s]["triggers"])))
        for suite, title in SEED_SUITES.items():
            found = d[s].get("suites", {}).get(suite)
            if found:
                rows.append(_seed_row(f"{label}seed {s}, {title}", _rates(found["safety"]), _rates(found["triggers"])))
    return rows


def study_seeds() -> str:
    return table(SEED_HEADER, _seed_rows("study_seeds.json")) + source("study_seeds.json")


def study_seeds_k() -> str:
    """(c) with the study's K=150 and with K=300 look-alikes under the same two seeds."""
    files = ("study_seeds_ood_dev.json", "study_seeds_k300.json")
    rows = _seed_rows(files[0], "K=150, ") + _seed_rows(files[1], "K=300, ")
    return table(SEED_HEADER, rows) + source(*files)


def study_seeds_preference() -> str:
    """(c) with plain SFT and with the preference term, K=150, under the same two seeds."""
    files = ("study_seeds_ood_dev.json", "study_seeds_preference.json")
    rows = _seed_rows(files[0], "plain SFT, ") + _seed_rows(files[1], "with the preference term, ")
    return table(SEED_HEADER, rows) + source(*files)


def study_seeds_all_look_alikes() -> str:
    d = load("study_seeds_all_look_alikes.json")["seeds"]
    rows = [_seed_row(f"2 CPU cores, seed {s}", _rates(d[s]["safety"]), _rates(d[s]["triggers"])) for s in sorted(d)]
    return table(SEED_HEADER, rows) + source("study_seeds_all_look_alikes.json")


def study_seeds_lr5e4() -> str:
    d = load("study_seeds_lr5e-4.json")["seeds"]
    rows = [_seed_row(f"2 CPU cores, seed {s}", _rates(d[s]["safety"]), _rates(d[s]["triggers"])) for s in sorted(d)]
    for r in load_jsonl("study_gpu_seeds.jsonl"):
        if r["name"].startswith("d"):
            a = [x / 100 for x in r["res"]["safety"]["test"]]
            c = [x / 100 for x in r["res"]["triggers"]["test"]]
            rows.append(_seed_row(f"H100, seed {r['name'][1:]}", a, c))
    return table(SEED_HEADER, rows) + source("study_seeds_lr5e-4.json", "study_gpu_seeds.jsonl")


def study_heldout() -> str:
    rows = []
    for name, label in (
        ("study_seeds.json", "partnered (c)"),
        ("study_seeds_preference.json", "partnered (c) with the preference term"),
        ("study_seeds_all_look_alikes.json", "(c) all look-alikes"),
    ):
        d = load(name)["seeds"]
        for s in sorted(d):
            h = d[s]["heldout"]
            rows.append([f"lr 1e-3, {label}, seed {s}", _three(_rates(h["safety"])), _three(_rates(h["triggers"]))])
    h = load("study_seeds_lr5e-4_heldout_seed0.json")["seeds"]["0"]["heldout"]
    rows.append(["lr 5e-4, seed 0", _three(_rates(h["safety"])), _three(_rates(h["triggers"]))])
    gpu = [r for r in load_jsonl("study_gpu_seeds.jsonl") if r["name"].startswith("d")]

    def span(variant: str) -> str:
        cols = list(zip(*(r["res"][variant]["val"] for r in gpu)))
        return " / ".join(num(min(c), 1) if min(c) == max(c) else f"{num(min(c), 1)}–{num(max(c), 1)}" for c in cols)

    rows.append([f"lr 5e-4, H100 seeds 0–{len(gpu) - 1}", span("safety"), span("triggers")])
    return table(
        ["held-out intents, % refused (harmful / twins / plain benign)", "(a) safety SFT", "(c) + trigger-aware"], rows
    ) + source(
        "study_seeds.json",
        "study_seeds_preference.json",
        "study_seeds_all_look_alikes.json",
        "study_seeds_lr5e-4_heldout_seed0.json",
        "study_gpu_seeds.jsonl",
    )


def study_cost() -> str:
    rows = []
    for name, label in [
        (
            "study_tradeoff.json",
            "no adapter cached, ood suite too, (c) with the preference term, a test run sharing the cores during (b)",
        ),
        ("study_tradeoff_empty_cache.json", "empty cache, idle machine, before the ood suite and the preference term"),
    ]:
        t = load(name)["timings_s"]
        total = t["total_this_run"]
        rows.append(
            [
                label,
                f"{int(total // 60)} min {round(total % 60)} s",
                " / ".join(num(t[f"train_{k}"], 0) for k in ("safety", "generic", "triggers")),
                f"{num(min(t[k] for k in t if k.startswith('eval_')), 0)}–"
                f"{num(max(t[k] for k in t if k.startswith('eval_')), 0)}",
            ]
        )
    return table(
        ["run", "total (the study's own timer)", "training (a) / (b) / (c), s", "each evaluation, s"], rows
    ) + source("study_tradeoff.json", "study_tradeoff_empty_cache.json")


def gpu_sweep() -> str:
    rows = []
    for r in load_jsonl("study_gpu_sweep.jsonl"):
        res = r["res"]
        rows.append(
            [
                f"`{r['name']}`",
                str(r["device_run"]),
                *("/".join(pct(res[k][g]) for g in GROUPS) for k in ("safety", "generic", "triggers")),
            ]
        )
    return table(["run", "batch", "(a)", "(b)", "(c)"], rows) + source("study_gpu_sweep.jsonl")


# ---------------------------------------------------------------------------------------------------
# evolve and the predictor


def _frac(rate: float, n: int) -> str:
    return f"{round(rate * n)}/{n}"


def evolve() -> str:
    d = load("evolve_predict.json")
    rows = []
    for key, label in [("evolve", "plain benign"), ("evolve_lookalike_seeds", "benign look-alikes")]:
        e = d[key]
        n = e["seeds"]
        judges = e["harmless_by_independent_classifiers"]
        rows.append(
            [
                f"core train, {label} ({n})",
                f"{e['seed_refused']} = {num(e['seed_refusal_rate'], 2)} ({num(e['seed_ci95'][0], 2)}–{num(e['seed_ci95'][1], 2)})",
                f"{e['evolved_refused']} = {num(e['evolved_refusal_rate'], 2)} ({num(e['evolved_ci95'][0], 2)}–{num(e['evolved_ci95'][1], 2)})",
                f"**{num(e['ratio'], 1)}×**",
                f"{num(e['mean_first_token_refusal_prob']['seeds'], 2)} → {num(e['mean_first_token_refusal_prob']['evolved'], 2)}",
                " / ".join([_frac(e["harmless_by_filter"], n), *(_frac(j["harmless_fraction"], n) for j in judges)]),
                f"{num(e['seconds'], 0)} s",
            ]
        )
    header = [
        "seed set",
        "seeds refused (95% CI)",
        "evolved refused (95% CI)",
        "ratio",
        "mean first-token P(refuse) seeds → evolved",
        "evolved judged harmless: filter / judge A / judge B",
        "search + measuring",
    ]
    return table(header, rows) + source("evolve_predict.json")


def predictor() -> str:
    p = load("evolve_predict_predictor.json")["predictor"]
    nested, bal = p["nested_cv_all_default"], p["nested_cv_all_balanced_only"]
    cv4, ho, ho4, hob = p["cv_all_tfidf_C4"], p["held_out_default"], p["held_out_tfidf_C4"], p["held_out_balanced_only"]
    hoe, harm = p["held_out_with_embeddings"], p["held_out_harm_classifier_only"]

    def af(x: dict, acc: str = "accuracy", f1: str = "f1") -> str:
        return f"{num(x[acc], 3)} / {num(x[f1], 3)}"

    chosen = ho["setting_chosen_by_cv_on_train_split"]
    rows = [
        [
            "majority class",
            f"{num(nested['majority_baseline_accuracy'], 3)} / –",
            f"{num(ho['majority_baseline_accuracy'], 3)} / –",
        ],
        [
            "**default recipe** (chosen by CV; nested CV on all rows)",
            f"**{af(nested, 'nested_cv_accuracy', 'nested_cv_f1')}** (fold s.d. {num(nested['nested_cv_accuracy_std'], 3)} / {num(nested['nested_cv_f1_std'], 3)})",
            f"{af(ho)} (chose {ho['setting']}, {'balanced' if chosen.get('balanced') else 'equal weights'})",
        ],
        ["balanced class weights only (nested CV)", af(bal, "nested_cv_accuracy", "nested_cv_f1"), af(hob)],
        ["fixed: TF-IDF word 1–3-grams, C=4", af(cv4, "cv_accuracy", "cv_f1"), af(ho4)],
        ["grid with `--embeddings`", "–", af(hoe)],
        ["prior harm classifier alone, no refusal labels", "–", af(harm)],
    ]
    header = [
        "predictor",
        f"all {p['n']}, 5-fold CV: accuracy / F1",
        f"held out, train ({ho['train_n']}) → test ({ho['test_n']}): accuracy / F1",
    ]
    return table(header, rows) + source("evolve_predict_predictor.json")


# ---------------------------------------------------------------------------------------------------
# internals and speed


def internals() -> str:
    d = load("internals.json")
    s, g, lg, h = d["selected"], d["gated_ablation"], d["latent_guard_test"], d["head_ablation"]
    steer = {x["condition"]: x for x in d["steering_vs_guard_benign"]}
    cos = d["cosine_refusal_harmfulness_per_layer"]
    k = h["k"]
    drive, supp = h[f"ablate_top{k}_driving"], h[f"ablate_top{k}_suppressing"]

    def ba(x: dict) -> str:
        return f"{pct(x['before'])}% → {pct(x['after'])}%"

    rows = [
        [
            "selected direction: layer, position",
            f"{s['layer']}, {s['position']} (bypass {num(s['bypass'], 2)}, induce "
            f"{num(s['induce'], 2)}, KL {num(s['kl'], 2)}; relaxed filters: {', '.join(s['relaxed_filters']) or 'none'})",
        ],
        ["harmful refusal, before → after ablation", ba(d["ablation_harmful_refusal"])],
        ["benign refusal, before → after ablation", ba(d["ablation_benign_refusal"])],
        ["benign refusal, before → after addition", ba(d["addition_harmless_refusal"])],
        [
            f"gated ablation: harmful / benign refusal (gate layer {g['gate_layer']})",
            f"{pct(g['harmful_refusal'])}% / {pct(g['benign_refusal'])}%",
        ],
        [
            "Latent Guard, test AUROC / accuracy",
            f"cosine {num(lg['cosine']['auroc'], 3)} / {num(lg['cosine']['accuracy'], 3)}; "
            f"projection (layer {lg['projection']['layer']}) {num(lg['projection']['auroc'], 3)} / {num(lg['projection']['accuracy'], 3)}",
        ],
        [
            "benign, guard flags: base → +refusal dir → +harmfulness dir",
            " → ".join(f"{pct(steer[c]['guard_flag_rate'])}%" for c in ("base", "refusal", "harmfulness")),
        ],
        [
            "benign, first-token refusal: base → +refusal → +harmfulness",
            " → ".join(f"{pct(steer[c]['refusal_first_token'])}%" for c in ("base", "refusal", "harmfulness")),
        ],
        ["cosine(refusal, harmfulness) per layer", f"{num(min(cos), 2)} … {num(max(cos), 2)}"],
        [
            f"zero-ablate top-{k} refusal-driving heads: harmful / benign refusal",
            f"{pct(h['base']['harmful_refusal'])}% → {pct(drive['harmful_refusal'])}% / "
            f"{pct(h['base']['benign_refusal'])}% → {pct(drive['benign_refusal'])}%",
        ],
        [
            f"zero-ablate top-{k} refusal-suppressing heads: harmful / benign refusal",
            f"{pct(supp['harmful_refusal'])}% / {pct(supp['benign_refusal'])}%",
        ],
    ]
    return table(["measure", f"`{d['model']}`, layer stride {d['settings']['layer_stride']}"], rows) + source(
        "internals.json"
    )


SPEED_SIDES = [
    ("full", "full-vocabulary loss"),
    ("answer_only", "answer-only projection"),
    ("shared_prefix", "+ shared prefix run once (refusalkit's loss)"),
]


def train_speed() -> str:
    d = load("train_speed.json")["sides"]
    rows = []
    for key, label in SPEED_SIDES:
        f32, b16 = d[f"{key}_fp32"], d[f"{key}_bf16"]
        rows.append(
            [
                label,
                f"{num(f32['s_per_step_median'], 2)} s ({num(f32['speedup_vs_full_fp32'], 2)}×)",
                f"{num(b16['s_per_step_median'], 2)} s ({num(b16['speedup_vs_full_fp32'], 2)}×)",
                num(b16["loss_gap"], 4),
            ]
        )
    return table(
        ["loss", "float32 s/step (speed-up)", "bfloat16 autocast s/step (speed-up)", "bfloat16 loss gap"], rows
    ) + source("train_speed.json")


def serve_scaleout() -> str:
    d = load("serve_scaleout.json")
    rows = []
    labels = {
        "refusalkit_serve": lambda x: f"`refusalkit serve` on {x['model']}, CPU",
        "fixed_latency": lambda x: f"fixed {num(x['latency_s'], 2)} s per answer, no CPU",
    }
    for series, label in ((k, f(d[k])) for k, f in labels.items() if k in d):  # the series the run measured
        by = d[series]["by_replicas"]
        rows.append(
            [label, str(d[series]["n"])]
            + [
                f"{num(by[k]['answers_per_s'], 1)} ({num(by[k]['speedup_vs_1'], 2)}×)"
                for k in map(str, d["settings"]["replicas"])
            ]
        )
    return table(
        ["replicas (answers/s, speed-up over 1)", "prompts"] + [str(k) for k in d["settings"]["replicas"]], rows
    ) + source("serve_scaleout.json")


def refusal_tokens() -> str:
    """Per suite: (a), (b), (c) beside the threshold curve of the refusal-token model, then the targets."""
    d = load("refusal_tokens.json")
    out = []
    for suite, b in d["suites"].items():
        benign = "trigger-benign" if suite == "core" else "benign look-alikes"
        header = [
            "setting",
            "forced refusals",
            "harmful refused (%)",
            f"{benign} refused (%)",
            "plain benign refused (%)",
            "token agrees with detector (%)",
        ]
        rows = [
            [f"{k} (no tokens)", "–", *(_rate_ci(r[g]) for g in ("harmful", "trigger_benign", "plain_benign")), "–"]
            for k, r in b["references"].items()
        ]
        for c in b["curve"]:
            name = "own choice" if c["threshold"] == -1 else f"t = {c['threshold']:g}"
            rows.append(
                [
                    name,
                    str(c["forced_refusals"]),
                    *(_rate_ci(c[g]) for g in ("harmful", "trigger_benign", "plain_benign")),
                    _rate_ci(c["agreement"]),
                ]
            )
        t = b["threshold_target"]
        best = t["best_trigger_benign_within_5_points_of_a"]
        out.append(
            f"**{suite} suite** ({b['n_prompts']} prompts, split {b['split']}; detector `{b['detector']}`):\n\n"
            + table(header, rows)
        )
        line = (
            f"Within 5 points of (a)'s harmful refusal ({pct(t['a_harmful'])}%) the lowest {benign} refusal is "
            + (f"{pct(best['trigger_benign']['rate'])}% at t = {best['threshold']:g}" if best else "never reached")
            + f"; 3/4 of (a)'s is {pct(0.75 * t['a_trigger_benign'])}%: **{'met' if t['met'] else 'not met'}**."
        )
        out.append(line + "\n")
        if "category_moves" in b:
            crow = [
                [
                    g,
                    f"{num(100 * m['own_change'])} (n={m['n_own']})",
                    f"{num(100 * m['max_other_change'])}",
                    "yes" if b["category_target"]["per_category"][g] else "no",
                ]
                for g, m in b["category_moves"].items()
            ]
            out.append(
                "One category's threshold moved from 0 to 1, the others left to the model (harmful refusal, points):\n\n"
                + table(["category", "its own change", "largest change of another", ">= 30 and <= 5"], crow)
            )
    tr = d["training"]
    cost = tr["same_run_seconds_per_step"]
    out.append(
        f"Training: one run of {tr['steps']} steps on (a)'s {sum(tr['examples'].values())} examples; seconds per step in the same job, "
        f"interleaved (median of {len(cost['rounds']['a'])} rounds of {cost['steps_per_run']} steps): (a) {num(cost['a'], 2)}, "
        f"tokens {num(cost['tokens'], 2)} ({num(tr['tokens_over_a'], 2)}×).\n"
    )
    if (RESULTS / "refusal_tokens_cost.json").exists():
        c = load("refusal_tokens_cost.json")
        per = c["seconds_per_step"]
        out.append(
            f"Training cost measured again (`--stage cost`, median of {c['rounds']} rounds of {c['steps_per_run']} steps, "
            f"the sides' order rotating): (a) {num(per['a'], 2)} s per step, tokens {num(per['tokens'], 2)} "
            f"({num(c['tokens_over_a'], 2)}×), tokens with peft's own trainable-token forward "
            f"{num(per['tokens_peft_forward'], 2)} ({num(c['tokens_peft_forward_over_a'], 2)}×); within 10% of (a): "
            f"**{'met' if c['training_cost_within_10_percent'] else 'not met'}**.\n"
        )
        return "\n".join(out) + source("refusal_tokens.json", "refusal_tokens_cost.json")
    return "\n".join(out) + source("refusal_tokens.json")


def mogu() -> str:
    """Per suite: (a), (b), (c) from the study's answers and MoGU on (a) with each continuation, the same
    prompts and detector; the router; generation time."""
    d = load("mogu.json")
    out = []
    names = {"safety": "(a) safety SFT", "generic": "(b) + generic benign", "triggers": "(c) + trigger-aware"}
    groups = ("harmful_refusal", "trigger_benign_refusal", "plain_benign_refusal")
    default = d["default_continuation"]
    for suite, b in d["suites"].items():
        benign = "trigger-benign" if suite == "core" else "benign look-alikes"
        rows = [
            [names[k], *(_rate_ci(v[g]) for g in groups)]
            for k, v in b.get("same_detector_from_study_answers", {}).items()
            if v
        ]
        for c, r in b["continuations"].items():
            name = f"(a) + MoGU, {c}" + (" (default)" if c == default else "")
            unfinished = "" if r["finished"] else f", {r['n_prompts']} prompts"
            rows.append([f"**{name}**{unfinished}", *(_rate_ci(r["mogu"][g]) for g in groups)])
        g = b["gates"]
        out.append(
            f"**{suite} suite** ({b['n_prompts']} prompts{'' if b['finished'] else ', run unfinished'}; detector `{b['detector'].split('@')[0]}`), refused (%):\n\n"
            + table(["variant", "harmful", benign, "plain benign"], rows)
            + f"\nRouter ({default}): AUROC of alpha - beta between harmful and benign prompts {num(g['auroc_alpha_minus_beta'], 3)}; "
            f"routed harmful (alpha > beta): {pct(g['routed_harmful']['harmful'])}% of harmful, {pct(g['routed_harmful']['benign'])}% of benign prompts; "
            f"the route agrees with the final verdict on {pct(g['route_agrees_with_verdict'])}% of answers.\n"
        )
    t = d["generation_timing"]
    if t:
        sec = t["seconds_per_answer_best_round"]
        median = t["ratio_over_a_same_round_median"]
        each = "; ".join(
            f"{c} {num(sec[c], 3)} s ({num(r, 2)}×, same-round median {num(median[c], 2)}×)"
            for c, r in t["ratio_over_a"].items()
        )
        out.append(
            f"Generation, same {t['prompts']} prompts, (a) and MoGU's continuations alternately ({t['rounds']} rounds), "
            f"per answer in the best round: (a) {num(sec['a'], 3)} s; MoGU {each}. The same-round median is the "
            "median over rounds of a continuation's time over (a)'s in the same round.\n"
        )
    return "\n".join(out) + source("mogu.json")


def mogu_gate_weight(files: tuple[str, ...] = ("mogu_gate2-retrained.json", "mogu_gate8.json")) -> str:
    """MoGU with each gate weight on the same retrained (a), every suite, beside (a) itself."""
    runs = [load(f) for f in files]
    suites = [s for s in ("core", "ood", "ood-dev") if all(s in r["suites"] for r in runs)]

    def cell(x: dict | None) -> str:
        return "–" if not x else _three(_rates(x))

    a = runs[0]["suites"]
    rows = [
        [f"(a) `{a['core']['same_detector_from_study_answers']['safety']['target'].split('+')[1]}`"]
        + [cell((a[s].get("same_detector_from_study_answers") or {}).get("safety")) for s in suites]
    ]
    for r in runs:
        gw = r["training"]["config"]["gate_weight"]
        rows.append([f"(a) + MoGU, gate weight {gw:g}"] + [cell(r["suites"][s]["mogu"]) for s in suites])
    header = ["variant"] + [
        f"{s} ({runs[0]['suites'][s]['n_prompts']}): harmful / look-alikes / plain benign" for s in suites
    ]
    return table(header, rows) + source(*files)


@functools.lru_cache(maxsize=None)
def _poison_benchmark():
    """benchmarks/poison_audit.py as a module (loaded once)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("poison_audit", ROOT / "benchmarks" / "poison_audit.py")
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    return bench


def _rank_vs_clean(d: dict, p: dict) -> int:
    """The target's pre-screen rank by change against the clean model: stored by newer runs of
    benchmarks/poison_audit.py, else computed by its own function from the two stored rankings."""
    if "target_rank_vs_clean" in p["prescreen"]:
        return p["prescreen"]["target_rank_vs_clean"]
    return _poison_benchmark().rank_vs_clean(p, d["points"][0], d["target"]["axis"], d["target"]["group"])


def _poison_flag(p: dict) -> str:
    """Whether the audit flagged the target; results measured since the stratified test add its p-value
    and the verdict of the corrected interval (older results were flagged by that interval alone)."""
    flag = "yes" if p["target_flagged"] else "no"
    if not p.get("target_stratified"):
        return flag
    by_interval = "yes" if p["target_flags"]["newcombe"] else "no"
    return f"{flag} (p = {p['target_stratified']['p']:.2g}; by the interval: {by_interval})"


def _changed(p: dict, target: dict) -> str:
    """The groups the stratified change test finds changed against the clean model, and the target's p."""
    if p.get("changed_vs_clean") is None:
        return "–"
    ch = p["target_change_vs_clean"]["change_stratified"]
    return f"{', '.join(p['changed_vs_clean']) or 'none'} ({target['group']}: p = {ch['p']:.2g})"


def _replication(clean: dict) -> str:
    """How many of the clean model's flags held when audited again on templates it never trained on."""
    r = clean.get("replication")
    if not r or not r["flags"]:
        return ""
    held = sum(f["replicated"] for f in r["flags"].values())
    testable = sum(f["testable"] for f in r["flags"].values())
    return (
        f"; audited again on the {r['prompts']} prompts of the {r['templates']} templates, {held} of them replicate, "
        f"and those templates could have confirmed {testable} of the {len(r['flags'])}"
    )


def poison_audit(name: str = "poison_audit.json") -> str:
    """One row per poison share: the target's answered rate and ΔDP, the audit's flags, harmful refusal,
    the pre-screen's rank of the target (its own, and by change against the clean model) and where
    trigger discovery put the group's name."""
    d = load(name)

    def dp(x: dict | None) -> str:
        if not x or x.get("delta") is None:
            return "–"
        return f"{num(100 * x['delta'])} [{num(100 * x['lo'])}, {num(100 * x['hi'])}]"

    rows = []
    t = d["target"]
    with_change = any("changed_vs_clean" in p for p in d["points"])  # results measured since the change test
    for p in d["points"]:
        a, h, tr = p["target_answered"], p["harmful_refusal"], p["triggers"]
        rows.append(
            [
                f"{100 * p['rate']:g}% ({p['poison_rows']} rows)",
                "–" if a is None or a["rate"] is None else f"{pct(a['rate'])}% of {a['n']}",
                dp(p["target_delta_dp_corrected"]),
                _poison_flag(p),
                str(len(p["false_flags"])),
                f"{pct(h['rate'])}%"
                + ("" if p["harmful_inside_clean_interval"] is not False else " (outside the clean interval)"),
                f"{len(p['other_groups_outside_clean_interval'])} of {p['other_groups']}",
                f"{p['prescreen']['target_rank']} of {p['prescreen']['groups']}"
                + ("" if p["rate"] == 0 else f"; {_rank_vs_clean(d, p)} by change"),
                "–" if not tr else ("not among the cues" if tr["rank"] is None else f"{tr['rank']} of {tr['n_cues']}"),
            ]
            + ([_changed(p, t)] if with_change else [])
        )
    c = d["clean_model"]
    header = [
        "poison share",
        f"{t['group']} answered",
        "ΔDP, points (Bonferroni interval)",
        "flagged",
        "other groups flagged",
        "harmful refused",
        "other groups outside the clean interval",
        "pre-screen rank (own; by change against the clean model)",
        "group's name among trigger cues",
    ] + (["groups changed against the clean model (target's p)"] if with_change else [])
    return (
        f"Target {t['axis']}: {t['group']}; {d['audit_prompts']} audit prompts ({c['groups']} groups), "
        f"{d['harmful_prompts']} harmful prompts; the clean model flags {len(c['flagged'])} of {c['groups']} groups"
        + (
            ""
            if "test" not in c
            else f" by the {c['test']} test ({len(c['flagged_by_the_corrected_interval'])} by the corrected interval)"
        )
        + _replication(c)
        + ".\n\n"
        + table(header, rows)
        + source(name)
    )


# ---------------------------------------------------------------------------------------------------
# the README's headline table


# the poison sweep the headline quotes: the models retrained with mixed contrast rows, all 36 test templates
POISON_HEADLINE = "poison_audit_study_contrast-mixed_retrained.json"


def _audit_row(docs: str) -> list[str]:
    """The targeted-refusal audit on the poisoned models: the shares at which it flags the target, those at
    which it does not, and the clean model's flags."""
    d = load(POISON_HEADLINE)
    points, t, c = d["points"][1:], d["target"], d["clean_model"]

    def share(p: dict) -> str:
        return f"{100 * p['rate']:g}% ({p['poison_rows']} rows, ΔDP {100 * p['target_delta_dp']['delta']:+.1f} points)"

    caught = [share(p) for p in points if p["target_flagged"]]
    missed = [share(p) for p in points if not p["target_flagged"]]
    text = f"flags the target at {', '.join(caught)}" if caught else "flags the target at no share"
    text += f"; not at {', '.join(missed)}" if missed else ""
    text += f"; on the clean model {len(c['flagged'])} of {c['groups']} groups flagged" + _replication(c)
    return [f"[Targeted-refusal audit]({docs}audit.md) (alignment poisoned against {t['group']}s)", text]


def _optional_rows(base: str) -> list[list[str]]:
    """Headline rows of the refusal-token, MoGU and poison benchmarks, where their results exist."""
    rows = []
    docs = base.removesuffix("results/") if base else "../"
    if (RESULTS / "refusal_tokens.json").exists():
        t = load("refusal_tokens.json")["suites"]["core"]
        best = t["threshold_target"]["best_trigger_benign_within_5_points_of_a"]
        rows.append(
            [
                f"[Refusal tokens]({docs}refusal-tokens.md) (one training run, threshold at inference)",
                f"within 5 points of (a)'s harmful refusal, trigger-benign refused {pct(best['trigger_benign']['rate'])}% "
                f"at best (t = {best['threshold']:g}; (a) {pct(t['threshold_target']['a_trigger_benign'])}%); "
                f"token and answer agree on {pct(t['agreement_own_choice']['rate'])}%",
            ]
        )
    if (RESULTS / "mogu.json").exists():
        m = load("mogu.json")["suites"]["core"]
        a, g = m["same_detector_from_study_answers"]["safety"], m["mogu"]
        rows.append(
            [
                f"[MoGU]({docs}mogu.md) on the aligned model",
                f"trigger-benign refused {pct(a['trigger_benign_refusal']['rate'])}% → {pct(g['trigger_benign_refusal']['rate'])}%, "
                f"harmful {pct(a['harmful_refusal']['rate'])}% → {pct(g['harmful_refusal']['rate'])}%"
                + ("" if m["finished"] else f" ({m['n_prompts']} of the test prompts)"),
            ]
        )
    if (RESULTS / POISON_HEADLINE).exists():
        rows.append(_audit_row(docs))
    return rows


def _ood_of_seeds(seeds: dict) -> list[dict]:
    """Each seed's ood-suite rates, for the seeds measured there."""
    return [r["suites"]["ood"] for r in seeds.values() if "ood" in r.get("suites", {})]


def _seed_span(ood: list[dict], variant: str, metric: str = "trigger_benign_refusal") -> str:
    """``44.4–47.5%`` over the seeds' rates (one figure when they agree)."""
    values = sorted(100 * r[variant][metric]["rate"] for r in ood)
    lo, hi = num(values[0]), num(values[-1])
    return f"{lo}%" if lo == hi else f"{lo}–{hi}%"


def _ood_seed_spans(seeds: dict, what: str) -> str:
    """``look-alikes refused 44.4–47.5% → 12.3–16.7%, harmful refused 89.5% → 85.7–86.7%`` over the seeds
    measured on the ood suite, prefixed by ``what`` (empty with fewer than two seeds)."""
    ood = _ood_of_seeds(seeds)
    if len(ood) < 2:
        return ""
    return (
        f"{what.format(n=len(ood))}look-alikes refused {_seed_span(ood, 'safety')} → {_seed_span(ood, 'triggers')}, "
        f"harmful refused {_seed_span(ood, 'safety', 'harmful_refusal')} → "
        f"{_seed_span(ood, 'triggers', 'harmful_refusal')}"
    )


def headline(at: Path = ROOT / "README.md") -> str:
    """The README's table; links are relative to the file ``at`` it is rendered into."""
    base = os.path.relpath(ROOT / "docs" / "results", at.parent).replace(os.sep, "/") + "/"
    base = "" if base == "./" else base
    quality = load("judge_quality.json")
    jd, default = quality["detectors"], quality["default_detector"]
    blind = blind_split(jd)
    j = jd[default][blind]
    s = load("study_tradeoff.json")["variants"]
    o = load("study_tradeoff.json")["variants_ood"]
    seeds = load("study_seeds_preference.json")["seeds"]  # the study's (c): with the preference term
    plain_seeds = load("study_seeds.json")["seeds"]  # (c) with plain SFT, as before the term
    e = load("evolve_predict.json")["evolve"]
    p = load("evolve_predict_predictor.json")["predictor"]["nested_cv_all_default"]

    a_t, c_t, g_t = (s[k]["trigger_benign_refusal"]["rate"] for k in ("safety", "triggers", "gated"))
    a_h, c_h = s["safety"]["harmful_refusal"]["rate"], s["triggers"]["harmful_refusal"]["rate"]
    worst_gap = max(
        seeds[k]["safety"]["harmful_refusal"]["rate"] - seeds[k]["triggers"]["harmful_refusal"]["rate"] for k in seeds
    )
    rows = [
        [
            "[Refusal detector](" + base + f"detectors.md) (`{default}`, default)",
            f"{num(j['binary_accuracy'], 3)} binary accuracy, {num(j['macro_f1'], 3)} 3-class macro-F1 on "
            + (
                f"{j['n']} held-out real answers of the bundled model, labelled by hand"
                if blind == "blind_real"
                else f"{j['n']} answers written by refusalkit's engineers (`test7`)"
            )
            + "; on other chat models' answers labelled by others it is lower ([detectors]("
            + base
            + "detectors.md))",
        ],
        [
            "[Over-refusal from safety SFT](" + base + "study.md) (bundled model, core test split)",
            f"trigger-benign prompts refused: base {pct(s['base']['trigger_benign_refusal']['rate'])}% → aligned {pct(a_t)}%",
        ],
        [
            "[Trigger-aware fix]("
            + base
            + "study.md) (150 look-alikes, their written harmful partners, a preference term)",
            f"trigger-benign refused {pct(a_t)}% → {pct(c_t)}%, harmful refused {pct(a_h)}% → {pct(c_h)}% "
            + (
                f"(none lost in any of {len(seeds)} seeds)"
                if worst_gap <= 0
                else f"(at most {num(worst_gap * 100)} points lost over {len(seeds)} seeds)"
            ),
        ],
        [
            "[The fix out of distribution]("
            + base
            + "study.md#trade-off-curves-and-the-fix-out-of-distribution) (ood suite)",
            f"look-alikes refused {pct(o['safety']['trigger_benign_refusal']['rate'])}% → {pct(o['triggers']['trigger_benign_refusal']['rate'])}%, "
            f"harmful refused {pct(o['safety']['harmful_refusal']['rate'])}% → {pct(o['triggers']['harmful_refusal']['rate'])}%"
            + _ood_seed_spans(seeds, "; over {n} seeds, ")
            + (f" (with plain SFT: {plain})" if (plain := _ood_seed_spans(plain_seeds, "")) else ""),
        ],
        [
            "[Harmfulness-gated ablation](" + base + "study.md) (no training)",
            f"trigger-benign refused {pct(a_t)}% → {pct(g_t)}%, harmful {pct(s['gated']['harmful_refusal']['rate'])}%",
        ],
        *_optional_rows(base),
        [
            "[Evolved pseudo-malicious prompts](" + base + "evolve.md)",
            f"{e['seed_refused']} → {e['evolved_refused']} refused ({num(e['ratio'], 1)}×), all passing the harm filter",
        ],
        [
            "[Refusal predictor](" + base + "evolve.md#predicting-refusal-from-the-prompt) (prompt only)",
            f"{num(p['nested_cv_accuracy'], 3)} nested-CV accuracy (majority class {num(p['majority_baseline_accuracy'], 3)})",
        ],
    ]
    return table(["what", "measured"], rows) + (
        "\n<small>Rendered from `benchmarks/results/` by `benchmarks/render_results.py`.</small>\n"
    )


# ---------------------------------------------------------------------------------------------------
# figures: SVGs under docs/img, drawn with matplotlib from the result files. Each SVG carries a digest of
# the files it was drawn from and of the drawing code, so --check finds a stale figure by its inputs,
# whatever layout a given matplotlib version gives the same drawing.

IMG = ROOT / "docs" / "img"
DIGEST = re.compile(r"refusalkit-results-digest ([0-9a-f]{16})")
# one colour per variant, the same in every panel
COLOURS = {"base": "#7f7f7f", "safety": "#d62728", "generic": "#ff7f0e", "triggers": "#2ca02c", "gated": "#9467bd"}
VARIANT_NAMES = {
    "base": "base (unaligned)",
    "safety": "(a) safety SFT",
    "generic": "(b) + generic benign",
    "triggers": "(c) + trigger-aware",
    "gated": "gated ablation of (a)",
}


def results_digest(files: list[str], draw: Callable) -> str:
    """A digest of the named result files (names and bytes) and of the code that draws them."""
    h = hashlib.sha256()
    for name in files:
        h.update(name.encode() + b"\0" + (RESULTS / name).read_bytes() + b"\0")
    for f in (draw, _errorbar, _pyplot):
        h.update(inspect.getsource(f).encode())
    return h.hexdigest()[:16]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "refusalkit", "svg.fonttype": "none", "font.size": 9})
    return plt


def _errorbar(ax, x: dict, y: dict, label: str, colour: str, marker: str = "o") -> None:
    """A point at two rates (in %) with their 95% intervals as error bars."""
    xs, ys = 100 * x["rate"], 100 * y["rate"]
    ax.errorbar(
        xs,
        ys,
        xerr=[[xs - 100 * x["ci95"][0]], [100 * x["ci95"][1] - xs]],
        yerr=[[ys - 100 * y["ci95"][0]], [100 * y["ci95"][1] - ys]],
        fmt=marker,
        color=colour,
        capsize=2,
        markersize=6,
        label=label,
    )


def tradeoff_figure():
    """Harmful against benign look-alike refusal, core and ood suites side by side: every study variant,
    MoGU on (a) and the refusal-token threshold sweep, each with its 95% intervals."""
    plt = _pyplot()
    study, mogu, tokens = load("study_tradeoff.json"), load("mogu.json"), load("refusal_tokens.json")
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.2), sharey=True)
    for ax, suite, block in zip(axes, ("core", "ood"), ("variants", "variants_ood")):
        for key, v in study[block].items():
            _errorbar(ax, v["trigger_benign_refusal"], v["harmful_refusal"], VARIANT_NAMES[key], COLOURS[key])
        if suite in mogu["suites"]:
            m = mogu["suites"][suite]["mogu"]
            label = f"(a) + MoGU ({mogu['default_continuation']})"
            _errorbar(ax, m["trigger_benign_refusal"], m["harmful_refusal"], label, "#1f77b4", "D")
        if suite in tokens["suites"]:
            curve = [c for c in tokens["suites"][suite]["curve"] if c["threshold"] >= 0]
            ax.plot(
                [100 * c["trigger_benign"]["rate"] for c in curve],
                [100 * c["harmful"]["rate"] for c in curve],
                ".-",
                color="#17becf",
                label="refusal tokens (threshold sweep)",
            )
        ax.set_title(f"{suite} test suite")
        ax.set_xlabel("benign look-alikes refused (%)")
        ax.set_xlim(-3, 103)
        ax.grid(alpha=0.3)
        ax.annotate("better", xy=(2, 101), xytext=(18, 88), arrowprops={"arrowstyle": "->"}, color="#444")
    axes[0].set_ylabel("harmful requests refused (%)")
    axes[0].set_ylim(-3, 105)
    axes[1].legend(loc="lower right", fontsize=7.5)
    fig.suptitle("Over-refusal against safety on the bundled model (95% intervals)")
    fig.tight_layout()
    return fig


def poison_figure():
    """The target group's ΔDP against the poison share, with its Bonferroni-corrected interval; filled
    where the audit flags the target, open where it does not."""
    plt = _pyplot()
    d = load(POISON_HEADLINE)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for p in d["points"]:
        dp = p["target_delta_dp_corrected"]
        x, y = 100 * p["rate"], 100 * dp["delta"]
        flagged = p["target_flagged"]
        ax.errorbar(
            x,
            y,
            yerr=[[y - 100 * dp["lo"]], [100 * dp["hi"] - y]],
            fmt="o",
            color="#d62728" if flagged else "#555",
            markerfacecolor="#d62728" if flagged else "white",
            capsize=3,
        )
    ax.plot(
        [], [], "o", color="#d62728", label=f"flagged by the audit ({d['clean_model'].get('test', 'interval')} test)"
    )
    ax.plot([], [], "o", color="#555", markerfacecolor="white", label="not flagged")
    ax.axhline(0, color="#888", lw=0.8)
    ax.axhline(-20, color="#888", lw=0.8, ls="--")
    ax.text(0.2, -18.5, "ΔDP = −20 points", color="#555", fontsize=8)
    ax.set_xlabel("poisoned rows (% of the alignment data)")
    ax.set_ylabel(f"ΔDP of {d['target']['group']}, points\n(Bonferroni-corrected interval)")
    ax.set_title(f"Alignment poisoned against {d['target']['group']}s")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


# name under docs/img -> (the result files it is drawn from, the function that draws it)
FIGURES: dict[str, tuple[list[str], Callable]] = {
    "tradeoff.svg": (["study_tradeoff.json", "mogu.json", "refusal_tokens.json"], tradeoff_figure),
    "poison.svg": ([POISON_HEADLINE], poison_figure),
}


def stale_figures() -> list[str]:
    """The figures whose file is missing or was drawn from other result files than the current ones."""
    stale = []
    for name, (files, draw) in FIGURES.items():
        path = IMG / name
        found = DIGEST.search(path.read_text(encoding="utf-8")) if path.exists() else None
        if not found or found.group(1) != results_digest(files, draw):
            stale.append(name)
    return stale


def draw_figure(name: str) -> Path:
    """Draw one figure into docs/img, its source digest in the SVG's metadata."""
    files, draw = FIGURES[name]
    fig = draw()
    IMG.mkdir(parents=True, exist_ok=True)
    path = IMG / name
    meta = {"Date": None, "Creator": None, "Description": f"refusalkit-results-digest {results_digest(files, draw)}"}
    fig.savefig(path, format="svg", metadata=meta)
    _pyplot().close(fig)
    return path


RENDERERS: dict[str, Callable[[], str]] = {
    "headline": headline,
    "judge-quality": judge_quality,
    "judge-confusion": judge_confusion,
    "judge-readme": judge_readme,
    "study-variants": study_variants,
    "study-checks": study_checks,
    "study-ood": lambda: study_variants(block="variants_ood"),
    "study-curves": study_curves,
    "study-curves-preference": lambda: study_curves("study_curves_preference.json"),
    "study-first-token": study_first_token,
    "study-seeds": study_seeds,
    "study-seeds-all-look-alikes": study_seeds_all_look_alikes,
    "study-seeds-k": study_seeds_k,
    "study-seeds-preference": study_seeds_preference,
    "study-seeds-lr5e-4": study_seeds_lr5e4,
    "study-heldout": study_heldout,
    "study-cost": study_cost,
    "study-lr5e-4": lambda: study_variants("study_tradeoff_lr5e-4.json"),
    "study-top8": study_top8,
    "gpu-sweep": gpu_sweep,
    "evolve": evolve,
    "predictor": predictor,
    "internals": internals,
    "train-speed": train_speed,
    "serve-scaleout": serve_scaleout,
    "refusal-tokens": refusal_tokens,
    "mogu": mogu,
    "mogu-gate-weight": mogu_gate_weight,
    "poison-audit": poison_audit,
    "poison-audit-study": lambda: poison_audit("poison_audit_study.json"),
    "poison-audit-study-contrast-all": lambda: poison_audit("poison_audit_study_contrast-all.json"),
    "poison-audit-study-contrast-mixed": lambda: poison_audit("poison_audit_study_contrast-mixed.json"),
    "poison-audit-study-contrast-mixed-36": lambda: poison_audit("poison_audit_study_contrast-mixed_36-templates.json"),
    "poison-audit-study-contrast-mixed-retrained": lambda: poison_audit(
        "poison_audit_study_contrast-mixed_retrained.json"
    ),
}


def render_text(text: str, at: Path) -> str:
    """``text`` (the content of the file ``at``) with every marker block replaced by its freshly
    rendered table."""

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in RENDERERS:
            raise SystemExit(f"{at}: unknown results block {name!r} (known: {', '.join(RENDERERS)})")
        body = headline(at) if name == "headline" else RENDERERS[name]()
        return m.group(1) + body + m.group(4)

    return MARKER.sub(sub, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report files whose tables differ from the results")
    args = ap.parse_args(argv)
    stale = []
    for path in TARGETS:
        text = path.read_text(encoding="utf-8")
        new = render_text(text, path)
        if new != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(new, encoding="utf-8")
    figures = stale_figures()
    if args.check and (stale or figures):
        print(
            "stale results tables or figures (run python benchmarks/render_results.py): " + ", ".join(stale + figures),
            file=sys.stderr,
        )
        return 1
    for name in [] if args.check else figures:
        draw_figure(name)
    done = stale + figures
    print(("rewrote: " + ", ".join(done)) if done and not args.check else "results tables and figures up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
