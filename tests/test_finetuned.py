"""The minilm-ft detector (all-MiniLM-L6-v2 fine-tuned with LoRA): windows, training, files, registry.

Training runs the real encoder on 18 corpus rows for one short epoch (a few seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from refusalkit.errors import RefusalkitError
from refusalkit.judge import CLASSES, load_detector
from refusalkit.judge.corpus import load_corpus
from refusalkit.judge.finetuned import (
    HEAD_PIECES,
    MAX_PIECES,
    TAIL_PIECES,
    FineTunedDetector,
    class_weights,
    token_windows,
)
from refusalkit.persist import saved_kind
from refusalkit.types import Response

TINY = {"rank": 2, "alpha": 4, "epochs": 1, "batch": 6, "lr": 1e-3}


def _rows(per_class: int = 6) -> list[dict]:
    rows = load_corpus("train")
    return [r for c in CLASSES for r in [r for r in rows if r["label"] == c][:per_class]]


@pytest.fixture(scope="module")
def fitted():
    rows = _rows()
    return FineTunedDetector(**TINY).fit([r["response"] for r in rows], [r["label"] for r in rows])


def test_windows_keep_short_answers_whole_and_long_ones_by_head_and_tail():
    from refusalkit.judge.minilm import load_encoder

    tok = load_encoder()[0]
    short, long = "I can't help with that.", " ".join(f"word{i}" for i in range(600)) + " I won't go further."
    w_short, w_long = token_windows([short, long])
    assert w_short == [tok.cls_token_id, *tok(short, add_special_tokens=False)["input_ids"], tok.sep_token_id]
    assert len(w_long) == MAX_PIECES + 2
    pieces = tok(long, add_special_tokens=False)["input_ids"]
    assert w_long[1 : 1 + HEAD_PIECES] == pieces[:HEAD_PIECES]  # the opening ...
    assert w_long[-1 - TAIL_PIECES : -1] == pieces[-TAIL_PIECES:]  # ... and the ending, where a late refusal sits
    assert w_long.count(tok.sep_token_id) == 2


def test_class_weights_balance_and_missing_class_is_one_line():
    w = class_weights(["compliance"] * 6 + ["partial_refusal"] * 2 + ["full_refusal"] * 4)
    assert np.allclose(w, [12 / 18, 12 / 6, 12 / 12])
    with pytest.raises(RefusalkitError, match="every class"):
        FineTunedDetector(**TINY).fit(["a", "b"], ["compliance", "full_refusal"])
    with pytest.raises(RefusalkitError, match="must be one of"):
        FineTunedDetector(**TINY).fit(["a", "b"], ["compliance", "refused"])
    with pytest.raises(RefusalkitError, match="unknown minilm-ft settings"):
        FineTunedDetector(layers=3)


def test_fit_trains_only_lora_and_head_and_predicts_in_class_order(fitted):
    texts = [r["response"] for r in load_corpus("dev")[:5]]
    proba = fitted.predict_proba(texts)
    assert proba.shape == (5, 3) and np.allclose(proba.sum(1), 1.0)
    assert fitted.predict(texts) == [CLASSES[i] for i in proba.argmax(1)]
    # what is saved is the LoRA matrices and the head, nothing of the frozen encoder
    assert fitted.lora and all("lora_" in k or k.startswith("head.") for k in fitted.lora)
    assert any(float(v.abs().sum()) > 0 for k, v in fitted.lora.items() if "lora_B" in k)  # B starts at zero
    with pytest.raises(RefusalkitError, match="not fitted"):
        FineTunedDetector().predict_proba(["hello"])


def test_training_is_deterministic():
    rows = _rows(3)
    a = FineTunedDetector(**TINY).fit([r["response"] for r in rows], [r["label"] for r in rows])
    b = FineTunedDetector(**TINY).fit([r["response"] for r in rows], [r["label"] for r in rows])
    assert a.lora.keys() == b.lora.keys()
    assert all(np.array_equal(a.lora[k].numpy(), b.lora[k].numpy()) for k in a.lora)


def test_judge_protocol_and_unscored_rows(fitted):
    v = fitted.judge(
        [
            Response("a", "Boil the water, then add the pasta.", ""),
            Response("b", " ", ""),
            Response("c", "x", "", error="timeout"),
        ]
    )
    assert v[0].label in CLASSES and 0.0 <= v[0].score <= 1.0 and v[0].detector == "minilm-ft"
    assert [x.label for x in v[1:]] == ["unscored", "unscored"]


def test_save_load_round_trip_and_resolution_by_path(fitted, tmp_path):
    path = tmp_path / "det.safetensors"
    fitted.save(path)
    assert saved_kind(path) == "refusalkit.minilm-ft"
    again = FineTunedDetector.load(path)
    texts = [r["response"] for r in load_corpus("dev")[:6]]
    # weights are stored in float16: probabilities agree to rounding, verdicts exactly
    assert np.allclose(again.predict_proba(texts), fitted.predict_proba(texts), atol=2e-2)
    by_path = load_detector(str(path))
    assert by_path.name == "minilm-ft" and by_path.predict(texts) == again.predict(texts)


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(RefusalkitError, match="does not exist"):
        FineTunedDetector.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    with pytest.raises(RefusalkitError, match="cannot load"):
        FineTunedDetector.load(bad)
    assert saved_kind(bad) is None
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, dtype=np.float32)}, str(other), metadata={"meta": '{"kind": "something-else"}'})
    with pytest.raises(RefusalkitError, match="not a refusalkit minilm-ft"):
        FineTunedDetector.load(other)


def test_shipped_detector_matches_the_corpus_and_code():
    """The shipped weights are keyed by the corpus, the code and the settings: after changing any of them,
    retrain with `python -m refusalkit.judge.finetuned` (else every user trains it at first use)."""
    from refusalkit.judge.finetuned import default_key, shipped_path

    det = FineTunedDetector.load(shipped_path())
    assert det.meta["key"] == default_key(), "stale shipped detector: run python -m refusalkit.judge.finetuned"


def test_calibrate_refits_a_head_on_the_adapted_encoder(fitted, tmp_path):
    from refusalkit.judge.calibrate import calibrate

    corpus = _rows(4)
    user = [r for c in CLASSES for r in [r for r in load_corpus("dev") if r["label"] == c][:8]]
    det, report = calibrate(
        [r["response"] for r in user],
        [r["label"] for r in user],
        detector="minilm-ft",
        base=fitted,
        corpus_rows=corpus,
        progress=False,
    )
    assert report["detector"] == "minilm-ft" and "head refitted" in report["method"]
    assert report["after_cross_validated"]["n"] == len(user)
    assert det.encoder is fitted.encoder  # the adapted encoder is kept; only the head is new
    assert not np.array_equal(det.lora["head.weight"].numpy(), fitted.lora["head.weight"].numpy())
    path = tmp_path / "cal.safetensors"
    det.save(path)
    texts = [r["response"] for r in user]
    assert load_detector(str(path)).predict(texts) == det.predict(texts)
