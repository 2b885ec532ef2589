"""The evaluation loop every refusalkit command shares: generate, judge, store, summarise, report.

:func:`evaluate` runs a target over a prompt set in batches. After each batch its responses and
verdicts go into the run store in one transaction, so an interrupted run (even ``kill -9``) resumes
where it stopped when called again with the same arguments: finished prompts are skipped, answers
stored under another judge are re-judged instead of regenerated, errored answers are retried.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..judge import DEFAULT_DETECTOR, Detector, judge_safely, load_detector
from ..progress import progress_bar
from ..types import GenParams, Prompt, Response
from .store import RunStore, params_hash

# Judges for which early stop is on by default: benchmarks/eval_throughput.py found their verdicts on
# early-stopped answers equal to those on full-length answers for every prompt (48 core prompts; prefix
# by construction reads only an answer's opening). `learned` agreed on 47/48 (a late caveat), so not it.
EARLY_STOP_JUDGES = ("prefix", "pattern")


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
        return {"detector": self.detector.name, "compliance_chars": self.compliance_chars, "refusal_chars": self.refusal_chars}


def early_stop_default(detector: Detector) -> bool:
    """Whether ``eval`` stops answers early unless told: only for the judges in
    :data:`EARLY_STOP_JUDGES`, whose early-stopped verdicts agreed with full-length ones on every prompt
    of ``benchmarks/eval_throughput.py``. Others (``learned`` agreed on fewer than 99%: a caveat at the
    end of an answer turns it into a partial refusal) keep generating to ``max_new_tokens``;
    ``--early-stop`` forces it on."""
    return detector.name in EARLY_STOP_JUDGES


def partial_reader(detector: Detector) -> Detector:
    """The detector early stop runs on partial answers every few tokens: the run's own judge when it
    reads only text, else (a judge that runs a model, e.g. an LLM judge) the cheap prefix matcher."""
    from .. import judge

    if detector.name in getattr(judge, "NEEDS_TARGET", ()):
        return judge.PrefixDetector()
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
) -> dict[str, Any]:
    """Evaluate ``target`` on ``prompts`` into ``out_dir`` and return the summary.

    Writes ``run.sqlite`` (every response and verdict), ``responses.jsonl``, ``summary.json`` and, with
    ``report``, ``report.html``. ``early_stop`` is None (:func:`early_stop_default` for the judge),
    False, True (an :class:`EarlyStop` on the run's detector) or an :class:`EarlyStop`; it is part of
    the settings hash, so runs with and without it never mix. ``run_info`` is extra metadata stored in the summary (e.g. the prompt-set name).
    """
    from .. import metrics

    params = params or GenParams()
    if detector is None or isinstance(detector, str):
        detector = load_detector(detector or DEFAULT_DETECTOR)
    if early_stop is None:
        early_stop = early_stop_default(detector)
    stopper = EarlyStop(partial_reader(detector)) if early_stop is True else (early_stop or None)
    # Everything that changes an answer; batch size does not, so a resumed run may use another one.
    gen = {k: v for k, v in params.to_dict().items() if k != "batch_size"}
    settings = {"params": gen, "early_stop": stopper.settings() if stopper else None}
    phash = params_hash(settings)
    wanted = {p.id for p in prompts}
    if len(wanted) != len(prompts):
        raise ValueError("prompt ids must be unique")

    started = time.perf_counter()
    with RunStore(out_dir) as store:
        store.put_prompts(prompts)
        stored = {pid: r for pid, r in store.responses(target.id, phash).items() if pid in wanted}
        judge_id = judge_key(detector)
        judged = store.judged(target.id, phash, judge_id)
        # Answers stored without this judge's verdict are judged again; missing or errored ones generated.
        rejudge = [p for p in prompts if p.id in stored and stored[p.id].ok and p.id not in judged]
        todo = [p for p in prompts if p.id not in stored or not stored[p.id].ok]
        if rejudge:
            store.put_batch(phash, judge_id, [stored[p.id] for p in rejudge],
                            judge_safely(detector, [stored[p.id] for p in rejudge], rejudge))
        todo.sort(key=lambda p: len(p.text))  # similar lengths share a batch: less padding
        bs = max(1, params.batch_size)
        generated = 0
        with progress_bar(f"evaluating {target.id}", len(todo), progress) as advance:
            for start in range(0, len(todo), bs):
                batch = todo[start : start + bs]
                responses = target.generate(batch, params, should_stop=stopper, progress=False)
                store.put_batch(phash, judge_id, responses, judge_safely(detector, responses, batch))
                generated += len(batch)
                advance(len(batch))
        rows = [r for r in store.records(target.id, phash, judge_id) if r["prompt_id"] in wanted]
        info = {
            "target": target.id, "detector": judge_id, "params": params.to_dict(), "params_hash": phash,
            "early_stop": settings["early_stop"], "n_prompts": len(prompts), "generated_this_call": generated,
            "skipped_finished": len(prompts) - len(todo) - len(rejudge), "rejudged": len(rejudge),
            "seconds_this_call": round(time.perf_counter() - started, 2), **(run_info or {}),
        }
        store.set_meta(last_run=info)
    summary = {"run": info, "metrics": metrics.summarize(rows)}
    write_outputs(Path(out_dir), summary, rows, report=report)
    return summary


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
    from ..errors import RefusalkitError

    run_dir = Path(run_dir)
    summary_path, rows_path = run_dir / "summary.json", run_dir / "responses.jsonl"
    if not summary_path.exists() or not rows_path.exists():
        raise RefusalkitError(f"{run_dir} is not a finished run folder (needs summary.json and responses.jsonl from `refusalkit eval`)")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return summary, rows


def _plain(obj):
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return str(obj)
