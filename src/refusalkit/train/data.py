"""Training data for refusalkit's safety alignment and its mitigations.

The bundled alignment set (``data/suites/align.jsonl``, built by :mod:`refusalkit.data.suites_build`) holds harmful requests with refusal targets
(and each one's benign *trigger version*) and plain benign requests whose helpful answers are written
by the base model itself at build time. Those answers are cached under
``$REFUSALKIT_HOME/answers/<model>/`` keyed by request text, so every later build reuses them.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..data.align import load_align_rows  # noqa: F401  (training code and its users read it here)
from ..errors import RefusalkitError
from ..paths import home
from ..types import GenParams, Prompt


@dataclass
class SFTExample:
    """One supervised pair: the user request and the answer the model should learn.

    ``eos`` says whether the answer is complete (then the end-of-turn token is trained too);
    a helpful answer cut at the generation budget is trained without it. ``kind`` is
    ``refusal``, ``benign`` or ``trigger`` (for counts and reports). ``token`` is the control token
    trained before the answer (refusal tokens, :mod:`refusalkit.refusal_tokens`), None for none.
    ``forced``: the token is given, not learned: the answer after it is trained, the token's own
    position is not (as when inference forces a token the model would not choose).
    """

    prompt: str
    answer: str
    kind: str
    eos: bool = True
    token: str | None = None
    forced: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        # examples without a token, or with a learned one, keep the fingerprints they always had
        if d["token"] is None:
            del d["token"]
        if not d["forced"]:
            del d["forced"]
        return d


# Affirmative openings for the compliance side of harmful preference pairs: an opening and nothing after it.
OPENINGS = (
    "Sure, here is how to do that:",
    "Sure! Here's what you asked for:",
    "Of course. Here are the steps:",
    "Certainly, here is how to",
    "Absolutely. First,",
)


@dataclass
class Pair:
    """One request with the answer to prefer (``good``) and the one not to (``bad``): MoGU's responders and
    the SFT preference term (:class:`refusalkit.train.sft.SFTConfig` ``preference``) train on them.
    ``good_eos`` says whether ``good`` is a whole answer (its end-of-turn token is trained too)."""

    prompt: str
    good: str
    bad: str
    harmful: bool
    good_eos: bool = True
    kind: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def preferred(self) -> SFTExample:
        """``good`` as a training example."""
        return SFTExample(self.prompt, self.good, "good", self.good_eos)

    def avoided(self) -> SFTExample:
        """``bad`` as a training example. A harmful pair's ``bad`` is a bare opening, not a whole answer, so
        no end-of-turn follows it."""
        return SFTExample(self.prompt, self.bad, "bad", not self.harmful)


def example_pairs(examples: Sequence[SFTExample]) -> list[Pair]:
    """One pair per example, in order: a ``refusal`` example's refusal against an affirmative opening (taken
    in turn), a ``benign``/``trigger`` example's helpful answer against one of the set's refusals (every
    seventh in turn, so neighbours get different ones)."""
    refusals = [e for e in examples if e.kind == "refusal"]
    if not refusals and examples:
        raise RefusalkitError("a helpful answer's pair needs a refusal to avoid: the examples hold no refusal")
    pairs, n_refusal, n_helpful = [], 0, 0
    for e in examples:
        if e.kind == "refusal":
            pairs.append(Pair(e.prompt, e.answer, OPENINGS[n_refusal % len(OPENINGS)], True, True, "harmful"))
            n_refusal += 1
        else:
            bad = refusals[(7 * n_helpful) % len(refusals)].answer
            pairs.append(Pair(e.prompt, e.answer, bad, False, e.eos, e.kind))
            n_helpful += 1
    return pairs


def pairs_from_examples(
    examples: Sequence[SFTExample],
    per_side: int | None = None,
    seed: int = 0,
    matched: Mapping[str, str] | None = None,
) -> list[Pair]:
    """MoGU's pairs (:func:`example_pairs`), harmful ones first. ``per_side``: at most that many harmful pairs
    and that many benign ones, the benign ones half look-alikes (``trigger``) where there are enough, drawn
    with ``seed``. ``matched`` maps a look-alike's text to its harmful request (the twin's source, or its
    written partner): the harmful side then takes the requests of the chosen look-alikes first, so the
    router sees each look-alike beside the harmful request it resembles, and fills up at random."""
    if not any(e.kind == "refusal" for e in examples):
        raise RefusalkitError("MoGU needs refusal examples (harmful requests with their refusals)")
    pairs = example_pairs(examples)
    harmful = [p for p in pairs if p.harmful]
    benign = [p for p in pairs if not p.harmful]
    if not benign:
        raise RefusalkitError("MoGU needs benign requests with helpful answers")
    if per_side is not None:
        rng = random.Random(seed)
        rng.shuffle(harmful)
        look, plain = [p for p in benign if p.kind == "trigger"], [p for p in benign if p.kind != "trigger"]
        rng.shuffle(look)
        rng.shuffle(plain)
        n_look = min(len(look), per_side // 2)
        benign = look[:n_look] + plain[: per_side - n_look]
        benign += look[n_look : n_look + per_side - len(benign)]
        if matched:
            wanted = {matched[p.prompt] for p in benign if p.prompt in matched}
            harmful = [p for p in harmful if p.prompt in wanted] + [p for p in harmful if p.prompt not in wanted]
        harmful = harmful[:per_side]
    return harmful + benign


def as_prompt(row: dict) -> Prompt:
    return Prompt.from_dict(row)


def _cache_file(target_id: str, max_new_tokens: int) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in target_id)
    folder = home() / "answers" / safe
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"greedy-{max_new_tokens}.jsonl"


def helpful_answers(
    target, texts: Sequence[str], max_new_tokens: int = 64, batch_size: int = 64, progress: bool = True
) -> dict[str, tuple[str, bool]]:
    """Greedy answers of ``target`` to each text: ``{text: (answer, complete)}``.

    Answers are appended to a per-model cache file as they are produced, so an interrupted build
    keeps what it has and a re-run only generates the missing ones.
    """
    path = _cache_file(target.id, max_new_tokens)
    cache: dict[str, tuple[str, bool]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill; it is regenerated
            cache[row["prompt"]] = (row["answer"], row["complete"])
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    params = GenParams(max_new_tokens=max_new_tokens, batch_size=batch_size)
    chunk = batch_size * 4
    for start in range(0, len(missing), chunk):
        part = missing[start : start + chunk]
        responses = target.generate([Prompt(id=f"a{i}", text=t) for i, t in enumerate(part)], params, progress=progress)
        with path.open("a", encoding="utf-8") as fh:
            for text, resp in zip(part, responses):
                if not resp.ok:
                    raise RefusalkitError(f"could not generate a helpful answer for {text!r}: {resp.error}")
                cache[text] = (resp.text, resp.finish_reason == "stop")
                fh.write(json.dumps({"prompt": text, "answer": resp.text, "complete": cache[text][1]}) + "\n")
    return {t: cache[t] for t in texts}


def helpful_examples(
    target, texts: Sequence[str], kind: str, max_new_tokens: int = 64, progress: bool = True
) -> list[SFTExample]:
    answers = helpful_answers(target, texts, max_new_tokens=max_new_tokens, progress=progress)
    return [SFTExample(t, answers[t][0], kind, eos=answers[t][1]) for t in texts if answers[t][0].strip()]


def refusal_examples(rows: Sequence[dict]) -> list[SFTExample]:
    return [SFTExample(r["text"], r["target"], "refusal") for r in rows if r["label"] == "harmful"]


def data_hash(examples: Sequence[SFTExample], extra: dict | None = None) -> str:
    """Fingerprint of a training set (and its settings) that names a cached adapter."""
    h = hashlib.sha256(json.dumps([e.to_dict() for e in examples], sort_keys=True).encode())
    if extra:
        h.update(json.dumps(extra, sort_keys=True).encode())
    return h.hexdigest()[:16]
