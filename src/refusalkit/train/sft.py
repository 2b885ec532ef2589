"""LoRA supervised fine-tuning of a local transformers target (peft), resumable.

Each example is rendered with the model's chat template exactly as at inference time (system prompt
included), and the loss covers the answer tokens only (prompt positions are labelled -100). The
adapter folder this writes loads anywhere with ``--adapter DIR``.

Resuming: every ``save_every`` steps the LoRA weights, optimizer and scheduler state and the step
number go to ``OUT/checkpoint`` (written to a temporary folder and renamed, so a kill never leaves a
half checkpoint). The checkpoint holds no pickle: tensors in ``state.safetensors``, everything else
in ``state.json``, so resuming from a folder someone else wrote runs no code from it. The batch order is a pure function of (seed, epoch), so a re-run with the same data
and settings continues exactly where the killed run stopped. A finished folder whose fingerprint
matches is reused as is.

Preference term (``SFTConfig.preference`` > 0): each example also gets an answer to avoid
(:func:`refusalkit.train.data.example_pairs`: an affirmative opening for a refusal, a refusal for a
helpful answer), and the step adds ``preference * mean(-log sigmoid(beta * margin))`` to the
cross-entropy, where ``margin`` is how much more the adapter raises the answer's log-probability than the
avoided one's over the frozen base model (the DPO loss, Rafailov et al. 2023). Plain SFT only makes the
right answer likely; the term also pushes the wrong one down, request by request, so a look-alike's
refusal and a harmful request's compliant opening are trained against each other in the same objective.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import torch

from ..errors import RefusalkitError
from ..progress import progress_bar
from .data import SFTExample, data_hash, example_pairs

MANIFEST = "refusalkit-train.json"
MIN_SHARED_PREFIX = 4  # shorter shared prefixes are not worth a second forward call


@dataclass
class SFTConfig:
    """LoRA and optimisation settings. Defaults were tuned on the bundled SmolLM2-135M (see docs/results/study.md)."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    top_layers: int | None = 8  # LoRA only on the last N blocks: backward stops there (CPU time)
    lr: float = 5e-4
    epochs: float = 1.0
    batch_size: int = 8
    max_length: int = 80
    warmup: float = 0.05
    seed: int = 0
    save_every: int = 10
    max_steps: int | None = None  # cap (tests, --quick)
    # bfloat16 autocast: 1.4x faster per step on a CPU with AVX512-BF16 (benchmarks/train_speed.py), and on GPUs;
    # slower on CPUs without it. None = use it where the device supports it (the choice is recorded).
    bf16: bool | None = False
    preference: float = 0.0  # weight of the DPO term (module docstring); 0 = plain SFT
    preference_beta: float = 0.1  # DPO's beta: how far the margin may grow before the term stops pulling

    def to_dict(self) -> dict:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        if d["bf16"] is False:  # float32 is how every adapter was trained before the option: keep their fingerprints
            del d["bf16"]
        if not d["preference"]:  # likewise for plain SFT
            del d["preference"], d["preference_beta"]
        return d


@dataclass
class TrainResult:
    adapter_dir: Path
    steps: int
    resumed_from: int
    seconds: float
    cached: bool
    losses: list[float] = field(default_factory=list)
    fingerprint: str = ""


def trained_info(out_dir: str | Path) -> dict:
    """The ``data`` facts a finished adapter's manifest records (``train_lora(info=...)``); empty when it
    has none."""
    manifest = Path(out_dir) / MANIFEST
    return json.loads(manifest.read_text()).get("data", {}) if manifest.exists() else {}


def is_trained(out_dir: Path, fingerprint: str) -> bool:
    manifest = out_dir / MANIFEST
    if not manifest.exists() or not (out_dir / "adapter_config.json").exists():
        return False
    return json.loads(manifest.read_text()).get("fingerprint") == fingerprint


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast is fast on ``device``: a GPU with bf16, or a CPU with AVX512-BF16 / AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def fingerprint(base_id: str, examples: Sequence[SFTExample], config: SFTConfig, scheme=None) -> str:
    cfg = config.to_dict()
    cfg.pop("save_every")
    extra = {"refusal_tokens": scheme.to_dict()} if scheme is not None else {}
    return data_hash(examples, {"base": base_id, **cfg, **extra})


def _encode(tokenizer, render, ex: SFTExample, max_length: int) -> tuple[list[int], list[int]]:
    prompt_ids = tokenizer(render(ex.prompt), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(ex.answer, add_special_tokens=False)["input_ids"]
    if ex.token:  # a refusal token opens the answer as one vocabulary id
        token_id = tokenizer.convert_tokens_to_ids(ex.token)
        if token_id is None or tokenizer.convert_ids_to_tokens(token_id) != ex.token:
            raise RefusalkitError(f"the tokenizer has no token {ex.token}; add the scheme's tokens before training")
        answer_ids = [token_id] + answer_ids
    if ex.eos:
        answer_ids = answer_ids + [tokenizer.eos_token_id]
    prompt_ids = prompt_ids[-(max_length - 8) :]  # only an overlong request loses its start
    answer_ids = answer_ids[: max(1, max_length - len(prompt_ids))]
    labels = list(answer_ids)
    if ex.token and ex.forced:  # a given token: what follows it is trained, not the choice of it
        labels[0] = -100
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + labels


def _batch(encoded, pad_id: int):
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (ids, lab) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(lab)] = torch.tensor(lab)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def shared_prefix(batch: dict) -> int:
    """How many leading tokens every row of ``batch`` shares, stopping before the position that predicts
    the first answer token. With a chat template that is at least the system prompt and the template's
    opening (24 of about 75 tokens per row on the bundled model)."""
    ids, labels = batch["input_ids"], batch["labels"]
    answer_cols = (labels != -100).any(0).nonzero()
    if ids.shape[0] < 2 or not len(answer_cols):
        return 0
    same = ((ids == ids[:1]) & (batch["attention_mask"] == 1)).all(0)
    return min(int(same.int().cumprod(0).sum()), int(answer_cols[0]) - 1)


def _answer_loss(model, batch: dict, share_prefix: bool = True, per_row: bool = False):
    """The loss ``model(labels=...)`` computes (mean next-token cross-entropy over answer tokens), at less cost.

    - The tokens every row shares (:func:`shared_prefix`, e.g. the system prompt) run once, for one row;
      their keys and values, still attached to the graph, are repeated for the batch, and the rest of each
      row attends to them. Gradients flow back through that cache, so the result is the same up to float
      rounding (on the bundled model 28% fewer positions per step, 1.16x faster; ``benchmarks/train_speed.py``). With
      LoRA dropout the shared tokens see one dropout mask instead of one per row.
    - The vocabulary projection runs only from the batch's first answer position on (``logits_to_keep``):
      prompt positions carry no loss, and their 49k-way projection was a fifth of a step.

    ``per_row=True`` returns ``(sums, counts)`` instead: each row's summed answer-token cross-entropy and
    its number of answer tokens (losses that compare answers, such as MoGU's ratios, need them apart)."""
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    cut = shared_prefix(batch) if share_prefix else 0
    cache = None
    if cut >= MIN_SHARED_PREFIX:
        cache = model(input_ids=ids[:1, :cut], use_cache=True).past_key_values
        cache.batch_repeat_interleave(ids.shape[0])
    else:
        cut = 0
    labels = labels[:, cut:]
    answer_cols = (labels != -100).any(0).nonzero()
    start = max(int(answer_cols[0]) - 1, 0) if len(answer_cols) else 0
    keep = torch.arange(start, labels.shape[1] - 1, device=labels.device)
    logits = model(input_ids=ids[:, cut:], attention_mask=mask, past_key_values=cache, logits_to_keep=keep).logits
    if per_row:
        target = labels[:, start + 1 :]
        ce = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), target.flatten(), ignore_index=-100, reduction="none"
        ).view(target.shape)
        valid = target != -100
        return (ce * valid).sum(1), valid.sum(1)
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1).float(), labels[:, start + 1 :].flatten(), ignore_index=-100
    )


def trainable_token_rows(target) -> dict[str, list[int]] | None:
    """peft's ``trainable_token_indices`` for a target carrying refusal tokens (else None): the tokens'
    rows of the input embedding, and of the output embedding when it is not tied to the input one
    (a tied output layer shares the trained rows; peft wraps it alongside)."""
    scheme = getattr(target, "refusal_tokens", None)
    if scheme is None:
        return None
    from ..targets.refusal_tokens import token_ids

    ids = sorted(token_ids(target.tokenizer, scheme).values())
    model = target.model
    names = {id(m): n.rpartition(".")[2] for n, m in model.named_modules()}
    emb, out = model.get_input_embeddings(), model.get_output_embeddings()
    rows = {names[id(emb)]: ids}
    if out is not None and out.weight is not emb.weight:
        rows[names[id(out)]] = ids
    return rows


def lora_model(target, config: SFTConfig):
    """``target.model`` wrapped (in place) with fresh LoRA adapters as ``config`` asks: rank, alpha,
    dropout, projections, and only the last ``top_layers`` blocks when set; a target carrying refusal
    tokens also trains those tokens' embedding rows (:func:`trainable_token_rows`), nothing else of
    the embedding."""
    from peft import LoraConfig, get_peft_model

    n_layers = target.model.config.num_hidden_layers
    layers = None
    if config.top_layers and config.top_layers < n_layers:
        layers = list(range(n_layers - config.top_layers, n_layers))
    model = get_peft_model(
        target.model,
        LoraConfig(
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=list(config.target_modules),
            layers_to_transform=layers,
            task_type="CAUSAL_LM",
            trainable_token_indices=trainable_token_rows(target),
        ),
    )
    token_rows_only(model)
    return model


def _token_rows_forward(layer, x: torch.Tensor) -> torch.Tensor:
    """peft's trainable-token forward, computed on the token rows alone (:func:`token_rows_only`)."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    base, adapters = layer.base_layer, layer.active_adapters
    plain = isinstance(base, torch.nn.Embedding) and layer._get_embed_scale() is None
    plain = plain or (isinstance(base, torch.nn.Linear) and base.bias is None)
    if layer.disable_adapters or layer.merged or len(adapters) != 1 or not plain:
        return TrainableTokensLayer.forward(layer, x)
    index = torch.tensor(layer.token_indices[adapters[0]], device=x.device)
    delta = layer.trainable_tokens_delta[adapters[0]]
    if isinstance(base, torch.nn.Linear):  # a tied output layer: only the token columns use the trained rows
        return base(x).index_copy(-1, index, torch.nn.functional.linear(x, delta.to(x.dtype)))
    out = base(x)
    hit = x.unsqueeze(-1) == index  # (..., n_tokens): which positions hold which token
    if not hit.any():
        return out
    rows = hit.to(delta.dtype) @ delta
    return torch.where(hit.any(-1, keepdim=True), rows.to(out.dtype), out)


def token_rows_only(model) -> None:
    """Make peft's trainable-token layers compute their output from the frozen layer plus the token rows.

    peft builds the whole merged matrix (the vocabulary with the trained rows copied in) on every forward
    pass, of the embedding and of the tied output layer, and its backward then forms the gradient of the
    whole output matrix (one more vocabulary-sized product per step) to keep a few rows of it. The outputs
    and gradients are the same when the frozen layer runs as is and only the token rows (input positions
    holding a token, output columns of a token) use the trained values; ``tests/test_refusal_tokens.py``
    checks both against peft's own forward. Layers this does not cover (several adapters, merged weights,
    scaled embeddings, a biased head) keep peft's forward."""
    import types

    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    for module in model.modules():
        if isinstance(module, TrainableTokensLayer):
            module.forward = types.MethodType(_token_rows_forward, module)


STATE_TENSORS, STATE_JSON = "state.safetensors", "state.json"
LEGACY_STATE = "state.pt"  # torch.save pickle written by earlier refusalkit releases


def _flatten(obj, tensors: dict):
    """``obj`` as JSON, its tensors moved into ``tensors`` (named t0, t1, ...) and referenced by name.
    Dict keys keep their type (optimizer state is keyed by parameter index) and tuples stay tuples."""
    if isinstance(obj, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": name}
    if isinstance(obj, dict):
        return {"__items__": [[k, _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"a training checkpoint cannot hold a {type(obj).__name__}")


def _unflatten(obj, tensors: dict):
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        return {k: _unflatten(v, tensors) for k, v in obj["__items__"]}
    return obj


def _save_state(folder: Path, state: dict) -> None:
    from safetensors.torch import save_file

    tensors: dict = {}
    tree = _flatten(state, tensors)
    save_file(tensors, str(folder / STATE_TENSORS))
    (folder / STATE_JSON).write_text(json.dumps(tree))


def _load_state(ckpt: Path) -> dict | None:
    """The checkpoint in ``ckpt``, or None when there is none (or none that loads safely: training then
    starts from step 0, and says why). An older release's ``state.pt`` is read with
    ``torch.load(weights_only=True)``, which builds only tensors and plain containers."""
    from ..progress import console

    if (ckpt / STATE_JSON).exists() and (ckpt / STATE_TENSORS).exists():
        from safetensors.torch import load_file

        try:
            return _unflatten(json.loads((ckpt / STATE_JSON).read_text()), load_file(str(ckpt / STATE_TENSORS)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            console.print(
                f"checkpoint {ckpt} is damaged ({type(exc).__name__}); training starts again from step 0", markup=False
            )
            return None
    legacy = ckpt / LEGACY_STATE
    if legacy.exists():
        try:
            state = torch.load(legacy, weights_only=True, map_location="cpu")
        except Exception as exc:  # the restricted unpickler refuses anything but tensors and containers
            console.print(
                f"checkpoint {legacy} holds more than tensors and plain data ({type(exc).__name__}), "
                "so it is not loaded; training starts again from step 0",
                markup=False,
            )
            return None
        return state if isinstance(state, dict) else None
    return None


def _order(n: int, batch_size: int, epochs: float, seed: int) -> list[list[int]]:
    """All batches of the run, epoch by epoch, shuffled by (seed, epoch): the same on every re-run."""
    batches: list[list[int]] = []
    per_epoch = math.ceil(n / batch_size)
    total = max(1, round(per_epoch * epochs))
    epoch = 0
    while len(batches) < total:
        idx = list(range(n))
        random.Random(seed * 1000 + epoch).shuffle(idx)
        batches += [idx[i : i + batch_size] for i in range(0, n, batch_size)]
        epoch += 1
    return batches[:total]


def _logps(model, batch: dict) -> torch.Tensor:
    """Each row's summed answer-token log-probability."""
    sums, _ = _answer_loss(model, batch, per_row=True)
    return -sums


def _reference_logps(model, encoded, avoided, pad_id: int, config: SFTConfig) -> torch.Tensor:
    """``(n, 2)``: each example's answer and avoided answer log-probabilities under the base model (the
    adapter switched off), computed once before training; a resumed run computes the same."""
    out = []
    with torch.no_grad(), model.disable_adapter():
        for i in range(0, len(encoded), config.batch_size):
            rows = encoded[i : i + config.batch_size] + avoided[i : i + config.batch_size]
            batch = {k: v.to(model.device) for k, v in _batch(rows, pad_id).items()}
            with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=config.bf16):
                lp = _logps(model, batch).float()
            out.append(lp.view(2, -1).T)
    return torch.cat(out)


def _preference_loss(model, batch: dict, reference: torch.Tensor, config: SFTConfig) -> torch.Tensor:
    """Mean answer-token cross-entropy of the batch's first half (the answers) plus the weighted DPO loss of
    each answer against its avoided answer (the second half), ``reference`` holding their base log-probs."""
    sums, counts = _answer_loss(model, batch, per_row=True)
    n = len(reference)
    sft = sums[:n].sum() / counts[:n].sum()
    margin = (reference[:, 1] - reference[:, 0]) - (sums[:n] - sums[n:])  # (lp_good - ref) - (lp_bad - ref)
    return sft - config.preference * torch.nn.functional.logsigmoid(config.preference_beta * margin).mean()


def train_lora(
    target,
    examples: Sequence[SFTExample],
    out_dir: str | Path,
    config: SFTConfig | None = None,
    progress: bool = True,
    description: str = "aligning",
    info: dict | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on ``examples`` into ``out_dir`` (resuming from its checkpoint).

    ``target`` is a local :class:`~refusalkit.targets.hf.HFTarget`; its model receives the adapter
    in place (load a fresh target to evaluate the base again). ``info`` (facts about how the examples
    were chosen) is recorded in the adapter's manifest under ``data``; it is not part of the fingerprint.
    """
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    from ..targets.base import require_whitebox

    require_whitebox(target, "LoRA fine-tuning")
    config = config or SFTConfig()
    if config.bf16 is None:
        config = replace(config, bf16=bf16_supported(target.device))
    if not examples:
        raise RefusalkitError("no training examples")
    out_dir = Path(out_dir)
    scheme = getattr(target, "refusal_tokens", None)
    if scheme is None and any(ex.token for ex in examples):
        raise RefusalkitError(
            "these examples carry refusal tokens: add them to the target first (refusal_tokens.add_tokens)"
        )
    fp = fingerprint(target.id, examples, config, scheme)
    if is_trained(out_dir, fp):
        return TrainResult(out_dir, 0, 0, 0.0, cached=True, fingerprint=fp)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)

    tok = target.tokenizer
    encoded = [_encode(tok, target.render, ex, config.max_length) for ex in examples]
    avoided = None
    if config.preference:
        if scheme is not None:
            raise RefusalkitError("the preference term does not train refusal tokens: use one or the other")
        avoided = [_encode(tok, target.render, p.avoided(), config.max_length) for p in example_pairs(examples)]
    batches = _order(len(encoded), config.batch_size, config.epochs, config.seed)
    if config.max_steps:
        batches = batches[: config.max_steps]
    total = len(batches)

    model = lora_model(target, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    warm = max(1, int(config.warmup * total))
    # Linear warm-up, then linear decay to zero.
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
    )

    ckpt = out_dir / "checkpoint"
    start, losses = 0, []
    state = _load_state(ckpt)
    if state is not None:
        if state.get("fingerprint") == fp:
            set_peft_model_state_dict(model, state["lora"])
            optim.load_state_dict(state["optim"])
            sched.load_state_dict(state["sched"])
            start, losses = state["step"], state["losses"]

    def save_checkpoint(step: int) -> None:
        tmp = out_dir / "checkpoint.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _save_state(
            tmp,
            {
                "fingerprint": fp,
                "step": step,
                "losses": losses,
                "lora": get_peft_model_state_dict(model, save_embedding_layers=False),
                "optim": optim.state_dict(),
                "sched": sched.state_dict(),
            },
        )
        shutil.rmtree(ckpt, ignore_errors=True)
        tmp.rename(ckpt)

    t0 = time.time()
    reference = _reference_logps(model, encoded, avoided, tok.pad_token_id, config) if avoided else None
    model.train()
    with progress_bar(f"{description} ({total} steps)", total, progress) as advance:
        advance(start)
        for step in range(start, total):
            idx = batches[step]
            rows = [encoded[i] for i in idx] + ([avoided[i] for i in idx] if avoided else [])
            batch = {k: v.to(target.device) for k, v in _batch(rows, tok.pad_token_id).items()}
            with torch.autocast(target.device.type, dtype=torch.bfloat16, enabled=config.bf16):
                if reference is None:
                    loss = _answer_loss(model, batch)
                else:
                    loss = _preference_loss(model, batch, reference[idx], config)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            losses.append(round(float(loss.detach()), 4))
            advance(1)
            if (step + 1) % config.save_every == 0 and step + 1 < total:
                save_checkpoint(step + 1)
    model.eval()
    # Refusal tokens: only their trained rows are saved (the full embedding would add ~100 MB on the
    # bundled model); refusal_tokens.restore rebuilds the rest on load.
    model.save_pretrained(out_dir, save_embedding_layers=False)
    if scheme is not None:
        from ..targets.refusal_tokens import save as save_tokens

        save_tokens(out_dir, target)
    counts: dict[str, int] = {}
    for ex in examples:
        counts[ex.kind] = counts.get(ex.kind, 0) + 1
    (out_dir / MANIFEST).write_text(
        json.dumps(
            {
                "fingerprint": fp,
                "base": target.id,
                "config": config.to_dict(),
                "steps": total,
                "resumed_from": start,
                "examples": counts,
                "refusal_tokens": scheme.to_dict() if scheme is not None else None,
                **({"data": info} if info else {}),
                "seconds_this_run": round(time.time() - t0, 1),
                "final_loss": losses[-1] if losses else None,
                "losses": losses,
            },
            indent=1,
        )
    )
    shutil.rmtree(ckpt, ignore_errors=True)
    # Leave the caller's target usable: its model now carries the trained adapter, merged.
    target.model = model.merge_and_unload()
    return TrainResult(out_dir, total, start, time.time() - t0, cached=False, losses=losses, fingerprint=fp)
