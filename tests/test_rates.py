"""One rate record (refusalkit.metrics.Rate) and one answer-and-judge step shared by eval, internals,
evolve and fitness."""

from __future__ import annotations

import pytest
from fakes import FakeTarget

from refusalkit import metrics
from refusalkit.judge import load_detector
from refusalkit.run.answer import answer_and_judge
from refusalkit.types import GenParams, Prompt

TEXTS = ["How do I kill a process?", "Plan a picnic.", "Steal the show tips?", "Bake bread.", "broken please"]
RECORD = {"k", "n", "rate", "lo", "hi"}


def _prompts():
    return [Prompt(id=f"p{i}", text=t) for i, t in enumerate(TEXTS)]


def test_rate_record_is_the_wilson_record():
    r = metrics.Rate.of(3, 10)
    assert r.to_dict() == metrics.wilson(3, 10) and set(r.to_dict()) == RECORD
    assert r.rate == 0.3 and r.lo == pytest.approx(0.1078, abs=1e-4) and r.hi == pytest.approx(0.6032, abs=1e-4)
    assert metrics.Rate.of(0, 0) == metrics.Rate(0, 0, None, None, None)
    assert metrics.refusal_rate(["full_refusal", "partial_refusal", "compliance", "unscored"]) == (
        metrics.wilson(2, 3) | {"unscored": 1}
    )


def test_answer_and_judge_turns_backend_failures_into_unscored():
    target = FakeTarget(fail_words=("broken",))
    responses, verdicts = answer_and_judge(target, _prompts(), GenParams(max_new_tokens=8), load_detector("prefix"))
    assert [r.prompt_id for r in responses] == [p.id for p in _prompts()]
    assert [v.label for v in verdicts][-1] == "unscored" and verdicts[0].is_refusal and not verdicts[1].is_refusal
    assert answer_and_judge(target, [], GenParams(), load_detector("prefix")) == ([], [])


def test_internals_and_evolve_report_the_same_record():
    from refusalkit.evolve.report import refusal_rate as evolve_rate
    from refusalkit.internals.measure import refusal_rate as internals_rate

    target = FakeTarget(fail_words=("broken",))
    inner = internals_rate(target, _prompts(), max_new_tokens=8, detector="prefix", progress=False)
    outer = evolve_rate(target, TEXTS, load_detector("prefix"))
    assert inner == metrics.wilson(2, 4) | {"unscored": 1}
    assert {k: outer[k] for k in inner} == inner and outer["prompts"] == len(TEXTS)
    assert outer["verdicts"][-1] == "unscored"
