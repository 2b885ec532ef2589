"""Shared fixtures: a tiny random llama (fast unit tests) and the bundled model (integration tests)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_target():
    """A 2-layer random llama with the SmolLM2 tokenizer; loads in about a second once built."""
    from refusalkit.targets import load_target

    return load_target("tiny-random")


@pytest.fixture(scope="session")
def bundled_target():
    """SmolLM2-135M-Instruct from the bundled GGUF (converted once into $REFUSALKIT_HOME)."""
    from refusalkit.targets import load_target

    return load_target("smollm2-135m")
