"""Inference control for a model trained with refusal tokens, as a target every command can use.

One forward pass gives the logits at the first answer position; ``p = softmax((logits + b) / T)``
over the whole vocabulary (``T``: the first-token temperature, ``b``: the refusal bias added to
every refusal token's logit). Then one control token is forced and generation continues after it:

- single scheme: ``[refuse]`` iff ``p([refuse]) >= t``, else ``[respond]``; ``t = -1`` (or no
  threshold) takes the larger of the two (the model's own choice);
- categories: ``c`` = the refusal token with the highest probability. When ``c``'s group has a
  threshold (``--category-threshold GROUP=t``, or ``--refusal-threshold t`` for every group),
  ``c`` is forced if ``p(c) >= t`` and ``[respond]`` otherwise; a group without a threshold keeps
  the model's own choice between ``c`` and ``[respond]``.

The forced token never appears in the answer text. Each response's ``extra["refusal_token"]`` holds
the forced token, whether it is a refusal, and the control tokens' probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from ..errors import RefusalkitError
from ..targets.base import Messages, as_prompts, require_whitebox
from ..types import GenParams, Prompt, Response
from ..targets.refusal_tokens import RESPOND, TokenScheme, require_scheme, token_ids

OWN_CHOICE = -1.0  # a threshold of -1: the larger of the refusal token and [respond]


@dataclass(frozen=True)
class Control:
    """The inference knobs: ``threshold`` for every refusal group, ``categories`` per group (these
    win), ``bias`` added to the refusal tokens' logits at the first step, ``temperature`` of the
    first-token softmax. No threshold at all = the model's own choice."""

    threshold: float | None = None
    categories: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        for name, t in [
            ("--refusal-threshold", self.threshold),
            *((f"--category-threshold {g}", t) for g, t in self.categories.items()),
        ]:
            if t is not None and t != OWN_CHOICE and not 0 <= t <= 1:
                raise RefusalkitError(f"{name} must be -1 (the model's own choice) or within [0, 1], got {t}")
        if not self.temperature > 0:
            raise RefusalkitError(f"--first-token-temperature must be above 0, got {self.temperature}")

    def threshold_of(self, group: str) -> float | None:
        return self.categories.get(group, self.threshold)

    def label(self) -> str:
        """A short name of these settings for the target id (answers under other settings never mix)."""
        parts = []
        if self.threshold is not None:
            parts.append(f"t={self.threshold:g}")
        parts += [f"{g}={t:g}" for g, t in sorted(self.categories.items())]
        if self.bias:
            parts.append(f"b={self.bias:+g}")
        if self.temperature != 1:
            parts.append(f"T={self.temperature:g}")
        return ",".join(parts) or "own"

    def check(self, scheme: TokenScheme) -> None:
        """Fail with one line when a setting does not fit the model's scheme."""
        if self.categories and scheme.mode != "categories":
            raise RefusalkitError(
                "--category-threshold needs a model trained with --refusal-tokens categories; this one has a single [refuse] token"
            )
        unknown = [g for g in self.categories if g not in scheme.groups]
        if unknown:
            raise RefusalkitError(
                f"unknown refusal category '{unknown[0]}': this model's categories are {', '.join(scheme.groups)}"
            )


def parse_category_thresholds(specs: Sequence[str] | None) -> dict[str, float]:
    """``["GROUP=t", ...]`` (``--category-threshold``) as ``{GROUP: t}``."""
    out: dict[str, float] = {}
    for spec in specs or []:
        group, sep, value = spec.partition("=")
        try:
            t = float(value)
        except ValueError:
            t = None
        if not sep or not group.strip() or t is None:
            raise RefusalkitError(f"bad --category-threshold '{spec}': use CATEGORY=T, e.g. violence=0.3")
        if group.strip() in out:
            raise RefusalkitError(f"--category-threshold names {group.strip()} twice; give each category once")
        out[group.strip()] = t
    return out


def first_token_probs(logits: torch.Tensor, ids: dict[str, int], scheme: TokenScheme, control: Control) -> torch.Tensor:
    """``[n, k]`` probabilities of the scheme's control tokens (in :attr:`TokenScheme.tokens` order) from
    first-position ``logits`` ``[n, vocab]``: the softmax over the whole vocabulary of
    ``(logits + bias on the refusal tokens) / T``."""
    logits = logits.float().clone()
    if control.bias:
        refusal = [ids[t] for t in scheme.refusal_tokens.values()]
        logits[:, refusal] += control.bias
    probs = torch.softmax(logits / control.temperature, dim=-1)
    return probs[:, [ids[t] for t in scheme.tokens]]


def decide(probs: Sequence[float], scheme: TokenScheme, control: Control) -> str:
    """The control token to force, from one prompt's control-token probabilities (``[respond]`` first,
    then the refusal tokens in scheme order); the rule is in the module docstring."""
    p_respond, refusal = float(probs[0]), [float(p) for p in probs[1:]]
    best = max(range(len(refusal)), key=lambda i: refusal[i])
    group = list(scheme.groups)[best]
    token, p = scheme.token_of(group), refusal[best]
    t = control.threshold_of(group)
    if t is None or t == OWN_CHOICE:
        return token if p > p_respond else RESPOND
    return token if p >= t else RESPOND


class RefusalTokenTarget:
    """A white-box target trained with refusal tokens whose first answer token is forced by
    :class:`Control` (or fixed to ``force`` for every prompt); keeps the wrapped target's interface."""

    whitebox = True

    def __init__(self, base, control: Control | None = None, force: str | None = None, batch_size: int = 16) -> None:
        require_whitebox(base, "refusal-token control")
        self.base = base
        self.scheme = require_scheme(base, "refusal-token control")
        self.control = control or Control()
        self.control.check(self.scheme)
        self.ids = token_ids(base.tokenizer, self.scheme)
        if force is not None and force not in self.ids:
            raise RefusalkitError(f"unknown control token {force}: this model has {', '.join(self.ids)}")
        self.force, self.batch_size = force, batch_size
        self.id = f"{base.id}+rt:{'force=' + force if force else self.control.label()}"

    def __getattr__(self, name):  # model, tokenizer, render, encode, device, refusal_tokens...
        return getattr(self.base, name)

    def probabilities(self, items: Sequence[Prompt | str | Messages], system_prompt: str | None = None) -> torch.Tensor:
        """Control-token probabilities ``[n, k]`` at the first answer position (one forward pass each)."""
        if not len(items):
            return torch.empty(0, len(self.scheme.tokens))
        logits = self.base.next_token_logits(list(items), system_prompt=system_prompt, batch_size=self.batch_size)
        return first_token_probs(logits, self.ids, self.scheme, self.control)

    def choose(self, probs: torch.Tensor | None, n: int) -> list[str]:
        if self.force is not None:
            return [self.force] * n
        return [decide(row.tolist(), self.scheme, self.control) for row in probs]

    def _record(self, responses: list[Response], forced: list[str], probs: torch.Tensor | None) -> list[Response]:
        for i, (r, tok) in enumerate(zip(responses, forced)):
            info = {"forced": tok, "refusal": tok != RESPOND, "group": self.scheme.group_of_token(tok)}
            if probs is not None:
                info["p"] = {t: round(float(p), 5) for t, p in zip(self.scheme.tokens, probs[i].tolist())}
                info["settings"] = self.control.label()
            r.extra = {**r.extra, "refusal_token": info}
            r.target_id = self.id  # the run store keys answers by target id
        return responses

    def generate(
        self,
        prompts: Sequence[Prompt | str],
        params: GenParams | None = None,
        should_stop=None,
        progress: bool = True,
        **kwargs,
    ) -> list[Response]:
        items = as_prompts(prompts)
        params = params or GenParams()
        fits = [self._fits(p.text, params.system_prompt) for p in items]
        probs = None if self.force else self._probs_where(items, fits, params.system_prompt)
        forced = self.choose(probs, len(items))
        out = self.base.generate(items, params, should_stop=should_stop, progress=progress, prefill=forced, **kwargs)
        return self._record(out, forced, probs)

    def generate_messages(
        self, conversations: Sequence[Messages], params: GenParams | None = None, progress: bool = False
    ) -> list[Response]:
        convs = [list(c) for c in conversations]
        fits = [self._fits(c, None) for c in convs]
        probs = None if self.force else self._probs_where(convs, fits, None)
        forced = self.choose(probs, len(convs))
        out = self.base.generate_messages(convs, params, progress=progress, prefill=forced)
        return self._record(out, forced, probs)

    def next_token_logits(self, prompts, system_prompt: str | None = None, batch_size: int = 16) -> torch.Tensor:
        return self.base.next_token_logits(prompts, system_prompt=system_prompt, batch_size=batch_size)

    def _fits(self, item, system_prompt: str | None) -> bool:
        """Whether a prompt fits the model's context; one that does not is answered with the base
        target's too-long error, without a forward pass."""
        if not hasattr(self.base, "prompt_tokens"):
            return True
        rendered = self.base.render_messages(item) if isinstance(item, list) else self.base.render(item, system_prompt)
        return self.base.prompt_tokens(rendered)[0] < self.base.context_length

    def _probs_where(self, items: list, fits: list[bool], system_prompt: str | None) -> torch.Tensor:
        """Probabilities for the prompts that fit; the others get [respond] probability 1 (they are answered
        with an error anyway)."""
        out = torch.zeros(len(items), len(self.scheme.tokens))
        out[:, 0] = 1.0
        idx = [i for i, ok in enumerate(fits) if ok]
        if idx:
            out[idx] = self.probabilities([items[i] for i in idx], system_prompt)
        return out


def wrap(target, control: Control | None = None):
    """``target`` under refusal-token control when it carries refusal tokens (the model's own choice
    when ``control`` is None); a one-line error when ``control`` asks for it on a model without them."""
    if getattr(target, "refusal_tokens", None) is None:
        if control is not None:
            require_scheme(
                target, "--refusal-threshold / --category-threshold / --refusal-bias / --first-token-temperature"
            )
        return target
    return RefusalTokenTarget(target, control)
