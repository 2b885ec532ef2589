"""Activation capture: the residual stream of every layer at the positions that matter for refusal.

For each prompt the chat template puts a few fixed tokens after the user's text (for SmolLM2:
``<|im_end|>``, newline, ``<|im_start|>``, ``assistant``, newline). Two positions matter
(Arditi et al. 2024; Zhao et al. 2025):

- ``t_inst``: the last token of the user's instruction;
- ``t_post``: the last token of the rendered prompt, where the answer starts;

and directions are searched over every *post-instruction* position in between. :func:`capture`
returns ``acts[n, L+1, K, d]``: for layers ``0..L-1`` the block input (the residual stream entering
that decoder layer), at index ``L`` the final normed hidden state; ``K`` positions, ``0`` = t_inst,
``1..K-1`` the post-instruction tokens, ``K-1`` = t_post. Results are cached on disk per
(model weights, rendered prompts) under ``$REFUSALKIT_HOME/activations``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import torch

from ..paths import home
from ..progress import progress_bar
from ..targets.base import Messages, require_whitebox, to_messages
from ..types import Prompt
from .hooks import HookSpec, base_model, decoder_layers, hooked

CACHE_VERSION = "1"


@dataclass
class Activations:
    acts: torch.Tensor  # [n, L+1, K, d]
    positions: list[str]  # names of the K positions: t_inst, post-(K-1) ... post-1 (= t_post)

    @property
    def t_inst(self) -> torch.Tensor:
        """``[n, L+1, d]`` at the last instruction token."""
        return self.acts[:, :, 0]

    @property
    def t_post(self) -> torch.Tensor:
        """``[n, L+1, d]`` at the last prompt token."""
        return self.acts[:, :, -1]

    @property
    def n_layers(self) -> int:
        return self.acts.shape[1] - 1


def render_with_instruction(target, item: str | Messages, system_prompt: str | None = None) -> tuple[str, int]:
    """The templated prompt and the character offset where the (last) user instruction ends."""
    messages = to_messages(item, system_prompt) if isinstance(item, str) else list(item)
    rendered = target.render_messages(messages)
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    at = rendered.rfind(user) if user else -1
    end = at + len(user) if at >= 0 else len(rendered)
    return rendered, end


def instruction_index(target, rendered: str, inst_end: int) -> tuple[int, int]:
    """(index of t_inst, number of tokens) in the tokenised rendered prompt."""
    enc = target.tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s for s, _ in enc["offset_mapping"]]
    idx = max((i for i, s in enumerate(starts) if s < inst_end), default=len(starts) - 1)
    return idx, len(starts)


def model_fingerprint(model) -> str:
    """A cheap hash of the weights that tells a base, aligned or edited model apart."""
    h = hashlib.sha256(model.config.to_json_string().encode())
    last_block = next(decoder_layers(model)[-1].parameters())
    for p in (model.get_input_embeddings().weight, last_block, model.get_output_embeddings().weight):
        flat = p.detach().flatten()
        h.update(flat[:: max(1, flat.numel() // 4096)].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def capture_hooks(model, store: dict[int, torch.Tensor]) -> list[HookSpec]:
    """Hooks that record the input of every decoder layer and the final normed hidden state."""
    layers = decoder_layers(model)

    def pre(i):
        def fn(module, args, kwargs):
            store[i] = (args[0] if args else kwargs["hidden_states"]).detach()

        return fn

    specs: list[HookSpec] = [(layer, "pre", pre(i)) for i, layer in enumerate(layers)]
    norm = getattr(base_model(model), "norm", None) or getattr(base_model(model), "ln_f", None)
    last = len(layers)
    if norm is not None:
        specs.append((norm, "post", lambda m, a, out: store.__setitem__(last, out.detach())))
    else:
        specs.append(
            (
                layers[-1],
                "post",
                lambda m, a, out: store.__setitem__(last, (out[0] if isinstance(out, tuple) else out).detach()),
            )
        )
    return specs


@torch.no_grad()
def capture(
    target,
    prompts: Sequence[Prompt | str | Messages],
    system_prompt: str | None = None,
    batch_size: int = 16,
    progress: bool = True,
    cache: bool = True,
    hooks: Sequence[HookSpec] = (),
) -> Activations:
    """Residual stream at t_inst and every post-instruction position, for every layer.

    ``hooks`` are extra interventions active during the pass (e.g. steering); captures made with
    them are never cached.
    """
    require_whitebox(target, "activation capture")
    items = [p.text if isinstance(p, Prompt) else p for p in prompts]
    rendered, inst = [], []
    for item in items:
        r, end = render_with_instruction(target, item, system_prompt)
        idx, n = instruction_index(target, r, end)
        rendered.append(r)
        inst.append((idx, n))
    n_post = min((n - 1 - idx for idx, n in inst), default=0)
    names = ["t_inst"] + [f"post-{k}" for k in range(n_post, 0, -1)]
    model = target.model
    path = None
    if cache and not hooks:
        key = hashlib.sha256("\x00".join([CACHE_VERSION, model_fingerprint(model), *rendered]).encode()).hexdigest()[
            :24
        ]
        path = home() / "activations" / f"{key}.pt"
        if path.exists():
            return Activations(torch.load(path), names)
    chunks = []
    with progress_bar("capturing activations", len(rendered), progress) as advance:
        for start in range(0, len(rendered), batch_size):
            batch = rendered[start : start + batch_size]
            enc = target.encode(batch)
            seq = enc["input_ids"].shape[1]
            store: dict[int, torch.Tensor] = {}
            with hooked(list(hooks) + capture_hooks(model, store)):
                model(**enc, logits_to_keep=1, use_cache=False)
            hidden = torch.stack([store[i] for i in range(len(store))], dim=1)  # [B, L+1, S, d]
            rows = []
            for b, (idx, n) in enumerate(inst[start : start + batch_size]):
                pad = seq - n
                index = torch.tensor([pad + idx] + list(range(seq - n_post, seq)), device=hidden.device)
                rows.append(hidden[b][:, index])
            chunks.append(torch.stack(rows).float().cpu())
            advance(len(batch))
    acts = torch.cat(chunks) if chunks else torch.empty(0)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(acts, tmp)
        tmp.replace(path)
    return Activations(acts, names)
