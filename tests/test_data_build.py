"""The data builder: the shipped judge corpus is exactly what `python -m refusalkit.data.build judge` writes
from data/judge/, every row carries its provenance, and a new batch file is picked up without code changes."""

from __future__ import annotations

import json
import shutil

import pytest

from refusalkit.data import build
from refusalkit.errors import RefusalkitError
from refusalkit.judge.corpus import corpus_path, load_corpus


@pytest.fixture(scope="module")
def built():
    return build.build_judge()


def test_shipped_corpus_equals_builder_output(built):
    assert corpus_path().read_text(encoding="utf-8") == build.dumps(built)
    assert build.main(["judge", "--check"]) == 0


def test_every_row_has_provenance(built):
    rows = load_corpus()
    assert len(rows) == len(built) > 4000
    for row in rows:
        missing = [k for k in ("id", *build.REQUIRED) if k not in row]
        assert not missing, (row["id"], missing)
        assert row["label"] in build.LABELS and row["source"] in build.SOURCES
        assert isinstance(row["used_for_choice"], bool) and row["writer"].strip() and row["lang"].strip()
        if row["source"] == "real_model":
            assert all(k in row for k in build.REAL_MODEL_FIELDS), row["id"]
    # the spent test splits and dev were used to choose settings; the blind split measured once never was
    spent = {"dev", "test", "test2", "test3", "test4", "test5", "test6"}
    assert all(r["used_for_choice"] for r in rows if r["split"] in spent)
    assert all(not r["used_for_choice"] for r in rows if r["split"] == "test7")
    assert [r["id"] for r in rows] == [f"r{i:05d}" for i in range(len(rows))]
    assert len({r["response"] for r in rows}) == len(rows)


def test_composition_is_deterministic():
    fr = build.load_fragments()
    assert build.compose(fr) == build.compose(fr)
    assert build.compose(fr, seed=1) != build.compose(fr)


def test_batches_are_read_in_natural_order():
    names = [
        "test10",
        "handwritten",
        "test2",
        "handwritten10",
        "handwritten2",
        "handwritten8_variants",
        "handwritten8",
        "real_x",
    ]
    assert sorted(names, key=build.natural_key) == [
        "handwritten",
        "handwritten2",
        "handwritten8",
        "handwritten8_variants",
        "handwritten10",
        "real_x",
        "test2",
        "test10",
    ]


def _copy_sources(tmp_path):
    dst = tmp_path / "judge"
    shutil.copytree(build.JUDGE_SOURCES, dst)
    return dst


def _row(**kw):
    row = {
        "prompt": "How do I boil an egg?",
        "response": "Boil it for seven minutes, then cool it in cold water.",
        "label": "compliance",
        "split": "train",
        "source": "real_model",
        "writer": "smollm2-135m (aligned)",
        "style": "real",
        "lang": "en",
        "batch": "real_demo",
        "used_for_choice": False,
        "model": "smollm2-135m",
        "variant": "aligned",
        "temperature": 0.7,
        "system_prompt": None,
        "max_new_tokens": 128,
    }
    row.update(kw)
    return row


def test_new_batch_file_is_picked_up(tmp_path, built):
    src = _copy_sources(tmp_path)
    new = [
        _row(),
        _row(response="I can't help with that request, sorry.", label="full_refusal"),
        _row(response=built[0]["response"]),
    ]  # a response already in the corpus is kept once, where it first occurs
    (src / "real_demo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in new), encoding="utf-8")
    rows = build.build_judge(src)
    added = [r for r in rows if r["batch"] == "real_demo"]
    assert len(rows) == len(built) + 2
    assert [r["response"] for r in added] == [new[0]["response"], new[1]["response"]]
    assert added[0]["model"] == "smollm2-135m" and added[0]["temperature"] == 0.7
    # real_* sorts between the hand-written batches and study8, so the rows after it are renumbered
    assert rows.index(added[0]) < next(i for i, r in enumerate(rows) if r["batch"] == "study8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": "refused"}, r"real_demo.jsonl:1: label 'refused' is not one of"),
        ({"batch": "other"}, r"batch 'other' should be the file's stem 'real_demo'"),
        ({"used_for_choice": "no"}, r"used_for_choice must be true or false"),
        ({"model": None, "lang": ""}, r"lang must be a non-empty string"),
    ],
)
def test_bad_batch_row_is_one_clear_line(tmp_path, change, message):
    src = _copy_sources(tmp_path)
    (src / "real_demo.jsonl").write_text(json.dumps(_row(**change)) + "\n", encoding="utf-8")
    with pytest.raises(RefusalkitError, match=message):
        build.build_judge(src)


def test_missing_fields_and_bad_json_are_named(tmp_path):
    src = _copy_sources(tmp_path)
    row = _row()
    del row["temperature"], row["writer"]
    (src / "real_demo.jsonl").write_text(json.dumps(row) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"real_demo.jsonl:1: missing field\(s\) writer, temperature"):
        build.build_judge(src)
    (src / "real_demo.jsonl").write_text(json.dumps(_row()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"real_demo.jsonl:2: not valid JSON"):
        build.build_judge(src)


def test_relabelled_rows_say_why(built):
    """Rows moved to XSTest's definitions keep their former label and the reason; answers that only redirect
    or only moralise are full refusals, in composed and hand-written rows alike."""
    relabelled = [r for r in built if "relabelled_from" in r]
    assert len(relabelled) > 300
    assert all(
        r["relabelled_from"] == "partial_refusal" and r["label"] == "full_refusal" and "XSTest" in r["relabel_note"]
        for r in relabelled
    )
    composed = [r for r in built if r["source"] == "composed" and r["style"] in ("redirect_only", "moralising")]
    assert composed and all(r["label"] == "full_refusal" and "relabelled_from" in r for r in composed)
    assert all(r["label"] == "partial_refusal" for r in built if r["style"] in ("refuse_then_comply", "compound"))


def test_error_kinds_batch_is_labelled_by_kind(built):
    """The training batch written for the error kinds real models showed: each kind of answer carries the label
    XSTest's definitions give it, and the batch is never used as an evaluation split."""
    rows = [r for r in built if r["batch"] == "handwritten_realkinds"]
    assert len(rows) >= 240 and {r["split"] for r in rows} == {"train"}
    expected = {
        "not_appropriate": "full_refusal",
        "lecture_only": "full_refusal",
        "premise_rejecting": "full_refusal",
        "as_ai_no_opinion": "full_refusal",
        "as_ai_guidelines": "full_refusal",
        "decline_with_alternative": "full_refusal",
        "as_ai_then_answers": "compliance",
        "creative": "compliance",
        "caveated": "compliance",
        "premise_corrected": "compliance",
        "refuse_then_answer": "partial_refusal",
        "answer_then_decline": "partial_refusal",
        "general_not_specific": "partial_refusal",
    }
    assert {r["style"] for r in rows} == set(expected)
    wrong = [(r["style"], r["label"], r["prompt"]) for r in rows if r["label"] != expected[r["style"]]]
    assert not wrong, wrong[:3]
    assert all("\n" not in r["prompt"] for r in rows)  # prompts are one-line requests
