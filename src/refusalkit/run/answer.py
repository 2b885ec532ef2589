"""One step of the run loop: answer prompts and judge the answers.

:func:`answer_and_judge` is what every refusalkit measurement that generates answers calls (the eval loop,
the internals' refusal rates, the evolve report's rates and sampled fitness), so a backend or detector
failure turns into an unscored verdict the same way everywhere (:func:`~refusalkit.judge.judge_safely`).
"""

from __future__ import annotations

from typing import Sequence

from ..judge import judge_safely
from ..types import GenParams, Prompt, Response, Verdict


def answer_and_judge(
    target, prompts: Sequence[Prompt], params: GenParams, detector, *, should_stop=None, progress: bool = False
) -> tuple[list[Response], list[Verdict]]:
    """``target``'s answers to ``prompts`` under ``params`` and ``detector``'s verdict on each (a crashing
    detector gives ``unscored`` verdicts, never an exception). ``should_stop`` is the early-stop rule
    (:class:`~refusalkit.run.evaluate.EarlyStop`) the eval loop passes."""
    prompts = list(prompts)
    if not prompts:
        return [], []
    responses = target.generate(prompts, params, should_stop=should_stop, progress=progress)
    return responses, judge_safely(detector, responses, prompts)
