"""Corpus-level refusal triggers: the n-grams whose presence raises refusal across many requests.

1. Gradient x input word attributions of every request (one forward/backward each) give each
   n-gram occurrence a score (sum over its words); n-grams seen in at least ``min_count`` requests are
   ranked by their mean score.
2. The best ``top_k`` candidates are verified by occlusion: the mean drop of the refusal log-odds when
   the n-gram is deleted from (up to ``verify`` of) the requests that contain it. A positive drop means
   its presence raises refusal.
3. Each cue is split into *harmful* or *harmless* by the prompt harm classifier (the cue's own text,
   scored alone): harmless cues are the refusal triggers that cause over-refusal.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from ..progress import progress_bar
from .attribution import grad_x_input, refusal_scores, without, words_of

_STRIP = re.compile(r"^[^\w']+|[^\w']+$")


def norm(word: str) -> str:
    return _STRIP.sub("", word.lower())


@dataclass
class Cue:
    ngram: str
    count: int  # requests containing it
    grad_input: float  # mean gradient x input over its occurrences
    occlusion: float | None  # mean drop of refusal log-odds when deleted (verified cues)
    harm_prob: float | None  # prompt harm classifier on the n-gram alone
    kind: str  # "harmful" | "harmless" | "unknown"

    def to_dict(self) -> dict:
        return asdict(self)


def _ngrams(words: Sequence[str], max_n: int):
    normed = [norm(w) for w in words]
    for n in range(1, max_n + 1):
        for i in range(len(words) - n + 1):
            gram = normed[i : i + n]
            if all(gram):
                yield " ".join(gram), i, i + n


def corpus_cues(
    target,
    texts: Sequence[str],
    harm=None,
    max_n: int = 3,
    min_count: int = 3,
    top_k: int = 30,
    verify: int = 12,
    progress: bool = True,
) -> list[Cue]:
    """Rank the n-grams of ``texts`` (e.g. the alignment set's harmful side) by how much they raise refusal."""
    per_text = []
    with torch.enable_grad(), progress_bar("attributing (grad x input)", len(texts), progress) as advance:
        for text in texts:
            per_text.append(grad_x_input(target, text)[2])
            advance(1)
    occurrences: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    scores: dict[str, list[float]] = defaultdict(list)
    for t, (text, attr) in enumerate(zip(texts, per_text)):
        words = [w for w, _, _ in words_of(text)]
        seen = set()
        for gram, i, j in _ngrams(words, max_n):
            scores[gram].append(sum(attr[i:j]))
            if gram not in seen:
                occurrences[gram].append((t, i, j))
                seen.add(gram)
    ranked = sorted(
        (g for g in occurrences if len(occurrences[g]) >= min_count), key=lambda g: -float(np.mean(scores[g]))
    )
    # Drop n-grams that add nothing beyond a better-ranked one they contain or are contained in.
    chosen: list[str] = []
    for g in ranked:
        if any(g in c or c in g for c in chosen) and len(chosen) >= top_k // 2:
            continue
        chosen.append(g)
        if len(chosen) >= top_k:
            break
    variants, owners, base_idx = [], [], []
    for c, g in enumerate(chosen):
        for t, i, j in occurrences[g][:verify]:
            words = [w for w, _, _ in words_of(texts[t])]
            variants.append(without(words, i, j))
            owners.append(c)
            base_idx.append(t)
    needed = sorted(set(base_idx))
    base_scores = dict(zip(needed, refusal_scores(target, [texts[t] for t in needed])))
    drop = defaultdict(list)
    with progress_bar("verifying cues (occlusion)", 1, progress) as advance:
        occluded = refusal_scores(target, variants)
        advance(1)
    for c, t, s in zip(owners, base_idx, occluded):
        drop[c].append(float(base_scores[t]) - float(s))
    probs = harm.harm_proba(chosen) if harm is not None and chosen else [None] * len(chosen)
    cues = []
    for c, g in enumerate(chosen):
        p = None if probs[c] is None else float(probs[c])
        kind = "unknown" if p is None else ("harmful" if p >= harm.threshold else "harmless")
        cues.append(
            Cue(
                g,
                len(occurrences[g]),
                round(float(np.mean(scores[g])), 4),
                round(float(np.mean(drop[c])), 4) if drop[c] else None,
                None if p is None else round(p, 4),
                kind,
            )
        )
    cues.sort(key=lambda c: -(c.occlusion if c.occlusion is not None else c.grad_input))
    return cues
