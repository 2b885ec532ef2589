"""Refusal heads (Yin et al. 2025): which attention heads write the refusal direction.

Each head's own contribution to the residual stream is its slice of the ``o_proj`` input times the
matching columns of ``o_proj``'s weight. Projected onto a unit direction (the refusal probe's w/‖w‖
or the refusal direction r̂) at the last prompt token and averaged over prompts, it gives one score
per head: positive = refusal-driving, negative = refusal-suppressing. :func:`head_ablation_hooks`
zero-ablates chosen heads (their slice of the ``o_proj`` input), at every position.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ..progress import progress_bar
from ..types import Prompt
from .hooks import HookSpec, _map_hidden, block_parts, decoder_layers, hooked, out_proj


def head_geometry(model) -> tuple[int, int]:
    """(number of query heads, head dimension)."""
    cfg = model.config
    heads = cfg.num_attention_heads
    dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return heads, dim


@torch.no_grad()
def head_scores(
    target, prompts: Sequence[Prompt | str], direction: torch.Tensor, batch_size: int = 16, progress: bool = True
) -> torch.Tensor:
    """``[n_prompts, L, H]``: each head's output (through o_proj) at the last prompt token, on r̂."""
    model = target.model
    heads, dim = head_geometry(model)
    unit = (direction / direction.norm()).float()
    projs = [out_proj(block_parts(layer)[0]) for layer in decoder_layers(model)]
    # w_h = W_o[:, h*dim:(h+1)*dim]ᵀ r̂ : what head h's output must align with to write along r̂
    reads = [(p.weight.float().T @ unit.to(p.weight.device)).view(heads, dim) for p in projs]
    texts = [p.text if isinstance(p, Prompt) else p for p in prompts]
    rows = []
    with progress_bar("scoring heads", len(texts), progress) as advance:
        for start in range(0, len(texts), batch_size):
            enc = target.encode([target.render(t) for t in texts[start : start + batch_size]])
            store: dict[int, torch.Tensor] = {}

            def grab(i):
                def fn(module, args, kwargs):
                    store[i] = (args[0] if args else kwargs["hidden_states"])[:, -1].detach().float()

                return fn

            with hooked([(p, "pre", grab(i)) for i, p in enumerate(projs)]):
                model(**enc, logits_to_keep=1, use_cache=False)
            per_layer = [(store[i].view(-1, heads, dim) * reads[i]).sum(-1) for i in range(len(projs))]  # [B, H]
            rows.append(torch.stack(per_layer, dim=1).cpu())
            advance(enc["input_ids"].shape[0])
    return torch.cat(rows)


def rank_heads(scores: torch.Tensor, k: int, kind: str = "driving") -> list[tuple[int, int, float]]:
    """Top-``k`` (layer, head, mean score): most positive for ``driving``, most negative for ``suppressing``."""
    mean = scores.mean(0) if scores.dim() == 3 else scores
    flat = mean.flatten()
    order = torch.argsort(flat, descending=(kind == "driving"))[:k]
    H = mean.shape[1]
    return [(int(i) // H, int(i) % H, float(flat[i])) for i in order]


def default_k(model, frac: float = 0.03) -> int:
    """About 3% of all heads, at least one (the share Yin et al. ablate)."""
    heads, _ = head_geometry(model)
    return max(1, math.ceil(frac * heads * len(decoder_layers(model))))


def head_ablation_hooks(model, heads_to_ablate: Sequence[tuple[int, int]]) -> list[HookSpec]:
    """Zero the chosen heads' outputs before ``o_proj`` (all positions)."""
    n_heads, dim = head_geometry(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads_to_ablate:
        by_layer.setdefault(int(layer), []).append(int(head))
    layers = decoder_layers(model)
    specs: list[HookSpec] = []
    for layer, hs in by_layer.items():
        mask = torch.ones(n_heads, dim)
        mask[hs] = 0.0
        flat = mask.flatten()

        def pre(module, args, kwargs, flat=flat):
            return _map_hidden(args, kwargs, lambda x: x * flat.to(dtype=x.dtype, device=x.device))

        specs.append((out_proj(block_parts(layers[layer])[0]), "pre", pre))
    return specs


class HeadAblatedTarget:
    """A target with some heads zero-ablated (same interface as the target it wraps)."""

    whitebox = True

    def __init__(self, base, heads_to_ablate: Sequence[tuple[int, int]]) -> None:
        self.base, self.heads = base, [(int(l), int(h)) for l, h in heads_to_ablate]
        self.id = f"{base.id}+ablate{len(self.heads)}heads"

    def __getattr__(self, name):
        return getattr(self.base, name)

    def generate(self, *args, **kwargs):
        with hooked(head_ablation_hooks(self.base.model, self.heads)):
            return self._own(self.base.generate(*args, **kwargs))

    def generate_messages(self, *args, **kwargs):
        with hooked(head_ablation_hooks(self.base.model, self.heads)):
            return self._own(self.base.generate_messages(*args, **kwargs))

    def _own(self, responses):
        for r in responses:  # keyed by this target's id in a run store, not the unablated model's
            r.target_id = self.id
        return responses

    def next_token_logits(self, *args, **kwargs):
        with hooked(head_ablation_hooks(self.base.model, self.heads)):
            return self.base.next_token_logits(*args, **kwargs)
