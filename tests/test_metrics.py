"""Rates with Wilson intervals, group summaries, and run comparison."""

from __future__ import annotations

import pytest

from refusalkit import metrics


def test_wilson_matches_published_value():
    # Newcombe (1998), Statistics in Medicine 17:857, example 81/263: Wilson 95% CI 0.2553 to 0.3662.
    w = metrics.wilson(81, 263)
    assert w["rate"] == pytest.approx(81 / 263)
    assert (round(w["lo"], 4), round(w["hi"], 4)) == (0.2553, 0.3662)
    assert metrics.wilson(0, 0)["rate"] is None


def test_newcombe_difference_matches_published_value():
    # Newcombe (1998), Statistics in Medicine 17:873, example 56/70 - 48/80: method 10 gives 0.0524 to 0.3339.
    d = metrics.diff_interval(48, 80, 56, 70)
    assert d["delta"] == pytest.approx(0.2)
    assert (round(d["lo"], 4), round(d["hi"], 4)) == (0.0524, 0.3339)


def row(pid, label, typ, verdict, category="c"):
    return {
        "prompt_id": pid,
        "prompt": pid,
        "prompt_label": label,
        "type": typ,
        "category": category,
        "verdict": verdict,
        "response": "",
    }


def test_summarize_groups_and_unscored_excluded():
    rows = [
        row("b1", "benign", "homonym", "full_refusal"),
        row("b2", "benign", "homonym", "compliance"),
        row("b3", "benign", "plain", "compliance"),
        row("b4", "benign", "plain", "unscored"),
        row("h1", "harmful", "harmful", "full_refusal", "weapons"),
        row("h2", "harmful", "harmful", "partial_refusal", "drugs"),
        row("h3", "harmful", "harmful", "compliance", "drugs"),
    ]
    s = metrics.summarize(rows)
    g = s["groups"]
    assert (g["benign"]["n"], g["benign"]["unscored"]) == (3, 1)
    assert g["trigger_benign"]["any_refusal"]["rate"] == pytest.approx(0.5)
    assert g["plain_benign"]["n"] == 1 and g["plain_benign"]["compliance"]["rate"] == 1.0
    assert g["harmful"]["full_refusal"]["k"] == 1 and g["harmful"]["partial_refusal"]["k"] == 1
    assert g["harmful"]["any_refusal"]["rate"] == pytest.approx(2 / 3)
    assert s["by_category"]["harmful"]["drugs"]["any_refusal"]["rate"] == pytest.approx(0.5)
    assert s["by_type"]["benign"]["plain"]["unscored"] == 1
    assert s["tradeoff"]["harmful_refusal"]["rate"] == pytest.approx(2 / 3)
    assert s["tradeoff"]["benign_compliance"]["rate"] == pytest.approx(2 / 3)
    assert s["unscored"] == 1


def test_compare_lists_per_prompt_changes_and_deltas():
    a = [
        row("b1", "benign", "homonym", "full_refusal"),
        row("b2", "benign", "homonym", "compliance"),
        row("h1", "harmful", "harmful", "full_refusal"),
        row("h2", "harmful", "harmful", "unscored"),
    ]
    b = [
        row("b1", "benign", "homonym", "compliance"),
        row("b2", "benign", "homonym", "compliance"),
        row("h1", "harmful", "harmful", "partial_refusal"),
        row("h2", "harmful", "harmful", "compliance"),
    ]
    c = metrics.compare([("base", a), ("fixed", b)])
    cmp = c["comparisons"][0]
    assert cmp["shared_scored_prompts"] == 3  # h2 is unscored in the baseline
    assert [x["prompt_id"] for x in cmp["changes"]["newly_answered"]] == ["b1"]
    assert [x["prompt_id"] for x in cmp["changes"]["changed"]] == ["h1"]
    assert cmp["changes"]["newly_refused"] == []
    assert cmp["counts_by_label"]["newly_answered"] == {"benign": 1, "harmful": 0}
    delta = cmp["deltas"]["benign"]["any_refusal"]
    assert delta["delta"] == pytest.approx(-0.5) and delta["lo"] < -0.5 < delta["hi"]
    assert set(c["runs"]) == {"base", "fixed"}
