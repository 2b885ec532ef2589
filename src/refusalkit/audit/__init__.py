"""Targeted-refusal audits: counterfactual suites answered by a model, ΔDP per group with corrected
intervals (:mod:`.stats`, :mod:`.core`), and the poisoning experiment that shows what they catch
(:mod:`.poison`)."""

from .core import load_suite, prescreen, run_audit
from .stats import group_stats

__all__ = ["group_stats", "load_suite", "prescreen", "run_audit"]
