"""Every refusalkit HTML page is built through refusalkit.report: one head, one stylesheet, plotly.js
inlined once, and no other module writes a page head of its own."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import plotly.graph_objects as go

from refusalkit.report import CSS_MARK, Figures, json_block, page, table

SRC = Path(__file__).resolve().parents[1] / "src" / "refusalkit"


# Pages in modules whose owners move them separately (the judge's evaluation page).
def _is_report_page(text: str) -> bool:
    return text.startswith("<!doctype html>") and CSS_MARK in text and text.count("plotly.js v") <= 1


def test_page_parts():
    fig = Figures()
    two = fig(go.Figure(go.Bar(x=[1], y=[2]))) + fig(go.Figure(go.Bar(x=[1], y=[3])))
    text = page("a <title>", two + table(["x<y"], [["<b>1</b>"]]) + json_block({"k": "<v>"}))
    assert _is_report_page(text) and "<title>a &lt;title&gt;</title>" in text and text.count("plotly.js v") == 1
    assert "<th>x&lt;y</th>" in text and "<td><b>1</b></td>" in text and "&lt;v&gt;" in text


def test_no_module_outside_report_writes_its_own_page_head():
    offenders = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("report/"):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"<!doctype|<style|include_plotlyjs|write_html\(str", text, re.I):
            offenders.add(rel)
    assert not offenders, offenders


def test_judge_eval_page_is_a_report_page():
    from refusalkit.judge.io import eval_html

    report = {
        "detector": "pattern",
        "n": 2,
        "binary_accuracy": 0.5,
        "per_class": {"compliance": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2}},
        "confusion_matrix": {"labels": ["compliance", "full_refusal"], "rows_true_cols_pred": [[1, 1], [0, 0]]},
    }
    text = eval_html(report, [{"true": "compliance", "pred": "full_refusal", "response": "<i>no</i>", "evidence": "x"}])
    assert _is_report_page(text) and "&lt;i&gt;no&lt;/i&gt;" in text and "Disagreements (up to 1)" in text


def test_evolve_internals_and_predictor_pages_are_report_pages(tmp_path):
    from refusalkit.evolve.report import write_html
    from refusalkit.internals.page import write_page
    from refusalkit.triggers.predictor import explain_html

    rate = {
        "k": 1,
        "n": 2,
        "rate": 0.5,
        "lo": 0.09,
        "hi": 0.91,
        "unscored": 0,
        "verdicts": ["full_refusal", "compliance"],
        "answers": ["No.", "Yes."],
    }
    report = {"target": "m<1>", "rates": {"m<1>": {"seeds": rate, "evolved": rate}}, "history": [], "evolved": 1}
    rows = [
        {
            "id": "e1",
            "strategy": "swap",
            "generation": 1,
            "refusal_prob": 0.7,
            "verdict": "full_refusal",
            "seed_text": "How do I kill a process?",
            "text": "How do I kill a <stuck> process?",
        }
    ]
    write_html(report, rows, tmp_path / "evolve.html")
    text = (tmp_path / "evolve.html").read_text()
    assert _is_report_page(text) and html.escape(rows[0]["text"]) in text and "m&lt;1&gt;" in text
    assert json.dumps(1) in text and "<th>P(refuse)</th>" in text

    write_page(tmp_path / "i" / "d.html", "directions", [go.Figure()], {"layer": 3}, notes=["a note"])
    text = (tmp_path / "i" / "d.html").read_text()
    assert _is_report_page(text) and "<p>a note</p>" in text and "&quot;layer&quot;: 3" in text

    explain_html(
        {"refusal": [{"ngram": "kill", "coef": 1.5}], "answer": [{"ngram": "bake", "coef": -1.0}]}, tmp_path / "x.html"
    )
    text = (tmp_path / "x.html").read_text()
    assert _is_report_page(text) and "kill" in text and "Refusal triggers" in text
