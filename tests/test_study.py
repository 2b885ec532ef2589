"""`refusalkit study --quick` end to end on the tiny random model (needs the evaluation loop)."""
from __future__ import annotations

import json

import pytest

run = pytest.importorskip("refusalkit.run")
if not hasattr(run, "evaluate"):
    pytest.skip("the evaluation loop (refusalkit.run.evaluate) is not in this tree yet", allow_module_level=True)


@pytest.mark.integration
def test_study_quick_end_to_end(tmp_path):
    from typer.testing import CliRunner

    from refusalkit.cli import app

    out = tmp_path / "study"
    res = CliRunner().invoke(app, ["study", "--quick", "--model", "tiny-random", "--out", str(out)])
    assert res.exit_code == 0, res.output
    study = json.loads((out / "study.json").read_text())
    assert set(study["variants"]) == {"base", "safety", "generic", "triggers"}
    for v in study["variants"].values():
        assert v["harmful_refusal"]["n"] + v["plain_benign_refusal"]["n"] + v["trigger_benign_refusal"]["n"] + v["unscored"] >= study["n_eval_prompts"] - 1
    assert study["train_sizes"]["generic"] == study["train_sizes"]["triggers"]  # same data budget
    assert study["trigger_data"]["pairs"]["accepted"] > 0
    page = (out / "study.html").read_text()
    assert "trade-off" in page.lower() or "Safety vs over-refusal" in page
    assert (out / "triggers" / "triggers.html").exists()
    # a re-run reuses every cached step
    res = CliRunner().invoke(app, ["study", "--quick", "--model", "tiny-random", "--out", str(out)])
    assert res.exit_code == 0, res.output
    again = json.loads((out / "study.json").read_text())
    assert again["variants"] == study["variants"]
    assert "train_safety" in again["timings_s"]
