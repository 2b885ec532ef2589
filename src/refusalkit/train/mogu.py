"""Training MoGU (Du et al., 2024) on an aligned local model: two responders, then the router.

Data are pairs of answers to one request (:class:`Pair`): on a benign request the helpful answer
(``good``) against a refusal (``bad``); on a harmful request the refusal (``good``) against a bare
affirmative opening (``bad``, e.g. "Sure, here is how to do that:"). The opening carries no content:
nothing harmful is ever written or trained. :func:`pairs_from_examples` makes them from a training
set in the SFT layout; :func:`refusalkit.train.study.study_pairs` from the study's data (the rows of
variant (c): harmful requests with their refusals, plain benign requests and trigger-benign
look-alikes with the base model's own helpful answers).

Stages, each cached in the output folder by a fingerprint of its data and settings (a finished stage is
reused, a killed one resumes from its checkpoint):

1. ``glad/``: a LoRA on every block's ``o_proj`` trained on the benign pairs with
   ``CE(helpful) / CE(refusal)``; ``unwilling/``: another on the harmful pairs with
   ``CE(refusal) / CE(opening)``. The aligned model stays frozen; only the LoRA weights move.
2. ``router.safetensors``: with the model and both responders frozen, the routers learn from the
   language-modelling loss of the right answer (the ``good`` side) plus
   ``gate_weight * (MSE(alpha, y) + MSE(beta, 1 - y))``, ``y = 1`` for harmful requests, averaged over
   layers and every token of prompt and answer.

The folder then loads with :class:`refusalkit.internals.mogu.MoGUTarget` (``--mogu DIR``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..errors import RefusalkitError
from ..internals.mogu import (
    CONTINUATION,
    MANIFEST,
    ROUTED_TOKENS,
    GateRecorder,
    MoGU,
    Responder,
    check_form,
    new_routers,
)
from ..progress import console, progress_bar
from .data import OPENINGS, Pair, SFTExample, data_hash, pairs_from_examples  # noqa: F401  (MoGU's data)
from .sft import MANIFEST as TRAIN_MANIFEST
from .sft import SFTConfig, _answer_loss, _batch, _encode, _load_state, _order, _save_state, lora_model


@dataclass
class MoGUConfig:
    """Responder and router settings. Responders follow the paper (LoRA r=8, alpha=16 on ``o_proj``); epochs,
    learning rates and lengths are sized for a few minutes on 2 CPU cores."""

    rank: int = 8
    alpha: int = 16
    lr: float = 1e-3
    epochs: float = 1.0
    router_rank: int = 8
    router_lr: float = 5e-3
    router_epochs: float = 1.0
    gate_weight: float = 2.0
    batch_size: int = 8
    max_length: int = 64
    routed_tokens: int = ROUTED_TOKENS
    continuation: str = CONTINUATION
    form: str = "plain"  # how the responders join o_proj: refusalkit.internals.mogu.FORMS
    seed: int = 0
    save_every: int = 10
    max_steps: int | None = None  # per stage (tests, smoke runs)

    def key(self) -> dict:
        """The settings that change what is trained (not ``routed_tokens`` or ``continuation``, inference choices)."""
        d = asdict(self)
        for k in ("save_every", "routed_tokens", "continuation"):
            d.pop(k)
        if d["form"] == "plain":  # folders trained before the choice existed keep their fingerprints
            d.pop("form")
        return d


@dataclass
class MoGUResult:
    folder: Path
    cached: bool
    seconds: float
    stages: dict = field(default_factory=dict)  # per stage: steps, resumed_from, seconds, cached
    fingerprint: str = ""


# --- one training stage -------------------------------------------------------------------------
def _schedule(optim, total: int, warmup: float = 0.05):
    warm = max(1, int(warmup * total))
    return torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
    )


def _run_stage(
    name: str,
    folder: Path,
    fp: str,
    params: dict[str, torch.Tensor],
    batches: list[list[int]],
    loss_of: Callable[[list[int]], torch.Tensor],
    lr: float,
    save_every: int,
    progress: bool,
) -> dict:
    """Optimise ``params`` over ``batches`` with ``loss_of(batch)``, resuming from ``folder/checkpoint-NAME``
    when it holds a checkpoint of the same fingerprint; returns steps, losses and timing."""
    total = len(batches)
    optim = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=0.0)
    sched = _schedule(optim, total)
    ckpt = folder / f"checkpoint-{name}"
    start, losses = 0, []
    state = _load_state(ckpt)
    if state is not None and state.get("fingerprint") == fp:
        with torch.no_grad():
            for k, v in state["params"].items():
                params[k].copy_(v)
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        start, losses = state["step"], state["losses"]

    def save(step: int) -> None:
        tmp = folder / f"checkpoint-{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _save_state(
            tmp,
            {
                "fingerprint": fp,
                "step": step,
                "losses": losses,
                "params": {k: v.detach() for k, v in params.items()},
                "optim": optim.state_dict(),
                "sched": sched.state_dict(),
            },
        )
        shutil.rmtree(ckpt, ignore_errors=True)
        tmp.rename(ckpt)

    t0 = time.time()
    with progress_bar(f"MoGU {name} ({total} steps)", total, progress) as advance:
        advance(start)
        for step in range(start, total):
            loss = loss_of(batches[step])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            losses.append(round(float(loss.detach()), 4))
            advance(1)
            if (step + 1) % save_every == 0 and step + 1 < total:
                save(step + 1)
    seconds = time.time() - t0
    return {
        "steps": total,
        "resumed_from": start,
        "seconds": round(seconds, 1),  # this call only: a resumed stage ran partly before
        "seconds_per_step": round(seconds / (total - start), 3) if total > start else None,
        "losses": losses,
        "ckpt": ckpt,
    }


def _stage_done(folder: Path, fp: str) -> dict | None:
    manifest = folder / TRAIN_MANIFEST
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if info.get("fingerprint") == fp:
            return info
    return None


def ratio_loss(model, tok, render, pairs: Sequence[Pair], max_length: int) -> torch.Tensor:
    """MoGU's responder loss on a batch of pairs: mean cross-entropy of the ``good`` answers over that of
    the ``bad`` ones (one forward pass over both sides)."""
    good = [_encode(tok, render, p.preferred(), max_length) for p in pairs]
    bad = [_encode(tok, render, p.avoided(), max_length) for p in pairs]
    batch = _batch(good + bad, tok.pad_token_id)
    sums, counts = _answer_loss(model, {k: v.to(model.device) for k, v in batch.items()}, per_row=True)
    n = len(pairs)
    return (sums[:n].sum() / counts[:n].sum()) / (sums[n:].sum() / counts[n:].sum())


def train_responder(
    target, kind: str, pairs: Sequence[Pair], folder: Path, config: MoGUConfig, fp: str, progress: bool
) -> dict:
    """Train the ``glad`` or ``unwilling`` LoRA into ``folder/KIND`` (the aligned model stays frozen)."""
    out = folder / kind
    done = _stage_done(out, fp)
    if done:
        return {"cached": True, **{k: done.get(k) for k in ("steps", "resumed_from", "seconds_per_step", "final_loss")}}
    torch.manual_seed(config.seed)
    lora = SFTConfig(
        rank=config.rank, alpha=config.alpha, target_modules=("o_proj",), top_layers=None, seed=config.seed
    )
    model = lora_model(target, lora)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    batches = _order(len(pairs), config.batch_size, config.epochs, config.seed)[: config.max_steps or None]
    model.train()
    try:
        stage = _run_stage(
            kind,
            folder,
            fp,
            params,
            batches,
            lambda idx: ratio_loss(model, target.tokenizer, target.render, [pairs[i] for i in idx], config.max_length),
            config.lr,
            config.save_every,
            progress,
        )
        model.eval()
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
    finally:
        target.model = model.unload()  # the aligned model again, without the LoRA layers
        target.model.eval()
    (out / TRAIN_MANIFEST).write_text(
        json.dumps(
            {
                "fingerprint": fp,
                "kind": kind,
                "steps": stage["steps"],
                "seconds_this_run": stage["seconds"],
                "seconds_per_step": stage["seconds_per_step"],
                "resumed_from": stage["resumed_from"],
                "final_loss": stage["losses"][-1] if stage["losses"] else None,
                "losses": stage["losses"],
            },
            indent=1,
        )
    )
    shutil.rmtree(stage["ckpt"], ignore_errors=True)
    return {
        "cached": False,
        "steps": stage["steps"],
        "resumed_from": stage["resumed_from"],
        "seconds": stage["seconds"],
        "seconds_per_step": stage["seconds_per_step"],
        "final_loss": stage["losses"][-1] if stage["losses"] else None,
    }


def router_loss(mogu: MoGU, model, tok, render, pairs: Sequence[Pair], config: MoGUConfig) -> torch.Tensor:
    """Language-modelling loss of each pair's ``good`` answer through the routed model, plus
    ``gate_weight * (MSE(alpha, y) + MSE(beta, 1 - y))`` over every layer and non-padding token."""
    encoded = [_encode(tok, render, p.preferred(), config.max_length) for p in pairs]
    batch = {k: v.to(model.device) for k, v in _batch(encoded, tok.pad_token_id).items()}
    recorder = GateRecorder(keep_grad=True)
    with mogu.routed(model, recorder):
        sums, counts = _answer_loss(model, batch, share_prefix=False, per_row=True)
    lm = sums.sum() / counts.sum()
    y = torch.tensor([float(p.harmful) for p in pairs], device=model.device)[:, None]
    mask = batch["attention_mask"].float()
    gates = torch.stack(recorder.calls[0], dim=0)  # [layers, batch, tokens, 2]
    err = (gates[..., 0] - y) ** 2 + (gates[..., 1] - (1 - y)) ** 2
    mse = (err * mask).sum() / (mask.sum() * gates.shape[0])
    return lm + config.gate_weight * mse


def _pair_rows(pairs: Sequence[Pair]) -> list[SFTExample]:
    return [SFTExample(p.prompt, p.good + "\x00" + p.bad, str(p.harmful), p.good_eos) for p in pairs]


def fingerprint(base_id: str, pairs: Sequence[Pair], config: MoGUConfig) -> str:
    return data_hash(_pair_rows(pairs), {"base": base_id, "mogu": config.key()})


# what a responder's training depends on, besides the aligned model and its own pairs
RESPONDER_SETTINGS = ("rank", "alpha", "lr", "epochs", "batch_size", "max_length", "seed", "max_steps")


def responder_fingerprint(base_id: str, kind: str, pairs: Sequence[Pair], config: MoGUConfig) -> str:
    """The ``glad`` or ``unwilling`` stage's fingerprint: its pairs and the responder settings only, so that
    a folder trained again with other router settings (or another form) reuses its finished responders."""
    settings = {k: getattr(config, k) for k in RESPONDER_SETTINGS}
    return data_hash(_pair_rows(pairs), {"base": base_id, "responder": kind, "settings": settings})


def train_mogu(
    target,
    pairs: Sequence[Pair],
    out_dir: str | Path,
    config: MoGUConfig | None = None,
    progress: bool = True,
    base_info: dict | None = None,
) -> MoGUResult:
    """Train both responders and the router on ``target`` (the aligned model, frozen throughout) into
    ``out_dir``; a folder finished with the same data and settings is reused, a killed one resumes.
    ``base_info`` (model spec, adapter) is recorded in the manifest."""
    from ..targets.base import require_whitebox

    require_whitebox(target, "MoGU training")
    config = config or MoGUConfig()
    harmful = [p for p in pairs if p.harmful]
    benign = [p for p in pairs if not p.harmful]
    if not harmful or not benign:
        raise RefusalkitError(
            f"MoGU needs harmful and benign pairs; got {len(harmful)} harmful and {len(benign)} benign"
        )
    folder = Path(out_dir)
    check_form(config.form)
    fp = fingerprint(target.id, pairs, config)
    manifest = folder / MANIFEST
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if info.get("fingerprint") == fp:
            # the inference choices are not part of what was trained: a rerun with other ones rewrites them
            choices = {"routed_tokens": config.routed_tokens, "continuation": config.continuation}
            if any(info.get(k) != v for k, v in choices.items()):
                info = {**info, **choices, "config": {**info.get("config", {}), **choices}}
                manifest.write_text(json.dumps(info, indent=1))
            return MoGUResult(folder, True, 0.0, info.get("stages", {}), fp)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for p in target.model.parameters():
        p.requires_grad_(False)
    stages = {
        kind: train_responder(
            target, kind, side, folder, config, responder_fingerprint(target.id, kind, side, config), progress
        )
        for kind, side in (("glad", benign), ("unwilling", harmful))
    }
    model = target.model
    for p in model.parameters():
        p.requires_grad_(False)
    n_layers = len(new_routers(model, 1))
    mogu = MoGU(
        Responder.from_adapter(folder / "glad", n_layers).to(target.device),
        Responder.from_adapter(folder / "unwilling", n_layers).to(target.device),
        new_routers(model, config.router_rank, config.seed).to(target.device),
        {"form": config.form},
    )
    params = {n: p for n, p in mogu.routers.named_parameters()}
    batches = _order(len(pairs), config.batch_size, config.router_epochs, config.seed + 1)[: config.max_steps or None]
    stage = _run_stage(
        "router",
        folder,
        f"{fp}-router",
        params,
        batches,
        lambda idx: router_loss(mogu, model, target.tokenizer, target.render, [pairs[i] for i in idx], config),
        config.router_lr,
        config.save_every,
        progress,
    )
    stages["router"] = {k: v for k, v in stage.items() if k not in ("losses", "ckpt")}
    stages["router"]["final_loss"] = stage["losses"][-1] if stage["losses"] else None
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.kind or ("harmful" if p.harmful else "benign")] = (
            counts.get(p.kind or ("harmful" if p.harmful else "benign"), 0) + 1
        )
    from ..internals.hooks import block_parts, decoder_layers, out_proj

    mogu.save(
        folder,
        {
            "fingerprint": fp,
            "base": target.id,
            **(base_info or {}),
            "n_layers": n_layers,
            "d_in": out_proj(block_parts(decoder_layers(model)[0])[0]).in_features,
            "router_rank": config.router_rank,
            "routed_tokens": config.routed_tokens,
            "continuation": config.continuation,
            "form": config.form,
            "config": asdict(config),
            "pairs": counts,
            "stages": stages,
            "router_losses": stage["losses"],
            "seconds_this_run": round(time.time() - t0, 1),
        },
    )
    shutil.rmtree(stage["ckpt"], ignore_errors=True)
    console.print(f"MoGU written to {folder}", markup=False)
    return MoGUResult(folder, False, time.time() - t0, stages, fp)
