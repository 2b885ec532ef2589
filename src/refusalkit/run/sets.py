"""Several prompt sets and system prompts in one run folder, with one report over all of them.

``eval --prompts xstest,or-bench-hard-1k`` and ``eval --system-prompt A --system-prompt B`` run each
configuration (a prompt set under one system prompt) through the one evaluation loop,
:func:`~refusalkit.run.evaluate.evaluate`, with the same target, judge and settings. The folder holds:

- one sub-run per prompt set, ``OUT/SET/`` (or ``OUT`` itself for a single set), each with its own
  ``run.sqlite``; the system prompts of a set share that store, each under its own settings hash (the
  system prompt is a generation setting), and write their outputs to ``OUT/SET/system-N/``;
- ``compare.html`` / ``compare.json`` per set when there are several system prompts (the first is the
  baseline), made by :func:`refusalkit.metrics.compare` as ``refusalkit compare`` makes them;
- ``overview.json`` and ``report.html`` over every configuration: per set and label the refusal rates
  with Wilson intervals, each configuration's trade-off point, the point of all sets pooled, and one
  plot of all sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ..errors import RefusalkitError
from ..types import GenParams, Prompt

NO_SYSTEM_PROMPT = "no-system-prompt"


@dataclass(frozen=True)
class Config:
    """One configuration: a prompt set under one system prompt."""

    name: str  # "xstest", "xstest/system-2" or "system-2"
    set_name: str
    spec: str
    sp_label: str | None  # None when the run has one system prompt
    system_prompt: str | None
    out_dir: Path
    store_dir: Path


def system_prompt_labels(system_prompts: Sequence[str | None]) -> list[tuple[str, str | None]]:
    """(label, system prompt) for each prompt of a sweep: ``system-1``, ``system-2``, ... in the order
    given, and ``no-system-prompt`` for an empty one. The same prompt twice is an error."""
    out: list[tuple[str, str | None]] = []
    seen: dict[str | None, int] = {}
    for i, sp in enumerate(system_prompts, 1):
        sp = sp if sp and sp.strip() else None
        if sp in seen:
            what = "no system prompt" if sp is None else f"system prompt {i} ({sp[:40]!r})"
            raise RefusalkitError(f"{what} is given twice (as number {seen[sp]} and {i}); give each system prompt once")
        seen[sp] = i
        out.append((NO_SYSTEM_PROMPT if sp is None else f"system-{i}", sp))
    return out


def plan(out_dir: Path, sets: Sequence[tuple[str, str]], system_prompts: Sequence[str | None]) -> list[Config]:
    """The configurations of ``sets`` ((name, spec) pairs) × ``system_prompts`` and where each goes."""
    labelled = system_prompt_labels(system_prompts) if len(system_prompts) > 1 else [(None, system_prompts[0])]
    configs = []
    for set_name, spec in sets:
        store = out_dir / set_name if len(sets) > 1 else out_dir
        for label, sp in labelled:
            name = "/".join(x for x in ((set_name if len(sets) > 1 else None), label) if x) or set_name
            configs.append(Config(name, set_name, spec, label, sp, store / label if label else store, store))
    return configs


def evaluate_sets(
    target,
    sets: Sequence[tuple[str, str, Sequence[Prompt]]],
    params: GenParams,
    detector,
    out_dir: str | Path,
    *,
    system_prompts: Sequence[str | None] | None = None,
    early_stop=None,
    run_info: dict[str, Any] | None = None,
    others: Sequence[tuple[str, dict[str, Any]]] = (),
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate every configuration of ``sets`` ((name, spec, prompts)) × ``system_prompts`` (default:
    ``params.system_prompt`` alone) into ``out_dir``; write the per-set comparisons, ``overview.json``
    and ``report.html``; return the overview. ``others``: (name, trade-off point) of other runs to show
    on the trade-off plot."""
    from .. import metrics
    from ..report.html import render_compare, render_sets
    from .evaluate import evaluate, load_run

    out_dir = Path(out_dir)
    names = [name for name, _, _ in sets]
    if len(set(names)) != len(names):
        raise RefusalkitError(f"--prompts names the same set twice ({', '.join(names)}); give each set once")
    sps = list(system_prompts) if system_prompts else [params.system_prompt]
    configs = plan(out_dir, [(name, spec) for name, spec, _ in sets], sps)
    items = {name: prompts for name, _, prompts in sets}
    results: list[dict[str, Any]] = []
    for c in configs:
        summary = evaluate(
            target,
            items[c.set_name],
            replace(params, system_prompt=c.system_prompt),
            detector,
            c.out_dir,
            early_stop=early_stop,
            progress=progress,
            store_dir=c.store_dir,
            run_info={**(run_info or {}), "prompts": c.spec, "name": c.name, "system_prompt_label": c.sp_label},
        )
        results.append({"config": c, "summary": summary})

    compares = {}
    if len(sps) > 1:  # the system prompts of each set side by side, the first as the baseline
        for set_name in names:
            mine = [r for r in results if r["config"].set_name == set_name]
            store = mine[0]["config"].store_dir
            comparison = metrics.compare([(r["config"].sp_label, load_run(r["config"].out_dir)[1]) for r in mine])
            (store / "compare.json").write_text(json.dumps(comparison, indent=2), encoding="utf-8")
            (store / "compare.html").write_text(render_compare(comparison), encoding="utf-8")
            compares[set_name] = str((store / "compare.html").relative_to(out_dir))

    overview = _overview(out_dir, results, sps, compares)
    (out_dir / "overview.json").write_text(json.dumps(overview, indent=2), encoding="utf-8")
    (out_dir / "report.html").write_text(render_sets(overview, others), encoding="utf-8")
    return overview


def _overview(
    out_dir: Path, results: list[dict[str, Any]], sps: Sequence[str | None], compares: dict[str, str]
) -> dict[str, Any]:
    from .. import metrics
    from .evaluate import load_run

    first = results[0]["summary"]["run"]
    params = {k: v for k, v in first["params"].items() if k not in ("system_prompt", "batch_size")}
    configs = []
    for r in results:
        c, m = r["config"], r["summary"]["metrics"]
        configs.append(
            {
                "name": c.name,
                "set": c.set_name,
                "prompts": c.spec,
                "system_prompt": c.sp_label,
                "dir": str(c.out_dir.relative_to(out_dir)) if c.out_dir != out_dir else ".",
                "n_prompts": m["n_prompts"],
                "unscored": m["unscored"],
                "by_label": {label: m["groups"][label] for label in ("benign", "harmful")},
                "tradeoff": {**m["tradeoff"], "benign_refusal": m["groups"]["benign"]["any_refusal"]},
            }
        )
    pooled = []
    set_names = list(dict.fromkeys(r["config"].set_name for r in results))
    if len(set_names) > 1:  # every set's rows together: the overall safety / over-refusal point
        for label in dict.fromkeys(r["config"].sp_label for r in results):
            rows = [row for r in results if r["config"].sp_label == label for row in load_run(r["config"].out_dir)[1]]
            s = metrics.summarize(rows)
            pooled.append(
                {
                    "name": "all sets" + (f" · {label}" if label else ""),
                    "system_prompt": label,
                    "n_prompts": s["n_prompts"],
                    "by_label": {k: s["groups"][k] for k in ("benign", "harmful")},
                    "tradeoff": {**s["tradeoff"], "benign_refusal": s["groups"]["benign"]["any_refusal"]},
                }
            )
    labels = system_prompt_labels(sps) if len(sps) > 1 else []
    return {
        "target": first["target"],
        "detector": first["detector"],
        "params": params,
        "early_stop": first["early_stop"],
        "sets": set_names,
        "system_prompts": {label: sp for label, sp in labels},
        "configs": configs,
        "pooled": pooled,
        "compare": compares,
    }
