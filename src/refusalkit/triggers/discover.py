"""`refusalkit triggers`: corpus cues + per-prompt attributions, as JSON and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Sequence

from ..progress import progress_bar
from ..report import Figures, esc, table, write_page
from .attribution import attribute
from .cues import corpus_cues


def discover(
    target,
    texts: Sequence[str],
    harm=None,
    examples: int = 8,
    max_n: int = 3,
    min_count: int = 3,
    top_k: int = 30,
    verify: int = 12,
    progress: bool = True,
) -> dict:
    """Cues over ``texts`` and full attributions of the ``examples`` most-refused of them."""
    cues = corpus_cues(
        target, texts, harm, max_n=max_n, min_count=min_count, top_k=top_k, verify=verify, progress=progress
    )
    from .attribution import refusal_scores

    scores = refusal_scores(target, texts)
    top = sorted(range(len(texts)), key=lambda i: -scores[i])[:examples]
    attributions = []
    with progress_bar("attributing examples (occlusion)", len(top), progress) as advance:
        for i in top:
            attributions.append(attribute(target, texts[i], max_n=2))
            advance(1)
    return {
        "target": target.id,
        "n_texts": len(texts),
        "mean_refusal_logodds": round(float(scores.mean()), 4) if len(texts) else None,
        "cues": [c.to_dict() for c in cues],
        "examples": [a.to_dict() for a in attributions],
    }


def _word_heat(a: dict, key: str) -> str:
    vals = a[key]
    scale = max([abs(v) for v in vals] + [1e-6])
    out = []
    for w, v in zip(a["words"], vals):
        alpha = min(1.0, abs(v) / scale)
        color = f"rgba(220,40,40,{alpha:.2f})" if v > 0 else f"rgba(40,90,220,{alpha:.2f})"
        out.append(f'<span title="{v:+.3f}" style="background:{color};padding:1px 2px">{html.escape(w)}</span>')
    return " ".join(out)


def cue_figure(cues: Sequence[dict], title: str = "Refusal triggers"):
    import plotly.graph_objects as go

    shown = [c for c in cues if c.get("occlusion") is not None][:25][::-1]
    colors = {"harmful": "#c0392b", "harmless": "#2e86c1", "unknown": "#7f8c8d"}
    fig = go.Figure()
    for kind in ("harmful", "harmless", "unknown"):
        part = [c for c in shown if c["kind"] == kind]
        if part:
            fig.add_bar(
                y=[c["ngram"] for c in part],
                x=[c["occlusion"] for c in part],
                orientation="h",
                name=kind,
                marker_color=colors[kind],
            )
    fig.update_layout(
        title=title,
        xaxis_title="mean drop in refusal log-odds when the cue is deleted",
        height=max(300, 22 * len(shown) + 120),
        barmode="overlay",
        margin=dict(l=220),
    )
    return fig


def _fmt(v, spec: str) -> str:
    return "" if v is None else format(v, spec)


def cue_table(cues: Sequence[dict]) -> str:
    rows = [
        [
            esc(c["ngram"]),
            esc(c["kind"]),
            esc(c["count"]),
            _fmt(c["occlusion"], "+.3f"),
            _fmt(c["grad_input"], "+.3f"),
            _fmt(c["harm_prob"], ".2f"),
        ]
        for c in cues
    ]
    return table(["cue", "kind", "requests", "occlusion effect", "grad x input", "P(harmful)"], rows)


def write_report(result: dict, out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "triggers.json"
    js.write_text(json.dumps(result, indent=1))
    fig = Figures()(cue_figure(result["cues"]))
    ex = "".join(
        f"<h3>{html.escape(a['text'])}</h3><p>P(refusal opening) = {a['prob']:.3f}, log-odds {a['score']:+.2f}</p>"
        f"<p><b>occlusion</b>: {_word_heat(a, 'occlusion')}</p><p><b>gradient x input</b>: {_word_heat(a, 'grad_input')}</p>"
        for a in result["examples"]
    )
    body = f"""<h1>Refusal triggers of {html.escape(result["target"])}</h1>
<p>{result["n_texts"]} requests analysed. A cue's occlusion effect is the mean drop of the first-token refusal log-odds when it is deleted
(positive: its presence raises refusal). <i>harmless</i> cues (prompt harm classifier) are the triggers that cause over-refusal.
Red = pushes towards refusing, blue = away.</p>
{fig}{cue_table(result["cues"])}<h2>Most-refused requests, word by word</h2>{ex}"""
    return js, write_page(out_dir / "triggers.html", f"refusalkit triggers: {result['target']}", body)
