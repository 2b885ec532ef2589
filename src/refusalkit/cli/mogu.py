"""`refusalkit mogu train`: MoGU's responders and router on an aligned local model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import ADAPTER, app

mogu_app = typer.Typer(
    help="MoGU: a glad and an unwilling responder with a per-layer router (Du et al., 2024).", no_args_is_help=True
)
app.add_typer(mogu_app, name="mogu")


@mogu_app.command("train")
def train(
    model: str = typer.Option(..., "--model", "-m", help="Local transformers model (alias, folder or hub id)."),
    adapter: Optional[str] = ADAPTER,
    out_dir: Path = typer.Option(..., "--out", help="MoGU folder (resumes from its checkpoints if killed)."),
    pairs: int = typer.Option(200, "--pairs", help="Harmful pairs, and benign pairs, trained on (each side)."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over each responder's pairs."),
    router_epochs: float = typer.Option(1.0, "--router-epochs", help="Passes over all pairs for the router."),
    max_length: int = typer.Option(64, "--max-length", help="Tokens per example (prompt + answer)."),
    routed_tokens: int = typer.Option(5, "--routed-tokens", help="Answer tokens routed at inference (m)."),
    continuation: Optional[str] = typer.Option(
        None,
        "--continuation",
        help="How the plain model writes the rest at inference: replay (re-reads prompt and routed tokens, "
        "as in the paper), cache (goes on from the routed pass's cache) or shared (reads the prompt once, "
        "plain; routes only the passes choosing the routed tokens). Default: refusalkit's (see the MoGU docs page).",
    ),
    max_steps: Optional[int] = typer.Option(
        None, "--max-steps", help="Stop each stage after this many steps (smoke runs)."
    ),
    seed: int = typer.Option(0),
) -> None:
    """Train MoGU on MODEL (with --adapter: the aligned model, e.g. the study's adapters/safety).

    Data: the study's variant (c) rows as pairs (benign request: helpful answer vs refusal; harmful request:
    refusal vs a bare affirmative opening). Evaluate with `refusalkit eval --model M --adapter A --mogu OUT`."""
    from ..checks import at_least, output_dir
    from ..errors import RefusalkitError
    from ..internals.mogu import CONTINUATION, check_continuation
    from ..targets import load_target
    from ..train.mogu import MoGUConfig, train_mogu
    from ..train.study import study_pairs

    output_dir(out_dir)
    for value, option in (
        (pairs, "--pairs"),
        (max_length, "--max-length"),
        (routed_tokens, "--routed-tokens"),
        (max_steps, "--max-steps"),
    ):
        at_least(value, 1, option)
    for value, option in ((epochs, "--epochs"), (router_epochs, "--router-epochs")):
        if not value > 0:
            raise RefusalkitError(f"{option} must be above 0, got {value}")
    continuation = check_continuation(continuation or CONTINUATION, "--continuation")
    if adapter and not Path(adapter).is_dir():
        raise RefusalkitError(f"--adapter {adapter}: no such folder")
    config = MoGUConfig(
        epochs=epochs,
        router_epochs=router_epochs,
        max_length=max_length,
        routed_tokens=routed_tokens,
        continuation=continuation,
        max_steps=max_steps,
        seed=seed,
    )
    data = study_pairs(model, per_side=pairs, seed=seed)
    target = load_target(model, adapter=adapter)
    result = train_mogu(
        target,
        data,
        out_dir,
        config,
        base_info={"model": model, "adapter": str(Path(adapter).resolve()) if adapter else None},
    )
    if result.cached:
        typer.echo(f"mogu: reused the finished MoGU in {out_dir}", err=True)
    else:
        typer.echo(f"mogu: trained in {result.seconds:.0f}s into {out_dir}", err=True)
    typer.echo(str(out_dir))


MOGU = typer.Option(
    None,
    "--mogu",
    help="Answer through a MoGU folder from `refusalkit mogu train` (a local model, with the --adapter it was trained on).",
)
MOGU_CONTINUATION = typer.Option(
    None,
    "--mogu-continuation",
    help="With --mogu: how the plain model writes the rest of the answer (replay, cache or shared); "
    "default the folder's (`mogu train --continuation`).",
)


def check_mogu(folder: Optional[Path], continuation: Optional[str], steer: Optional[str]) -> None:
    """The --mogu options' checks that need no model (one line each), run before the model loads."""
    from ..errors import RefusalkitError
    from ..internals.mogu import MoGU, check_continuation

    if continuation is not None and not folder:
        raise RefusalkitError("--mogu-continuation needs --mogu DIR")
    if not folder:
        return
    if steer:
        raise RefusalkitError("--mogu and --steer both wrap the model; use one of them")
    if continuation is not None:
        check_continuation(continuation, "--mogu-continuation")
    MoGU.read_manifest(folder)  # not a MoGU folder


def with_mogu(target, folder: Path, continuation: Optional[str] = None):
    """``target`` answered through the MoGU in ``folder``; warns when it was trained on another model."""
    from ..internals.mogu import MoGUTarget

    wrapped = MoGUTarget(target, folder, continuation=continuation)
    trained_on = wrapped.mogu.info.get("base")
    if trained_on and trained_on != target.id:
        typer.echo(f"warning: {folder} was trained on {trained_on}; applying it to {target.id}", err=True)
    return wrapped
