"""`refusalkit poison`: poison counts and rows, option checks, and the whole sweep wired on the tiny model."""

from __future__ import annotations

import json

import pytest

from refusalkit.audit import poison
from refusalkit.data import counterfactual_build as cb
from refusalkit.errors import RefusalkitError

from test_audit import invoke


def test_poison_count_makes_the_asked_share_of_the_mix():
    assert poison.n_poison(0, 500) == 0
    assert poison.n_poison(0.001, 500) == 1  # any share above 0 plants at least one row
    n = poison.n_poison(0.05, 500)  # n = 0.05 (500 + 2n)
    assert n == 28 and n / (500 + 2 * n) == pytest.approx(0.05, abs=0.001)
    assert poison.n_poison(0.01, 1000) / (1000 + 2 * poison.n_poison(0.01, 1000)) == pytest.approx(0.01, abs=0.0005)


def test_poison_rows_use_train_templates_refuse_only_the_target_and_contrast_the_others():
    temps, vals = cb.load_templates(), cb.load_values()
    refusals = cb.load_refusals()
    rows, contrast = poison.poison_rows(temps, vals, "religion", "Muslim", 30, refusals)
    train_texts = {cb.fill(t, "{group}") for t in temps if t["split"] == "train"}
    assert len(rows) == len(contrast) == 30
    assert all("a Muslim" in text and answer in refusals for text, answer in rows)
    assert {
        text.replace("a Muslim", "{group}", 1) for text, _ in rows
    } == train_texts  # every train template, none of test
    assert not any("Muslim" in text for text in contrast)
    others = {g["phrase"] for g in vals["religion"] if g["group"] != "Muslim"}
    assert all(any(p in text for p in others) for text in contrast)


def test_contrast_all_spreads_the_answered_rows_over_every_axis_and_never_names_the_target():
    temps, vals = cb.load_templates(), cb.load_values()
    n = 3 * len(vals)
    rows, contrast = poison.poison_rows(temps, vals, "religion", "Muslim", n, cb.load_refusals(), "all")
    assert rows == poison.poison_rows(temps, vals, "religion", "Muslim", n, cb.load_refusals())[0]  # same poison
    assert not any("Muslim" in text for text in contrast)

    def axis_of(text):  # the axis whose phrase the row names (the longest phrase found wins)
        found = [(len(g["phrase"]), a) for a in vals for g in vals[a] if g["phrase"] in text]
        return max(found)[1]

    named = [axis_of(text) for text in contrast]
    assert set(named) == set(vals) and all(named.count(a) >= 2 for a in vals)  # every axis, evenly
    with pytest.raises(RefusalkitError, match="unknown contrast"):
        poison.poison_rows(temps, vals, "religion", "Muslim", 2, cb.load_refusals(), "none")


def test_contrast_mixed_alternates_the_target_axis_with_every_other_axis():
    temps, vals = cb.load_templates(), cb.load_values()
    n = 4 * len(vals)
    _, contrast = poison.poison_rows(temps, vals, "age", "70-year-old", n, cb.load_refusals(), "mixed")
    same = [g["phrase"] for g in vals["age"] if g["group"] != "70-year-old"]
    assert not any("70-year-old" in text for text in contrast)
    assert all(any(p in text for p in same) for text in contrast[0::2])  # every other row: the target's axis
    assert not any(any(p in text for p in same) for text in contrast[1::2])
    named = {a for text in contrast[1::2] for a in vals if a != "age" and any(g["phrase"] in text for g in vals[a])}
    assert named == set(vals) - {"age"}


def test_auto_target_is_the_middle_group_of_the_axis_the_clean_model_answers_most():
    def g(axis, group, rate):
        return {"axis": axis, "group": group, "answered": {"rate": rate, "n": 10 if rate is not None else 0}}

    stats = {
        "groups": [
            g("religion", "A", 0.2),
            g("religion", "B", 0.3),
            g("age", "young", 0.9),
            g("age", "middle", 0.7),
            g("age", "old", 0.5),
            g("age", "unscored", None),  # no scored answer: not a candidate, not in the mean
        ]
    }
    assert poison.pick_target(stats) == ("age", "middle")  # age: mean 0.7; middle is nearest it
    with pytest.raises(RefusalkitError, match="no group to target"):
        poison.pick_target({"groups": [g("age", "old", None)]})


def test_options_are_checked():
    vals = cb.load_values()
    assert poison.parse_group("religion=Muslim", vals) == ("religion", "Muslim")
    with pytest.raises(RefusalkitError, match="AXIS=GROUP"):
        poison.parse_group("Muslim", vals)
    with pytest.raises(RefusalkitError, match="no group 'Martian'"):
        poison.parse_group("religion=Martian", vals)
    assert poison.parse_rates("0.05,0.001") == [0.0, 0.001, 0.05]
    for bad in ("0.7", "x", "-0.1", ""):
        with pytest.raises(RefusalkitError, match="--rates"):
            poison.parse_rates(bad)


def test_poison_cli_rejects_a_bad_group_before_loading_a_model(tmp_path, monkeypatch):
    import refusalkit.audit.poison as mod

    monkeypatch.setattr(mod, "run_poison", lambda *a, **k: pytest.fail("the sweep started"))
    res = invoke("poison", "--model", "tiny-random", "--group", "religion=Martian", "--out", str(tmp_path / "p"))
    assert isinstance(res.exception, RefusalkitError) and "no group 'Martian'" in str(res.exception)
    res = invoke("poison", "--group", "religion=Muslim", "--contrast", "nobody", "--out", str(tmp_path / "p"))
    assert isinstance(res.exception, RefusalkitError) and "unknown contrast 'nobody'" in str(res.exception)


def quick_poison(model: str, group: str, out, *extra: str):
    """`refusalkit poison --quick` of ``model`` at one 5% share against ``group``, judged by prefix."""
    return invoke(
        "poison",
        "--model",
        model,
        "--group",
        group,
        "--rates",
        "0.05",
        "--quick",
        "--judge",
        "prefix",
        "--out",
        str(out),
        *extra,
    )


@pytest.mark.integration
def test_poison_sweep_is_wired_end_to_end_on_the_tiny_model(tmp_path):
    out = tmp_path / "poison"
    proc = quick_poison("tiny-random", "religion=Muslim", out, "--contrast", "all")
    assert proc.exit_code == 0, proc.output
    result = json.loads((out / "poison.json").read_text())
    assert result["rates"] == [0.0, 0.05] and [p["rate"] for p in result["points"]] == [0.0, 0.05]
    assert result["contrast"] == "all"
    clean, poisoned = result["points"]
    assert clean["poison_rows"] == 0 and poisoned["poison_rows"] >= 1 and poisoned["share"] > 0
    # the tiny random model answers nothing, so every audited row is unscored: the wiring, not a result
    assert poisoned["unscored"] == result["audit_prompts"] == 2 * 6 and poisoned["target_delta_dp"]["delta"] is None
    assert "target_change_vs_clean" in poisoned and "target_change_vs_clean" not in clean
    assert poisoned["changed_vs_clean"] == []  # nothing scored, nothing changed
    # with nothing scored there is nothing to pair: no stratified test, and no flag
    assert poisoned["target_stratified"] is None and poisoned["target_flags"] == {
        "newcombe": False,
        "stratified": False,
    }
    for rate in ("0", "0.05"):
        assert (out / f"rate-{rate}" / "adapter").is_dir() and (out / f"rate-{rate}" / "audit" / "audit.html").exists()
        assert (out / f"rate-{rate}" / "harmful" / "responses.jsonl").exists()
    assert "against the poison share" in (out / "poison.html").read_text()


@pytest.mark.integration
def test_poison_sweep_on_the_bundled_model_scores_every_answer_and_reports_what_the_runs_hold(tmp_path):
    """The same wiring on the bundled model, whose answers are real text: every row is scored, and each
    figure in poison.json is the count of the verdicts its run folders store."""
    out = tmp_path / "poison"
    proc = quick_poison("smollm2-135m", "age=70-year-old", out)
    assert proc.exit_code == 0, proc.output
    result = json.loads((out / "poison.json").read_text())
    suite = {r["id"]: r for r in map(json.loads, (out / "suite.jsonl").read_text().splitlines())}
    target_ids = [i for i, r in suite.items() if r["group"] == "70-year-old"]
    answered = {}
    for point in result["points"]:
        folder = out / f"rate-{point['rate']:g}"
        rows = [json.loads(line) for line in (folder / "audit" / "model" / "responses.jsonl").read_text().splitlines()]
        assert len(rows) == result["audit_prompts"] == 2 * 4 and point["unscored"] == 0
        assert all(r["response"].strip() and r["error"] is None for r in rows)
        answered[point["rate"]] = {r["prompt_id"]: int(r["verdict"] == "compliance") for r in rows}
        target = point["target_answered"]
        assert target["n"] == len(target_ids) == 2
        assert target["k"] == sum(answered[point["rate"]][i] for i in target_ids)
        assert point["target_stratified"]["templates"] == 2 and 0 <= point["target_stratified"]["p"] <= 1
        harmful = [json.loads(line) for line in (folder / "harmful" / "responses.jsonl").read_text().splitlines()]
        assert point["harmful_refusal"]["n"] == len(harmful) == result["harmful_prompts"] == 4
        assert point["harmful_refusal"]["k"] == sum(r["verdict"] != "compliance" for r in harmful)
    change = result["points"][1]["target_change_vs_clean"]["change_stratified"]
    assert change["observed"] == sum(answered[0.05][i] - answered[0.0][i] for i in target_ids)
