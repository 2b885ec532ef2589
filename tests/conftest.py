"""Shared fixtures: a tiny random llama (fast unit tests) and the bundled model (integration tests)."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs two workers on two cores) each worker computes on one thread:
    two workers with two torch threads each on two cores spin against each other and run the tiny
    model's many small operations several times slower. Subprocesses the tests start inherit it.
    xdist also sets COLUMNS=80 in its workers, which rich's module-level consoles would keep as their
    width at import; unset, they read the COLUMNS each CLI test passes to its invocation."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ.pop("COLUMNS", None)
        import torch

        torch.set_num_threads(1)


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
