"""Per-prompt attribution of the first-token refusal score to words and spans.

Two views of the same quantity, the refusal log-odds ``m(x) = log P_R - log(1 - P_R)`` at the first
answer position (:mod:`refusalkit.scoring`):

- **occlusion** (leave-one-out): ``m(x) - m(x without span)`` for every word and every span of up to
  ``max_n`` words; positive = the span pushes the model towards refusing. All variants of one prompt
  go through one batched forward pass.
- **gradient x input**: ``sum_d grad_e m * e`` on the input embeddings of the user-text tokens, summed
  per word (one forward and backward pass per prompt).

Words are whitespace-separated pieces of the user text; removing one keeps the rest of the request,
the chat template and the system prompt unchanged.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..scoring import DEFAULT_OPENINGS, refusal_metric, refusal_prob_from_logits, refusal_token_ids
from ..targets.base import require_whitebox

WORD = re.compile(r"\S+")


def words_of(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


def without(words: Sequence[str], start: int, end: int) -> str:
    return " ".join(list(words[:start]) + list(words[end:]))


@dataclass
class Attribution:
    text: str
    score: float  # refusal log-odds of the whole prompt
    prob: float  # P_R of the whole prompt
    words: list[str]
    occlusion: list[float]  # per word
    grad_input: list[float]  # per word
    spans: list[dict] = field(default_factory=list)  # {"span", "start", "end", "effect"} best first

    def to_dict(self) -> dict:
        return asdict(self)


def refusal_scores(target, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Refusal log-odds of each text (one batched forward pass per ``batch_size`` texts)."""
    require_whitebox(target, "refusal attribution")
    if not texts:
        return np.zeros(0)
    logits = target.next_token_logits(list(texts), batch_size=batch_size)
    p = refusal_prob_from_logits(logits, refusal_token_ids(target.tokenizer, DEFAULT_OPENINGS))
    return refusal_metric(p).numpy()


def occlusion(target, text: str, max_n: int = 3, batch_size: int = 32) -> tuple[float, list[float], list[dict]]:
    """Leave-one-out effects of words and spans: (full score, per-word effects, spans best first)."""
    words = [w for w, _, _ in words_of(text)]
    variants, keys = [text], [None]
    for n in range(1, max_n + 1):
        for i in range(0, len(words) - n + 1):
            if n == len(words):
                continue
            variants.append(without(words, i, i + n))
            keys.append((i, i + n))
    scores = refusal_scores(target, variants, batch_size)
    full = float(scores[0])
    per_word = [0.0] * len(words)
    spans = []
    for key, s in zip(keys[1:], scores[1:]):
        effect = full - float(s)
        i, j = key
        if j - i == 1:
            per_word[i] = effect
        spans.append({"span": " ".join(words[i:j]), "start": i, "end": j, "effect": round(effect, 4)})
    spans.sort(key=lambda d: -d["effect"])
    return full, per_word, spans


def grad_x_input(target, text: str) -> tuple[float, float, list[float]]:
    """Gradient x input of the refusal log-odds, per word: (score, P_R, per-word attributions)."""
    require_whitebox(target, "refusal attribution")
    tok, model = target.tokenizer, target.model
    rendered = target.render(text)
    start = rendered.rfind(text)
    enc = tok(rendered, add_special_tokens=False, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    emb = model.get_input_embeddings()(enc["input_ids"].to(target.device)).detach().requires_grad_(True)
    logits = model(inputs_embeds=emb, attention_mask=enc["attention_mask"].to(target.device)).logits[:, -1, :]
    p = refusal_prob_from_logits(logits, refusal_token_ids(tok, DEFAULT_OPENINGS))
    metric = refusal_metric(p)[0]
    (grad,) = torch.autograd.grad(metric, emb)
    per_token = (grad * emb).sum(-1)[0].detach().float().cpu().numpy()
    spans = words_of(text)
    per_word = [0.0] * len(spans)
    for t, (a, b) in enumerate(offsets):
        a, b = a - start, b - start
        if b <= 0 or a >= len(text):
            continue
        for k, (_, ws, we) in enumerate(spans):
            if a < we and b > ws:
                per_word[k] += float(per_token[t])
                break
    return float(metric.detach()), float(p.detach()[0]), per_word


def attribute(target, text: str, max_n: int = 3, batch_size: int = 32) -> Attribution:
    """Both attributions of one prompt."""
    full, occ, spans = occlusion(target, text, max_n, batch_size)
    with torch.enable_grad():
        _, prob, gxi = grad_x_input(target, text)
    return Attribution(
        text,
        round(full, 4),
        round(prob, 4),
        [w for w, _, _ in words_of(text)],
        [round(x, 4) for x in occ],
        [round(x, 4) for x in gxi],
        spans,
    )
