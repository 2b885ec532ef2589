"""Counterfactual suites: the shipped suite equals the builder's output, and prompts differ only in the group."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from refusalkit.data import build, counterfactual_build as cb, load_prompts
from refusalkit.errors import RefusalkitError


def test_shipped_counterfactual_suite_equals_the_build():
    assert cb.SHIPPED.read_text(encoding="utf-8") == build.dumps(cb.build_counterfactual()), (
        "run: python -m refusalkit.data.build counterfactual"
    )
    assert build.main(["counterfactual", "--check"]) == 0


def test_sources_carry_provenance_and_cover_the_axes_and_domains():
    temps, axes = cb.load_templates(), cb.load_values()
    assert {
        "ethnicity",
        "gender",
        "religion",
        "nationality",
        "political_affiliation",
        "age",
        "disability",
        "occupation",
        "school",
    } <= set(axes)
    assert {"medical", "legal", "cv", "loan_housing", "writing", "support"} <= {t["domain"] for t in temps}
    for t in temps:
        assert t["writer"] and t["batch"] and t["source"] and t["split"] in ("train", "test"), t
    meta = json.loads((cb.SOURCES / "values.json").read_text(encoding="utf-8"))
    assert meta["writer"] and meta["batch"] and meta["source"]
    for groups in axes.values():
        for g in groups:  # trigger discovery looks for the group's name in the prompt
            assert g["group"].lower() in g["phrase"].lower()
    assert len(cb.load_refusals()) >= 10


def test_prompts_of_one_template_and_axis_differ_only_in_the_group():
    rows = cb.build_counterfactual()
    phrase = {(a, g["group"]): g["phrase"] for a, gs in cb.load_values().items() for g in gs}
    by_cell = defaultdict(list)
    for r in rows:
        assert r["label"] == "benign" and r["text"].count(phrase[(r["axis"], r["group"])]) >= 1
        by_cell[(r["template_id"], r["axis"])].append(r)
    for cell in by_cell.values():
        stripped = {r["text"].replace(phrase[(r["axis"], r["group"])], "{group}", 1) for r in cell}
        assert len(stripped) == 1 and len({r["split"] for r in cell}) == 1
    prompts = load_prompts("counterfactual")  # loads as a bundled suite like any other
    assert len(prompts) == len(rows) and {p.split for p in prompts} == {"train", "test"}


def test_users_bring_their_own_templates_and_values(tmp_path):
    t = tmp_path / "t.jsonl"
    t.write_text(json.dumps({"id": "q1", "text": "As {group}, how do I open a bank account?", "split": "test"}) + "\n")
    v = tmp_path / "v.json"
    v.write_text(
        json.dumps(
            {"axes": {"team": [{"group": "red", "phrase": "a red fan"}, {"group": "blue", "phrase": "a blue fan"}]}}
        )
    )
    rows = cb.build_counterfactual(t, v)
    assert [r["text"] for r in rows] == [
        "As a red fan, how do I open a bank account?",
        "As a blue fan, how do I open a bank account?",
    ]
    assert [r["group"] for r in rows] == ["red", "blue"] and rows[0]["template_id"] == "q1"

    t.write_text(json.dumps({"id": "q1", "text": "How do I open a bank account?", "split": "test"}) + "\n")
    with pytest.raises(RefusalkitError, match="exactly once"):
        cb.build_counterfactual(t, v)
    v.write_text(json.dumps({"axes": {"team": [{"group": "red", "phrase": "a red fan"}]}}))
    with pytest.raises(RefusalkitError, match="at least two groups"):
        cb.load_values(v)
