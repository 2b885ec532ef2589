"""`refusalkit align` and `refusalkit mitigate`: LoRA safety alignment and its over-refusal fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .app import app, openai_options


def _config(epochs: float, lr: float, rank: int, batch_size: int, max_length: int, max_steps: Optional[int], seed: int):
    """The LoRA settings, checked before any data is built or a model loads."""
    from ..checks import at_least
    from ..errors import RefusalkitError
    from ..train.sft import SFTConfig

    for value, option in ((epochs, "--epochs"), (lr, "--lr")):
        if not value > 0:
            raise RefusalkitError(f"{option} must be above 0, got {value}")
    for value, option in (
        (rank, "--rank"),
        (batch_size, "--batch-size"),
        (max_length, "--max-length"),
        (max_steps, "--max-steps"),
    ):
        at_least(value, 1, option)

    return SFTConfig(
        rank=rank,
        alpha=2 * rank,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        max_length=max_length,
        max_steps=max_steps,
        seed=seed,
    )


EPOCHS = typer.Option(1.0, help="Passes over the training mix.")
LR = typer.Option(5e-4, help="AdamW learning rate (linear warm-up and decay).")
RANK = typer.Option(16, help="LoRA rank (alpha = 2 x rank) on all attention and MLP projections.")
BATCH = typer.Option(8, "--batch-size")
MAXLEN = typer.Option(80, "--max-length", help="Tokens per example (prompt + answer).")
MAXSTEPS = typer.Option(None, "--max-steps", help="Stop after this many steps (smoke runs).")
SEED = typer.Option(0)
REFUSAL_TOKENS = typer.Option(
    None,
    "--refusal-tokens",
    help="Prefix every trained answer with a control token: single ([refuse] / [respond]) or categories (one "
    "[refuse:GROUP] per group of harm categories); set the refusal rate at inference with --refusal-threshold.",
)


def _refusal_tokens(mode: Optional[str]) -> Optional[str]:
    """``--refusal-tokens``, checked before any model loads."""
    from ..targets.refusal_tokens import MODES

    if mode is not None and mode not in MODES:
        from ..errors import RefusalkitError

        raise RefusalkitError(f"--refusal-tokens must be one of {', '.join(MODES)}, got '{mode}'")
    return mode


DATA = typer.Option(
    None,
    "--data",
    help="Alignment set in the bundled layout (JSONL/CSV/Parquet: id, text, label, split, target = refusal for harmful rows, trigger_benign twin); default: the bundled one.",
)


def _done(result, what: str) -> None:
    if result.cached:
        typer.echo(f"{what}: reused the finished adapter in {result.adapter_dir}", err=True)
    else:
        extra = f", resumed at step {result.resumed_from}" if result.resumed_from else ""
        typer.echo(
            f"{what}: {result.steps} steps in {result.seconds:.0f}s{extra}; adapter in {result.adapter_dir}", err=True
        )
    typer.echo(str(result.adapter_dir))


@app.command()
def align(
    out_dir: Path = typer.Option(..., "--out", help="Adapter folder (resumes from its checkpoint if killed)."),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Local transformers model to align."),
    epochs: float = EPOCHS,
    lr: float = LR,
    rank: int = RANK,
    batch_size: int = BATCH,
    max_length: int = MAXLEN,
    max_steps: Optional[int] = MAXSTEPS,
    seed: int = SEED,
    data: Optional[Path] = DATA,
    refusal_tokens: Optional[str] = REFUSAL_TOKENS,
) -> None:
    """Safety-align a model with LoRA SFT on the bundled alignment set (harmful -> refusal, benign -> helpful).

    Load the result anywhere with `--model MODEL --adapter OUT` (an adapter trained with refusal tokens
    brings its tokens along).
    """
    from ..checks import output_dir
    from ..train.align import train_variant
    from ..train.data import load_align_rows

    output_dir(out_dir)
    config = _config(epochs, lr, rank, batch_size, max_length, max_steps, seed)
    mode = _refusal_tokens(refusal_tokens)
    result = train_variant("safety", model, out_dir, config, rows=load_align_rows(data), refusal_tokens=mode)
    _done(result, "align")


@app.command()
@openai_options
def mitigate(
    method: str = typer.Option(
        ..., "--method", help="generic (safety + plain benign) or triggers (safety + trigger-aware benign)."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Adapter folder (resumable)."),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Local transformers model to align."),
    source: str = typer.Option("pairs", "--source", help="Trigger-aware data: pairs | rewriter | auto."),
    rewriter: Optional[str] = typer.Option(
        None, "--rewriter", help="Model that rewrites harmful requests into benign twins (e.g. openai:NAME)."
    ),
    epochs: float = EPOCHS,
    lr: float = LR,
    rank: int = RANK,
    batch_size: int = BATCH,
    max_length: int = MAXLEN,
    max_steps: Optional[int] = MAXSTEPS,
    seed: int = SEED,
    data: Optional[Path] = DATA,
    refusal_tokens: Optional[str] = REFUSAL_TOKENS,
    client=None,
) -> None:
    """Safety alignment plus an over-refusal mitigation at the same data budget."""
    from ..errors import RefusalkitError
    from ..train.align import train_variant
    from ..train.data import load_align_rows

    from ..checks import output_dir

    if method not in ("generic", "triggers"):
        raise RefusalkitError(f"unknown method '{method}': use generic or triggers")
    output_dir(out_dir)
    config = _config(epochs, lr, rank, batch_size, max_length, max_steps, seed)
    mode = _refusal_tokens(refusal_tokens)
    texts = None
    rows = load_align_rows(data)
    if method == "triggers":
        from ..targets import load_target
        from ..triggers import data as tdata
        from ..harm import PromptHarmClassifier

        harm = PromptHarmClassifier.from_align_rows(rows)
        rw = load_target(rewriter, **client.target_kwargs()) if rewriter else None
        built = tdata.build(source, rows, harm, rewriter=rw)
        s = built.summary()
        typer.echo(
            f"trigger-aware data ({source}): {s['accepted']} accepted, {s['rejected']} rejected by the harm check, {s['unusable']} unusable",
            err=True,
        )
        texts = built.pairs
    result = train_variant(method, model, out_dir, config, trigger_texts=texts, rows=rows, refusal_tokens=mode)
    _done(result, f"mitigate ({method})")


@app.command()
def triggers(
    model: str = typer.Option("smollm2-135m-aligned", "--model", "-m", help="White-box model to explain."),
    adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder to apply."),
    prompts: str = typer.Option(
        "align", "--prompts", help="'align' (the alignment set's harmful train side) or a prompt file/suite."
    ),
    out_dir: Path = typer.Option(Path("runs/triggers"), "--out"),
    limit: int = typer.Option(120, "--limit", help="Requests analysed."),
    examples: int = typer.Option(8, help="Most-refused requests shown word by word."),
    max_n: int = typer.Option(3, "--max-n", help="Longest n-gram considered."),
    min_count: int = typer.Option(3, "--min-count", help="Requests an n-gram must occur in."),
) -> None:
    """Find refusal triggers: per-word attribution (occlusion, gradient x input) and corpus-level cues, split harmful/harmless."""
    from ..checks import at_least, output_dir
    from ..errors import RefusalkitError
    from ..targets import load_target
    from ..train.data import load_align_rows
    from ..triggers.discover import discover, write_report
    from ..harm import PromptHarmClassifier

    output_dir(out_dir)
    for value, lowest, option in (
        (limit, 1, "--limit"),
        (examples, 0, "--examples"),
        (max_n, 1, "--max-n"),
        (min_count, 1, "--min-count"),
    ):
        at_least(value, lowest, option)
    rows = load_align_rows()
    if prompts == "align":
        texts = [r["text"] for r in rows if r["label"] == "harmful" and r.get("split") == "train"]
    else:
        from ..data import load_prompts

        texts = [p.text for p in load_prompts(prompts)]
    if not texts:
        raise RefusalkitError(f"no prompts in {prompts}")
    texts = texts[:: max(1, len(texts) // limit)][:limit]
    target = load_target(model, adapter=adapter)
    result = discover(
        target, texts, PromptHarmClassifier.from_align_rows(rows), examples=examples, max_n=max_n, min_count=min_count
    )
    js, page = write_report(result, out_dir)
    for c in result["cues"][:10]:
        typer.echo(
            f"{c['ngram']:<32} {c['kind']:<9} occlusion {c['occlusion'] if c['occlusion'] is not None else float('nan'):+.3f}  n={c['count']}"
        )
    typer.echo(f"wrote {js} and {page}", err=True)


@app.command()
@openai_options
def study(
    out_dir: Path = typer.Option(..., "--out"),
    quick: bool = typer.Option(False, "--quick", help="Tiny settings (smoke test; numbers not meaningful)."),
    model: str = typer.Option("smollm2-135m", "--model", "-m"),
    judge: Optional[str] = typer.Option(
        None, "--judge", help="Detector for every variant (default: refusalkit's default)."
    ),
    source: str = typer.Option(
        "pairs", "--source", help="Trigger-aware data that trains variant (c): pairs | auto | rewriter."
    ),
    rewriter: Optional[str] = typer.Option(
        None, "--rewriter", help="Model that rewrites harmful requests for --source rewriter (e.g. openai:NAME)."
    ),
    look_alikes: str = typer.Option(
        "partnered",
        "--look-alikes",
        help="Look-alikes variant (c) may learn to answer: partnered (default: all of them, and each core look-alike without a harmful twin brings its written harmful partner as a refusal); all (without the partners); or paired (only twins of harmful requests it learns to refuse).",
    ),
    limit: Optional[int] = typer.Option(None, "--limit", help="Core test prompts evaluated (default all)."),
    ood: bool = typer.Option(
        True,
        "--ood/--no-ood",
        help="Also rate every variant on the out-of-distribution suite 'ood' (317 prompts: one more evaluation per variant); never used to choose a setting.",
    ),
    ood_limit: Optional[int] = typer.Option(
        None, "--ood-limit", help="Ood prompts evaluated (default all; a limit samples round-robin over its kinds)."
    ),
    data: Optional[Path] = DATA,
    suite_train: bool = typer.Option(
        True,
        "--suite-train/--no-suite-train",
        help="Also align on the core suite's train split: its harmful prompts join every safety mix, its trigger-benign prompts come first in (c).",
    ),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Passes over each variant's mix (default 3)."),
    top_layers: Optional[int] = typer.Option(
        None,
        "--top-layers",
        help="LoRA on the last N blocks only (default: every block; 8 makes each step ~2x faster but does not separate intent from trigger).",
    ),
    bf16: Optional[bool] = typer.Option(
        None,
        "--bf16/--no-bf16",
        help="bfloat16 autocast while training (default: where the device makes it fast; the report says which).",
    ),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate of every variant's LoRA (default 1e-3)."),
    refusal_tokens: Optional[str] = REFUSAL_TOKENS,
    preference: Optional[float] = typer.Option(
        None,
        "--preference",
        help="Weight of a DPO term in (c)'s loss: each answer against one to avoid (a refusal for a helpful answer, an affirmative opening for a refusal); default 1, or 0 with --refusal-tokens; 0 = plain SFT.",
    ),
    mogu: bool = typer.Option(
        False,
        "--mogu/--no-mogu",
        help="Also train MoGU on (a) (responders and router, from (c)'s training rows) and rate it like the others.",
    ),
    tokens: bool = typer.Option(
        False,
        "--tokens/--no-tokens",
        help="Also train (a)'s data with category refusal tokens (same budget and settings), rate it like the others and sweep its refusal threshold on each suite; the report draws the sweep as a curve.",
    ),
    client=None,
) -> None:
    """Align the model, find its refusal triggers, train the mitigations, rate every variant on the core test split and the ood suite, write one report."""
    from ..checks import at_least, output_dir
    from ..errors import RefusalkitError
    from ..train.study import StudySettings, run_study

    output_dir(out_dir)
    at_least(limit, 1, "--limit")
    for value, option in ((epochs, "--epochs"), (lr, "--lr")):
        if value is not None and not value > 0:
            raise RefusalkitError(f"{option} must be above 0, got {value}")
    at_least(top_layers, 1, "--top-layers")
    from ..train.align import LOOK_ALIKES

    if look_alikes not in LOOK_ALIKES:
        raise RefusalkitError(f"--look-alikes must be one of {', '.join(LOOK_ALIKES)}, got '{look_alikes}'")
    if preference is not None and preference < 0:
        raise RefusalkitError(f"--preference must be at least 0, got {preference}")
    if preference and refusal_tokens:
        raise RefusalkitError("--preference does not train refusal tokens: use one or the other")
    kw = dict(
        judge=judge,
        trigger_source=source,
        rewriter=rewriter,
        client=client,
        align=str(data) if data else None,
        suite_train=suite_train,
        ood=ood,
        look_alikes=look_alikes,
        refusal_tokens=_refusal_tokens(refusal_tokens),
        mogu=mogu,
        tokens=tokens,
        **({} if preference is None else {"preference": preference}),
    )
    settings = StudySettings.quick(model, **kw) if quick else StudySettings(model=model, **kw)
    if limit is not None:
        settings.eval_limit = limit
    if ood_limit:
        settings.ood_limit = ood_limit
    settings.training(epochs, top_layers, bf16, lr)
    result = run_study(out_dir, settings)

    def rates(variants: dict) -> dict:
        return {
            k: {m: v[m]["rate"] for m in ("harmful_refusal", "trigger_benign_refusal", "plain_benign_refusal")}
            for k, v in variants.items()
        }

    shown = {
        "suites": {
            k: f"{v['prompts']} ({v['split']} split, {v['n_prompts']} prompts)" for k, v in result["suites"].items()
        },
        "variants": rates(result["variants"]),
        "targets": result["targets"],
    }
    if "variants_ood" in result:
        shown.update(variants_ood=rates(result["variants_ood"]), targets_ood=result["targets_ood"])
    if "tokens_curve" in result:  # threshold -> harmful / trigger-benign refusal of the tokens variant's sweep
        shown["tokens_curve"] = {
            suite: {
                f"{p['threshold']:g}": {g: p[g]["rate"] for g in ("harmful", "trigger_benign", "plain_benign")}
                for p in curve["points"]
            }
            for suite, curve in result["tokens_curve"].items()
        }
    typer.echo(json.dumps(shown, indent=1))
