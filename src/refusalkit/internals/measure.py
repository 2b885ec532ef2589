"""Refusal measurements shared by the internals commands: generated-answer refusal rates (judged by
refusalkit's default detector) and the first-token refusal score of :mod:`refusalkit.scoring`."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..judge import DEFAULT_DETECTOR, judge_safely, load_detector
from ..scoring import first_token_refusal_prob
from ..types import GenParams, Prompt, Response


def judged(target, prompts: Sequence[Prompt], max_new_tokens: int = 32, detector: str = DEFAULT_DETECTOR,
           batch_size: int = 16, progress: bool = True) -> tuple[list[Response], list[bool | None]]:
    """Greedy answers and, per prompt, whether the detector calls it a refusal (None = unscored)."""
    responses = target.generate(list(prompts), GenParams(max_new_tokens=max_new_tokens, batch_size=batch_size), progress=progress)
    verdicts = judge_safely(load_detector(detector), responses, list(prompts))
    return responses, [None if v.label == "unscored" else v.is_refusal for v in verdicts]


def refusal_rate(target, prompts: Sequence[Prompt], max_new_tokens: int = 32, detector: str = DEFAULT_DETECTOR,
                 batch_size: int = 16, progress: bool = True) -> dict:
    """{"rate", "n", "unscored"} of generated answers judged as refusals (unscored rows excluded)."""
    if not prompts:
        return {"rate": None, "n": 0, "unscored": 0}
    _, refused = judged(target, prompts, max_new_tokens, detector, batch_size, progress)
    scored = [r for r in refused if r is not None]
    return {"rate": float(np.mean(scored)) if scored else None, "n": len(scored), "unscored": len(refused) - len(scored)}


def first_token_rate(target, prompts: Sequence[Prompt], threshold: float = 0.5) -> dict:
    """Share of prompts whose first-token refusal probability P_R is ≥ ``threshold``, and mean P_R."""
    if not prompts:
        return {"rate": None, "mean_p": None, "n": 0}
    p = first_token_refusal_prob(target, list(prompts))
    return {"rate": float((p >= threshold).mean()), "mean_p": float(p.mean()), "n": len(p)}
