"""Seconds per LoRA training step on the bundled model: the full-vocabulary loss of ``model(labels=...)``
against refusalkit's training loss (``train.sft._answer_loss``), first with the answer-only projection
alone, then also running the tokens every row shares (system prompt, template opening) once per batch;
each in float32 and with bfloat16 autocast (``SFTConfig.bf16``).

All six sides run in this process on the same batches, interleaved batch by batch: the study's (c)
mix with the core suite's train split, batch 8, max length 80, LoRA rank 16 on every block (the study's
default settings). A step here is the forward and backward pass (the optimizer step is the same for
every side); the first batch is a warm-up and is not timed; the median over the timed batches is
reported. ``loss_gap`` is the difference between a side's loss on the first batch and the float32 full
loss's: 0 up to float rounding for refusalkit's losses, since they compute the same quantity.

Prints JSON.  Usage: python benchmarks/train_speed.py [--steps 12] [--top-layers N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from refusalkit.provenance import provenance, run_started


def main() -> None:
    started = run_started()
    from refusalkit.targets import load_target
    from refusalkit.train.align import Budget, suite_train_rows, variant_examples
    from refusalkit.train.data import load_align_rows
    from refusalkit.train.sft import SFTConfig, _answer_loss, _batch, _encode, _order, lora_model, shared_prefix
    from refusalkit.triggers import data as tdata
    from refusalkit.harm import PromptHarmClassifier

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument(
        "--top-layers", type=int, default=None, help="LoRA on the last N blocks only (default: every block)"
    )
    args = ap.parse_args()

    target = load_target("smollm2-135m")
    rows = load_align_rows()
    extra, first = suite_train_rows(rows)
    rows = rows + extra
    twins = tdata.build("pairs", rows, PromptHarmClassifier.from_align_rows(rows)).pairs
    examples = variant_examples("triggers", target, rows, Budget(), twins, answer_tokens=64, first_triggers=first)
    cfg = SFTConfig(top_layers=args.top_layers)
    encoded = [_encode(target.tokenizer, target.render, ex, cfg.max_length) for ex in examples]
    batches = [
        _batch([encoded[i] for i in b], target.tokenizer.pad_token_id)
        for b in _order(len(encoded), cfg.batch_size, 1, 0)[: args.steps + 1]
    ]

    torch.manual_seed(0)
    model = lora_model(target, cfg)
    model.train()

    def full_loss(m, batch):
        return m(**batch).loss

    def answer_only(m, batch):
        return _answer_loss(m, batch, share_prefix=False)

    sides = {
        f"{name}_{dtype}": (fn, dtype == "bf16")
        for dtype in ("fp32", "bf16")
        for name, fn in (("full", full_loss), ("answer_only", answer_only), ("shared_prefix", _answer_loss))
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    first_loss: dict[str, float] = {}
    # Interleaved: every batch goes through the six sides in turn, so a change in the machine's speed
    # during the run hits them alike. The LoRA weights stay at their initialisation (the optimizer step
    # is the same work for every side and is left out).
    for i, batch in enumerate(batches):
        for name, (fn, bf16) in sides.items():
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = fn(model, batch)
            loss.backward()
            elapsed = time.perf_counter() - t0
            if i == 0:
                first_loss[name] = float(loss.detach())
            else:
                times[name].append(elapsed)
    result: dict = {
        "model": "smollm2-135m",
        "threads": torch.get_num_threads(),
        "timed_steps": args.steps,
        "tokens_per_batch": int(batches[0]["attention_mask"].numel()),
        "shared_prefix_tokens": [shared_prefix(b) for b in batches],
        "lora_blocks": args.top_layers or target.model.config.num_hidden_layers,
        "sides": {},
    }
    ref = statistics.median(times["full_fp32"])
    for name in sides:
        med = statistics.median(times[name])
        result["sides"][name] = {
            "s_per_step_median": round(med, 3),
            "s_per_step_all": [round(t, 2) for t in times[name]],
            "speedup_vs_full_fp32": round(ref / med, 2),
            "first_loss": round(first_loss[name], 5),
            "loss_gap": round(abs(first_loss[name] - first_loss["full_fp32"]), 6),
        }
    result["provenance"] = provenance(started)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
