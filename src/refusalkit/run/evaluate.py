"""The evaluation loop every refusalkit command shares: generate, judge, store, summarise, report.

:func:`evaluate` runs a target over a prompt set in batches. After each batch its responses and
verdicts go into the run store in one transaction, so an interrupted run (even ``kill -9``) resumes
where it stopped when called again with the same arguments: finished prompts are skipped, answers
stored under another judge are re-judged instead of regenerated, errored answers are retried.

A stored answer is reused only for the same prompt content: the same settings hash and the same
:func:`~refusalkit.run.store.content_hash` (prompt text and system prompt). A prompt whose text
changed under a known id (an edited row, or rows renumbered by an insertion in a file without an id
column) is answered again; the summary counts those apart.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import RefusalkitError
from ..judge import DEFAULT_DETECTOR, Detector, detector_spec, judge_safely, load_detector
from ..progress import progress_bar
from ..types import GenParams, Prompt, Response
from .answer import answer_and_judge
from .store import RunStore, content_hash, params_hash


@dataclass
class EarlyStop:
    """Stop generating an answer once its verdict is settled.

    Every 4 tokens the detector reads each partial answer. A ``full_refusal`` verdict stops the row
    once the answer has ``refusal_chars`` characters (a refusal opening; shorter openings such as
    "I'm sorry for" can still turn into an answer); a ``compliance`` verdict stops it once the answer
    has ``compliance_chars``. A ``partial_refusal`` never stops a row: an answer with a caveat is only
    known at its end. Both lengths are our choice, checked by ``benchmarks/eval_throughput.py``
    against full-length answers.
    """

    detector: Detector
    compliance_chars: int = 160
    refusal_chars: int = 32

    def __call__(self, texts: list[str]) -> list[bool]:
        verdicts = judge_safely(self.detector, [Response("", t, "") for t in texts], None)
        return [
            (v.label == "full_refusal" and len(t.strip()) >= self.refusal_chars)
            or (v.label == "compliance" and len(t.strip()) >= self.compliance_chars)
            for t, v in zip(texts, verdicts)
        ]

    def settings(self) -> dict[str, Any]:
        return {
            "detector": self.detector.name,
            "compliance_chars": self.compliance_chars,
            "refusal_chars": self.refusal_chars,
        }


def early_stop_default(detector: Detector) -> bool:
    """Whether ``eval`` stops answers early unless told: only for detectors registered with
    ``early_stop=True`` (see :mod:`refusalkit.judge`), whose early-stopped verdicts agreed with
    full-length ones on every prompt of ``benchmarks/eval_throughput.py``. Others (``learned`` agreed on
    fewer than 99%: a caveat at the end of an answer turns it into a partial refusal) and unregistered
    detectors keep generating to ``max_new_tokens``; ``--early-stop`` forces it on."""
    spec = detector_spec(detector)
    return bool(spec and spec.early_stop)


def partial_reader(detector: Detector) -> Detector:
    """The detector early stop runs on partial answers every few tokens: the run's own judge when it
    reads only text, else (a judge that runs a model, as its registration declares: an LLM judge,
    WildGuard, the ensemble given a model) the cheap prefix matcher."""
    from ..judge import PrefixDetector

    spec = detector_spec(detector)
    if spec is not None and (
        spec.needs_target or (spec.takes_target and getattr(detector, "target", None) is not None)
    ):
        return PrefixDetector()
    return detector


def judge_key(detector: Detector) -> str:
    """The name verdicts are stored under: the detector's name, plus its ``version`` when it has one
    (the learned detector's names its corpus and code), so a retrained detector re-judges stored
    answers instead of reusing verdicts of its older self."""
    version = getattr(detector, "version", None)
    return f"{detector.name}@{version}" if version else detector.name


def evaluate(
    target,
    prompts: Sequence[Prompt],
    params: GenParams | None = None,
    detector: Detector | str | None = None,
    out_dir: str | Path = "runs/eval",
    *,
    early_stop: bool | EarlyStop | None = None,
    progress: bool = True,
    report: bool = True,
    run_info: dict[str, Any] | None = None,
    store_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate ``target`` on ``prompts`` into ``out_dir`` and return the summary.

    Writes ``run.sqlite`` (every response and verdict), ``responses.jsonl``, ``summary.json`` and, with
    ``report``, ``report.html``. ``store_dir`` keeps ``run.sqlite`` in another folder (default
    ``out_dir``): several configurations of one prompt set (e.g. a system-prompt sweep) share one
    store, each under its own settings hash, and write their outputs to folders of their own. ``early_stop`` is None (:func:`early_stop_default` for the judge),
    False, True (an :class:`EarlyStop` on the run's detector) or an :class:`EarlyStop`; it is part of
    the settings hash, so runs with and without it never mix. ``run_info`` is extra metadata stored in the summary (e.g. the prompt-set name).
    """
    from .. import metrics

    params = params or GenParams()
    if detector is None or isinstance(detector, str):
        from ..errors import RefusalkitError
        from ..judge import resolve_detector

        spec, _ = resolve_detector(detector or DEFAULT_DETECTOR)
        if spec.needs_target:  # built from a name it would have no model and leave every answer unscored
            raise RefusalkitError(
                f"the {spec.name} detector reads a model: pass load_detector('{detector}', target=...) instead of its name"
            )
        detector = load_detector(detector or DEFAULT_DETECTOR)
    if early_stop is None:
        early_stop = early_stop_default(detector)
    stopper = EarlyStop(partial_reader(detector)) if early_stop is True else (early_stop or None)
    # Everything that changes an answer; batch size does not, so a resumed run may use another one.
    gen = {k: v for k, v in params.to_dict().items() if k != "batch_size"}
    settings = {"params": gen, "early_stop": stopper.settings() if stopper else None}
    phash = params_hash(settings)
    if len({p.id for p in prompts}) != len(prompts):
        raise ValueError("prompt ids must be unique")

    hashes = {p.id: content_hash(p.text, params.system_prompt) for p in prompts}

    started = time.perf_counter()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with RunStore(store_dir or out_dir) as store:
        store.put_prompts(prompts)
        stored = store.responses(target.id, phash)
        # A stored answer counts only for the prompt content it was made for; rows without a hash
        # (stores from before content hashes) are never reused.
        same = {p.id: stored[p.id][0] for p in prompts if p.id in stored and stored[p.id][1] == hashes[p.id]}
        changed = sum(p.id in stored and stored[p.id][1] not in (None, hashes[p.id]) for p in prompts)
        unverified = sum(p.id in stored and stored[p.id][1] is None for p in prompts)
        judge_id = judge_key(detector)
        judged = store.judged(target.id, phash, judge_id)
        # Answers stored without this judge's verdict are judged again; missing or errored ones generated.
        rejudge = [p for p in prompts if p.id in same and same[p.id].ok and p.id not in judged]
        todo = [p for p in prompts if p.id not in same or not same[p.id].ok]
        if rejudge:
            store.put_verdicts(
                phash,
                judge_id,
                [same[p.id] for p in rejudge],
                judge_safely(detector, [same[p.id] for p in rejudge], rejudge),
            )
        todo.sort(key=lambda p: len(p.text))  # similar lengths share a batch: less padding
        bs = max(1, params.batch_size)
        generated = 0
        with progress_bar(f"evaluating {target.id}", len(todo), progress) as advance:
            for start in range(0, len(todo), bs):
                batch = todo[start : start + bs]
                responses, verdicts = answer_and_judge(target, batch, params, detector, should_stop=stopper)
                store.put_batch(phash, judge_id, responses, verdicts, [hashes[p.id] for p in batch])
                generated += len(batch)
                advance(len(batch))
        rows = [r for r in store.records(target.id, phash, judge_id) if r["prompt_id"] in hashes]
        # Every row pairs a prompt with the answer made for that very content: checked, not assumed.
        rows = [r for r in rows if r.pop("content_hash") == hashes[r["prompt_id"]]]
        if len(rows) != len(prompts):
            raise RefusalkitError(
                f"{out_dir}: {len(prompts) - len(rows)} prompts have no answer for their current text in the run store "
                "(did another process write to this folder at the same time?); run the command again"
            )
        info = {
            "target": target.id,
            "detector": judge_id,
            "params": params.to_dict(),
            "params_hash": phash,
            "early_stop": settings["early_stop"],
            "n_prompts": len(prompts),
            "generated_this_call": generated,
            "skipped_finished": len(prompts) - len(todo) - len(rejudge),
            "rejudged": len(rejudge),
            "reused_answers": len(prompts) - len(todo),
            "reanswered_changed": changed,
            "reanswered_unverified": unverified,
            "unscored_reasons": unscored_reasons(rows),
            "seconds_this_call": round(time.perf_counter() - started, 2),
            **(run_info or {}),
        }
        if hasattr(target, "endpoint_stats"):  # an HTTP target: requests, failures, cool-downs per endpoint
            info["endpoints"] = target.endpoint_stats()
        store.set_meta(last_run=info)
    summary = {"run": info, "metrics": metrics.summarize(rows)}
    write_outputs(Path(out_dir), summary, rows, report=report)
    return summary


# The share of unscored rows above which `eval` warns unless told otherwise (--max-unscored).
DEFAULT_MAX_UNSCORED = 0.1


def unscored_reasons(rows: Sequence[dict[str, Any]], top: int = 5) -> dict[str, int]:
    """The most common reasons rows are unscored (the generation error, else the judge's evidence)."""
    from collections import Counter

    reasons = Counter(
        (r.get("error") or r.get("evidence") or "unknown")[:200] for r in rows if r["verdict"] == "unscored"
    )
    return dict(reasons.most_common(top))


def check_unscored(
    n: int, unscored: int, reasons: dict[str, int], max_unscored: float = DEFAULT_MAX_UNSCORED, what: str = "prompts"
) -> str | None:
    """Fail closed on a run that measured nothing, and warn on one that measured too little.

    Every one of ``n`` rows unscored (every request failed, or the judge failed on every answer) raises
    :class:`RefusalkitError`: rates of zero rows are no result. Otherwise a share of unscored rows
    above ``max_unscored`` returns a warning line (the rates stand, on fewer rows); else None."""
    reason = f" (most common: {next(iter(reasons))})" if reasons else ""
    if n and unscored == n:
        raise RefusalkitError(f"every one of the {n} {what} is unscored{reason}; nothing was measured")
    if n and unscored / n > max_unscored:
        return (
            f"{unscored} of {n} {what} ({100 * unscored / n:.0f}%) are unscored, above --max-unscored "
            f"{max_unscored:g}{reason}; the rates cover only the scored rows"
        )
    return None


def write_outputs(out_dir: Path, summary: dict[str, Any], rows: list[dict[str, Any]], report: bool = True) -> None:
    """``responses.jsonl``, ``summary.json`` and (optionally) ``report.html`` of one run."""
    with (out_dir / "responses.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=_plain), encoding="utf-8")
    if report:
        from ..report import render_run

        (out_dir / "report.html").write_text(render_run(summary, rows), encoding="utf-8")


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The summary and rows of a finished run folder (what ``compare`` and the report read)."""
    from ..tables import read_rows

    run_dir = Path(run_dir)
    summary_path, rows_path = run_dir / "summary.json", run_dir / "responses.jsonl"
    if not summary_path.exists() or not rows_path.exists():
        raise RefusalkitError(
            f"{run_dir} is not a finished run folder (needs summary.json and responses.jsonl from `refusalkit eval`)"
        )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    rows = [row for _, row in read_rows(rows_path)[1]]
    return summary, rows


def _plain(obj):
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return str(obj)
