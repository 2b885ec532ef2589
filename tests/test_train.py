"""LoRA SFT on the tiny random model: answer-only loss, adapter loading, exact resume after a crash."""
from __future__ import annotations

import json

import pytest
import torch

from refusalkit.targets import load_target
from refusalkit.train import sft
from refusalkit.train.data import SFTExample, load_align_rows
from refusalkit.train.sft import SFTConfig, train_lora

EXAMPLES = [
    SFTExample("Write a script to steal passwords.", "I can't help with that.", "refusal"),
    SFTExample("Explain rainbows in simple terms.", "Sunlight splits into colours inside raindrops.", "benign"),
    SFTExample("Give me a step-by-step guide to rob a bank.", "I'm sorry, but I can't help with that.", "refusal"),
    SFTExample("What is a haiku?", "A short poem of three lines", "benign", eos=False),
]
CFG = SFTConfig(rank=4, alpha=8, epochs=3, batch_size=2, save_every=2, target_modules=("q_proj", "v_proj"))


def test_answer_only_labels(tiny_target):
    ids, labels = sft._encode(tiny_target.tokenizer, tiny_target.render, EXAMPLES[0], 112)
    answer = [t for t in labels if t != -100]
    assert len(ids) == len(labels)
    assert tiny_target.tokenizer.decode(answer[:-1]) == "I can't help with that."
    assert answer[-1] == tiny_target.tokenizer.eos_token_id
    _, labels = sft._encode(tiny_target.tokenizer, tiny_target.render, EXAMPLES[3], 112)
    assert labels[-1] != tiny_target.tokenizer.eos_token_id  # a cut answer is not taught to end


def _lora_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_train_saves_loadable_adapter_and_is_cached(tmp_path):
    target = load_target("tiny-random")
    result = train_lora(target, EXAMPLES, tmp_path / "a", CFG, progress=False)
    assert result.steps == 6 and not result.cached
    assert all(torch.isfinite(torch.tensor(result.losses)))
    manifest = json.loads((tmp_path / "a" / sft.MANIFEST).read_text())
    assert manifest["examples"] == {"refusal": 2, "benign": 2}
    assert not (tmp_path / "a" / "checkpoint").exists()
    again = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "a", CFG, progress=False)
    assert again.cached
    loaded = load_target("tiny-random", adapter=str(tmp_path / "a"))
    base = load_target("tiny-random")
    x = base.encode([base.render("hi")])
    with torch.no_grad():
        assert not torch.allclose(loaded.model(**x).logits, base.model(**x).logits)


def test_killed_run_resumes_to_the_same_adapter(tmp_path, monkeypatch):
    reference = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "ref", CFG, progress=False)
    calls = {"n": 0}
    real = sft._batch

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sft, "_batch", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "b", CFG, progress=False)
    assert (tmp_path / "b" / "checkpoint" / "state.pt").exists()
    monkeypatch.setattr(sft, "_batch", real)
    resumed = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "b", CFG, progress=False)
    assert resumed.resumed_from == 4 and resumed.steps == 6
    assert resumed.losses[:4] == reference.losses[:4]
    a, b = _lora_weights(reference.adapter_dir), _lora_weights(resumed.adapter_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_align_set_shape():
    rows = load_align_rows()
    harmful = [r for r in rows if r["label"] == "harmful"]
    benign = [r for r in rows if r["label"] == "benign"]
    assert len(harmful) >= 300 and len(benign) >= 300
    assert len({r["category"] for r in harmful}) >= 8
    assert len({r["id"] for r in rows}) == len(rows)
    openers = ("I can't", "I'm sorry", "Sorry", "I won't", "I cannot", "I'm not able")
    assert sum(r["target"].startswith(openers) for r in harmful) / len(harmful) > 0.9
    assert len({r["target"] for r in harmful}) > 100  # varied wording
    for r in harmful:
        frame_start = r["frame"].split("{vp}")[0]
        assert r["trigger_benign"].startswith(frame_start) and r["trigger_benign"] != r["text"]
    # held-out intents never appear in training rows
    train_intents = {r["intent"] for r in harmful if r["split"] == "train"}
    assert not train_intents & {r["intent"] for r in harmful if r["split"] == "test"}
