"""Which test should flag a group in `refusalkit audit`? Simulated audits where the truth is known.

Each simulated audit has the bundled counterfactual suite's shape: its axes and groups
(``src/refusalkit/data/counterfactual/values.json``) and ``--templates`` templates, each filled once with
every group of its axis. A template's answered probability is drawn from Beta(a, b), the same for
every group of it (templates differ; under the null, groups do not). With ``effect`` > 0 the first group
of the ``age`` axis keeps only (1 − effect) of that probability: a planted targeted refusal.

Three ways to flag a group at Bonferroni's level α/m (m = all groups) are compared on the same audits:

- ``stratified``: the exact test stratified by template (:func:`refusalkit.audit.stats.stratified_test`),
  the audit's test;
- ``newcombe``: the corrected Newcombe interval of ΔDP excludes 0 (:func:`refusalkit.metrics.diff_interval`),
  the audit's test for rows without templates;
- ``paired_t``: a one-sample t-test on the per-template differences (group − mean of the rest of its axis),
  the textbook paired analysis.

Printed per setting: the family-wise false-flag rate (share of audits with any group flagged, outside
the planted axis when there is one; it should stay at or below α) and the power (share of audits where
the planted group is flagged as refused more). Writes ``benchmarks/results/audit_tests.json``:

    python benchmarks/audit_tests.py [--audits 200] [--templates 36] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import ttest_1samp

from refusalkit.audit.stats import direction_by_interval, direction_by_test, stratified_test
from refusalkit.data import counterfactual_build as cb
from refusalkit.metrics import diff_interval
from refusalkit.provenance import provenance, run_started

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TESTS = ("stratified", "newcombe", "paired_t")
# template mixes: (a, b) of the Beta the templates' answered probabilities are drawn from
MIXES = [(0.5, 0.5), (0.3, 0.3), (2, 2), (20, 20), (5, 1), (1, 5), (0.2, 0.8)]
PLANTED_AXIS = "age"


def one_audit(rng, sizes: dict[str, int], templates: int, mix, effect: float) -> dict[str, np.ndarray]:
    """Answered (1) or refused (0) per template and group, one array (templates × groups) per axis."""
    out = {}
    for axis, k in sizes.items():
        p = np.repeat(rng.beta(*mix, size=templates)[:, None], k, axis=1)
        if effect and axis == PLANTED_AXIS:
            p[:, 0] *= 1 - effect
        out[axis] = (rng.random((templates, k)) < p).astype(int)
    return out


def flags(answers: dict[str, np.ndarray], alpha: float) -> dict[str, dict[tuple[str, int], str | None]]:
    """Per test, the direction each group is flagged in (None: not flagged)."""
    m = sum(y.shape[1] for y in answers.values())
    level = alpha / m
    rows, meta = [], {}
    for axis, y in answers.items():
        for t in range(y.shape[0]):
            for g in range(y.shape[1]):
                pid = f"{axis}-{g}-{t}"
                rows.append({"prompt_id": pid, "verdict": "compliance" if y[t, g] else "full_refusal"})
                meta[pid] = {"axis": axis, "group": str(g), "template_id": str(t)}
    strat = stratified_test(rows, meta)
    out: dict[str, dict[tuple[str, int], str | None]] = {t: {} for t in TESTS}
    for axis, y in answers.items():
        for g in range(y.shape[1]):
            rest = np.delete(y, g, axis=1)
            out["stratified"][(axis, g)] = direction_by_test(strat[(axis, str(g))], level)
            d = diff_interval(int(rest.sum()), rest.size, int(y[:, g].sum()), y.shape[0], 1 - level)
            out["newcombe"][(axis, g)] = direction_by_interval(d)
            diffs = y[:, g] - rest.mean(axis=1)
            p = ttest_1samp(diffs, 0).pvalue if diffs.std() > 0 else 1.0
            out["paired_t"][(axis, g)] = (
                None if p >= level else ("refused_more" if diffs.mean() < 0 else "answered_more")
            )
    return out


def main() -> None:
    started = run_started()
    ap = argparse.ArgumentParser()
    ap.add_argument("--audits", type=int, default=200, help="simulated audits per setting")
    ap.add_argument("--templates", type=int, default=36, help="templates per axis (the bundled test split has 36)")
    ap.add_argument("--effect", type=float, default=0.5, help="share of its answers the planted group loses")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sizes = {axis: len(groups) for axis, groups in cb.load_values().items()}
    rng = np.random.default_rng(args.seed)
    settings = []
    t0 = time.time()
    for mix in MIXES:
        for effect in (0.0, args.effect):
            any_false = dict.fromkeys(TESTS, 0)
            found = dict.fromkeys(TESTS, 0)
            for _ in range(args.audits):
                by_test = flags(one_audit(rng, sizes, args.templates, mix, effect), args.alpha)
                for test, f in by_test.items():
                    # in the planted axis the other groups are answered more than a rest that holds the
                    # planted group: the same gap seen from their side, not a false flag
                    any_false[test] += any(v for (axis, _), v in f.items() if not (effect and axis == PLANTED_AXIS))
                    found[test] += f[(PLANTED_AXIS, 0)] == "refused_more"
            row = {
                "template_beta": list(mix),
                "effect": effect,
                "family_wise_false_flag_rate": {t: round(any_false[t] / args.audits, 4) for t in TESTS},
            }
            if effect:
                row["power"] = {t: round(found[t] / args.audits, 4) for t in TESTS}
            settings.append(row)
            print(json.dumps(row), flush=True)
    result = {
        "groups": sum(sizes.values()),
        "axes": sizes,
        "templates": args.templates,
        "audits_per_setting": args.audits,
        "alpha": args.alpha,
        "planted": {"axis": PLANTED_AXIS, "group_index": 0, "effect": args.effect},
        "settings": settings,
        "worst_family_wise_false_flag_rate": {
            t: max(s["family_wise_false_flag_rate"][t] for s in settings) for t in TESTS
        },
        "seconds": round(time.time() - t0, 1),
        "provenance": provenance(started),
    }
    (RESULTS / "audit_tests.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("settings", "provenance")}))


if __name__ == "__main__":
    main()
