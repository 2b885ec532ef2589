"""Measuring an evolved prompt set: refusal-triggering rate, lexical diversity, and the report.

- Refusal-triggering rate: the share of prompts whose greedy answer a detector judges a refusal
  (partial or full), with a Wilson 95% interval; unscored answers are left out of the rate.
- MSTTR: mean type-token ratio over consecutive segments of ``segment`` words of the whole set.
- MTLD (McCarthy & Jarvis, 2010): mean length of word runs whose running TTR stays above 0.72,
  averaged over a forward and a backward pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .. import metrics
from ..report import layout
from ..run.answer import answer_and_judge
from ..types import GenParams, Prompt
from .mutate import words


def msttr(texts: Sequence[str], segment: int = 50) -> float | None:
    """Mean segmental TTR; with fewer than ``segment`` words, the TTR of all of them."""
    toks = [w for t in texts for w in words(t)]
    if not toks:
        return None
    segs = [toks[i : i + segment] for i in range(0, len(toks) - segment + 1, segment)] or [toks]
    return sum(len(set(s)) / len(s) for s in segs) / len(segs)


def _mtld_pass(toks: Sequence[str], threshold: float) -> float | None:
    factors, types, count, ttr = 0.0, set(), 0, 1.0
    for t in toks:
        count += 1
        types.add(t)
        ttr = len(types) / count
        if ttr <= threshold:
            factors, types, count, ttr = factors + 1, set(), 0, 1.0
    if count:
        factors += (1 - ttr) / (1 - threshold)
    return len(toks) / factors if factors > 0 else None


def mtld(texts: Sequence[str], threshold: float = 0.72) -> float | None:
    """MTLD of the set (None when the text is too short to complete any factor)."""
    toks = [w for t in texts for w in words(t)]
    fwd, bwd = _mtld_pass(toks, threshold), _mtld_pass(toks[::-1], threshold)
    vals = [v for v in (fwd, bwd) if v is not None]
    return sum(vals) / len(vals) if vals else None


def refusal_rate(
    target,
    texts: Sequence[str],
    detector,
    max_new_tokens: int = 48,
    system_prompt: str | None = None,
    progress: bool = False,
) -> dict:
    """Greedy answers judged by ``detector``: the :class:`~refusalkit.metrics.Rate` record ``{k, n, rate,
    lo, hi}`` of refusals among the scored answers, ``unscored``, ``prompts`` (all of them) and the
    per-prompt verdicts and answers."""
    prompts = [Prompt(id=f"r{i}", text=t) for i, t in enumerate(texts)]
    params = GenParams(max_new_tokens=max_new_tokens, temperature=0.0, system_prompt=system_prompt, batch_size=8)
    responses, verdicts = answer_and_judge(target, prompts, params, detector, progress=progress)
    return {
        "model": getattr(target, "id", "?"),
        "detector": getattr(detector, "name", "?"),
        "prompts": len(texts),
        **metrics.refusal_rate(v.label for v in verdicts),
        "verdicts": [v.label for v in verdicts],
        "answers": [r.text[:200] for r in responses],
    }


def diversity(texts: Sequence[str]) -> dict:
    return {
        "msttr": msttr(texts),
        "mtld": mtld(texts),
        "prompts": len(texts),
        "mean_words": (sum(len(words(t)) for t in texts) / len(texts)) if texts else None,
    }


def write_html(report: dict, evolved_rows: Sequence[dict], path: Path) -> None:
    """A self-contained HTML page (plotly inlined) with the rates, the search history and the prompts."""
    import plotly.graph_objects as go

    figs = []
    rates = report["rates"]
    bars = go.Figure()
    for which in ("seeds", "evolved"):
        xs, ys, err_lo, err_hi = [], [], [], []
        for model, r in rates.items():
            rr = r.get(which)
            if not rr or rr["rate"] is None:
                continue
            xs.append(model)
            ys.append(rr["rate"])
            err_lo.append(rr["rate"] - rr["lo"])
            err_hi.append(rr["hi"] - rr["rate"])
        bars.add_bar(
            name=which, x=xs, y=ys, error_y=dict(type="data", symmetric=False, array=err_hi, arrayminus=err_lo)
        )
    bars.update_layout(
        title="Refusal-triggering rate (greedy answer judged by the detector; Wilson 95% CI)",
        yaxis=dict(range=[0, 1], title="rate"),
        barmode="group",
    )
    figs.append(bars)
    hist = report.get("history") or []
    if hist:
        line = go.Figure()
        gens = [h["generation"] for h in hist]
        line.add_scatter(
            x=gens, y=[h["mean_current_refusal_prob"] for h in hist], name="current prompts", mode="lines+markers"
        )
        line.add_scatter(
            x=gens, y=[h["mean_best_refusal_prob"] for h in hist], name="best evolved", mode="lines+markers"
        )
        line.update_layout(
            title="Mean estimated refusal probability per generation", xaxis_title="generation", yaxis_title="P(refuse)"
        )
        figs.append(line)
    fig = layout.Figures()
    rows = [
        [
            layout.esc(r["id"]),
            layout.esc(r["strategy"]),
            layout.esc(r["generation"]),
            _fmt(r.get("refusal_prob")),
            layout.esc(r.get("verdict", "")),
            layout.esc(r["seed_text"]),
            layout.esc(r["text"]),
        ]
        for r in evolved_rows
    ]
    summary = {k: v for k, v in report.items() if k not in ("history", "rates")}
    body = f"""<h1>Evolved pseudo-malicious prompts</h1>
<p>Target: <b>{layout.esc(report.get("target"))}</b>. Evolved prompts are harmless requests (every one passed the
safety filter) that the search made look harmful.</p>
{"".join(fig(f) for f in figs)}
<h2>Summary</h2>{layout.json_block(summary)}
<h2>Rates</h2>{layout.json_block(rates_summary(rates))}
<h2>Evolved prompts</h2>{layout.table(["id", "strategy", "gen", "P(refuse)", "verdict", "seed", "evolved"], rows)}"""
    layout.write_page(path, "refusalkit evolve report", body)


def rates_summary(rates: dict) -> dict:
    """Rates without the per-prompt lists (they are in the JSONL)."""
    return {
        m: {k: {kk: vv for kk, vv in v.items() if kk not in ("verdicts", "answers")} for k, v in r.items()}
        for m, r in rates.items()
    }


def _fmt(x) -> str:
    return "" if x is None else f"{x:.3f}"
