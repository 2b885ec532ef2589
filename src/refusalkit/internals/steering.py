"""Steering a local model along a direction, as a target every command can use.

- ``add``: activation addition, ``x ← x + α·v`` at the block input of one layer, every position
  (v = the unnormalised refusal direction, or the harmfulness direction with ``vector="harmfulness"``;
  negative α subtracts it);
- ``ablate``: directional ablation, ``x ← x − r̂r̂ᵀx`` for everything written to the residual stream;
- ``gated``: harmfulness-gated ablation: ablate the refusal direction only for prompts that the
  model's own harmfulness signal (projection of t_inst on the harmfulness direction at the layer that
  best separates the training prompts) rates harmless; other prompts run unsteered.

:class:`SteeredTarget` wraps an ``HFTarget`` and keeps its interface (``generate``,
``generate_messages``, ``next_token_logits``, ``whitebox``...), so ``eval``, ``serve`` and ``study``
take it as they take any target; on the command line: ``--steer FILE:ALPHA`` (addition),
``FILE:ablate``, ``FILE:gated`` or ``FILE:harmfulness:ALPHA``.

:func:`abliterate` makes the ablation permanent in the weights (embedding, attention output and MLP
output projections) and :func:`export_abliterated` saves that model as safetensors.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..errors import RefusalkitError
from ..targets.base import Messages, as_prompts, require_whitebox
from ..types import GenParams, Prompt, Response
from .capture import capture
from .directions import Directions
from .hooks import HookSpec, ablation_hooks, addition_hooks, block_parts, decoder_layers, hooked, mlp_out_proj, out_proj

MODES = ("add", "ablate", "gated")


class SteeredTarget:
    """An ``HFTarget`` whose forward passes are steered; see the module docstring for the modes."""

    whitebox = True

    def __init__(
        self,
        base,
        directions: Directions | str | Path,
        mode: str = "add",
        alpha: float = 1.0,
        layer: int | None = None,
        vector: str = "refusal",
    ) -> None:
        require_whitebox(base, "steering")
        if mode not in MODES:
            raise RefusalkitError(f"unknown steering mode '{mode}'; choose one of: {', '.join(MODES)}")
        if vector not in ("refusal", "harmfulness"):
            raise RefusalkitError(f"unknown steering vector '{vector}'; choose refusal or harmfulness")
        self.base = base
        self.directions = directions if isinstance(directions, Directions) else Directions.load(directions)
        if self.directions.n_layers != len(decoder_layers(base.model)):
            raise RefusalkitError(
                f"the directions have {self.directions.n_layers} layers but {base.id} has {len(decoder_layers(base.model))}; "
                "they were made for another model"
            )
        self.mode, self.alpha, self.vector = mode, float(alpha), vector
        self.layer = self.directions.layer if layer is None else int(layer)
        label = (
            f"{mode}"
            if mode != "add"
            else f"add{'-harm' if vector == 'harmfulness' else ''}{self.alpha:+g}@{self.layer}"
        )
        self.id = f"{base.id}+steer:{label}"

    def __getattr__(self, name):  # model, tokenizer, render, encode, device, eos_ids...
        return getattr(self.base, name)

    # --- hooks -----------------------------------------------------------------------------
    def steering_vector(self) -> torch.Tensor:
        d = self.directions
        return d.harmfulness[self.layer] if self.vector == "harmfulness" else d.refusal_at(self.layer)

    def hooks(self) -> list[HookSpec]:
        if self.mode == "add":
            return addition_hooks(self.base.model, self.layer, self.steering_vector(), self.alpha)
        return ablation_hooks(self.base.model, self.directions.refusal)

    def harm_scores(self, items: Sequence[str | Messages], system_prompt: str | None = None) -> torch.Tensor:
        """The gate's signal: projection of t_inst on the unit harmfulness direction at the gate layer,
        minus the midpoint of the harmful and harmless training means (≥ 0 = rated harmful)."""
        d = self.directions
        if d.harm_proj_harmful is None:
            raise RefusalkitError(
                "this directions file has no harmfulness statistics; refit it with `refusalkit directions`"
            )
        layer = d.gate_layer
        acts = capture(self.base, list(items), system_prompt=system_prompt, progress=False, cache=False)
        unit = d.harmfulness[layer] / d.harmfulness[layer].norm()
        threshold = (d.harm_proj_harmful[layer] + d.harm_proj_harmless[layer]) / 2
        return acts.t_inst[:, layer] @ unit - threshold

    def rated_harmful(self, items: Sequence[str | Messages], system_prompt: str | None = None) -> list[bool]:
        """The gate: True where the model's own harmfulness signal rates the (last) instruction harmful."""
        return (self.harm_scores(items, system_prompt) >= 0).tolist()

    # --- target interface -------------------------------------------------------------------
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
        # a per-prompt answer prefill (a forced refusal token) follows its prompt into whichever half the gate sends it
        prefill = kwargs.pop("prefill", None)
        pre = {id(p): f for p, f in zip(items, prefill)} if prefill is not None else None

        def gen(sub):
            fill = {"prefill": [pre[id(p)] for p in sub]} if pre is not None else {}
            return self.base.generate(sub, params, should_stop=should_stop, progress=progress, **fill, **kwargs)

        out = self._split(items, [p.text for p in items], gen, params.system_prompt)
        for r in out:  # the run store keys answers by target id: steered answers must not pass as the base model's
            r.target_id = self.id
        return out

    def generate_messages(
        self,
        conversations: Sequence[Messages],
        params: GenParams | None = None,
        progress: bool = False,
        prefill: Sequence[str] | None = None,
    ) -> list[Response]:
        convs = [list(c) for c in conversations]
        pre = {id(c): f for c, f in zip(convs, prefill)} if prefill is not None else None

        def gen(sub):
            fill = {"prefill": [pre[id(c)] for c in sub]} if pre is not None else {}
            return self.base.generate_messages(sub, params, progress=progress, **fill)

        out = self._split(convs, convs, gen, None)
        for i, r in enumerate(out):
            r.prompt_id, r.target_id = f"c{i}", self.id
        return out

    def next_token_logits(
        self, prompts: Sequence[Prompt | str], system_prompt: str | None = None, batch_size: int = 16
    ) -> torch.Tensor:
        items = as_prompts(prompts)
        rows = self._split(
            items,
            [p.text for p in items],
            lambda sub: list(self.base.next_token_logits(sub, system_prompt=system_prompt, batch_size=batch_size)),
            system_prompt,
        )
        return torch.stack(rows) if rows else torch.empty(0, self.base.model.config.vocab_size)

    def _fits(self, item: str | Messages, system_prompt: str | None) -> bool:
        """Whether a prompt (text or conversation) fits the model's context, counted without a forward pass."""
        if not hasattr(self.base, "prompt_tokens"):
            return True
        rendered = (
            self.base.render_messages(list(item)) if isinstance(item, list) else self.base.render(item, system_prompt)
        )
        return self.base.prompt_tokens(rendered)[0] < self.base.context_length

    def _split(self, items: list, texts: list, call, system_prompt: str | None) -> list:
        if self.mode != "gated":
            with hooked(self.hooks()):
                return list(call(items))
        if not items:
            return []
        # The gate reads every prompt with a forward pass: prompts past the context skip it (unsteered,
        # so the base target answers them with its too-long error instead of building their tensors).
        fits = [self._fits(t, system_prompt) for t in texts]
        rated = iter(self.rated_harmful([t for t, ok in zip(texts, fits) if ok], system_prompt) if any(fits) else [])
        flagged = [next(rated) if ok else True for ok in fits]
        out: list = [None] * len(items)
        for steer in (False, True):
            idx = [i for i, f in enumerate(flagged) if f != steer]  # steer the ones rated harmless
            if not idx:
                continue
            if steer:
                with hooked(self.hooks()):
                    res = call([items[i] for i in idx])
            else:
                res = call([items[i] for i in idx])
            for i, r in zip(idx, res):
                out[i] = r
        return out


def parse_steer(spec: str) -> dict:
    """``FILE:ALPHA`` | ``FILE:ablate`` | ``FILE:gated`` | ``FILE:harmfulness:ALPHA`` → SteeredTarget kwargs."""
    path, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    err = RefusalkitError(f"bad --steer '{spec}': use FILE:ALPHA, FILE:ablate, FILE:gated or FILE:harmfulness:ALPHA")
    if not path or not parts:
        raise err
    if parts == ["ablate"] or parts == ["gated"]:
        return {"directions": path, "mode": parts[0]}
    vector = "refusal"
    if len(parts) == 2 and parts[0] in ("refusal", "harmfulness"):
        vector, parts = parts[0], parts[1:]
    if len(parts) != 1:
        raise err
    try:
        alpha = float(parts[0])
    except ValueError:
        raise err from None
    return {"directions": path, "mode": "add", "alpha": alpha, "vector": vector}


def steer_target(target, spec: str | None):
    """Wrap ``target`` as the ``--steer`` spec asks (``None`` returns it unchanged)."""
    if not spec:
        return target
    return SteeredTarget(target, **parse_steer(spec))


def load_target_with_steer(model: str, steer: str | None = None, **kwargs):
    """``load_target`` followed by :func:`steer_target`."""
    from ..targets import load_target

    return steer_target(load_target(model, **kwargs), steer)


# --- abliteration ---------------------------------------------------------------------------
@torch.no_grad()
def abliterate(model: nn.Module, direction: torch.Tensor) -> nn.Module:
    """Project r̂ out of every weight that writes to the residual stream, in place:
    token embeddings, attention output and MLP output projections (and their biases).
    A tied output embedding is untied first so the unembedding stays as it was."""
    unit = (direction / direction.norm()).to(next(model.parameters()).dtype)
    emb = model.get_input_embeddings()
    out = model.get_output_embeddings()
    if out is not None and out.weight is emb.weight:
        out.weight = nn.Parameter(out.weight.detach().clone())
        model.config.tie_word_embeddings = False
        if hasattr(model.config, "get_text_config"):
            model.config.get_text_config().tie_word_embeddings = False
    u = unit.to(emb.weight.device)
    emb.weight -= torch.outer(emb.weight @ u, u)  # rows are residual vectors
    for layer in decoder_layers(model):
        attn, mlp = block_parts(layer)
        for proj in (out_proj(attn), mlp_out_proj(mlp)):
            proj.weight -= torch.outer(u, u @ proj.weight)  # W ← W − r̂r̂ᵀW (out_features = d)
            if proj.bias is not None:
                proj.bias -= (proj.bias @ u) * u
    return model


def export_abliterated(target, directions: Directions, out_dir: str | Path) -> Path:
    """Save a copy of the target's model with the refusal direction projected out (safetensors)."""
    require_whitebox(target, "abliteration")
    out_dir = Path(out_dir)
    model = abliterate(copy.deepcopy(target.model), directions.refusal)
    model.save_pretrained(out_dir, safe_serialization=True)
    target.tokenizer.save_pretrained(out_dir)
    return out_dir
