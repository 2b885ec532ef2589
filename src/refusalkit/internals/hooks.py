"""Forward hooks on the decoder layers of any decoder-only transformers model.

Every intervention in :mod:`refusalkit.internals` (capture, activation addition, directional
ablation, head ablation) is a plain PyTorch hook registered inside :func:`hooked` and removed in its
``finally`` block, so no hook outlives the call that installed it, even when that call raises.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from ..errors import CapabilityError

# (module, kind, fn) with kind "pre" (forward pre-hook, called with (module, args, kwargs)) or
# "post" (forward hook, called with (module, args, output)).
HookSpec = tuple[nn.Module, str, Callable]


def base_model(model: nn.Module) -> nn.Module:
    """The inner decoder stack (``model.model`` for llama-like models, ``transformer`` for GPT-2)."""
    for name in ("model", "transformer", "gpt_neox"):
        inner = getattr(model, name, None)
        if inner is not None and decoder_layers_of(inner) is not None:
            return inner
    raise CapabilityError(
        f"cannot find the decoder layers of {type(model).__name__}; internals need a decoder-only transformers model"
    )


def decoder_layers_of(inner: nn.Module) -> nn.ModuleList | None:
    for name in ("layers", "h"):
        layers = getattr(inner, name, None)
        if isinstance(layers, nn.ModuleList):
            return layers
    return None


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder blocks, in order (``model.model.layers`` for llama, mistral, qwen, gemma...)."""
    return decoder_layers_of(base_model(model))  # type: ignore[return-value]


def embedding(model: nn.Module) -> nn.Module:
    return model.get_input_embeddings()


def block_parts(layer: nn.Module) -> tuple[nn.Module, nn.Module]:
    """(attention, MLP) submodules of one block; their outputs are what the block writes to the residual."""
    attn = getattr(layer, "self_attn", None) or getattr(layer, "attn", None) or getattr(layer, "attention", None)
    mlp = getattr(layer, "mlp", None)
    if attn is None or mlp is None:
        raise CapabilityError(f"cannot find attention/MLP inside {type(layer).__name__}")
    return attn, mlp


def _first_child(module: nn.Module, names: Sequence[str]) -> nn.Linear:
    for name in names:
        child = getattr(module, name, None)
        if child is not None:
            return child
    raise CapabilityError(f"cannot find the output projection of {type(module).__name__}")


def out_proj(attn: nn.Module) -> nn.Linear:
    """The attention output projection (``o_proj``), whose input is the heads' outputs side by side."""
    return _first_child(attn, ("o_proj", "out_proj", "c_proj", "dense"))


def mlp_out_proj(mlp: nn.Module) -> nn.Linear:
    return _first_child(mlp, ("down_proj", "c_proj", "fc2", "dense_4h_to_h"))


@contextmanager
def hooked(specs: Sequence[HookSpec]) -> Iterator[None]:
    """Register the hooks for the duration of the block; always remove them, even on error."""
    handles = []
    try:
        for module, kind, fn in specs:
            tagged = _tag(fn)
            if kind == "pre":
                handles.append(module.register_forward_pre_hook(tagged, with_kwargs=True))
            elif kind == "post":
                handles.append(module.register_forward_hook(tagged))
            else:  # pragma: no cover - programming error
                raise ValueError(kind)
        yield
    finally:
        for handle in handles:
            handle.remove()


def _tag(fn: Callable) -> Callable:
    def hook(*args, **kwargs):
        return fn(*args, **kwargs)

    hook._refusalkit_hook = True  # type: ignore[attr-defined]
    return hook


def count_hooks(model: nn.Module) -> int:
    """refusalkit's forward (pre-)hooks currently registered anywhere in the model; tests check it
    is 0 after every call. (transformers installs its own output-capturing hooks, not counted.)"""
    return sum(
        getattr(fn, "_refusalkit_hook", False)
        for m in model.modules()
        for fn in list(m._forward_hooks.values()) + list(m._forward_pre_hooks.values())
    )


# --- hook functions ------------------------------------------------------------------------------
def _map_hidden(args: tuple, kwargs: dict, fn: Callable[[torch.Tensor], torch.Tensor]):
    if args:
        return (fn(args[0]),) + tuple(args[1:]), kwargs
    kwargs = dict(kwargs)
    kwargs["hidden_states"] = fn(kwargs["hidden_states"])
    return args, kwargs


def _map_output(output, fn: Callable[[torch.Tensor], torch.Tensor]):
    if isinstance(output, tuple):
        return (fn(output[0]),) + tuple(output[1:])
    return fn(output)


def project_out(x: torch.Tensor, unit: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """x − strength·(x·r̂)r̂ along the last dimension."""
    u = unit.to(dtype=x.dtype, device=x.device)
    return x - strength * (x @ u).unsqueeze(-1) * u


def addition_hooks(model: nn.Module, layer: int, vector: torch.Tensor, alpha: float = 1.0) -> list[HookSpec]:
    """Add ``alpha·vector`` to the residual stream entering block ``layer``, at every position
    (prompt and generated tokens)."""

    def pre(module, args, kwargs):
        return _map_hidden(args, kwargs, lambda h: h + (alpha * vector).to(dtype=h.dtype, device=h.device))

    return [(decoder_layers(model)[layer], "pre", pre)]


def ablation_hooks(model: nn.Module, direction: torch.Tensor, strength: float = 1.0) -> list[HookSpec]:
    """Directional ablation: remove the component along r̂ from everything written to the residual
    stream (token embedding, every attention and MLP output), so the stream never carries it. This is
    exactly what the abliteration weight edit does (:func:`refusalkit.internals.steering.abliterate`)."""
    if float(direction.norm()) == 0.0:
        raise ValueError("cannot ablate a zero direction")
    unit = direction / direction.norm()

    def post(module, args, output):
        return _map_output(output, lambda h: project_out(h, unit, strength))

    specs: list[HookSpec] = [(embedding(model), "post", post)]
    for layer in decoder_layers(model):
        attn, mlp = block_parts(layer)
        specs += [(attn, "post", post), (mlp, "post", post)]
    return specs
