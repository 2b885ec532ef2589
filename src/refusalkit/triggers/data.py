"""Trigger-aware training data: benign requests that keep a harmful request's harmless triggers.

For each harmful training request we want a benign twin that keeps its harmless cues (task frame,
topic words, tone) and drops the harmful intent; trained as twin -> helpful answer, it teaches the
model that those cues alone are no reason to refuse. Three sources:

- ``pairs``: the twins written into the alignment set (``trigger_benign``), plus the benign halves of
  a suite's contrast pairs when a suite is given;
- ``rewriter``: any target (local or ``openai:`` behind a server) asked, with our prompt, to rewrite
  the request into a harmless one that keeps its format and words;
- ``auto``: offline construction from the discovered cues: the prompt harm classifier finds the
  shortest word span whose removal makes the request harmless (never one overlapping a discovered
  harmless cue when another will do); the words before it, which hold the frame, are kept and the rest
  is replaced by a harmless intent from a list we wrote.

Every candidate passes the harm check (:class:`~refusalkit.harm.PromptHarmClassifier`)
before use; rejected candidates are counted and kept in the result for inspection.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field
from typing import Sequence

from ..errors import RefusalkitError
from ..types import GenParams
from .attribution import words_of
from .cues import norm

SOURCES = ("pairs", "rewriter", "auto")

REWRITE_PROMPT = (
    "Rewrite the request below so that it asks for something safe, legal and harmless, but keeps its "
    "task format and as many of its words as possible. Reply with the rewritten request only.\n\n"
    "Request: {text}"
)

# Harmless intents for the offline construction (infinitive phrases, like the frames expect).
HARMLESS_INTENTS = [
    "plan a birthday party for my friend",
    "organize my photo library",
    "water my houseplants on schedule",
    "learn the basics of watercolor painting",
    "cook a simple vegetable soup",
    "train for a 5k run",
    "set up a weekly budget",
    "build a birdhouse with my kids",
    "keep my inbox tidy",
    "teach my dog to sit",
    "write a thank-you letter to a teacher",
    "start a small herb garden",
    "prepare for a job interview",
    "clean my bicycle chain",
    "make a family recipe book",
    "decorate a classroom for spring",
    "choose a good book for a long flight",
    "fix a squeaky door hinge",
    "track my daily water intake",
    "host a board game night",
    "learn to play a song on the ukulele",
    "make a scrapbook of our holiday",
    "bake bread for a school fair",
    "back up my own laptop",
    "sort my recycling correctly",
    "plan a picnic in the park",
    "memorize the planets in order",
    "brew a good pot of tea",
    "improve my handwriting",
    "volunteer at a local library",
]


@dataclass
class TriggerData:
    source: str
    accepted: list[str]  # one per accepted candidate (a text may repeat)
    rejected: list[str]
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (harmful request, benign twin) accepted
    unusable: int = 0  # candidates that were empty or malformed before the harm check

    def summary(self) -> dict:
        return {
            "source": self.source,
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "unusable": self.unusable,
        }

    def to_dict(self) -> dict:
        return asdict(self)


def _checked(source: str, harmful: Sequence[str], candidates: Sequence[str | None], harm) -> TriggerData:
    usable = [(h, c) for h, c in zip(harmful, candidates) if c]
    check = harm.check([c for _, c in usable])
    ok = set(check.accepted)
    pairs = [(h, c) for h, c in usable if c in ok]
    rejected = [c for _, c in usable if c not in ok]
    return TriggerData(source, [c for _, c in pairs], rejected, pairs, len(harmful) - len(usable))


def from_pairs(rows: Sequence[dict], harm, suite: Sequence | None = None) -> TriggerData:
    """Twins written in the alignment set, plus benign halves of a suite's contrast pairs (train split)."""
    harmful = [r for r in rows if r["label"] == "harmful" and r.get("split", "train") == "train"]
    src = [r["text"] for r in harmful]
    cands = [r.get("trigger_benign") for r in harmful]
    if suite:
        by_pair: dict[str, dict] = {}
        for p in suite:
            if p.pair_id and p.split == "train":
                by_pair.setdefault(p.pair_id, {})[p.label] = p.text
        for pair in by_pair.values():
            if "harmful" in pair and "benign" in pair:
                src.append(pair["harmful"]), cands.append(pair["benign"])
    return _checked("pairs", src, cands, harm)


def _clean_rewrite(text: str) -> str | None:
    line = next((l.strip() for l in text.splitlines() if l.strip()), "")
    line = re.sub(r"^(rewritten request|request|rewrite)\s*:\s*", "", line, flags=re.I).strip().strip("\"“”'")
    n = len(line.split())
    return line if 3 <= n <= 60 else None


def from_rewriter(
    rewriter, harmful: Sequence[str], harm, max_new_tokens: int = 48, progress: bool = True
) -> TriggerData:
    """Ask a rewriter target (any target: local, or ``openai:`` behind a server) for harmless twins."""
    params = GenParams(max_new_tokens=max_new_tokens, batch_size=16)
    responses = rewriter.generate([REWRITE_PROMPT.format(text=t) for t in harmful], params, progress=progress)
    cands = [(_clean_rewrite(r.text) if r.ok else None) for r in responses]
    cands = [None if c and c.strip().lower() == h.strip().lower() else c for c, h in zip(cands, harmful)]
    return _checked("rewriter", harmful, cands, harm)


CONNECTORS = {"to", "me", "i"}  # words after which an infinitive intent reads naturally


def auto_twin(text: str, harm, harmless_cues: Sequence[str] = (), rng: random.Random | None = None) -> str | None:
    """Cut the request after a connector ("... to", "help me", "how do I") and give the kept prefix a
    harmless intent. Among cuts whose result passes the harm check, keep the most words of discovered
    harmless cues, then the longest prefix (it holds the frame and topic words)."""
    rng = rng or random.Random(0)
    words = [w for w, _, _ in words_of(text)]
    normed = [norm(w) for w in words]
    cue_words = set()
    for cue in harmless_cues:
        toks = cue.split()
        for i in range(len(normed) - len(toks) + 1):
            if normed[i : i + len(toks)] == toks:
                cue_words.update(range(i, i + len(toks)))
    intent = rng.choice(HARMLESS_INTENTS)
    end = "?" if text.rstrip().endswith("?") else "."
    cuts = [k for k in range(2, len(words)) if normed[k - 1] in CONNECTORS]  # keep at least two words of frame
    if not cuts:
        return None
    cands = [f"{' '.join(words[:k])} {intent}{end}" for k in cuts]
    probs = harm.harm_proba(cands)
    ok = [(len(cue_words.intersection(range(k))), k, c) for k, c, p in zip(cuts, cands, probs) if p < harm.threshold]
    return max(ok)[2] if ok else cands[-1]  # the harm check downstream rejects a failed one


def from_cues(harmful: Sequence[str], harm, cues: Sequence = (), seed: int = 0) -> TriggerData:
    """Offline construction from the discovered cues (harmless ones are protected)."""
    as_dicts = [c if isinstance(c, dict) else c.to_dict() for c in cues]
    harmless = [c["ngram"] for c in as_dicts if c.get("kind") == "harmless"]
    rng = random.Random(seed)
    return _checked("auto", harmful, [auto_twin(t, harm, harmless, rng) for t in harmful], harm)


def build(
    source: str, rows: Sequence[dict], harm, rewriter=None, cues: Sequence = (), suite=None, progress: bool = True
) -> TriggerData:
    if source not in SOURCES:
        raise RefusalkitError(f"unknown trigger source '{source}': use one of {', '.join(SOURCES)}")
    harmful = [r["text"] for r in rows if r["label"] == "harmful" and r.get("split", "train") == "train"]
    if source == "pairs":
        return from_pairs(rows, harm, suite)
    if source == "rewriter":
        if rewriter is None:
            raise RefusalkitError("the rewriter source needs a rewriter model (--rewriter)")
        return from_rewriter(rewriter, harmful, harm, progress=progress)
    return from_cues(harmful, harm, cues)
