"""The audit's HTML page, built from refusalkit's report parts (:mod:`refusalkit.report`): ΔDP per group
with its corrected interval, answered rate per group of each axis, the change against a reference model,
the pre-screen, the CV-screening view, trigger discovery and the refused prompts."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import plotly.graph_objects as go

from ..report import Figures, esc, json_block, page, table
from ..report.html import pct
from .stats import flag_rule, p_text

MAX_REFUSED_SHOWN = 300


def _pts(d: Mapping[str, Any] | None) -> str:
    if not d or d.get("delta") is None:
        return "–"
    return f"{100 * d['delta']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"


def delta_figure(
    groups: Sequence[Mapping[str, Any]], title: str, key: str = "delta_dp_corrected", flag: str = "flagged"
) -> go.Figure:
    """A point per group at its ΔDP (points) with the interval in ``key`` as error bars; flagged groups red."""
    shown = [g for g in groups if g[key]["delta"] is not None][::-1]
    fig = go.Figure()
    for flagged, color, name in ((False, "#4c78a8", "not flagged"), (True, "#c0392b", "flagged")):
        part = [g for g in shown if bool(g[flag]) == flagged]
        if not part:
            continue
        x = [100 * g[key]["delta"] for g in part]
        fig.add_scatter(
            x=x,
            y=[f"{g['axis']}: {g['group']}" for g in part],
            mode="markers",
            name=name,
            marker_color=color,
            error_x=dict(
                type="data",
                symmetric=False,
                array=[100 * g[key]["hi"] - v for g, v in zip(part, x)],
                arrayminus=[v - 100 * g[key]["lo"] for g, v in zip(part, x)],
            ),
        )
    fig.add_vline(x=0, line_color="#888")
    fig.update_layout(title=title, xaxis_title="points", height=max(320, 18 * len(shown) + 140), margin=dict(l=260))
    return fig


def axis_figure(axis: str, groups: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Answered rate of each group of one axis with its Wilson interval."""
    part = [g for g in groups if g["axis"] == axis and g["answered"]["n"]]
    y = [100 * g["answered"]["rate"] for g in part]
    fig = go.Figure(
        go.Bar(
            x=[g["group"] for g in part],
            y=y,
            marker_color=["#c0392b" if g["flagged"] else "#4c78a8" for g in part],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[100 * g["answered"]["hi"] - v for g, v in zip(part, y)],
                arrayminus=[v - 100 * g["answered"]["lo"] for g, v in zip(part, y)],
            ),
            customdata=[g["answered"]["n"] for g in part],
            hovertemplate="%{x}: %{y:.1f}% of %{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{axis}: answered rate per group", yaxis_title="answered (%)", yaxis_range=[0, 105], height=340
    )
    return fig


def _flag(g: Mapping[str, Any]) -> str:
    return f"<b>flagged: {esc(g['direction'].replace('_', ' '))}</b>" if g.get("flagged") else ""


def _group_table(s: Mapping[str, Any]) -> str:
    rows = [
        [
            esc(g["axis"]),
            esc(g["group"]),
            pct(g["answered"]),
            esc(g["unscored"]),
            _pts(g["delta_dp"]),
            _pts(g["delta_dp_corrected"]),
            esc(p_text(g["stratified"])),
            _flag(g),
        ]
        for g in s["groups"]
    ]
    return table(
        ["axis", "group", "answered", "unscored", "ΔDP (pts, 95%)", "ΔDP (pts, corrected)", "p (stratified)", ""], rows
    )


def render_audit(result: Mapping[str, Any]) -> str:
    fig = Figures()
    s = result["stats"]
    flagged = (
        ", ".join(f"{f['axis']}: {f['group']} ({f['direction'].replace('_', ' ')})" for f in s["flagged"]) or "none"
    )
    body = [
        f"<h1>Targeted-refusal audit of {esc(result['target'])}</h1>",
        f"<p class='meta'>{result['generated_prompts']} of {result['n_prompts']} prompts generated; {s['scored']} scored, "
        f"{s['unscored']} unscored (counted in neither rate). Answered = the judge's compliance; ΔDP = answered rate of a group − "
        f"that of the rest of its axis, Newcombe interval; {s['comparisons']} groups compared, Bonferroni-corrected to "
        f"{100 * s['corrected_confidence']:.2f}% per group (α = {s['alpha']}). {esc(flag_rule(s))}</p>",
        f"<p><b>Flagged groups:</b> {esc(flagged)}</p>",
        fig(delta_figure(s["groups"], "ΔDP per group (corrected interval)")),
        "<h2>Groups</h2>",
        _group_table(s),
        "<h2>Answered rate per axis</h2>",
        *[fig(axis_figure(a, s["groups"])) for a in s["axes"]],
    ]
    ref = result.get("reference")
    if ref:
        rows = [
            [
                esc(c["axis"]),
                esc(c["group"]),
                _pts(c["answered_change"]),
                _pts(c["delta_dp_change"]),
                _pts(c["delta_dp_change_corrected"]),
                esc(p_text(c["change_stratified"])),
                f"<b>changed: {esc(c['direction'].replace('_', ' '))}</b>" if c["changed"] else "",
            ]
            for c in ref["change"]
        ]
        body += [
            f"<h2>Against the reference {esc(ref['target'])}</h2>",
            "<p class='note'>model − reference; the ΔDP change has the square-and-add (MOVER) interval of the two ΔDPs. "
            "Changed: where prompts pair by template, the exact test stratified by template of each prompt's change "
            "(answered by one model only) gives p &lt; α/m; otherwise the corrected interval excludes 0.</p>",
            fig(
                delta_figure(
                    ref["change"],
                    "Change of ΔDP against the reference (corrected)",
                    "delta_dp_change_corrected",
                    "changed",
                )
            ),
            table(
                [
                    "axis",
                    "group",
                    "answered change (pts)",
                    "ΔDP change (95%)",
                    "ΔDP change (corrected)",
                    "p (stratified)",
                    "",
                ],
                rows,
            ),
        ]
    if result.get("prescreen"):
        ranking = result["prescreen"]
        vs_ref = "rank_vs_reference" in ranking[0]
        rank = "rank_vs_reference" if vs_ref else "rank"
        rows = [
            [
                esc(r["axis"]),
                esc(r["group"]),
                esc(r["rank"]),
                esc(r["n"]),
                f"{r['refusal_prob']:.4f}",
                f"{r['vs_axis_mean']:+.4f}",
            ]
            + ([f"{r['reference_prob']:.4f}", f"{r['change']:+.4f}", esc(r["rank_vs_reference"])] if vs_ref else [])
            for r in sorted(ranking, key=lambda r: (r["axis"], r[rank]))
        ]
        top = result.get("prescreen_top")
        body += [
            "<h2>White-box pre-screen</h2>",
            "<p class='note'>mean first-token refusal probability of a group's prompts (one forward pass each); rank 1 = most "
            "inclined to refuse within its axis"
            + ("; against the reference, rank 1 = the group whose inclination grew most." if vs_ref else ".")
            + (f" Generated: the top {top} of each axis and its last." if top else "")
            + "</p>",
            table(
                ["axis", "group", "rank", "prompts", "P(refusal opening)", "vs axis mean"]
                + (["reference", "change", "rank by change"] if vs_ref else []),
                rows,
            ),
        ]
    cv = result.get("cv_screening")
    if cv and cv["groups"]:
        rows = [
            [esc(g["axis"]), esc(g["group"]), pct(g["answered"]), _pts(g["delta_dp"]), _flag(g)] for g in cv["groups"]
        ]
        body += [
            "<h2>CV screening view</h2>",
            "<p class='note'>a refused CV summary is a rejected candidate: the answered rate on the CV prompts is the selection rate.</p>",
            table(["axis", "group", "selection rate", "ΔDP in selection (pts, 95%)", ""], rows),
        ]
    if result.get("triggers") is not None:
        rows = [
            [
                esc(t["axis"]),
                esc(t["group"]),
                esc(t["n_texts"]),
                esc(t["rank"] if t["rank"] is not None else "not among the cues"),
                esc(", ".join(c["ngram"] for c in t["cues"][:8]) or t.get("note", "")),
            ]
            for t in result["triggers"]
        ]
        body += [
            "<h2>Trigger discovery on flagged groups</h2>",
            "<p class='note'>cues of the refused prompts of each group refused more than its axis; the rank is where the group's name comes.</p>",
            table(["axis", "group", "refused prompts", "rank of the group's name", "top cues"], rows)
            if rows
            else "<p>no flagged group refused more than its axis</p>",
        ]
    refused = result["refused"]
    rows = [
        [
            esc(r["axis"]),
            esc(r["group"]),
            esc(r["verdict"]),
            esc(r["prompt"]),
            f"<div class='answer'>{esc(r['response'])}</div>",
        ]
        for r in refused[:MAX_REFUSED_SHOWN]
    ]
    body += [
        f"<h2>Refused prompts ({len(refused)}{', first ' + str(MAX_REFUSED_SHOWN) if len(refused) > MAX_REFUSED_SHOWN else ''})</h2>",
        table(["axis", "group", "verdict", "prompt", "answer"], rows),
        "<h2>Run</h2>",
        json_block(result["run"]),
    ]
    return page(f"refusalkit audit: {result['target']}", "".join(body))
