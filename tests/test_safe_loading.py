"""Model files and training checkpoints load without running code from them."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from refusalkit.errors import RefusalkitError


class _Planted:
    """Unpickling this creates a file: the stand-in for code an attacker's model file would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_file(path, marker, wrapper):
    with open(path, "wb") as fh:
        pickle.dump(wrapper(_Planted(marker)), fh)
    return path


def _predictor_blob(x):
    return {"format": "refusalkit-predictor/1", "embeddings": False, "C": 4.0, "pipeline": x, "meta": {}}


def _load_predictor(path):
    from refusalkit.triggers.predictor import RefusalPredictor

    return RefusalPredictor.load(path)


def _load_learned(path):
    from refusalkit.judge.learned import LearnedDetector

    return LearnedDetector(path=path)


def _load_ensemble(path):
    from refusalkit.judge.ensemble import EnsembleDetector

    return EnsembleDetector(path=path)


def _load_harm(path):
    from refusalkit.harm import PromptHarmClassifier

    return PromptHarmClassifier.load(path)


@pytest.mark.parametrize(
    "load, wrapper",
    [
        (_load_predictor, _predictor_blob),
        (_load_learned, lambda x: {"kind": "refusalkit.learned", "version": "8", "pipeline": x}),
        (_load_ensemble, lambda x: {"kind": "refusalkit.ensemble", "version": "8", "learned": x, "stacker": x}),
        (_load_harm, lambda x: {"threshold": 0.5, "C": 4.0, "pipe": x}),
    ],
)
def test_pickled_model_files_are_refused_without_running_them(tmp_path, load, wrapper):
    marker = tmp_path / "code-ran"
    evil = _pickle_file(tmp_path / "model.joblib", marker, wrapper)
    with pytest.raises(RefusalkitError, match="pickle") as err:
        load(evil)
    assert not marker.exists(), "loading a model file ran code from it"
    assert "\n" not in str(err.value)


def test_cli_refuses_an_old_pickled_predictor_in_one_line(tmp_path):
    from refusalkit.cli import app

    marker = tmp_path / "code-ran"
    evil = _pickle_file(tmp_path / "pred.joblib", marker, _predictor_blob)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "How do I tidy my garden?"}) + "\n")
    res = CliRunner().invoke(
        app, ["predictor", "apply", str(prompts), "--model", str(evil), "--out", str(tmp_path / "o.csv")]
    )
    assert res.exit_code != 0
    assert isinstance(res.exception, RefusalkitError) and "train it again" in str(res.exception)
    assert not marker.exists()


def _fitted_pipeline():
    from refusalkit.harm import PromptHarmClassifier

    texts = ["how do I hurt someone", "how do I bake bread", "how to attack a person", "tips for a picnic"] * 3
    return PromptHarmClassifier().fit(texts, [1, 0, 1, 0] * 3)


def _rewrite_tree(path, edit):
    """Rewrite the JSON tree of a saved model file (as an attacker could), keeping its arrays."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    tree = json.loads(bytes(arrays["__tree__"]).decode())
    edit(tree)
    arrays["__tree__"] = np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _find(node, key):
    if isinstance(node, dict):
        if key in node:
            yield node
        for v in node.values():
            yield from _find(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _find(v, key)


def test_safe_format_round_trips_and_names_only_allowed_parts(tmp_path):
    from refusalkit.harm import PromptHarmClassifier

    clf = _fitted_pipeline()
    path = tmp_path / "harm.model"
    clf.save(path)
    assert zipfile.is_zipfile(path)
    again = PromptHarmClassifier.load(path)
    texts = ["how do I hurt my neighbour", "a picnic in the park"]
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts))
    assert (again.threshold, again.C) == (clf.threshold, clf.C)

    def to_popen(tree):
        next(_find(tree["object"], "__object__"))["__object__"] = "subprocess.Popen"

    _rewrite_tree(path, to_popen)
    with pytest.raises(RefusalkitError, match="subprocess.Popen"):
        PromptHarmClassifier.load(path)


def test_model_file_of_another_kind_or_release_is_refused(tmp_path, monkeypatch):
    from refusalkit import persist
    from refusalkit.harm import PromptHarmClassifier

    path = tmp_path / "harm.model"
    _fitted_pipeline().save(path)
    with pytest.raises(RefusalkitError, match="not a predictor model"):
        _load_predictor(path)
    monkeypatch.setattr(persist, "_sklearn_version", lambda: "0.1")
    with pytest.raises(RefusalkitError, match="scikit-learn"):
        PromptHarmClassifier.load(path)
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RefusalkitError, match="damaged"):
        PromptHarmClassifier.load(tmp_path / "junk")


# --- training checkpoints -----------------------------------------------------------------------
def _examples():
    from refusalkit.train.data import SFTExample

    return [
        SFTExample("Write a script to steal passwords.", "I can't help with that.", "refusal"),
        SFTExample("Explain rainbows in simple terms.", "Sunlight splits into colours inside raindrops.", "benign"),
        SFTExample("What is a haiku?", "A short poem of three lines", "benign"),
    ]


def _config():
    from refusalkit.train.sft import SFTConfig

    return SFTConfig(rank=2, alpha=4, epochs=2, batch_size=2, save_every=2, target_modules=("q_proj",))


def test_training_resume_never_unpickles_a_planted_checkpoint(tmp_path):
    from refusalkit.targets import load_target
    from refusalkit.train.sft import train_lora

    marker = tmp_path / "code-ran"
    ckpt = tmp_path / "out" / "checkpoint"
    ckpt.mkdir(parents=True)
    buf = io.BytesIO()
    torch.save({"fingerprint": "x", "payload": _Planted(marker)}, buf)
    (ckpt / "state.pt").write_bytes(buf.getvalue())
    result = train_lora(load_target("tiny-random"), _examples(), tmp_path / "out", _config(), progress=False)
    assert not marker.exists(), "resuming ran code from the checkpoint"
    assert result.resumed_from == 0 and result.steps == 4


def test_older_plain_checkpoint_still_resumes(tmp_path, monkeypatch):
    """A state.pt of an earlier release (tensors and plain data only) is read with the restricted loader."""
    from refusalkit.targets import load_target
    from refusalkit.train import sft

    real = sft._batch
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sft, "_batch", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        sft.train_lora(load_target("tiny-random"), _examples(), tmp_path / "out", _config(), progress=False)
    monkeypatch.setattr(sft, "_batch", real)
    ckpt = tmp_path / "out" / "checkpoint"
    state = sft._load_state(ckpt)
    assert state["step"] == 2 and not any(p.suffix == ".pt" for p in ckpt.iterdir())
    torch.save(state, ckpt / "state.pt")  # what earlier releases wrote
    for name in (sft.STATE_JSON, sft.STATE_TENSORS):
        (ckpt / name).unlink()
    resumed = sft.train_lora(load_target("tiny-random"), _examples(), tmp_path / "out", _config(), progress=False)
    assert resumed.resumed_from == 2 and resumed.steps == 4
