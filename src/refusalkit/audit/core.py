"""``refusalkit audit``: find the groups a model refuses more than the rest of their axis.

The model answers a counterfactual suite (prompts that differ only in the group, see
:mod:`refusalkit.data.counterfactual_build`) through refusalkit's evaluation loop
(:func:`refusalkit.run.evaluate`, so a run resumes and its answers are stored and judged as in ``eval``);
:mod:`refusalkit.audit.stats` turns the verdicts into answered rates, ΔDP per group with corrected
intervals, and flags (by the exact test stratified by template). Optional steps:

- ``reference``: the same suite on a reference model (e.g. the clean aligned model), and per group the
  change of its answered rate and ΔDP, and whether it changed (the stratified test on each prompt's
  change);
- ``prescreen``: on a white-box model, every group's mean first-token refusal probability
  (:func:`refusalkit.scoring.first_token_refusal_prob`, one forward pass per prompt, no generation),
  ranked within its axis; with a white-box ``reference`` also the reference's, and each group ranked by
  its change against it (which cancels the groups a model leans to refuse before it was aligned); with
  ``top`` only the ``top`` highest-ranked groups of each axis (by change when there is a reference) and
  its lowest-ranked one (so each has a comparison) are generated;
- ``triggers``: trigger discovery (:func:`refusalkit.triggers.discover.discover`) on each flagged
  group's refused prompts, and the rank of the group's name among the cues.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import RefusalkitError
from ..types import GenParams, Prompt
from . import stats

META_FIELDS = ("axis", "group")


def load_suite(spec: str | Path, split: str | None = None) -> tuple[list[Prompt], dict[str, dict[str, str]]]:
    """The prompts of a counterfactual suite (a bundled name or a file whose rows carry ``axis`` and
    ``group``) and ``{prompt id: {axis, group, template_id, domain}}``."""
    from ..data import load_prompts
    from ..data.loaders import SUITES_DIR
    from ..tables import read_rows

    path = Path(spec)
    if not path.exists():
        if "/" in str(spec) or not (SUITES_DIR / f"{spec}.jsonl").exists():
            load_prompts(str(spec))  # raises its one-line error naming what exists
        path = SUITES_DIR / f"{spec}.jsonl"
    prompts = load_prompts(path, split=split)
    columns, rows = read_rows(path)
    missing = [c for c in ("id", *META_FIELDS) if c not in columns]
    if missing:
        raise RefusalkitError(
            f"{path}: no column {', '.join(missing)}; an audit suite needs id, text, axis, group "
            "(build one with --templates T --values V, or use --suite counterfactual)"
        )
    meta = {}
    for n, r in rows:
        if not str(r.get("axis") or "").strip() or not str(r.get("group") or "").strip():
            raise RefusalkitError(f"{path}: row {n}: empty axis or group")
        meta[str(r["id"])] = {
            "axis": str(r["axis"]),
            "group": str(r["group"]),
            "template_id": str(r.get("template_id") or ""),
            "domain": str(r.get("domain") or r.get("category") or ""),
        }
    return prompts, meta


def prescreen(
    target,
    prompts: Sequence[Prompt],
    meta: dict[str, dict[str, str]],
    system_prompt: str | None = None,
    batch_size: int = 16,
) -> list[dict[str, Any]]:
    """Per group the mean first-token refusal probability of its prompts and its gap to its axis's mean;
    ``rank`` 1 is the group of its axis the model is most inclined to refuse."""
    from ..scoring import first_token_refusal_prob

    probs = first_token_refusal_prob(target, list(prompts), system_prompt=system_prompt, batch_size=batch_size)
    by_group: dict[tuple[str, str], list[float]] = defaultdict(list)
    for p, pr in zip(prompts, probs):
        m = meta[p.id]
        by_group[(m["axis"], m["group"])].append(float(pr))
    out = []
    axes: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (axis, group), values in by_group.items():
        axes[axis].append((group, float(np.mean(values))))
    for axis, groups in axes.items():
        mean = float(np.mean([v for _, v in groups]))
        for rank, (group, v) in enumerate(sorted(groups, key=lambda x: -x[1]), 1):
            out.append(
                {
                    "axis": axis,
                    "group": group,
                    "rank": rank,
                    "n": len(by_group[(axis, group)]),
                    "refusal_prob": v,
                    "vs_axis_mean": v - mean,
                }
            )
    return out


def against_reference(ranking: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ranking`` with each group's ``reference_prob`` (its mean first-token refusal probability on the
    reference model), ``change`` (model minus reference) and ``rank_vs_reference`` (1 = the group of its
    axis whose inclination to refuse grew most)."""
    ref = {(r["axis"], r["group"]): r["refusal_prob"] for r in reference}
    out = [
        {
            **r,
            "reference_prob": ref[(r["axis"], r["group"])],
            "change": r["refusal_prob"] - ref[(r["axis"], r["group"])],
        }
        for r in ranking
    ]
    by_axis: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in out:
        by_axis[r["axis"]].append(r)
    for groups in by_axis.values():
        for rank, r in enumerate(sorted(groups, key=lambda x: -x["change"]), 1):
            r["rank_vs_reference"] = rank
    return out


def screened(ranking: Sequence[dict[str, Any]], top: int) -> set[tuple[str, str]]:
    """The groups to generate for: the ``top`` highest-ranked of each axis and its lowest-ranked one, ranked
    by the change against the reference where the ranking has one."""
    if top < 1:
        raise RefusalkitError(f"--top must be at least 1, got {top}")
    key = "rank_vs_reference" if ranking and "rank_vs_reference" in ranking[0] else "rank"
    last: dict[str, int] = defaultdict(int)
    for r in ranking:
        last[r["axis"]] = max(last[r["axis"]], r[key])
    return {(r["axis"], r["group"]) for r in ranking if r[key] <= top or r[key] == last[r["axis"]]}


def group_triggers(
    target,
    flagged: Sequence[dict[str, Any]],
    refused_rows: Sequence[dict[str, Any]],
    examples: int = 4,
    harm=None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Trigger discovery on the refused prompts of each flagged group that is refused more than its axis
    (ΔDP < 0); ``rank`` is where the group's name comes among the cues (None: not among them). ``harm``
    (a :class:`~refusalkit.harm.PromptHarmClassifier`) sorts the cues into harmful and harmless."""
    from ..triggers.discover import discover

    out = []
    for f in flagged:
        if f["delta_dp"] is None or f["delta_dp"] >= 0:
            continue
        texts = [r["prompt"] for r in refused_rows if (r["axis"], r["group"]) == (f["axis"], f["group"])]
        entry = {"axis": f["axis"], "group": f["group"], "n_texts": len(texts)}
        if len(texts) < 2:
            out.append(entry | {"rank": None, "n_cues": 0, "cues": [], "note": "fewer than 2 refused prompts"})
            continue
        found = discover(
            target, texts, harm, examples=min(examples, len(texts)), min_count=min(3, len(texts)), progress=progress
        )
        out.append(
            entry
            | {
                "rank": stats.term_rank(found["cues"], f["group"]),
                "n_cues": len(found["cues"]),
                "cues": found["cues"][:15],
            }
        )
    return out


def run_audit(
    target,
    prompts: Sequence[Prompt],
    meta: dict[str, dict[str, str]],
    detector,
    out_dir: str | Path,
    params: GenParams | None = None,
    *,
    reference=None,
    reference_detector=None,
    prescreen_groups: bool = False,
    top: int | None = None,
    triggers: bool = False,
    alpha: float = 0.05,
    progress: bool = True,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Audit ``target`` on ``prompts`` into ``out_dir``: ``model/`` (and ``reference/``) are ordinary run
    folders of :func:`refusalkit.run.evaluate`; ``audit.json`` and ``audit.html`` hold the result."""
    from ..run import evaluate

    if not 0 < alpha < 1:
        raise RefusalkitError(f"--alpha must be between 0 and 1, got {alpha}")
    if top is not None and not prescreen_groups:
        raise RefusalkitError("--top restricts generation to the pre-screen's top groups: add --prescreen")
    from ..targets.base import require_whitebox

    if prescreen_groups:
        require_whitebox(target, "--prescreen (first-token refusal probabilities)")
    if triggers:
        require_whitebox(target, "--triggers (trigger discovery)")
    out_dir = Path(out_dir)
    params = params or GenParams()
    result: dict[str, Any] = {"target": target.id, "n_prompts": len(prompts), **(run_info or {})}
    ranking = None
    if prescreen_groups:
        ranking = prescreen(target, prompts, meta, params.system_prompt)
        if reference is not None and getattr(reference, "whitebox", False):
            ranking = against_reference(ranking, prescreen(reference, prompts, meta, params.system_prompt))
        result["prescreen"] = ranking
        if top is not None:
            keep = screened(ranking, top)
            prompts = [p for p in prompts if (meta[p.id]["axis"], meta[p.id]["group"]) in keep]
            result["prescreen_top"] = top
    result["generated_prompts"] = len(prompts)
    summary = evaluate(
        target, prompts, params, detector, out_dir / "model", progress=progress, run_info={"audit": str(out_dir)}
    )
    rows = _rows(out_dir / "model")
    result["run"] = summary["run"]
    result["stats"] = stats.group_stats(rows, meta, alpha)
    result["refused"] = stats.refused(rows, meta)
    result["cv_screening"] = cv_screening(rows, meta, alpha)
    if reference is not None:
        ref_summary = evaluate(
            reference,
            prompts,
            params,
            reference_detector or detector,
            out_dir / "reference",
            progress=progress,
            run_info={"audit": str(out_dir), "role": "reference"},
        )
        ref_rows = _rows(out_dir / "reference")
        ref_stats = stats.group_stats(ref_rows, meta, alpha)
        result["reference"] = {
            "target": reference.id,
            "run": ref_summary["run"],
            "stats": ref_stats,
            "change": stats.against_reference(result["stats"], ref_stats, change_test(rows, ref_rows, meta)),
        }
    if triggers:
        harm = None
        if any(f["direction"] == "refused_more" for f in result["stats"]["flagged"]):
            from ..data.align import load_align_rows
            from ..harm import PromptHarmClassifier

            harm = PromptHarmClassifier.from_align_rows(load_align_rows())
        result["triggers"] = group_triggers(
            target, result["stats"]["flagged"], result["refused"], harm=harm, progress=progress
        )
    write_audit(result, out_dir)
    return result


def change_test(rows, reference_rows, meta: dict[str, dict[str, str]]) -> dict | None:
    """The stratified test of each group's change against a reference, where the rows can be paired by
    template (None otherwise: the change is then judged by its corrected interval)."""
    return stats.stratified_change_test(rows, reference_rows, meta) if stats.pairable(rows, meta) else None


def cv_screening(
    rows, meta: dict[str, dict[str, str]], alpha: float = 0.05, domain: str = "cv"
) -> dict[str, Any] | None:
    """The screening view of the CV prompts: a refused CV summary is a rejected candidate, so a group's
    answered rate on them is its selection rate, and ΔDP is the gap in selection (None without CV prompts)."""
    cv = {pid: m for pid, m in meta.items() if m.get("domain") == domain}
    if not cv:
        return None
    return stats.group_stats([r for r in rows if r["prompt_id"] in cv], cv, alpha)


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    from ..run import load_run

    return load_run(run_dir)[1]


def write_audit(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    from .report import render_audit

    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "audit.json"
    js.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    html = out_dir / "audit.html"
    html.write_text(render_audit(result), encoding="utf-8")
    return js, html
