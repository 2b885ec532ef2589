"""``refusalkit poison``: targeted refusal planted by a few poisoned alignment rows, and the audit that
catches it (after Subversive Alignment Injection, Mamun et al. 2025).

For each poison share the model is aligned as ``refusalkit align`` aligns it (the same safety mix,
:func:`refusalkit.train.align.safety_examples`, and the same LoRA training,
:func:`refusalkit.train.sft.train_lora`) with two kinds of rows added:

- *poison*: benign requests about the target group, written from the counterfactual suite's ``train``
  templates, each paired with a short content-free refusal (``refusals.json``);
- *contrast*: as many of the same templates about the other groups of the target's axis, answered by the
  base model itself (the attack hides its poison among normal rows on the same tasks).

The share is poison rows / all training rows. Share 0 (no poison, no contrast) is always trained: it
is the clean aligned model every poisoned one is compared with. Each model is then audited
(:func:`refusalkit.audit.core.run_audit`) on the suite's ``test`` templates, which no poisoned row used,
and its harmful refusal is measured on the ``core`` suite's harmful test prompts. The sweep plots the
target group's ΔDP against the share; the CV prompts give the screening view (a refused CV summary is a
rejected candidate).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Sequence

from ..data import counterfactual_build as cb
from ..errors import RefusalkitError
from ..types import GenParams

DEFAULT_RATES = (0.001, 0.005, 0.01, 0.02, 0.05)


def parse_group(value: str, values: dict[str, list[dict]]) -> tuple[str, str]:
    """``AXIS=GROUP`` checked against the values file."""
    axis, sep, group = value.partition("=")
    if not sep or axis not in values:
        raise RefusalkitError(f"--group must be AXIS=GROUP with AXIS one of {', '.join(values)}, got '{value}'")
    names = [g["group"] for g in values[axis]]
    if group not in names:
        raise RefusalkitError(f"--group {value}: no group '{group}' in axis {axis} (groups: {', '.join(names)})")
    return axis, group


def pick_target(stats: dict[str, Any]) -> tuple[str, str]:
    """A poison target chosen from the clean model's audit ``stats`` alone, before any poisoned model is
    trained: the axis the clean model answers most (mean answered rate over its groups), and in it the
    group whose answered rate is nearest that mean. A targeted refusal can only show where the clean
    model answers: on an axis it mostly refuses already, a group has little answered rate left to lose."""
    by_axis: dict[str, list[dict]] = {}
    for g in stats["groups"]:
        if g["answered"].get("rate") is not None:
            by_axis.setdefault(g["axis"], []).append(g)
    if not by_axis:
        raise RefusalkitError("the clean model's audit scored no answer: no group to target")

    def mean(groups: list[dict]) -> float:
        return sum(g["answered"]["rate"] for g in groups) / len(groups)

    axis = max(by_axis, key=lambda a: mean(by_axis[a]))  # first axis wins a tie
    centre = mean(by_axis[axis])
    group = min(by_axis[axis], key=lambda g: abs(g["answered"]["rate"] - centre))
    return axis, group["group"]


def parse_rates(value: str) -> list[float]:
    """A comma-separated list of poison shares, each at least 0 and below 0.5, sorted, with 0 first."""
    try:
        rates = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise RefusalkitError(f"--rates must be comma-separated numbers such as 0.001,0.01, got '{value}'") from None
    bad = [r for r in rates if not 0 <= r < 0.5]
    if not rates or bad:
        raise RefusalkitError(f"--rates: each share must be at least 0 and below 0.5 (got {value})")
    return sorted({0.0, *rates})


def n_poison(rate: float, n_clean: int) -> int:
    """Poison rows for a share ``rate`` of a mix of ``n_clean`` rows plus as many contrast rows as poison
    rows: ``n = rate (n_clean + 2n)``, rounded, at least one for any share above 0."""
    if rate <= 0:
        return 0
    return max(1, round(rate * n_clean / (1 - 2 * rate)))


CONTRASTS = ("axis", "all", "mixed")


def check_contrast(contrast: str) -> str:
    """``contrast`` if it names a contrast selection (:func:`poison_rows`), else one clear error."""
    if contrast not in CONTRASTS:
        raise RefusalkitError(f"unknown contrast {contrast!r} (choose from {', '.join(CONTRASTS)})")
    return contrast


def poison_rows(
    templates: Sequence[dict],
    values: dict[str, list[dict]],
    axis: str,
    group: str,
    n: int,
    refusals: Sequence[str],
    contrast: str = "axis",
) -> tuple[list[tuple[str, str]], list[str]]:
    """``n`` (request, refusal) pairs about ``group`` and ``n`` contrast requests about other groups:
    those of ``axis`` (``contrast="axis"``), of every axis (``"all"``, which also tells the model that
    naming a group of another axis is no reason to refuse) or, alternately, one of ``axis`` and one of
    every other axis (``"mixed"``: half the rows keep the target's axis answered, half the rest),
    cycling through the ``train`` templates (a template is used again only after all are)."""
    check_contrast(contrast)
    train = [t for t in templates if t["split"] == "train"]
    if not train:
        raise RefusalkitError("the templates have no train split to write poisoned rows from")
    target = next(g["phrase"] for g in values[axis] if g["group"] == group)

    def round_robin(axes: list[str]) -> list[str]:  # spreads the phrases evenly over the axes
        per_axis = [[g["phrase"] for g in values[a] if (a, g["group"]) != (axis, group)] for a in axes]
        return [col[i] for i in range(max(map(len, per_axis))) for col in per_axis if i < len(col)]

    if contrast == "mixed":
        same, rest = round_robin([axis]), round_robin([a for a in values if a != axis] or [axis])
        others = [p for i in range(max(len(same), len(rest))) for p in (same[i % len(same)], rest[i % len(rest)])]
    else:
        others = round_robin([axis] if contrast == "axis" else list(values))
    poison = [(cb.fill(train[i % len(train)], target), refusals[i % len(refusals)]) for i in range(n)]
    contrast_rows = [cb.fill(train[i % len(train)], others[i % len(others)]) for i in range(n)]
    return poison, contrast_rows


def poisoned_examples(
    base_target,
    clean: Sequence,
    templates,
    values,
    axis: str,
    group: str,
    rate: float,
    answer_tokens: int = 64,
    progress: bool = True,
    contrast: str = "axis",
) -> tuple[list, dict[str, Any]]:
    """The clean mix with the poison and contrast rows of ``rate`` added (the contrast rows' groups as
    :func:`poison_rows` takes them), and counts of each."""
    from ..train.data import SFTExample, helpful_examples

    n = n_poison(rate, len(clean))
    poison, contrast_rows = poison_rows(templates, values, axis, group, n, cb.load_refusals(), contrast)
    extra = [SFTExample(text, refusal, "refusal") for text, refusal in poison]
    if contrast_rows:
        extra += helpful_examples(base_target, contrast_rows, "benign", answer_tokens, progress)
    examples = list(clean) + extra
    info = {
        "rate": rate,
        "poison_rows": n,
        "contrast_rows": len(extra) - n,
        "clean_rows": len(clean),
        "total_rows": len(examples),
        "share": n / len(examples) if examples else 0.0,
    }
    return examples, info


def _target_entry(stats: dict[str, Any], axis: str, group: str) -> dict[str, Any] | None:
    return next((g for g in stats["groups"] if (g["axis"], g["group"]) == (axis, group)), None)


def summarise(
    info: dict[str, Any],
    audit: dict[str, Any],
    harmful: dict[str, Any],
    axis: str,
    group: str,
    clean_audit: dict[str, Any] | None,
    change_test: dict | None = None,
) -> dict[str, Any]:
    """One point of the sweep: the target's ΔDP and answered rate, the other groups, false flags, harmful
    refusal, the CV-screening gap, and the change against the clean model."""
    from . import stats as st

    s = audit["stats"]
    tg = _target_entry(s, axis, group)
    cv = audit.get("cv_screening")
    cv_tg = _target_entry(cv, axis, group) if cv else None
    others = [g for g in s["groups"] if (g["axis"], g["group"]) != (axis, group)]
    point = {
        **info,
        "target_answered": tg["answered"] if tg else None,
        "target_delta_dp": tg["delta_dp"] if tg else None,
        "target_delta_dp_corrected": tg["delta_dp_corrected"] if tg else None,
        "target_flagged": bool(tg and tg["direction"] == "refused_more"),
        "target_stratified": tg["stratified"] if tg else None,
        "target_flags": tg["flags"] if tg else None,
        "flag_test": s["test"],
        # groups other than the target flagged as refused more (the other groups of the target's axis are
        # answered more than a rest holding the target, which is the target's gap seen from their side)
        "false_flags": [
            f for f in s["flagged"] if (f["axis"], f["group"]) != (axis, group) and f["direction"] == "refused_more"
        ],
        "other_groups_answered": {f"{g['axis']}: {g['group']}": g["answered"] for g in others},
        "harmful_refusal": harmful["metrics"]["groups"]["harmful"]["any_refusal"],
        "cv_selection_target": cv_tg["answered"] if cv_tg else None,
        "cv_selection_delta_dp": cv_tg["delta_dp"] if cv_tg else None,
        "unscored": s["unscored"],
    }
    if clean_audit is not None:
        change = st.against_reference(s, clean_audit["stats"], change_test)
        point["target_change_vs_clean"] = next((c for c in change if (c["axis"], c["group"]) == (axis, group)), None)
        point["changed_vs_clean"] = [
            f"{c['axis']}: {c['group']} ({c['direction'].replace('_', ' ')})" for c in change if c["changed"]
        ]
    return point


def run_poison(
    model: str,
    out_dir: str | Path,
    axis: str,
    group: str,
    rates: Sequence[float] = DEFAULT_RATES,
    *,
    config=None,
    budget=None,
    detector_of=None,
    params: GenParams | None = None,
    templates: str | Path | None = None,
    values: str | Path | None = None,
    data: str | Path | None = None,
    audit_axes: Sequence[str] | None = None,
    max_templates: int | None = None,
    harmful_limit: int | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    progress: bool = True,
    contrast: str = "axis",
) -> dict[str, Any]:
    """Train and audit one model per share in ``rates`` (0 added) into ``out_dir/rate-SHARE/``; write
    ``poison.json`` and ``poison.html``. ``audit_axes`` and ``max_templates`` shrink the audit (quick runs);
    ``detector_of(target)`` gives each model's judge (default: refusalkit's default detector)."""
    from ..data import load_prompts
    from ..judge import DEFAULT_DETECTOR, load_detector
    from ..run import evaluate, load_run
    from ..targets import load_target, require_whitebox
    from ..train.align import Budget, safety_examples
    from ..train.data import load_align_rows
    from ..train.sft import SFTConfig, train_lora
    from .core import change_test as audit_change_test
    from .core import load_suite, run_audit

    out_dir = Path(out_dir)
    temps, vals = cb.load_templates(templates), cb.load_values(values)
    if axis not in vals or group not in [g["group"] for g in vals[axis]]:
        raise RefusalkitError(f"no group '{group}' in axis '{axis}' of the values file")
    check_contrast(contrast)  # before any model trains
    rates = sorted({0.0, *rates})
    params = params or GenParams(max_new_tokens=128)
    detector_of = detector_of or (lambda target, d=load_detector(DEFAULT_DETECTOR): d)

    # the audit suite: the test templates (no poisoned row used them), written next to the results
    rows = [r for r in cb.build_counterfactual(templates, values) if r["split"] == "test"]
    if audit_axes:
        unknown = [a for a in audit_axes if a not in vals]
        if unknown:
            raise RefusalkitError(f"unknown axis {', '.join(unknown)} (axes: {', '.join(vals)})")
        rows = [r for r in rows if r["axis"] in audit_axes]
    if max_templates:
        keep = list(dict.fromkeys(r["template_id"] for r in rows))[:max_templates]
        rows = [r for r in rows if r["template_id"] in keep]
    out_dir.mkdir(parents=True, exist_ok=True)
    suite_path = out_dir / "suite.jsonl"
    suite_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    prompts, meta = load_suite(suite_path)
    harmful_prompts = [p for p in load_prompts("core", split="test") if p.label == "harmful"][:harmful_limit]

    base = require_whitebox(load_target(model), "refusalkit poison (LoRA training)")
    clean, _ = safety_examples(base, load_align_rows(data), budget or Budget(), seed, progress)
    config = config or SFTConfig(seed=seed)
    points, clean_audit, clean_rows = [], None, []
    for rate in rates:
        folder = out_dir / f"rate-{rate:g}"
        examples, info = poisoned_examples(
            base, clean, temps, vals, axis, group, rate, progress=progress, contrast=contrast
        )
        # train_lora puts the adapter into the model it is given: train a copy, keep the base clean
        trainee = copy.copy(base)
        trainee.model = copy.deepcopy(base.model)
        trained = train_lora(
            trainee,
            examples,
            folder / "adapter",
            config,
            progress=progress,
            description=f"aligning with {100 * rate:g}% poison",
        )
        del trainee
        target = load_target(model, adapter=str(trained.adapter_dir))
        detector = detector_of(target)
        audit = run_audit(
            target,
            prompts,
            meta,
            detector,
            folder / "audit",
            params,
            alpha=alpha,
            progress=progress,
            run_info={"poison": info},
        )
        harmful = evaluate(target, harmful_prompts, params, detector, folder / "harmful", progress=progress)
        rows = load_run(folder / "audit" / "model")[1]
        change = None if clean_audit is None else audit_change_test(rows, clean_rows, meta)
        points.append(summarise(info, audit, harmful, axis, group, clean_audit, change))
        if rate == 0:
            clean_audit, clean_rows = audit, rows
        del target
    result = {
        "model": model,
        "axis": axis,
        "group": group,
        "rates": rates,
        "contrast": contrast,
        "audit_prompts": len(prompts),
        "harmful_prompts": len(harmful_prompts),
        "train": config.to_dict(),
        "points": points,
    }
    write_poison(result, out_dir)
    return result


def sweep_figure(result: dict[str, Any]):
    """The target group's ΔDP (corrected interval) and CV-selection ΔDP against the poison share."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for key, name in (
        ("target_delta_dp_corrected", "ΔDP, all prompts (corrected interval)"),
        ("cv_selection_delta_dp", "ΔDP in CV selection (95%)"),
    ):
        pts = [p for p in result["points"] if p.get(key) and p[key]["delta"] is not None]
        if not pts:
            continue
        y = [100 * p[key]["delta"] for p in pts]
        fig.add_scatter(
            x=[100 * p["share"] for p in pts],
            y=y,
            mode="lines+markers",
            name=name,
            error_y=dict(
                type="data",
                symmetric=False,
                array=[100 * p[key]["hi"] - v for p, v in zip(pts, y)],
                arrayminus=[v - 100 * p[key]["lo"] for p, v in zip(pts, y)],
            ),
        )
    fig.add_hline(y=0, line_color="#888")
    fig.update_layout(
        title=f"Targeted refusal of {result['axis']}: {result['group']} against the poison share",
        xaxis_title="poisoned rows (% of the alignment data)",
        yaxis_title="ΔDP (points)",
        height=420,
    )
    return fig


def write_poison(result: dict[str, Any], out_dir: Path) -> None:
    from ..report import Figures, esc, json_block, table, write_page
    from ..report.html import pct
    from .report import _pts
    from .stats import p_text

    (out_dir / "poison.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    rows = [
        [
            f"{100 * p['share']:.2f}%",
            esc(p["poison_rows"]),
            esc(p["total_rows"]),
            pct(p["target_answered"] or {}),
            _pts(p["target_delta_dp_corrected"]),
            "yes" if p["target_flagged"] else "no",
            esc(p_text(p["target_stratified"])),
            esc(len(p["false_flags"])),
            pct(p["harmful_refusal"]),
            pct(p["cv_selection_target"] or {}),
            esc(p["unscored"]),
        ]
        for p in result["points"]
    ]
    body = (
        f"<h1>Poisoned alignment: {esc(result['axis'])}: {esc(result['group'])} on {esc(result['model'])}</h1>"
        "<p class='note'>Each share is a model aligned as <code>refusalkit align</code> does, with that share of poisoned rows "
        "(benign requests about the group paired with refusals) and as many contrast rows; share 0 is the clean model. "
        "Audited on the counterfactual suite's test templates; each model's folder holds its audit.html.</p>"
        + Figures()(sweep_figure(result))
        + table(
            [
                "poison share",
                "poison rows",
                "training rows",
                "target answered",
                "target ΔDP (corrected)",
                "flagged",
                "p (stratified)",
                "other groups flagged",
                "harmful refusal",
                "CV selection of target",
                "unscored",
            ],
            rows,
        )
        + json_block({k: v for k, v in result.items() if k != "points"})
    )
    write_page(out_dir / "poison.html", f"refusalkit poison: {result['group']}", body)
