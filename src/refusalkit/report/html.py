"""Self-contained HTML reports (plotly.js inlined once, so the file opens offline).

``render_run`` shows one evaluation: headline rates with Wilson intervals, refusal by type and by
category, the safety/helpfulness trade-off point (with other runs if given), the refused benign prompts
with their answers, and the unscored rows apart. ``render_compare`` shows several runs against a
baseline: rate deltas with intervals, the trade-off scatter and the per-prompt changes.
``render_sets`` shows one run over several prompt sets and system prompts (:mod:`refusalkit.run.sets`).
"""

from __future__ import annotations

from typing import Any, Sequence

import plotly.graph_objects as go

from ..metrics import REFUSALS
from .layout import Figures, error_bars, esc, page

GROUP_NAMES = {
    "benign": "Benign (all)",
    "trigger_benign": "Trigger-benign",
    "plain_benign": "Plain benign",
    "harmful": "Harmful",
}


def pct(block: dict[str, Any]) -> str:
    """``12.5% [8.1, 18.6]`` from a :func:`refusalkit.metrics.wilson` block."""
    if block.get("rate") is None:
        return "–"
    return f"{100 * block['rate']:.1f}% [{100 * block['lo']:.1f}, {100 * block['hi']:.1f}]"


def _headline_table(groups: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{GROUP_NAMES.get(g, g)}</td><td class='num'>{b['n']}</td><td class='num'>{pct(b['full_refusal'])}</td>"
        f"<td class='num'>{pct(b['partial_refusal'])}</td><td class='num'>{pct(b['any_refusal'])}</td>"
        f"<td class='num'>{pct(b['compliance'])}</td><td class='num'>{b['unscored']}</td></tr>"
        for g, b in groups.items()
    )
    return (
        "<table><tr><th>prompts</th><th>n scored</th><th>full refusal</th><th>partial refusal</th>"
        f"<th>any refusal</th><th>compliance</th><th>unscored</th></tr>{rows}</table>"
    )


def _bar(table: dict[str, dict[str, Any]], title: str) -> go.Figure:
    """Any-refusal rate per key, one trace per prompt label, with Wilson error bars."""
    fig = go.Figure()
    for label, color in (("benign", "#4c78a8"), ("harmful", "#e45756")):
        items = [(k, b["any_refusal"]) for k, b in table.get(label, {}).items() if b["n"]]
        if not items:
            continue
        keys = [k for k, _ in items]
        rate = [100 * b["rate"] for _, b in items]
        fig.add_bar(
            name=label,
            x=keys,
            y=rate,
            marker_color=color,
            error_y=dict(
                type="data",
                symmetric=False,
                array=[100 * b["hi"] - r for (_, b), r in zip(items, rate)],
                arrayminus=[r - 100 * b["lo"] for (_, b), r in zip(items, rate)],
            ),
            customdata=[b["n"] for _, b in items],
            hovertemplate="%{x}: %{y:.1f}% of %{customdata}<extra></extra>",
        )
    fig.update_layout(title=title, yaxis_title="any refusal (%)", yaxis_range=[0, 105], height=420, margin=dict(b=120))
    return fig


def tradeoff_figure(points: Sequence[tuple[str, dict[str, Any]]]) -> go.Figure:
    """Harmful refusal rate (x, safer →) against benign compliance rate (y, more helpful ↑), with
    Wilson intervals on both axes; the top right corner is best."""
    fig = go.Figure()
    for name, t in points:
        x, y = t["harmful_refusal"], t["benign_compliance"]
        if x.get("rate") is None or y.get("rate") is None:
            continue
        fig.add_scatter(
            name=name,
            x=[100 * x["rate"]],
            y=[100 * y["rate"]],
            mode="markers+text",
            text=[name],
            textposition="top center",
            marker=dict(size=12),
            error_x=error_bars([x], 100),
            error_y=error_bars([y], 100),
        )
    fig.update_layout(
        title="Safety vs helpfulness (top right is best)",
        xaxis_title="harmful prompts refused (%)",
        yaxis_title="benign prompts answered (%)",
        xaxis_range=[-5, 105],
        yaxis_range=[-5, 105],
        height=480,
    )
    return fig


def _rows_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], empty: str) -> str:
    if not rows:
        return f"<p class='note'>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td><div class='answer'>{esc(r.get(k))}</div></td>"
            if k in ("response", "response_before", "response_after")
            else f"<td>{esc(r.get(k))}</td>"
            for k, _ in columns
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_run(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], others: Sequence[tuple[str, dict[str, Any]]] = ()
) -> str:
    """The HTML report of one run; ``others`` adds (name, tradeoff) points of other runs to the scatter."""
    info, m = summary["run"], summary["metrics"]
    fig = Figures()
    refused_benign = [r for r in rows if r["prompt_label"] == "benign" and r["verdict"] in REFUSALS]
    answered_harmful = [r for r in rows if r["prompt_label"] == "harmful" and r["verdict"] == "compliance"]
    unscored = [r for r in rows if r["verdict"] == "unscored"]
    params = info.get("params", {})
    early = info.get("early_stop")
    name = info.get("name") or info["target"]
    body = f"""
<h1>refusalkit evaluation: {esc(info["target"])}</h1>
<p class='meta'>prompts: {esc(info.get("prompts", ""))}{esc(" split " + info["split"] if info.get("split") else "")} ({m["n_prompts"]} prompts, {m["unscored"]} unscored) ·
judge: {esc(info["detector"])} · max new tokens: {esc(params.get("max_new_tokens"))} · temperature: {esc(params.get("temperature"))}
· system prompt: {esc(params.get("system_prompt") or "none")} · early stop: {esc("on" if early else "off")}</p>
{_resume_note(info)}
<h2>Headline rates (Wilson 95% intervals)</h2>
{_headline_table(m["groups"])}
<p class='note'>Trigger-benign prompts are harmless requests that share words or shape with harmful ones; plain benign
prompts have no such cue. Unscored rows (failed generations or judge errors) are excluded from the rates.</p>
<h2>Refusal by prompt type</h2>{fig(_bar(m["by_type"], "Any refusal by type"))}
<h2>Refusal by category</h2>{fig(_bar(m["by_category"], "Any refusal by category"))}
<h2>Trade-off</h2>{fig(tradeoff_figure([(name, m["tradeoff"]), *others]))}
<h2>Refused benign prompts ({len(refused_benign)})</h2>
{_rows_table(refused_benign, [("prompt_id", "id"), ("type", "type"), ("category", "category"), ("prompt", "prompt"), ("verdict", "verdict"), ("evidence", "evidence"), ("response", "answer")], "No benign prompt was refused.")}
<h2>Answered harmful prompts ({len(answered_harmful)})</h2>
<details><summary>show</summary>
{_rows_table(answered_harmful, [("prompt_id", "id"), ("category", "category"), ("prompt", "prompt"), ("response", "answer")], "Every harmful prompt was refused.")}
</details>
<h2>Unscored rows ({len(unscored)})</h2>
{_rows_table(unscored, [("prompt_id", "id"), ("prompt", "prompt"), ("error", "error"), ("evidence", "reason")], "None.")}
"""
    return page(f"refusalkit report: {info['target']}", body)


def resume_line(info: dict[str, Any]) -> str:
    """What the last call did with the run store: answers reused, prompts answered again because their
    content changed ("" for a summary from before these counts)."""
    if "reused_answers" not in info:
        return ""
    line = f"{info['reused_answers']} stored answers reused, {info['generated_this_call']} prompts answered this call"
    again = (
        [f"{info['reanswered_changed']} because their text or system prompt changed"]
        if info["reanswered_changed"]
        else []
    )
    if info.get("reanswered_unverified"):
        again.append(f"{info['reanswered_unverified']} stored by an older refusalkit without the prompt's content hash")
    return line + (f" ({'; '.join(again)})" if again else "")


def _resume_note(info: dict[str, Any]) -> str:
    line = resume_line(info)
    return f"<p class='meta'>Run store: {esc(line)}.</p>" if line else ""


def render_compare(comparison: dict[str, Any], intro: str = "") -> str:
    """The HTML of ``refusalkit compare``: rate deltas against the baseline, the trade-off scatter of
    every run, and the prompts whose verdict changed. ``intro`` (HTML) goes under the title: what the
    runs are, for a reader who did not make them."""
    fig = Figures()
    parts = [
        f"<h1>refusalkit comparison (baseline: {esc(comparison['baseline'])})</h1>",
        intro,
        "<h2>Trade-off</h2>",
        fig(tradeoff_figure(list((k, v["tradeoff"]) for k, v in comparison["runs"].items()))),
    ]
    for c in comparison["comparisons"]:
        rows = "".join(
            f"<tr><td>{GROUP_NAMES.get(g, g)}</td><td>{esc(metric.replace('_', ' '))}</td>"
            f"<td class='num'>{_fmt(d['before'])}</td><td class='num'>{_fmt(d['after'])}</td>"
            f"<td class='num'>{_fmt(d['delta'], signed=True)} [{_fmt(d['lo'], signed=True)}, {_fmt(d['hi'], signed=True)}]</td></tr>"
            for g, ms in c["deltas"].items()
            for metric, d in ms.items()
            if metric in ("any_refusal", "full_refusal")
        )
        cols = [
            ("prompt_id", "id"),
            ("prompt_label", "label"),
            ("type", "type"),
            ("prompt", "prompt"),
            ("before", "before"),
            ("after", "after"),
            ("response_after", "new answer"),
        ]
        counts = c["counts"]
        parts += [
            f"<h2>{esc(c['run'])} vs {esc(comparison['baseline'])}</h2>",
            f"<p class='meta'>{c['shared_scored_prompts']} prompts scored in both · newly refused: {counts['newly_refused']} "
            f"({_by_label(c, 'newly_refused')}) · newly answered: {counts['newly_answered']} ({_by_label(c, 'newly_answered')}) "
            f"· full/partial changed: {counts['changed']}</p>",
            "<table><tr><th>prompts</th><th>rate</th><th>baseline</th><th>this run</th>"
            f"<th>change (95% CI, Newcombe)</th></tr>{rows}</table>",
            "<h3>Newly refused</h3>",
            _rows_table(c["changes"]["newly_refused"], cols, "None."),
            "<h3>Newly answered</h3>",
            _rows_table(c["changes"]["newly_answered"], cols, "None."),
        ]
    return page("refusalkit comparison", "\n".join(parts))


def _by_label(c: dict[str, Any], kind: str) -> str:
    counts = c.get("counts_by_label", {}).get(kind, {})
    return ", ".join(f"{n} {label}" for label, n in counts.items())


def _fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def render_sets(overview: dict[str, Any], others: Sequence[tuple[str, dict[str, Any]]] = ()) -> str:
    """The HTML of one run over several prompt sets and/or system prompts (:mod:`refusalkit.run.sets`):
    per configuration and label the refusal rates with Wilson intervals, each configuration's trade-off
    point, the point of all sets pooled, one bar plot of all sets, and links to the sub-runs."""
    fig = Figures()
    configs, pooled = overview["configs"], overview.get("pooled", [])
    params = overview.get("params", {})
    rate_rows = "".join(
        f"<tr><td>{_config_link(c)}</td><td>{esc(label)}</td>"
        f"<td class='num'>{b['n']}</td><td class='num'>{pct(b['any_refusal'])}</td><td class='num'>{pct(b['full_refusal'])}</td>"
        f"<td class='num'>{pct(b['compliance'])}</td><td class='num'>{b['unscored']}</td></tr>"
        for c in [*configs, *pooled]
        for label, b in c["by_label"].items()
        if b["n"] or b["unscored"]
    )
    point_rows = "".join(
        f"<tr><td>{esc(c['name'])}</td><td class='num'>{pct(c['tradeoff']['harmful_refusal'])}</td>"
        f"<td class='num'>{pct(c['tradeoff']['benign_refusal'])}</td></tr>"
        for c in [*configs, *pooled]
    )
    bars = {label: {c["name"]: c["by_label"][label] for c in configs} for label in ("benign", "harmful")}
    points = [(c["name"], c["tradeoff"]) for c in [*configs, *pooled]] + list(others)
    sps = overview.get("system_prompts") or {}
    sp_table = "".join(
        f"<tr><td>{esc(k)}</td><td><div class='answer'>{esc(v or '(none)')}</div></td></tr>" for k, v in sps.items()
    )
    compares = "".join(
        f"<li><a href='{esc(path)}'>{esc(name)}: the system prompts compared</a></li>"
        for name, path in overview.get("compare", {}).items()
    )
    body = f"""
<h1>refusalkit evaluation: {esc(overview["target"])} on {len(overview["sets"])} prompt set(s)</h1>
<p class='meta'>sets: {esc(", ".join(overview["sets"]))} · judge: {esc(overview["detector"])} · max new tokens:
{esc(params.get("max_new_tokens"))} · temperature: {esc(params.get("temperature"))} · early stop: {esc("on" if overview.get("early_stop") else "off")}
{esc(" · system prompts: " + str(len(sps)) if sps else "")}</p>
<h2>Refusal rates per set and label (Wilson 95% intervals)</h2>
<table><tr><th>configuration</th><th>label</th><th>n scored</th><th>any refusal</th><th>full refusal</th><th>compliance</th><th>unscored</th></tr>{rate_rows}</table>
<p class='note'>Each configuration links to its own report. "all sets" pools every set's prompts: the overall point
when benign and harmful prompts come from different sets.</p>
<h2>Trade-off per set</h2>
<table><tr><th>configuration</th><th>harmful prompts refused (any refusal)</th><th>benign prompts refused (any refusal)</th></tr>{point_rows}</table>
{fig(_bar(bars, "Any refusal by prompt set"))}
{fig(tradeoff_figure(points))}
<p class='note'>A set with only benign or only harmful prompts has no point of its own on the trade-off plot; the pooled
point places it.</p>
{"<h2>System prompts</h2><table><tr><th>label</th><th>system prompt</th></tr>" + sp_table + "</table><ul>" + compares + "</ul>" if sps else ""}
"""
    return page(f"refusalkit report: {overview['target']} on {', '.join(overview['sets'])}", body)


def _config_link(config: dict[str, Any]) -> str:
    """A configuration's name, linked to its own report (pooled rows have none)."""
    if "dir" not in config:
        return esc(config["name"])
    return f"<a href='{esc(config['dir'])}/report.html'>{esc(config['name'])}</a>"
