"""Evolutionary generation of pseudo-malicious prompts: harmless requests a model wrongly refuses.

:func:`run_evolve` is what ``refusalkit evolve`` calls: it evolves seed prompts against a target
(:mod:`.search`), keeps every candidate harmless (:mod:`.harm`), and writes

- ``evolved.jsonl``: the best evolved prompt of each seed, with its lineage (with
  ``EvolveConfig.confirm``, the fittest child whose greedy answer the detector judges a refusal);
- ``candidates.jsonl``: every candidate the search made (rejected ones included, with the reason);
- ``report.json`` and ``report.html``: seed vs evolved refusal-triggering rate on the target (and on
  a second model when given), lexical diversity, and the safety filter's rejection rate;
- ``state.json``: the checkpoint that ``resume=True`` continues from.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from ..errors import RefusalkitError
from ..metrics import REFUSALS
from ..types import Prompt
from .fitness import Fitness, Score
from ..harm import lexicon_hits
from .harm import HarmCheck
from .mutate import STRATEGIES, Mutator, clean_rewrite, mutate_offline, recombine_offline
from .report import diversity, mtld, msttr, rates_summary, refusal_rate, write_html
from .search import Candidate, EvolveConfig, EvolveResult, evolve
from .seeds import load_seeds

__all__ = [
    "Candidate",
    "EvolveConfig",
    "EvolveResult",
    "Fitness",
    "HarmCheck",
    "Mutator",
    "STRATEGIES",
    "Score",
    "clean_rewrite",
    "diversity",
    "evolve",
    "lexicon_hits",
    "load_seeds",
    "msttr",
    "mtld",
    "mutate_offline",
    "recombine_offline",
    "refusal_rate",
    "run_evolve",
]


def run_evolve(
    seeds: Sequence[Prompt],
    target,
    out_dir: Path,
    config: EvolveConfig | None = None,
    *,
    fitness_mode: str = "auto",
    samples: int = 4,
    sample_temperature: float = 0.8,
    rewriter=None,
    rewriter_mode: str = "offline",
    harm_threshold: float = 0.5,
    harm_judge=None,
    guard=None,
    harm: HarmCheck | None = None,
    compare=None,
    detector=None,
    judge_tokens: int = 48,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Evolve ``seeds`` against ``target`` and write the outputs under ``out_dir``; returns the report.

    ``harm`` replaces the default safety filter (built from ``harm_threshold``, ``harm_judge``, ``guard``).
    """
    from ..judge import DEFAULT_DETECTOR, load_detector

    config = config or EvolveConfig()
    detector = detector or load_detector(DEFAULT_DETECTOR)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fitness = Fitness(
        target,
        mode=fitness_mode,
        samples=samples,
        temperature=sample_temperature,
        max_new_tokens=judge_tokens,
        detector=detector,
    )
    harm = harm or HarmCheck(threshold=harm_threshold, llm_judge=harm_judge, guard=guard)
    result = evolve(
        seeds,
        fitness,
        harm,
        lambda rng: Mutator(rng, rewriter=rewriter, mode=rewriter_mode, max_words=config.max_words),
        config,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
    )
    confirmation = (
        confirm_picks(result, target, detector, config.confirm, judge_tokens, progress) if config.confirm > 0 else None
    )
    evolved = result.evolved()
    seed_cands = result.seeds()
    if not evolved:
        raise RefusalkitError(
            "the search produced no harmless, scorable candidate; try more generations or other seeds"
        )

    rates: dict[str, dict] = {}
    for model in [target] + ([compare] if compare is not None else []):
        rates[getattr(model, "id", "?")] = {
            "seeds": refusal_rate(model, [c.text for c in seed_cands], detector, judge_tokens, progress=progress),
            "evolved": refusal_rate(model, [c.text for c in evolved], detector, judge_tokens, progress=progress),
        }
    main = rates[getattr(target, "id", "?")]

    rows = []
    for i, c in enumerate(evolved):
        seed = result.candidates[c.lineage]
        row = asdict(c)
        row.update(
            seed_text=seed.text,
            seed_refusal_prob=seed.refusal_prob,
            ancestry=result.ancestry(c.id),
            verdict=main["evolved"]["verdicts"][i],
            answer=main["evolved"]["answers"][i],
        )
        rows.append(row)
    _write_jsonl(out_dir / "evolved.jsonl", rows)
    _write_jsonl(out_dir / "candidates.jsonl", [asdict(c) for c in result.candidates.values()])

    checked = harm.stats.get("checked", 0)
    rejected = harm.stats.get("rejected", 0)
    report = {
        "target": getattr(target, "id", "?"),
        "compare": getattr(compare, "id", None) if compare is not None else None,
        "seeds": len(seeds),
        "lineages": len(result.lineages),
        "evolved": len(evolved),
        "generations_done": result.generations_done,
        "stopped": result.stopped,
        "elapsed_s": round(result.elapsed_s, 1),
        "fitness": fitness.describe(),
        "rewriter": {"mode": rewriter_mode, "model": getattr(rewriter, "id", None)},
        "config": {k: v for k, v in asdict(config).items() if k != "strategies"}
        | {"strategies": list(config.strategies)},
        "seed_rate": main["seeds"]["rate"],
        "evolved_rate": main["evolved"]["rate"],
        "rate_ratio": _ratio(main["evolved"]["rate"], main["seeds"]["rate"]),
        "mean_refusal_prob": {
            "seeds": _mean([c.refusal_prob for c in seed_cands]),
            "evolved": _mean([c.refusal_prob for c in evolved]),
        },
        "safety_filter": harm.describe()
        | {
            "checked": checked,
            "rejected": rejected,
            "rejection_rate": rejected / checked if checked else None,
            "by_check": {k.split(":", 1)[1]: v for k, v in harm.stats.items() if k.startswith("rejected_by:")},
            "judge_unparsed": harm.stats.get("judge_unparsed", 0),
            "evolved_passed_filter": sum(not (c.harm or {}).get("harmful", False) for c in evolved) / len(evolved),
        },
        "discarded": {k.split(":", 1)[1]: v for k, v in result.counters.items() if k.startswith("discarded:")},
        "duplicates": result.counters.get("duplicates", 0),
        "confirmation": confirmation,
        "strategies_of_evolved": _count(c.strategy for c in evolved),
        "diversity": {
            "seeds": diversity([c.text for c in seed_cands]),
            "evolved": diversity([c.text for c in evolved]),
        },
        "rates": rates,
        "history": result.history,
    }
    (out_dir / "report.json").write_text(
        json.dumps({k: v for k, v in report.items() if k != "rates"} | {"rates": rates_summary(rates)}, indent=2),
        encoding="utf-8",
    )
    write_html(report, rows, out_dir / "report.html")
    return report


def confirm_picks(result: EvolveResult, target, detector, k: int, judge_tokens: int, progress: bool = False) -> dict:
    """Answer the ``k`` fittest children of every lineage greedily, judge them, and make the fittest
    one judged a refusal the lineage's evolved prompt (the fittest child stays when none is).

    Returns counts, including how many lineages' fittest child alone was refused (what the pick
    would be without confirmation), so the report shows what confirmation adds.
    """
    pools = {lid: result.fittest_children(lid, k) for lid in result.lineages}
    flat = [c for pool in pools.values() for c in pool]
    rr = refusal_rate(target, [c.text for c in flat], detector, judge_tokens, progress=progress)
    for c, v in zip(flat, rr["verdicts"]):
        c.greedy_verdict = v
    refused = lambda c: c.greedy_verdict in REFUSALS  # noqa: E731
    top_refused = picked_refused = 0
    for lid, pool in pools.items():
        if not pool:
            continue
        top_refused += refused(pool[0])
        pick = next((c for c in pool if refused(c)), pool[0])
        picked_refused += refused(pick)
        result.lineages[lid]["best_child"] = pick.id
    return {
        "per_lineage": k,
        "answered": len(flat),
        "lineages": sum(bool(p) for p in pools.values()),
        "fittest_child_refused": top_refused,
        "picked_refused": picked_refused,
    }


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _ratio(a, b):
    if a is None or b is None:
        return None
    return a / b if b > 0 else None  # undefined when no seed was refused


def _count(items) -> dict:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out
