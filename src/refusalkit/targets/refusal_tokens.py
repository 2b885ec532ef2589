"""Refusal tokens, the part a model carries: the scheme, the tokens in its vocabulary, the adapter metadata.

Refusal tokens put a special token before every trained answer, so the refusal decision becomes a knob.

Training (``refusalkit align --refusal-tokens single|categories``) prefixes each assistant answer with
one control token: ``[refuse]`` before refusals and ``[respond]`` before other answers, or, with
``categories``, one ``[refuse:GROUP]`` token per group of harm categories (the grouping is data:
``data/refusal_categories.json``). The tokens are special tokens of the tokenizer; their embedding
rows (and, through tied weights, their output rows) are trained with the LoRA.

The adapter folder keeps the tokenizer and ``refusal-tokens.json`` (the scheme and the token ids);
:func:`restore` puts both back whenever the adapter is loaded (``--adapter``, the study's adapters).
At inference :class:`~refusalkit.refusal_tokens.target.RefusalTokenTarget` reads the tokens'
probabilities at the first answer position and forces one of them (see that module for the rule);
:mod:`refusalkit.refusal_tokens` holds that control and the threshold sweep. This module sits with the
targets because loading a model (:class:`~refusalkit.targets.hf.HFTarget`) restores the tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Sequence

import torch

from ..errors import RefusalkitError

RESPOND = "[respond]"
REFUSE = "[refuse]"
MODES = ("single", "categories")
META = "refusal-tokens.json"
SINGLE_GROUP = "refuse"  # the one refusal group of the single-token scheme


def category_groups() -> dict:
    """The bundled grouping of harm categories into refusal-category tokens (``data/refusal_categories.json``)."""
    return json.loads(resources.files("refusalkit.data").joinpath("refusal_categories.json").read_text("utf-8"))


@dataclass(frozen=True)
class TokenScheme:
    """Which control tokens a model is trained with. ``groups`` maps each refusal group to the harm
    categories it covers (the single scheme has one group, ``refuse``, covering every category);
    ``fallback`` is the group of a harmful request whose category no group lists."""

    mode: str
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fallback: str = SINGLE_GROUP

    @classmethod
    def build(cls, mode: str) -> "TokenScheme":
        if mode not in MODES:
            raise RefusalkitError(f"unknown --refusal-tokens '{mode}': use one of {', '.join(MODES)}")
        if mode == "single":
            return cls("single", {SINGLE_GROUP: ()}, SINGLE_GROUP)
        data = category_groups()
        groups = {g: tuple(cats) for g, cats in data["groups"].items()}
        if data["fallback"] not in groups:
            raise RefusalkitError(f"refusal_categories.json: fallback '{data['fallback']}' is not a group")
        return cls("categories", groups, data["fallback"])

    def token_of(self, group: str) -> str:
        """The control token of a refusal group."""
        return REFUSE if self.mode == "single" else f"[refuse:{group}]"

    @property
    def refusal_tokens(self) -> dict[str, str]:
        """Refusal group -> its token, in the scheme's order."""
        return {g: self.token_of(g) for g in self.groups}

    @property
    def tokens(self) -> list[str]:
        """Every control token: ``[respond]`` first, then the refusal tokens."""
        return [RESPOND, *self.refusal_tokens.values()]

    def group_of(self, category: str | None) -> str:
        """The refusal group a harm category belongs to (the fallback group when no group lists it)."""
        for g, cats in self.groups.items():
            if category in cats:
                return g
        return self.fallback

    def group_of_token(self, token: str) -> str | None:
        """The refusal group a control token stands for; None for ``[respond]``."""
        return next((g for g, t in self.refusal_tokens.items() if t == token), None)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "groups": {g: list(c) for g, c in self.groups.items()}, "fallback": self.fallback}

    @classmethod
    def from_dict(cls, d: dict) -> "TokenScheme":
        return cls(d["mode"], {g: tuple(c) for g, c in d["groups"].items()}, d["fallback"])


def token_ids(tokenizer, scheme: TokenScheme) -> dict[str, int]:
    """Control token -> its vocabulary id; a one-line error when the tokenizer lacks one."""
    ids = {}
    for tok in scheme.tokens:
        i = tokenizer.convert_tokens_to_ids(tok)
        if i is None or i == tokenizer.unk_token_id or tokenizer.convert_ids_to_tokens(i) != tok:
            raise RefusalkitError(f"the tokenizer has no token {tok}: was the model trained with --refusal-tokens?")
        ids[tok] = int(i)
    return ids


@torch.no_grad()
def _resize(model, size: int, base_vocab: int) -> None:
    """Grow the model's vocabulary to ``size``; every new row (input and output embedding) starts as the
    mean of the first ``base_vocab`` rows. The start is deterministic, so an adapter that stores only the
    new rows' trained change (peft's trainable tokens) restores the same rows on any machine."""
    model.resize_token_embeddings(size, mean_resizing=False)
    emb, out = model.get_input_embeddings(), model.get_output_embeddings()
    for weight in {id(w): w for w in (emb.weight, getattr(out, "weight", None)) if w is not None}.values():
        weight[base_vocab:] = weight[:base_vocab].mean(0, keepdim=True)


def add_tokens(target, scheme: TokenScheme) -> dict[str, int]:
    """Add the scheme's control tokens to ``target``'s tokenizer as special tokens and grow its model's
    embeddings for them (see :func:`_resize`); marks the target with the scheme. Returns their ids."""
    tok = target.tokenizer
    base_vocab = target.model.get_input_embeddings().weight.shape[0]
    if getattr(target, "refusal_tokens", None) is not None:
        raise RefusalkitError(f"{target.id} already carries refusal tokens; train from the base model")
    tok.add_tokens(scheme.tokens, special_tokens=True)
    _resize(target.model, max(len(tok), base_vocab), base_vocab)
    target.refusal_tokens = scheme
    target.refusal_base_vocab = base_vocab
    return token_ids(tok, scheme)


def save(folder: str | Path, target) -> None:
    """Write the target's scheme, token ids and tokenizer into an adapter folder."""
    folder = Path(folder)
    scheme = target.refusal_tokens
    meta = {
        **scheme.to_dict(),
        "tokens": token_ids(target.tokenizer, scheme),
        "base_vocab": int(target.refusal_base_vocab),
    }
    target.tokenizer.save_pretrained(folder)
    (folder / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def load_scheme(folder: str | Path) -> tuple[TokenScheme, dict] | None:
    """``(scheme, metadata)`` of an adapter folder trained with refusal tokens, else None."""
    path = Path(folder) / META
    if not path.exists():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    return TokenScheme.from_dict(meta), meta


def restore(model, tokenizer, folder: str | Path):
    """Before an adapter is applied: when ``folder`` was trained with refusal tokens, load its
    tokenizer and grow ``model`` for the tokens (the adapter then sets their trained rows). Returns
    ``(tokenizer, scheme or None)``."""
    found = load_scheme(folder)
    if found is None:
        return tokenizer, None
    scheme, meta = found
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if token_ids(tokenizer, scheme) != meta["tokens"]:
        raise RefusalkitError(f"{folder}: the saved tokenizer's refusal-token ids differ from {META}")
    base_vocab = model.get_input_embeddings().weight.shape[0]
    if base_vocab != meta["base_vocab"]:
        raise RefusalkitError(
            f"{folder} was trained on a model with {meta['base_vocab']} token rows; this one has {base_vocab}: "
            "load it on the model it was trained from"
        )
    _resize(model, max(len(tokenizer), base_vocab), base_vocab)
    return tokenizer, scheme


def label_examples(examples: Sequence, rows: Sequence[dict], scheme: TokenScheme) -> list:
    """The training examples with their control token: a refusal gets its group's token (the group of
    its request's harm category, looked up in ``rows`` by request text), any other answer ``[respond]``."""
    category = {r["text"]: r.get("category") for r in rows if r.get("label") == "harmful"}
    return [
        replace(
            ex, token=scheme.token_of(scheme.group_of(category.get(ex.prompt))) if ex.kind == "refusal" else RESPOND
        )
        for ex in examples
    ]


def prepare(target, examples: Sequence, rows: Sequence[dict], mode: str | None, forced_every: int = 0) -> list:
    """For training with refusal tokens (``mode`` single or categories; None changes nothing): add the
    scheme's tokens to ``target`` and return the examples labelled with them, plus
    :func:`forced_refusals` when ``forced_every`` is above 0."""
    if mode is None:
        return list(examples)
    scheme = TokenScheme.build(mode)
    add_tokens(target, scheme)
    labelled = label_examples(examples, rows, scheme)
    return labelled + forced_refusals(labelled, scheme, forced_every) if forced_every else labelled


def forced_refusals(examples: Sequence, scheme: TokenScheme, every: int) -> list:
    """Every ``every``-th plain benign example once more, as a refusal behind a refusal token (the scheme's
    tokens in turn; the refusal wordings of ``examples`` in turn), with the token given rather than learned
    (``forced``: its own position carries no loss, so the model is not taught to choose it for benign
    requests). Trained refusals otherwise always follow a refusal token on a harmful request, so the text can
    learn to refuse from the request alone, and forcing ``[respond]`` then leaves it refusing; these rows
    show the same text following the token on requests that are answered otherwise. No harmful request
    gets anything but a refusal."""
    if every < 1:
        raise RefusalkitError(f"forced refusals: every must be at least 1, got {every}")
    refusals = [e.answer for e in examples if e.kind == "refusal" and not e.forced]
    benign = [e for e in examples if e.kind == "benign"][every - 1 :: every]
    if benign and not refusals:
        raise RefusalkitError("forced refusals need refusal examples to take their wording from")
    tokens = list(scheme.refusal_tokens.values())
    return [
        replace(
            e,
            answer=refusals[(7 * i) % len(refusals)],
            kind="refusal",
            eos=True,
            token=tokens[i % len(tokens)],
            forced=True,
        )
        for i, e in enumerate(benign)
    ]


def require_scheme(target, what: str) -> TokenScheme:
    """The target's refusal-token scheme, or a one-line error naming ``what`` needed it."""
    scheme = getattr(target, "refusal_tokens", None)
    if scheme is None:
        raise RefusalkitError(
            f"{what} needs a model trained with refusal tokens (refusalkit align --refusal-tokens ...); "
            f"{getattr(target, 'id', target)} has none"
        )
    return scheme
