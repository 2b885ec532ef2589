"""`refusalkit align` and `refusalkit mitigate`: LoRA safety alignment and its over-refusal fixes."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app


def _config(epochs: float, lr: float, rank: int, batch_size: int, max_length: int, max_steps: Optional[int], seed: int):
    from ..train.sft import SFTConfig

    return SFTConfig(rank=rank, alpha=2 * rank, lr=lr, epochs=epochs, batch_size=batch_size, max_length=max_length, max_steps=max_steps, seed=seed)


EPOCHS = typer.Option(1.5, help="Passes over the training mix.")
LR = typer.Option(5e-4, help="AdamW learning rate (linear warm-up and decay).")
RANK = typer.Option(16, help="LoRA rank (alpha = 2 x rank) on all attention and MLP projections.")
BATCH = typer.Option(8, "--batch-size")
MAXLEN = typer.Option(88, "--max-length", help="Tokens per example (prompt + answer).")
MAXSTEPS = typer.Option(None, "--max-steps", help="Stop after this many steps (smoke runs).")
SEED = typer.Option(0)


def _done(result, what: str) -> None:
    if result.cached:
        typer.echo(f"{what}: reused the finished adapter in {result.adapter_dir}", err=True)
    else:
        extra = f", resumed at step {result.resumed_from}" if result.resumed_from else ""
        typer.echo(f"{what}: {result.steps} steps in {result.seconds:.0f}s{extra}; adapter in {result.adapter_dir}", err=True)
    typer.echo(str(result.adapter_dir))


@app.command()
def align(
    out_dir: Path = typer.Option(..., "--out", help="Adapter folder (resumes from its checkpoint if killed)."),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Local transformers model to align."),
    epochs: float = EPOCHS, lr: float = LR, rank: int = RANK, batch_size: int = BATCH,
    max_length: int = MAXLEN, max_steps: Optional[int] = MAXSTEPS, seed: int = SEED,
) -> None:
    """Safety-align a model with LoRA SFT on the bundled alignment set (harmful -> refusal, benign -> helpful).

    Load the result anywhere with `--model MODEL --adapter OUT`.
    """
    from ..train.align import train_variant

    result = train_variant("safety", model, out_dir, _config(epochs, lr, rank, batch_size, max_length, max_steps, seed))
    _done(result, "align")
