"""Refusal detectors: read a response and return a :class:`~refusalkit.types.Verdict`.

Every detector has ``name`` and ``judge(responses, prompts=None) -> list[Verdict]``; a response whose
``error`` is set is always ``unscored``, and so are empty and non-text responses (see
:mod:`refusalkit.judge.common`). Each detector is registered once below with what it needs (a model,
white-box access) and whether early stop is safe with it; :func:`load_detector` builds one from a
name, a ``hf:`` model id, a model folder or a saved detector file:

- ``prefix``: the common stock-phrase baseline, kept for comparison;
- ``pattern``: position-aware phrase rules with false friends handled;
- ``minilm``: frozen all-MiniLM-L6-v2 embeddings of the answer's opening and ending with a linear head
  (``refusalkit judge calibrate`` adapts it to one model; the saved ``.npz`` loads by its path);
- ``minilm-ft``: all-MiniLM-L6-v2 fine-tuned with LoRA as a three-class classifier of the answer;
- ``learned``: n-gram + hand-feature classifier fitted on refusalkit's response corpus;
- ``ensemble``: pattern + learned stacked with calibrated probabilities, plus the LLM judge and the
  first-token score when given ``target=``;
- ``first-token``: white-box refusal probability at the first answer token (needs ``target=`` and prompts);
- ``refusal-token``: the refusal token forced before the answer, for models trained with refusal
  tokens (:mod:`refusalkit.refusal_tokens`); reads no text;
- ``llm``: a rubric-driven LLM judge through any target (needs ``target=``);
- ``wildguard``: the WildGuard safety classifier through any target, in its own input format;
- ``hf:ORG/NAME`` (or a local folder): a Hugging Face sequence-classification refusal classifier.
"""

from __future__ import annotations

from .base import (
    TARGET_OPTIONAL,
    TARGET_REQUIRED,
    Detector,
    DetectorSpec,
    PrefixDetector,
    detector_help,
    detector_spec,
    detector_specs,
    judge_safely,
    load_detector,
    register_detector,
    resolve_detector,
)
from .common import CLASSES, failed_verdict, precheck


def _lazy(module: str, cls: str):
    def factory(**kwargs):
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(**kwargs)

    return factory


# Early stop is declared safe only where benchmarks/eval_throughput.py found the verdicts on
# early-stopped answers equal to those on full-length answers for every prompt (48 core prompts;
# prefix by construction reads only an answer's opening). `learned` agreed on 47/48 (a late caveat).
register_detector("pattern", _lazy("pattern", "PatternDetector"), help="position-aware phrase rules", early_stop=True)
register_detector(
    "learned",
    _lazy("learned", "LearnedDetector"),
    help="n-gram classifier fitted on refusalkit's corpus",
    file_kind="refusalkit.learned",
)
register_detector(
    "minilm",
    _lazy("minilm", "factory"),
    help="frozen MiniLM sentence embeddings + pattern features, linear head",
    file_kind="refusalkit.minilm",
)
register_detector(
    "minilm-ft",
    _lazy("finetuned", "factory"),
    help="all-MiniLM-L6-v2 fine-tuned (LoRA) as a refusal classifier",
    file_kind="refusalkit.minilm-ft",
)
register_detector(
    "ensemble",
    _lazy("ensemble", "EnsembleDetector"),
    help="pattern + learned stacked (+ llm judge with --model)",
    target=TARGET_OPTIONAL,
    file_kind="refusalkit.ensemble",
)
register_detector(
    "first-token",
    _lazy("first_token", "FirstTokenDetector"),
    help="refusal probability at the first answer token",
    target=TARGET_REQUIRED,
    whitebox=True,
    needs_prompts=True,
)
register_detector(
    "refusal-token",
    _lazy("refusal_token", "RefusalTokenDetector"),
    help="the refusal token forced before the answer (models trained with --refusal-tokens)",
)
register_detector("llm", _lazy("llm", "LLMJudge"), help="rubric-driven LLM judge", target=TARGET_REQUIRED)
register_detector(
    "wildguard",
    _lazy("wildguard", "WildGuardDetector"),
    help="WildGuard classifier served by any target",
    target=TARGET_REQUIRED,
    own_model=True,
    needs_prompts=True,
)
register_detector(
    "hf:",
    _lazy("hf_classifier", "HFClassifierDetector"),
    help="Hugging Face sequence-classification refusal classifier",
    scheme=True,
    folders=True,
    options=("label_map", "read_prompt"),
)

# The detector `eval` and the other commands use unless told otherwise. `minilm-ft` (a fine-tuned
# sentence encoder) was measured against it on real answers of the bundled model that no detector was
# chosen on: it made more errors on the blind split (8 vs 6 of 210) and, on the study's base-model
# answers, called careful but compliant openings ("It's essential to approach this with empathy")
# refusals, raising the base model's harmful refusal rate from 12.7% to 23.8%. So the n-gram
# classifier stays the default (figures and reasons in docs/detector.md).
DEFAULT_DETECTOR = "learned"

__all__ = [
    "CLASSES",
    "DEFAULT_DETECTOR",
    "Detector",
    "DetectorSpec",
    "PrefixDetector",
    "detector_help",
    "detector_spec",
    "detector_specs",
    "failed_verdict",
    "judge_safely",
    "load_detector",
    "precheck",
    "register_detector",
    "resolve_detector",
]
