"""Refusal tokens: the refusal rate of a model trained with them, set at inference.

- :mod:`refusalkit.targets.refusal_tokens`: the scheme (which control tokens), adding them to a model
  for training, and restoring them when an adapter loads (re-exported here);
- :mod:`refusalkit.refusal_tokens.target`: :class:`~refusalkit.refusal_tokens.target.RefusalTokenTarget`,
  which forces a control token by threshold or bias and lets the model write the rest;
- :mod:`refusalkit.refusal_tokens.sweep`: refusal rates over many thresholds from one forward pass per
  prompt and at most one answer per (prompt, forced token).
"""

from __future__ import annotations

from ..targets.refusal_tokens import (
    META,
    MODES,
    REFUSE,
    RESPOND,
    TokenScheme,
    add_tokens,
    category_groups,
    forced_refusals,
    label_examples,
    load_scheme,
    prepare,
    require_scheme,
    restore,
    save,
    token_ids,
)

__all__ = [
    "META",
    "MODES",
    "REFUSE",
    "RESPOND",
    "TokenScheme",
    "add_tokens",
    "category_groups",
    "forced_refusals",
    "label_examples",
    "load_scheme",
    "prepare",
    "require_scheme",
    "restore",
    "save",
    "token_ids",
]
