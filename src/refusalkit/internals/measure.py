"""Refusal measurements shared by the internals commands: generated-answer refusal rates (judged by
refusalkit's default detector) and the first-token refusal score of :mod:`refusalkit.scoring`."""

from __future__ import annotations

from typing import Sequence

from .. import metrics
from ..judge import DEFAULT_DETECTOR, load_detector
from ..run.answer import answer_and_judge
from ..scoring import first_token_refusal_prob
from ..types import GenParams, Prompt, Response, Verdict


def answered(
    target,
    prompts: Sequence[Prompt],
    max_new_tokens: int = 32,
    detector: str = DEFAULT_DETECTOR,
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[list[Response], list[Verdict]]:
    """Greedy answers and the detector's verdicts, through the run loop's step
    (:func:`~refusalkit.run.answer.answer_and_judge`)."""
    params = GenParams(max_new_tokens=max_new_tokens, batch_size=batch_size)
    return answer_and_judge(target, prompts, params, load_detector(detector), progress=progress)


def judged(
    target,
    prompts: Sequence[Prompt],
    max_new_tokens: int = 32,
    detector: str = DEFAULT_DETECTOR,
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[list[Response], list[bool | None]]:
    """Greedy answers and, per prompt, whether the detector calls it a refusal (None = unscored)."""
    responses, verdicts = answered(target, prompts, max_new_tokens, detector, batch_size, progress)
    return responses, [None if v.label == "unscored" else v.is_refusal for v in verdicts]


def refusal_rate(
    target,
    prompts: Sequence[Prompt],
    max_new_tokens: int = 32,
    detector: str = DEFAULT_DETECTOR,
    batch_size: int = 16,
    progress: bool = True,
) -> dict:
    """Generated answers judged as refusals: the :class:`~refusalkit.metrics.Rate` record
    ``{k, n, rate, lo, hi}`` over the scored answers, plus ``unscored``."""
    _, verdicts = answered(target, prompts, max_new_tokens, detector, batch_size, progress)
    return metrics.refusal_rate(v.label for v in verdicts)


def first_token_rate(target, prompts: Sequence[Prompt], threshold: float = 0.5) -> dict:
    """Prompts whose first-token refusal probability P_R is >= ``threshold``: the
    :class:`~refusalkit.metrics.Rate` record ``{k, n, rate, lo, hi}``, plus the mean P_R (``mean_p``)."""
    if not prompts:
        return metrics.wilson(0, 0) | {"mean_p": None}
    p = first_token_refusal_prob(target, list(prompts))
    return metrics.wilson(int((p >= threshold).sum()), len(p)) | {"mean_p": float(p.mean())}
