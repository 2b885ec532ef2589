"""Refusal and harmfulness directions (Arditi et al. 2024; Zhao et al. 2025).

Candidates ``r[l, i] = mean(harmful) − mean(harmless)`` of the block input at layer ``l`` and every
post-instruction position ``i``. Each candidate is scored on held-out prompts with the first-token
refusal metric of :mod:`refusalkit.scoring` (log-odds of P_R):

- ``bypass``: mean metric on harmful prompts with r̂ ablated everywhere (lower = better bypass);
- ``induce``: mean metric on harmless prompts with r added at layer ``l``;
- ``kl``: KL(p_base ‖ p_ablated) of the first-token distribution on harmless prompts.

Selection drops layers ``l ≥ 0.8·L``, candidates with ``kl > 0.1`` and with ``induce < 0``, then takes
the minimum ``bypass``. If no candidate passes, the filters are relaxed (KL first, then induce) and the
file records which were relaxed. The harmfulness direction is the same difference of means at
``t_inst``. Everything is saved in one safetensors file that ``steer``, ``guard``, ``heads`` and
``--steer FILE:alpha`` load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..scoring import refusal_metric, refusal_prob_from_logits, refusal_token_ids
from ..types import Prompt
from . import tensorfile
from .capture import Activations, capture
from .hooks import HookSpec, ablation_hooks, addition_hooks, hooked


@dataclass
class Directions:
    """Directions of one model. ``candidates[l, i]`` are the refusal candidates (block input of layer
    ``l``, post-instruction position ``i``); ``harmfulness[l]`` is the t_inst difference of means."""

    candidates: torch.Tensor  # [L, P, d]
    harmfulness: torch.Tensor  # [L, d]
    layer: int
    pos: int  # index into the post-instruction positions (P-1 = t_post)
    positions: list[str]
    # per-layer projections of the training prompts on the unit harmfulness direction (for gating)
    harm_proj_harmful: torch.Tensor | None = None  # [L]
    harm_proj_harmless: torch.Tensor | None = None  # [L]
    harm_proj_std: torch.Tensor | None = None  # [L] pooled std
    meta: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return self.candidates.shape[0]

    @property
    def refusal(self) -> torch.Tensor:
        """The selected refusal direction (unnormalised difference of means)."""
        return self.candidates[self.layer, self.pos]

    def refusal_at(self, layer: int) -> torch.Tensor:
        return self.candidates[layer, self.pos]

    def cosine_per_layer(self) -> list[float]:
        """cos(refusal direction at the selected position, harmfulness direction), per layer."""
        return torch.nn.functional.cosine_similarity(self.candidates[:, self.pos], self.harmfulness, dim=-1).tolist()

    @property
    def gate_layer(self) -> int:
        """Layer whose harmfulness projection best separates harmful from harmless training prompts
        (layer 0, the raw token embedding, excluded)."""
        if self.harm_proj_std is None or self.n_layers < 2:
            return self.layer
        sep = (self.harm_proj_harmful - self.harm_proj_harmless) / self.harm_proj_std.clamp_min(1e-6)
        return 1 + int(sep[1:].argmax())

    def save(self, path: str | Path) -> Path:
        tensors = {"candidates": self.candidates, "harmfulness": self.harmfulness}
        for name in ("harm_proj_harmful", "harm_proj_harmless", "harm_proj_std"):
            if getattr(self, name) is not None:
                tensors[name] = getattr(self, name)
        meta = {"layer": self.layer, "pos": self.pos, "positions": self.positions, **self.meta}
        return tensorfile.write(path, {k: v.float() for k, v in tensors.items()}, "refusalkit", meta)

    @classmethod
    def load(cls, path: str | Path) -> "Directions":
        meta, tensors = tensorfile.read(path, "refusalkit", "directions", "make one with `refusalkit directions`")
        if "candidates" not in tensors:
            raise RefusalkitError(f"{path} is not a refusalkit directions file (no candidates/metadata)")
        layer, pos, positions = meta.pop("layer"), meta.pop("pos"), meta.pop("positions")
        return cls(
            tensors["candidates"],
            tensors["harmfulness"],
            layer,
            pos,
            positions,
            tensors.get("harm_proj_harmful"),
            tensors.get("harm_proj_harmless"),
            tensors.get("harm_proj_std"),
            meta,
        )


def diff_means(harmful: Activations, harmless: Activations) -> tuple[torch.Tensor, torch.Tensor]:
    """(candidates [L, P, d] at post-instruction positions, harmfulness [L, d] at t_inst), block inputs."""
    L = harmful.n_layers
    diff = harmful.acts[:, :L].mean(0) - harmless.acts[:, :L].mean(0)  # [L, K, d]
    return diff[:, 1:], diff[:, 0]


def _first_logits(model, encodings, hooks: Sequence[HookSpec] = ()) -> torch.Tensor:
    with torch.no_grad(), hooked(hooks):
        return torch.cat(
            [model(**enc, logits_to_keep=1, use_cache=False).logits[:, -1].float().cpu() for enc in encodings]
        )


def _encode(target, prompts: Sequence[Prompt], batch_size: int, system_prompt: str | None = None):
    texts = [target.render(p.text, system_prompt) for p in prompts]
    return [target.encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]


def score_candidates(
    target,
    candidates: torch.Tensor,
    harmful_val: Sequence[Prompt],
    harmless_val: Sequence[Prompt],
    layers: Sequence[int],
    positions: Sequence[int],
    batch_size: int = 32,
    progress: bool = True,
) -> tuple[list[dict], dict]:
    """bypass / induce / kl for every (layer, position) candidate, and the unsteered baseline."""
    model = target.model
    ids = refusal_token_ids(target.tokenizer)
    enc_harm = _encode(target, harmful_val, batch_size)
    enc_safe = _encode(target, harmless_val, batch_size)
    metric = lambda logits: float(refusal_metric(refusal_prob_from_logits(logits, ids)).mean())  # noqa: E731
    base_harm, base_safe = _first_logits(model, enc_harm), _first_logits(model, enc_safe)
    base_logp = torch.log_softmax(base_safe, -1)
    baseline = {"harmful_metric": metric(base_harm), "harmless_metric": metric(base_safe)}
    rows = []
    with progress_bar("scoring refusal directions", len(layers) * len(positions), progress) as advance:
        for pos in positions:
            for layer in layers:
                r = candidates[layer, pos]
                abl = ablation_hooks(model, r)
                harm_abl = _first_logits(model, enc_harm, abl)
                safe_abl = _first_logits(model, enc_safe, abl)
                safe_add = _first_logits(model, enc_safe, addition_hooks(model, layer, r))
                kl = (base_logp.exp() * (base_logp - torch.log_softmax(safe_abl, -1))).sum(-1).mean()
                rows.append(
                    {
                        "layer": layer,
                        "pos": pos,
                        "bypass": metric(harm_abl),
                        "induce": metric(safe_add),
                        "kl": float(kl),
                    }
                )
                advance(1)
    return rows, baseline


def select(rows: list[dict], n_layers: int, max_layer_frac: float = 0.8, kl_max: float = 0.1) -> tuple[dict, list[str]]:
    """The standard selection rule; returns the chosen row and the filters that had to be relaxed."""
    allowed = [r for r in rows if r["layer"] < max_layer_frac * n_layers] or rows
    tiers = [
        ([], lambda r: r["kl"] <= kl_max and r["induce"] >= 0),
        (["kl"], lambda r: r["induce"] >= 0),
        (["kl", "induce"], lambda r: True),
    ]
    for relaxed, keep in tiers:
        ok = [r for r in allowed if keep(r)]
        if ok:
            return min(ok, key=lambda r: r["bypass"]), relaxed
    raise RefusalkitError("no refusal direction candidates to select from")


def fit_directions(
    target,
    harmful_train: Sequence[Prompt],
    harmless_train: Sequence[Prompt],
    harmful_val: Sequence[Prompt],
    harmless_val: Sequence[Prompt],
    layer_stride: int = 1,
    positions: Sequence[int] | None = None,
    batch_size: int = 32,
    progress: bool = True,
    layers: Sequence[int] | None = None,
) -> tuple[Directions, list[dict], dict]:
    """Compute all candidates, score them on the validation prompts and select one.

    ``positions`` are indices into the post-instruction tokens (default: all of them);
    ``layer_stride`` > 1 scores every n-th layer only, counted down from the last allowed layer (a
    cheaper search, our option). ``layers`` lists the candidate layers explicitly and replaces the
    drop-the-last-20% rule (for models whose refusal is written late, e.g. a LoRA on the top layers);
    the file records it.
    """
    if min(len(harmful_train), len(harmless_train), len(harmful_val), len(harmless_val)) == 0:
        raise RefusalkitError("fitting directions needs harmful and harmless prompts for both training and validation")
    harm = capture(target, harmful_train, batch_size=batch_size, progress=progress)
    safe = capture(target, harmless_train, batch_size=batch_size, progress=progress)
    candidates, harmfulness = diff_means(harm, safe)
    L, P = candidates.shape[:2]
    positions = list(range(P)) if positions is None else [p % P for p in positions]
    max_frac = 0.8 if layers is None else 1.0
    allowed = (
        sorted({l % L for l in layers})
        if layers is not None
        else ([l for l in range(L) if l < 0.8 * L] or list(range(L)))
    )
    layers = allowed[::-1][:: max(1, layer_stride)][::-1]  # a stride keeps the last allowed layer
    # at layer 0 the template tokens' embeddings are identical for every prompt: no direction there
    norms = candidates.norm(dim=-1)
    layers = [l for l in layers if bool((norms[l, positions] > 1e-6 * norms.max()).all())] or [L - 1]
    rows, baseline = score_candidates(
        target, candidates, harmful_val, harmless_val, layers, positions, batch_size, progress
    )
    best, relaxed = select(rows, L, max_layer_frac=max_frac)
    unit = harmfulness / harmfulness.norm(dim=-1, keepdim=True)
    ph = (harm.t_inst[:, :L] * unit).sum(-1)  # [n, L]
    pb = (safe.t_inst[:, :L] * unit).sum(-1)
    std = torch.sqrt((ph.var(0, unbiased=False) + pb.var(0, unbiased=False)) / 2)
    meta = {
        "model": target.id,
        "relaxed_filters": relaxed,
        "candidate_layers": layers,
        "baseline": baseline,
        "selected": best,
        "n_train": [len(harmful_train), len(harmless_train)],
        "n_val": [len(harmful_val), len(harmless_val)],
    }
    dirs = Directions(
        candidates, harmfulness, best["layer"], best["pos"], harm.positions[1:], ph.mean(0), pb.mean(0), std, meta
    )
    return dirs, rows, baseline
