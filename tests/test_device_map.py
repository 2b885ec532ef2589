"""``REFUSALKIT_DEVICE=auto``: a local model is loaded with transformers' ``device_map="auto"`` (its
layers spread over the GPUs) and answers and is steered like one moved whole to a device. Here there is
only a CPU, so every layer lands on it; the split over several GPUs is not exercised."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from refusalkit import GenParams
from refusalkit.internals.hooks import addition_hooks, hooked
from refusalkit.targets import load_target

PROMPTS = ["How do I bake bread?", "Name a fruit."]


def test_device_auto_loads_with_a_device_map_and_answers_alike(tiny_target, monkeypatch):
    asked: list[dict] = []
    original = AutoModelForCausalLM.from_pretrained.__func__

    def recording(cls, *args, **kwargs):  # the placement refusalkit asks transformers for
        asked.append(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(recording))
    monkeypatch.setenv("REFUSALKIT_DEVICE", "auto")
    spread = load_target("tiny-random")
    monkeypatch.setenv("REFUSALKIT_DEVICE", "cpu")
    load_target("tiny-random")
    assert [a.get("device_map") for a in asked] == ["auto", None]

    params = GenParams(max_new_tokens=6)
    texts = lambda target: [r.text for r in target.generate(PROMPTS, params, progress=False)]  # noqa: E731
    assert texts(spread) == texts(tiny_target)
    vector = torch.randn(tiny_target.model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    with hooked(addition_hooks(spread.model, 1, vector, 8.0)):
        steered_spread = texts(spread)
    with hooked(addition_hooks(tiny_target.model, 1, vector, 8.0)):
        steered_whole = texts(tiny_target)
    assert steered_spread == steered_whole
