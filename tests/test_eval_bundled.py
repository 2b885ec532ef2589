"""`evaluate` end to end on the bundled model with a handful of core prompts."""

from __future__ import annotations

import json

import pytest

from refusalkit.data import load_prompts
from refusalkit.run import evaluate
from refusalkit.types import GenParams


@pytest.mark.integration
def test_bundled_model_eval_with_and_without_early_stop(bundled_target, tmp_path):
    prompts = load_prompts("core", split="test", limit=4)
    params = GenParams(max_new_tokens=48, batch_size=4)
    full = evaluate(bundled_target, prompts, params, "prefix", tmp_path / "full", early_stop=False, progress=False)
    early = evaluate(bundled_target, prompts, params, "prefix", tmp_path / "early", early_stop=True, progress=False)
    rows_full = {
        r["prompt_id"]: r for r in map(json.loads, (tmp_path / "full" / "responses.jsonl").read_text().splitlines())
    }
    rows_early = {
        r["prompt_id"]: r for r in map(json.loads, (tmp_path / "early" / "responses.jsonl").read_text().splitlines())
    }
    assert set(rows_full) == set(rows_early) == {p.id for p in prompts}
    for pid, r in rows_full.items():
        assert r["response"].strip() and r["error"] is None
        # an early-stopped answer is a prefix of the full one, so it is never longer
        assert rows_early[pid]["tokens"] <= r["tokens"]
        assert rows_early[pid]["verdict"] == r["verdict"]
    assert full["metrics"]["n_prompts"] == early["metrics"]["n_prompts"] == 4
    assert "report.html" in {p.name for p in (tmp_path / "early").iterdir()}
