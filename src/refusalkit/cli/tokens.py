"""`refusalkit refusal-tokens sweep`, and the refusal-token options `eval` and `serve` share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .app import ADAPTER, app

tokens_app = typer.Typer(
    help="Models trained with refusal tokens (align --refusal-tokens): set their refusal rate at inference.",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="refusal-tokens")

THRESHOLD = typer.Option(
    None,
    "--refusal-threshold",
    help="Refusal-token models: force a refusal token when its first-token probability is at least this "
    "(-1: the model's own choice); with category tokens, every category's threshold.",
)
CATEGORY_THRESHOLD = typer.Option(
    None,
    "--category-threshold",
    help="Refusal-token models trained with categories: CATEGORY=T, that category's threshold (repeatable); "
    "categories not named keep --refusal-threshold, or the model's own choice.",
)
BIAS = typer.Option(
    None, "--refusal-bias", help="Refusal-token models: add this to the refusal tokens' logits at the first step."
)
TEMPERATURE = typer.Option(
    None,
    "--first-token-temperature",
    help="Refusal-token models: temperature of the first-token softmax the thresholds read (default 1).",
)


def control_from_options(
    threshold: Optional[float],
    categories: Optional[List[str]],
    bias: Optional[float],
    temperature: Optional[float],
):
    """The refusal-token :class:`~refusalkit.refusal_tokens.target.Control` the options ask for, checked
    before any model loads; None when no option was given (a model with tokens then answers by its own
    choice)."""
    from ..refusal_tokens.target import Control, parse_category_thresholds

    if threshold is None and not categories and bias is None and temperature is None:
        return None
    return Control(
        threshold=threshold,
        categories=parse_category_thresholds(categories),
        bias=bias or 0.0,
        temperature=1.0 if temperature is None else temperature,
    )


def _floats(text: str, option: str) -> list[float]:
    from ..errors import RefusalkitError

    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RefusalkitError(f"{option} takes numbers separated by commas, e.g. 0.1,0.5,0.9; got '{text}'") from None
    if not values:
        raise RefusalkitError(f"{option} is empty; give numbers separated by commas")
    return values


@tokens_app.command("sweep")
def sweep(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="The base model the adapter was trained on."),
    adapter: Optional[str] = ADAPTER,
    prompts: str = typer.Option("core", "--prompts", "-p", help="Prompt set (a suite, benchmark or file)."),
    split: Optional[str] = typer.Option("test", "--split", help="Only prompts of this split ('' for all)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N prompts, spread across prompt types."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for sweep.json, sweep.html and the cached answers."),
    thresholds: Optional[str] = typer.Option(
        None, "--thresholds", help="Thresholds to sweep, comma-separated (default -1 and eleven from 0.01 to 0.99)."
    ),
    category_thresholds: Optional[str] = typer.Option(
        None,
        "--category-thresholds",
        help="Categories models: thresholds each category moves through alone (default 0,0.05,0.2,0.5,0.8,0.95,1).",
    ),
    per_category: bool = typer.Option(
        True, "--per-category/--no-per-category", help="Categories models: also sweep each category's threshold."
    ),
    bias: float = typer.Option(0.0, "--refusal-bias"),
    temperature: float = typer.Option(1.0, "--first-token-temperature"),
    judge: Optional[str] = typer.Option(None, "--judge", help="Detector of the answers (default refusalkit's)."),
    max_new_tokens: int = typer.Option(32, help="Maximum answer length in tokens."),
    batch_size: int = typer.Option(32, help="Prompts per generation batch."),
    system_prompt: Optional[str] = typer.Option(None, "--system-prompt"),
) -> None:
    """Refusal rates over many thresholds from one forward pass per prompt and at most one answer per
    (prompt, forced token); writes sweep.json and sweep.html (harmful refusal against benign,
    trigger-benign and plain-benign refusal, and per-category curves)."""
    from ..checks import at_least, output_dir
    from ..data import load_prompts
    from ..errors import RefusalkitError
    from ..judge import DEFAULT_DETECTOR, resolve_detector
    from ..refusal_tokens.sweep import CATEGORY_THRESHOLDS, THRESHOLDS, run_sweep
    from ..refusal_tokens.target import Control
    from ..targets import load_target
    from ..types import GenParams

    output_dir(out_dir)
    at_least(limit, 1, "--limit")
    ts = _floats(thresholds, "--thresholds") if thresholds else list(THRESHOLDS)
    cts = _floats(category_thresholds, "--category-thresholds") if category_thresholds else list(CATEGORY_THRESHOLDS)
    for t in [*ts, *cts]:
        Control(threshold=t, temperature=temperature)  # range checks, before the model loads
    params = GenParams(max_new_tokens=max_new_tokens, batch_size=batch_size, system_prompt=system_prompt)
    spec, kwargs = resolve_detector(judge or DEFAULT_DETECTOR)
    if spec.needs_target or spec.name == "refusal-token":
        raise RefusalkitError(
            f"the sweep judges answers by their text; --judge {spec.name} does not (use a text detector such as learned)"
        )
    detector = spec.factory(**kwargs)
    items = load_prompts(prompts, split=split or None, limit=limit)
    target = load_target(model, adapter=adapter)
    result = run_sweep(
        target,
        items,
        out_dir,
        params=params,
        detector=detector,
        thresholds=ts,
        category_thresholds=cts if per_category else None,
        temperature=temperature,
        bias=bias,
        run_info={"prompts": prompts, "split": split or None},
    )
    shown = {
        "answers_per_prompt": result["answers_per_prompt"],
        "points": [
            {
                "threshold": p["threshold"],
                **{g: p["detector"][g]["rate"] for g in ("harmful", "trigger_benign", "plain_benign")},
                "agreement": p["agreement"]["rate"],
            }
            for p in result["points"]
            if p["kind"] == "threshold"
        ],
        "category_moves": {
            g: {k: m[k] for k in ("own_change", "max_other_change")} for g, m in result["category_moves"].items()
        },
    }
    typer.echo(json.dumps(shown, indent=1))
    typer.echo(f"wrote {out_dir / 'sweep.json'} and {out_dir / 'sweep.html'}", err=True)
