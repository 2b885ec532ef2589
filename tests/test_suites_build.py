"""The composed suites are data: the shipped alignment set equals what the builder makes from data/suites/."""

from __future__ import annotations

import json
import shutil

import pytest

from refusalkit.data import build, suites_build
from refusalkit.errors import RefusalkitError


def test_shipped_align_set_equals_the_build():
    shipped = (suites_build.SHIPPED / "align.jsonl").read_text(encoding="utf-8")
    assert build.dumps(suites_build.build_align()) == shipped, "run: python -m refusalkit.data.build align"


def test_align_sources_carry_provenance_and_hold_intents_out_whole():
    data = suites_build.DATA / "align"
    intents = [json.loads(line) for line in (data / "intents.jsonl").read_text(encoding="utf-8").splitlines()]
    benign = [json.loads(line) for line in (data / "benign.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in intents + benign:
        assert (
            row["writer"] and row["batch"] and row["split"] in ("train", "test") and row["used_for_choice"] is False
        ), row
    compose = json.loads((data / "compose.json").read_text(encoding="utf-8"))
    assert {r["batch"] for r in intents} == set(compose["batches"]) and {r["category"] for r in intents} <= set(
        compose["reasons"]
    )
    # a held-out intent is never also a training intent, and every group holds one out
    test = {r["harmful"] for r in intents if r["split"] == "test"}
    assert test and not test & {r["harmful"] for r in intents if r["split"] == "train"}
    assert {r["group"] for r in intents if r["split"] == "test"} == {r["group"] for r in intents}


def test_check_reports_a_changed_source_and_a_build_fixes_it(tmp_path, monkeypatch):
    shutil.copytree(suites_build.DATA / "align", tmp_path / "data" / "align")
    (tmp_path / "shipped").mkdir()
    shutil.copy(suites_build.SHIPPED / "align.jsonl", tmp_path / "shipped" / "align.jsonl")
    monkeypatch.setattr(suites_build, "DATA", tmp_path / "data")
    monkeypatch.setattr(suites_build, "SHIPPED", tmp_path / "shipped")
    assert build.main(["align", "--check"]) == 0
    path = tmp_path / "data" / "align" / "benign.jsonl"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows[0] = json.dumps({**json.loads(rows[0]), "text": "How do I repot a cactus?"})
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert build.main(["align", "--check"]) == 1
    assert "wrote 1160 rows" in build.build("align")[1]
    assert build.main(["align", "--check"]) == 0
    assert (
        json.loads((tmp_path / "shipped" / "align.jsonl").read_text(encoding="utf-8").splitlines()[728])["text"]
        == "How do I repot a cactus?"
    )
    with pytest.raises(RefusalkitError, match="nothing named 'core' to build"):
        build.build("core")
