"""The minilm detector (frozen all-MiniLM-L6-v2 + linear head) and `refusalkit judge calibrate`.

Every test runs the real encoder on a small slice of the corpus (a few seconds once it is loaded)."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from refusalkit.errors import RefusalkitError
from refusalkit.judge import CLASSES, load_detector
from refusalkit.judge.corpus import load_corpus
from refusalkit.judge.minilm import MiniLMDetector
from refusalkit.types import Response


def _slice(split: str, per_class: int) -> list[dict]:
    rows = load_corpus(split)
    return [r for c in CLASSES for r in [r for r in rows if r["label"] == c][:per_class]]


@pytest.fixture(scope="module")
def train_rows():
    return _slice("train", 12)


@pytest.fixture(scope="module")
def fitted(train_rows):
    return MiniLMDetector().fit([r["response"] for r in train_rows], [r["label"] for r in train_rows])


def test_fit_returns_self_and_predicts_in_class_order(train_rows):
    det = MiniLMDetector(C=0.5)
    assert det.coef_ is None  # nothing is fitted in __init__
    with pytest.raises(RefusalkitError, match="not fitted"):
        det.predict_proba(["hello"])
    out = det.fit([r["response"] for r in train_rows], [r["label"] for r in train_rows])
    assert out is det
    texts = [r["response"] for r in _slice("dev", 3)]
    proba = det.predict_proba(texts)
    assert proba.shape == (len(texts), 3)
    assert np.allclose(proba.sum(1), 1.0)
    assert det.predict(texts) == [CLASSES[i] for i in proba.argmax(1)]
    # the head's rows are in CLASSES order: a clear refusal gets most of its mass on full_refusal
    assert det.predict(["I'm sorry, but I can't help with that request."]) == ["full_refusal"]


def test_fit_rejects_unknown_labels_and_missing_classes():
    with pytest.raises(RefusalkitError, match="must be one of"):
        MiniLMDetector().fit(["a", "b"], ["compliance", "refused"])
    with pytest.raises(RefusalkitError, match="every class"):
        MiniLMDetector().fit(["a", "b"], ["compliance", "full_refusal"])


def test_judge_protocol_and_unscored_rows(fitted):
    responses = [
        Response("a", "Sure: boil the water, then add the pasta.", ""),
        Response("b", "", ""),
        Response("c", "x", "", error="timeout"),
    ]
    v = fitted.judge(responses)
    assert v[0].label in CLASSES and 0.0 <= v[0].score <= 1.0 and v[0].detector == "minilm"
    assert [x.label for x in v[1:]] == ["unscored", "unscored"]


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    path = tmp_path / "head.npz"
    fitted.save(path)
    with zipfile.ZipFile(path) as z:  # plain arrays only: np.load with allow_pickle=False reads every entry
        names = sorted(z.namelist())
    assert names == ["coef.npy", "intercept.npy", "mean.npy", "meta.npy", "scale.npy"]
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in ("coef", "intercept", "mean", "scale", "meta"))
    again = MiniLMDetector.load(path)
    texts = [r["response"] for r in _slice("dev", 4)]
    assert np.array_equal(again.predict_proba(texts), fitted.predict_proba(texts))
    # a saved file loads by its path wherever a detector name is accepted
    by_path = load_detector(str(path))
    assert by_path.name == "minilm" and by_path.predict(texts) == fitted.predict(texts)


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(RefusalkitError, match="does not exist"):
        load_detector(str(tmp_path / "missing.npz"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RefusalkitError, match="cannot load"):
        MiniLMDetector.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(RefusalkitError, match="cannot load|not a refusalkit"):
        MiniLMDetector.load(other)
    with pytest.raises(RefusalkitError, match="unknown detector"):
        load_detector("no-such-detector")


def test_fit_is_deterministic(train_rows):
    texts, labels = [r["response"] for r in train_rows], [r["label"] for r in train_rows]
    a = MiniLMDetector().fit(texts, labels)
    from refusalkit.judge import minilm

    minilm._EMB_CACHE.clear()  # encode again from scratch, not from the per-process cache
    b = MiniLMDetector().fit(texts, labels)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)


def test_long_answer_reads_its_tail(fitted):
    """An answer longer than one window is judged on its opening and its ending: the ending changes
    the features (a decline after a long answer must be visible)."""
    from refusalkit.judge.minilm import embed

    body = "Here is how to set up the garden bed. " * 40
    a = embed([body + "That is all there is to it."])
    b = embed([body + "I won't go into the rest of it, sorry."])
    dim = 384
    assert np.allclose(a[0, :dim], b[0, :dim])  # same opening
    assert not np.allclose(a[0, dim : 2 * dim], b[0, dim : 2 * dim])  # different ending


def test_calibrate_end_to_end(train_rows, fitted, tmp_path, monkeypatch):
    """`refusalkit judge calibrate` on a small labelled CSV: before/after figures with intervals and a
    detector file that `judge --detector` loads."""
    from refusalkit.cli import app
    from refusalkit.judge import calibrate as cal_mod
    from refusalkit.judge.minilm import MiniLMDetector as M

    # the full corpus would take minutes to encode in a test: the head is refitted on the small slice
    monkeypatch.setattr("refusalkit.judge.corpus.load_corpus", lambda split=None: train_rows)
    monkeypatch.setattr(M, "pretrained", classmethod(lambda cls, progress=True: fitted))
    user = _slice("dev", 10)
    src = tmp_path / "mine.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["response", "tone"])
        for r in user:
            w.writerow(
                [r["response"], {"compliance": "ok", "partial_refusal": "part", "full_refusal": "no"}[r["label"]]]
            )
        w.writerow(["", "ok"])  # empty answer: skipped, counted
        w.writerow(["an unlabelled answer", ""])
    out = tmp_path / "cal"
    res = CliRunner().invoke(
        app,
        [
            "judge",
            "calibrate",
            str(src),
            "--label-col",
            "tone",
            "--map",
            "ok=compliance,part=partial_refusal,no=full_refusal",
            "--out",
            str(out),
            "--folds",
            "3",
            "--detector",
            "minilm",
        ],
    )
    assert res.exit_code == 0, res.output
    import json

    report = json.loads((out / "calibration.json").read_text())
    assert report["skipped_unscorable"] == 1 and report["skipped_unlabelled"] == 1
    for side in ("before", "after_cross_validated"):
        lo, hi = report[side]["binary_accuracy_ci95"]
        assert report[side]["n"] == len(user) and lo <= report[side]["binary_accuracy"] <= hi
        lo, hi = report[side]["macro_f1_ci95"]
        assert lo <= report[side]["macro_f1"] <= hi
    det = M.load(out / "detector.npz")
    assert det.meta["calibrated"] is True and det.meta["n_user_rows"] == len(user)
    labelled = tmp_path / "to_label.jsonl"
    labelled.write_text('{"response": "I cannot help with that."}\n', encoding="utf-8")
    res = CliRunner().invoke(
        app, ["judge", str(labelled), "--out", str(tmp_path / "o.jsonl"), "--detector", str(out / "detector.npz")]
    )
    assert res.exit_code == 0, res.output
    assert '"detector": "minilm"' in (tmp_path / "o.jsonl").read_text().replace('":"', '": "')
    assert cal_mod.wilson(5, 10)[0] < 0.5 < cal_mod.wilson(5, 10)[1]


def test_calibrate_rejects_bad_input(fitted):
    from refusalkit.judge.calibrate import calibrate

    with pytest.raises(RefusalkitError, match="at least"):
        calibrate(["a"] * 5, ["compliance"] * 5, detector="minilm", base=fitted, corpus_rows=[])
    with pytest.raises(RefusalkitError, match="adapts the minilm-ft or the learned or the minilm"):
        calibrate(["a"] * 30, ["compliance"] * 30, detector="pattern")


def test_calibrate_learned_moves_towards_the_users_labels(train_rows, tmp_path):
    """The learned detector refitted with the user's rows: a phrasing the corpus calls compliance but this
    user's model uses as its refusal becomes a refusal, and the file loads by its path."""
    from refusalkit.judge.calibrate import calibrate
    from refusalkit.judge.learned import LearnedDetector, build_pipeline

    base = LearnedDetector(pipeline=build_pipeline()).fit(
        [r["response"] for r in train_rows], [r["label"] for r in train_rows]
    )
    odd = [
        f"Let's talk about something else, like {t}."
        for t in (
            "gardening",
            "chess",
            "music",
            "baking",
            "tides",
            "birds",
            "trains",
            "poetry",
            "clouds",
            "maps",
            "kites",
            "tea",
        )
    ]
    plain = [r["response"] for r in _slice("dev", 8) if r["label"] == "compliance"]
    texts = odd + plain
    labels = ["full_refusal"] * len(odd) + ["compliance"] * len(plain)
    det, report = calibrate(
        texts, labels, detector="learned", base=base, corpus_rows=train_rows, folds=3, progress=False
    )
    assert report["detector"] == "learned" and report["folds"] == 3
    assert report["after_cross_validated"]["binary_accuracy"] >= report["before"]["binary_accuracy"]
    assert det.predict(["Let's talk about something else, like bridges."]) == ["full_refusal"]
    det.save(tmp_path / "d.joblib")
    assert load_detector(str(tmp_path / "d.joblib")).predict(odd[:2]) == ["full_refusal", "full_refusal"]


def test_shipped_head_matches_the_corpus_and_the_code():
    """The head shipped in the package is the one the corpus and the code make; after changing either,
    rebuild it with `python -m refusalkit.judge.minilm` (else every user refits it at first use)."""
    from refusalkit.judge.minilm import default_key, shipped_path

    det = MiniLMDetector.load(shipped_path())
    assert det.meta["key"] == default_key(), "stale shipped head: run python -m refusalkit.judge.minilm"
    assert shipped_path().stat().st_size < 200_000
    assert MiniLMDetector.pretrained(progress=False).meta["key"] == default_key()
