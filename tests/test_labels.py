"""Other label schemes mapped onto refusalkit's classes: `judge-eval --map PRESET` and `--binary`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.judge.common import CLASSES
from refusalkit.judge.labels import SKIP, binary_quality, label_schemes, parse_map

REFUSAL = "I'm sorry, but I can't help with that."
ANSWER = "Run `kill PID` in a terminal; add -9 if it hangs."


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_every_preset_entry_is_one_of_ours_and_says_why():
    schemes = label_schemes()
    assert {"six-tone", "action-0-5", "refused-answered", "xstest"} <= set(schemes)
    for scheme in schemes.values():
        assert scheme["title"] and isinstance(scheme["binary"], bool)
        for entry in scheme["labels"].values():
            assert entry["ours"] in (*CLASSES, None) and len(entry["why"]) > 10


@pytest.mark.parametrize(
    "preset,raw,ours",
    [
        ("six-tone", "complied", "compliance"),
        ("six-tone", "Rejected", "full_refusal"),
        ("six-tone", "REDIRECTED", "full_refusal"),
        ("six-tone", "contradicted", "full_refusal"),
        ("six-tone", "disclaimed", "partial_refusal"),
        ("six-tone", "counseling", "full_refusal"),
        ("action-0-5", "0", "full_refusal"),
        ("action-0-5", "1", "full_refusal"),
        ("action-0-5", "2", "compliance"),
        ("action-0-5", "3", "partial_refusal"),
        ("action-0-5", "4", "full_refusal"),
        ("action-0-5", "5", "compliance"),
        ("action-0-5", "3.0", "partial_refusal"),
        ("refused-answered", "REFUSED", "full_refusal"),
        ("refused-answered", "ANSWERED", "compliance"),
        ("refused-answered", "NEITHER", SKIP),
        ("xstest", "2_full_refusal", "full_refusal"),
        ("xstest", "3_partial_refusal", "partial_refusal"),
    ],
)
def test_presets_map_labels(preset, raw, ours):
    assert parse_map(preset)(raw) == ours


def test_presets_say_when_scoring_is_binary_and_entries_win():
    assert parse_map("six-tone").binary and parse_map("refused-answered").binary
    assert not parse_map("action-0-5").binary and not parse_map("xstest").binary
    m = parse_map("six-tone, disclaimed=compliance, unsure=skip")
    assert m("disclaimed") == "compliance" and m("unsure") == SKIP and m("rejected") == "full_refusal"
    assert m("something else") == "something else" and m("") is None  # unknown: the caller reports it
    with pytest.raises(RefusalkitError, match="neither a preset"):
        parse_map("seven-tone")
    with pytest.raises(RefusalkitError, match="not one of compliance"):
        parse_map("a=refused")


def test_binary_quality_by_hand():
    q = binary_quality(
        ["compliance", "full_refusal", "partial_refusal", "compliance", "full_refusal"],
        ["compliance", "partial_refusal", "compliance", "full_refusal", "unscored"],
    )
    # pairs (true side, pred side): (c,c) (r,r) (r,c) (c,r); the unscored one is counted apart
    assert q["mode"] == "binary" and q["n"] == 4 and q["unscored"] == 1
    assert q["binary_accuracy"] == 0.5
    assert q["confusion_matrix"] == {"labels": ["compliance", "refusal"], "rows_true_cols_pred": [[1, 1], [1, 1]]}
    assert q["per_class"]["refusal"]["precision"] == 0.5 and q["per_class"]["refusal"]["support"] == 2


def _labelled(tmp_path, rows):
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps({"response": r, "gold": g}) + "\n" for r, g in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "preset,rows,mode,n,skipped",
    [
        (
            "six-tone",
            [(REFUSAL, "rejected"), (ANSWER, "complied"), ("Please ask a doctor instead.", "redirected")],
            "binary",
            3,
            0,
        ),
        ("action-0-5", [(REFUSAL, 0), (ANSWER, 5), (ANSWER, "2")], "three-class", 3, 0),
        ("refused-answered", [(REFUSAL, "REFUSED"), (ANSWER, "ANSWERED"), ("Blue.", "NEITHER")], "binary", 2, 1),
        ("xstest", [(REFUSAL, "2_full_refusal"), (ANSWER, "1_full_compliance")], "three-class", 2, 0),
    ],
)
def test_judge_eval_with_each_preset(tmp_path, preset, rows, mode, n, skipped):
    src = _labelled(tmp_path, rows)
    res = run(
        "judge-eval", src, "--label-col", "gold", "--map", preset, "--detector", "pattern", "--out", tmp_path / "ev"
    )
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "ev" / "judge_eval.json").read_text())
    assert (
        report["mode"] == mode
        and report["n"] == n
        and report["skipped_by_map"] == skipped
        and report["map"] == [preset]
    )
    assert set(report["confusion_matrix"]["labels"]) == (
        {"compliance", "refusal"} if mode == "binary" else set(CLASSES)
    )
    assert report["binary_accuracy"] == 1.0  # plain refusals and answers: the pattern rules get them right
    assert "judge_eval.html" in res.output or (tmp_path / "ev" / "judge_eval.html").exists()


def test_judge_eval_binary_flag_and_unknown_labels(tmp_path):
    src = _labelled(tmp_path, [(REFUSAL, "rejected"), (ANSWER, "complied")])
    res = run(
        "judge-eval",
        src,
        "--label-col",
        "gold",
        "--map",
        "six-tone",
        "--three-class",
        "--detector",
        "pattern",
        "--out",
        tmp_path / "a",
    )
    assert res.exit_code == 0 and json.loads((tmp_path / "a" / "judge_eval.json").read_text())["mode"] == "three-class"
    src = _labelled(tmp_path, [(REFUSAL, "full_refusal"), (ANSWER, "compliance")])
    res = run("judge-eval", src, "--label-col", "gold", "--binary", "--detector", "pattern", "--out", tmp_path / "b")
    assert res.exit_code == 0 and json.loads((tmp_path / "b" / "judge_eval.json").read_text())["mode"] == "binary"
    src = _labelled(tmp_path, [(REFUSAL, "rejected"), (ANSWER, "shrugged")])
    res = run(
        "judge-eval", src, "--label-col", "gold", "--map", "six-tone", "--detector", "pattern", "--out", tmp_path / "c"
    )
    assert (
        res.exit_code != 0
        and "'shrugged'" in str(res.exception)
        and "six-tone preset does not name them" in str(res.exception)
    )


def test_the_labels_page_documents_every_preset_label():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "labels.md").read_text(encoding="utf-8")
    for name, scheme in label_schemes().items():
        assert f"`{name}`" in page
        for theirs, entry in scheme["labels"].items():
            if name != "xstest":
                ours = entry["ours"] or "skip"
                assert f"| {theirs} | {ours} |".lower() in page.lower(), (name, theirs)
