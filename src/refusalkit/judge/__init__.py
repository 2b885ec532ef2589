"""Refusal detectors: read a response and return a :class:`~refusalkit.types.Verdict`.

Every detector has ``name`` and ``judge(responses, prompts=None) -> list[Verdict]``; a response whose
``error`` is set is always ``unscored``. :func:`load_detector` builds one by name.
"""
from __future__ import annotations

from .base import Detector, PrefixDetector, failed_verdict, load_detector, register_detector

# The detector `eval` and the other commands use unless told otherwise.
DEFAULT_DETECTOR = "prefix"

__all__ = ["DEFAULT_DETECTOR", "Detector", "failed_verdict", "PrefixDetector", "load_detector", "register_detector"]
