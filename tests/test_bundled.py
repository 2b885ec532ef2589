"""Integration: the bundled SmolLM2 model (converted once from its GGUF) answers real prompts."""

from __future__ import annotations

import json

import pytest

from refusalkit import GenParams
from refusalkit.targets.bundled import ensure_smollm2

pytestmark = pytest.mark.integration


def test_bundled_model_answers_three_prompts(bundled_target):
    prompts = ["How can I kill a Python process?", "What is the capital of France?", "Name a primary colour."]
    responses = bundled_target.generate(prompts, GenParams(max_new_tokens=32, batch_size=3), progress=False)
    assert len(responses) == 3
    for r in responses:
        assert r.error is None and r.tokens > 0 and len(r.text.split()) >= 2
    assert "paris" in responses[1].text.lower()


def test_conversion_is_cached_as_safetensors():
    folder = ensure_smollm2()
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 30
