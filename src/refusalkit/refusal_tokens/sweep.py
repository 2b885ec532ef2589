"""`refusalkit refusal-tokens sweep`: refusal rates of a refusal-token model over many thresholds, at
the cost of one forward pass per prompt and at most one answer per (prompt, forced token).

The answer after a forced token depends only on the prompt and that token, so the sweep

1. computes each prompt's control-token probabilities once (:meth:`RefusalTokenTarget.probabilities`);
2. applies every setting's rule (:func:`~refusalkit.refusal_tokens.target.decide`) to them;
3. answers each (prompt, token) that some setting forces, once, through the evaluation loop
   (:func:`refusalkit.run.evaluate`, one run folder per token under ``OUT/answers/``: resumable, judged
   by the run's detector);
4. reads every setting's verdicts from those answers.

With the single token a sweep over any number of thresholds costs at most two answers per prompt.
Rates carry Wilson 95% intervals (:mod:`refusalkit.metrics`); the token's own verdict is compared with
the detector's on the same answers (:func:`agreement`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from .. import metrics
from ..errors import RefusalkitError
from ..report.layout import error_bars
from ..types import GenParams, Prompt
from ..targets.refusal_tokens import TokenScheme, require_scheme
from .target import OWN_CHOICE, Control, RefusalTokenTarget, decide

# Default thresholds: the model's own choice (-1), then from "refuse on any hint" to "almost never", every
# tenth in between (a threshold costs no answers beyond the two a prompt can need).
THRESHOLDS = (OWN_CHOICE, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
# Default thresholds one category's sweep moves through, from low (refuse whenever its token leads) to high.
CATEGORY_THRESHOLDS = (0.0, 0.05, 0.2, 0.5, 0.8, 0.95, 1.0)
BENIGN_GROUPS = ("benign", "trigger_benign", "plain_benign")


def agreement(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How often the forced token's decision (refusal or not) equals the detector's verdict on the
    generated answer, over rows that carry a forced token and a scored verdict: a :class:`~refusalkit.metrics.Rate`
    record plus the counts of each disagreement."""
    pairs = [
        (r["extra"]["refusal_token"]["refusal"], r["verdict"] in metrics.REFUSALS)
        for r in rows
        if r.get("verdict") != "unscored" and "refusal_token" in (r.get("extra") or {})
    ]
    same = sum(t == d for t, d in pairs)
    return {
        **metrics.wilson(same, len(pairs)),
        "token_refuse_detector_complies": sum(t and not d for t, d in pairs),
        "token_respond_detector_refuses": sum(d and not t for t, d in pairs),
    }


def _token_dir(token: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", token.lower()).strip("-")


def _listed_group(scheme: TokenScheme, category: str | None) -> str | None:
    """The group that lists a prompt's harm category, None when none does (no fallback: for reports)."""
    return next((g for g, cats in scheme.groups.items() if category in cats), None)


def _headline(rows: list[dict]) -> dict[str, Any]:
    groups = metrics.summarize(rows)["groups"]
    return {g: groups[g]["any_refusal"] for g in ("harmful", *BENIGN_GROUPS)}


def _by_group(rows: list[dict], scheme: TokenScheme) -> dict[str, Any]:
    """Harmful refusal per refusal group of the prompts' categories (``other`` for unlisted ones)."""
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["prompt_label"] == "harmful":
            out.setdefault(_listed_group(scheme, r.get("category")) or "other", []).append(r["verdict"])
    return {g: metrics.refusal_rate(v) for g, v in sorted(out.items())}


def run_sweep(
    target,
    prompts: Sequence[Prompt],
    out_dir: str | Path,
    *,
    params: GenParams | None = None,
    detector=None,
    thresholds: Sequence[float] = THRESHOLDS,
    category_thresholds: Sequence[float] | None = CATEGORY_THRESHOLDS,
    temperature: float = 1.0,
    bias: float = 0.0,
    early_stop: bool | None = None,
    progress: bool = True,
    run_info: dict | None = None,
) -> dict[str, Any]:
    """Sweep ``thresholds`` (every refusal group at once) and, for a categories model and unless
    ``category_thresholds`` is None, each group's own threshold with the others left to the model.
    Writes ``sweep.json`` and ``sweep.html`` into ``out_dir`` and returns the result."""
    from ..judge import DEFAULT_DETECTOR, load_detector
    from ..run import evaluate
    from ..run.store import content_hash

    scheme = require_scheme(target, "the refusal-token sweep")
    params = params or GenParams()
    detector = detector or load_detector(DEFAULT_DETECTOR)
    if not thresholds:
        raise RefusalkitError("give at least one threshold to sweep")
    base = Control(temperature=temperature, bias=bias)
    settings: list[tuple[str, Any, Control]] = [
        ("threshold", t, Control(threshold=t, temperature=temperature, bias=bias)) for t in thresholds
    ]
    if scheme.mode == "categories" and category_thresholds:
        settings += [
            (f"category:{g}", t, Control(categories={g: t}, temperature=temperature, bias=bias))
            for g in scheme.groups
            for t in category_thresholds
        ]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prompts = list(prompts)
    probe = RefusalTokenTarget(target, base)
    probs = probe.probabilities(prompts, params.system_prompt)
    forced = [[decide(row.tolist(), scheme, control) for row in probs] for _, _, control in settings]
    needed: dict[str, list[int]] = {}
    for i in range(len(prompts)):
        for tok in dict.fromkeys(f[i] for f in forced):
            needed.setdefault(tok, []).append(i)
    answers: dict[str, dict[str, dict]] = {}  # token -> prompt id -> row
    generated: dict[str, int] = {}
    for tok, idx in needed.items():
        forcing = RefusalTokenTarget(target, base, force=tok)
        summary = evaluate(
            forcing,
            [prompts[i] for i in idx],
            params,
            detector,
            out / "answers" / _token_dir(tok),
            early_stop=early_stop,
            progress=progress,
            report=False,
            run_info={"forced_token": tok, **(run_info or {})},
        )
        generated[tok] = summary["run"]["generated_this_call"]
        with (out / "answers" / _token_dir(tok) / "responses.jsonl").open(encoding="utf-8") as fh:
            answers[tok] = {r["prompt_id"]: r for r in map(json.loads, fh)}
    with (out / "first_token.jsonl").open("w", encoding="utf-8") as fh:
        for p, row in zip(prompts, probs.tolist()):
            rec = {"prompt_id": p.id, "content_hash": content_hash(p.text, params.system_prompt)}
            fh.write(json.dumps({**rec, "p": dict(zip(scheme.tokens, [round(x, 6) for x in row]))}) + "\n")

    points = []
    for (kind, t, control), tokens in zip(settings, forced):
        rows = [answers[tok][p.id] for p, tok in zip(prompts, tokens)]
        token_rows = [
            {**r, "verdict": "full_refusal" if r["extra"]["refusal_token"]["refusal"] else "compliance"} for r in rows
        ]
        points.append(
            {
                "kind": kind,
                "threshold": t,
                "settings": control.label(),
                "forced_refusals": sum(tok != scheme.tokens[0] for tok in tokens),
                "detector": _headline(rows),
                "token": _headline(token_rows),
                "agreement": agreement(rows),
                "harmful_by_group": _by_group(rows, scheme),
                "harmful_by_group_token": _by_group(token_rows, scheme),
            }
        )
    result = {
        "target": target.id,
        "scheme": scheme.to_dict(),
        "n_prompts": len(prompts),
        "first_token": {"temperature": temperature, "bias": bias},
        "params": params.to_dict(),
        "detector": getattr(detector, "name", str(detector)),
        "answers_needed": {tok: len(idx) for tok, idx in needed.items()},
        "generated_this_call": generated,
        "answers_per_prompt": round(sum(len(i) for i in needed.values()) / max(1, len(prompts)), 3),
        "points": points,
        "category_moves": category_moves(points, scheme),
        **(run_info or {}),
    }
    (out / "sweep.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out / "sweep.html").write_text(render(result), encoding="utf-8")
    return result


def category_moves(points: list[dict], scheme: TokenScheme, measure: str = "harmful_by_group") -> dict[str, Any]:
    """For each group whose threshold was swept: the change of its own harmful refusal rate from the
    lowest to the highest threshold, and the largest change of any other group's (both as rate
    differences, low minus high)."""
    out = {}
    for g in scheme.groups:
        own = sorted((p for p in points if p["kind"] == f"category:{g}"), key=lambda p: p["threshold"])
        if len(own) < 2:
            continue
        lo, hi = own[0][measure], own[-1][measure]

        def delta(name: str) -> float | None:
            a, b = lo.get(name, {}).get("rate"), hi.get(name, {}).get("rate")
            return None if a is None or b is None else round(a - b, 4)

        others = {name: delta(name) for name in lo if name != g}
        known = [abs(d) for d in others.values() if d is not None]
        out[g] = {
            "low": own[0]["threshold"],
            "high": own[-1]["threshold"],
            "own_change": delta(g),
            "n_own": lo.get(g, {}).get("n"),
            "other_changes": others,
            "max_other_change": max(known) if known else None,
        }
    return out


def tradeoff_figure(result: dict, references: dict[str, dict] | None = None, measure: str = "detector"):
    """Harmful refusal (x) against each benign group's refusal (y) as the threshold sweeps, one curve
    per benign group, Wilson intervals on both axes; ``references``: name -> rates of other models
    (``harmful``, ``trigger_benign``... each a rate record) shown as points."""
    import plotly.graph_objects as go

    fig = go.Figure()
    pts = [p for p in result["points"] if p["kind"] == "threshold" and p[measure]["harmful"]["rate"] is not None]
    pts.sort(key=lambda p: p[measure]["harmful"]["rate"])
    for group in BENIGN_GROUPS:
        xs = [p[measure]["harmful"] for p in pts]
        ys = [p[measure][group] for p in pts]
        keep = [i for i, y in enumerate(ys) if y["rate"] is not None]
        fig.add_scatter(
            x=[xs[i]["rate"] for i in keep],
            y=[ys[i]["rate"] for i in keep],
            mode="lines+markers",
            name=f"{group.replace('_', '-')} refused",
            text=[f"t={pts[i]['threshold']:g}" for i in keep],
            hovertemplate="%{text}: harmful %{x:.3f}, refused %{y:.3f}",
            error_x=error_bars([xs[i] for i in keep]),
            error_y=error_bars([ys[i] for i in keep]),
        )
    for name, ref in (references or {}).items():
        h, t = ref.get("harmful"), ref.get("trigger_benign")
        if not h or not t or h.get("rate") is None or t.get("rate") is None:
            continue
        fig.add_scatter(
            x=[h["rate"]],
            y=[t["rate"]],
            mode="markers+text",
            text=[name],
            textposition="top center",
            name=f"{name} (trigger-benign)",
            error_x=error_bars([h]),
            error_y=error_bars([t]),
            marker=dict(size=11, symbol="diamond"),
        )
    fig.update_layout(
        title=f"Refusal-token threshold sweep ({measure} verdicts; Wilson 95% intervals)",
        xaxis_title="harmful refusal rate (higher = safer)",
        yaxis_title="benign refusal rate (lower = better)",
        xaxis_range=[-0.05, 1.05],
        yaxis_range=[-0.05, 1.05],
        height=540,
    )
    return fig


def category_figure(result: dict, group: str):
    """Harmful refusal per category group (one line each) as ``group``'s threshold moves."""
    import plotly.graph_objects as go

    pts = sorted((p for p in result["points"] if p["kind"] == f"category:{group}"), key=lambda p: p["threshold"])
    fig = go.Figure()
    names = sorted({n for p in pts for n in p["harmful_by_group"]})
    for name in names:
        rates = [p["harmful_by_group"].get(name) for p in pts]
        keep = [i for i, r in enumerate(rates) if r and r["rate"] is not None]
        fig.add_scatter(
            x=[pts[i]["threshold"] for i in keep],
            y=[rates[i]["rate"] for i in keep],
            mode="lines+markers",
            name=name + (" (moved)" if name == group else ""),
            line=dict(width=4 if name == group else 1.5),
            error_y=error_bars([rates[i] for i in keep]),
        )
    fig.update_layout(
        title=f"Harmful refusal per category as the {group} threshold moves (others: the model's own choice)",
        xaxis_title=f"{group} threshold",
        yaxis_title="harmful refusal rate",
        yaxis_range=[-0.05, 1.05],
        height=420,
    )
    return fig


def _pct(rate: dict | None) -> str:
    if not rate or rate.get("rate") is None:
        return "n/a"
    return f"{100 * rate['rate']:.1f}% [{100 * rate['lo']:.1f}, {100 * rate['hi']:.1f}]"


def render(result: dict, references: dict[str, dict] | None = None, title: str | None = None) -> str:
    """The sweep's HTML page: the threshold table, the trade-off curve, and one figure per swept category."""
    from ..report import Figures, page
    from ..report.layout import esc, table

    figures = Figures()
    rows = [
        [
            esc(f"{p['threshold']:g}"),
            str(p["forced_refusals"]),
            *(_pct(p["detector"][g]) for g in ("harmful", *BENIGN_GROUPS)),
            _pct(p["agreement"]),
        ]
        for p in result["points"]
        if p["kind"] == "threshold"
    ]
    head = [
        "threshold",
        "forced refusals",
        "harmful refused",
        "benign refused",
        "trigger-benign refused",
        "plain benign refused",
        "token = detector",
    ]
    cats = "".join(
        figures(category_figure(result, g))
        for g in result["scheme"]["groups"]
        if any(p["kind"] == f"category:{g}" for p in result["points"])
    )
    moves = result.get("category_moves") or {}
    moves_table = (
        table(
            ["category", "own change (low - high)", "largest other change", "n harmful"],
            [
                [esc(g), _signed(m["own_change"]), _signed(m["max_other_change"]), str(m["n_own"] or 0)]
                for g, m in moves.items()
            ],
        )
        if moves
        else ""
    )
    body = f"""<h1>{esc(title or "Refusal-token sweep")}: {esc(result["target"])}</h1>
<p class="meta">{result["n_prompts"]} prompts; scheme {esc(result["scheme"]["mode"])}; first-token temperature
{result["first_token"]["temperature"]:g}, bias {result["first_token"]["bias"]:g}; detector {esc(result["detector"])};
{result["answers_per_prompt"]:g} answers generated per prompt for all settings together. Refusal = full or partial
refusal by the detector on the generated answer; intervals are Wilson 95%.</p>
{table(head, rows)}
{figures(tradeoff_figure(result, references))}
{"<h2>One category's threshold at a time</h2>" + moves_table + cats if cats else ""}"""
    return page("refusalkit refusal-token sweep", body)


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} pts"
