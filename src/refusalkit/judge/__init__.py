"""Refusal detectors: read a response and return a :class:`~refusalkit.types.Verdict`.

Every detector has ``name`` and ``judge(responses, prompts=None) -> list[Verdict]``; a response whose
``error`` is set is always ``unscored``, and so are empty and non-text responses (see
:mod:`refusalkit.judge.common`). :func:`load_detector` builds one by name:

- ``prefix``: the common stock-phrase baseline, kept for comparison;
- ``pattern``: position-aware phrase rules with false friends handled;
- ``learned`` (default): n-gram + hand-feature classifier fitted on refusalkit's response corpus;
- ``ensemble``: pattern + learned stacked with calibrated probabilities, plus the LLM judge and the
  first-token score when given ``target=``;
- ``first-token``: white-box refusal probability at the first answer token (needs ``target=`` and prompts);
- ``llm``: a rubric-driven LLM judge through any target (needs ``target=``).
"""
from __future__ import annotations

from .base import Detector, PrefixDetector, failed_verdict, judge_safely, load_detector, register_detector
from .common import CLASSES, precheck


def _lazy(module: str, cls: str):
    def factory(**kwargs):
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(**kwargs)

    return factory


register_detector("pattern", _lazy("pattern", "PatternDetector"))
register_detector("learned", _lazy("learned", "LearnedDetector"))
register_detector("ensemble", _lazy("ensemble", "EnsembleDetector"))
register_detector("first-token", _lazy("first_token", "FirstTokenDetector"))
register_detector("llm", _lazy("llm", "LLMJudge"))

# Detectors that read a model (they take target=); the others read only the response text.
NEEDS_TARGET = ("first-token", "llm")

# The detector `eval` and the other commands use unless told otherwise. On the corpus's held-out dev
# split the learned classifier has the best macro-F1, and the best binary accuracy and macro-F1 on its
# hand-written answers (the closest to real model output); the ensemble is within a few thousandths
# and a little slower (benchmarks/judge_quality.py; figures in docs/results/detectors.md).
DEFAULT_DETECTOR = "learned"

__all__ = [
    "CLASSES", "DEFAULT_DETECTOR", "Detector", "NEEDS_TARGET", "failed_verdict", "judge_safely", "PrefixDetector", "load_detector",
    "precheck", "register_detector",
]
