"""`refusalkit directions`, `steer`, `guard`, `cliff` and `heads`: the model's internals.

Each command writes ``<name>.json`` and a self-contained ``<name>.html`` into ``--out``. Prompt sets
need a ``label`` (benign|harmful); their ``split`` column picks train (fitting) and test (measuring).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RefusalkitError
from ..types import Prompt
from .app import ADAPTER, MODEL, app

PROMPTS = typer.Option("core", "--prompts", help="Bundled suite name or JSONL file with text/label/split.")


def _check(out: Path, counts: dict[str, Optional[int]], files: Optional[dict[str, Optional[Path]]] = None) -> None:
    """Arguments checked before the model loads: the output folder, counts of at least 1, input files."""
    from ..checks import at_least, output_dir

    output_dir(out)
    for option, value in counts.items():
        at_least(value, 1, option)
    for option, path in (files or {}).items():
        if path is not None and not Path(path).is_file():
            raise RefusalkitError(f"{option} {path} does not exist")


def _setup(model: str, adapter: Optional[str], prompts: str):
    from ..internals.page import load_prompt_set
    from ..internals.pipeline import train_test
    from ..targets import load_target
    from ..targets.base import require_whitebox

    target = require_whitebox(load_target(model, adapter=adapter), "internals commands")
    train, test, how = train_test(load_prompt_set(prompts))
    typer.echo(f"{len(train)} train / {len(test)} test prompts ({how})", err=True)
    return target, train, test


def _done(out: Path, name: str) -> None:
    typer.echo(f"wrote {out / (name + '.json')} and {out / (name + '.html')}", err=True)


@app.command()
def directions(
    model: str = MODEL,
    adapter: Optional[str] = ADAPTER,
    prompts: str = PROMPTS,
    n_train: int = typer.Option(64, help="Training prompts per side for the difference of means."),
    n_val: int = typer.Option(16, help="Held-out training prompts per side for scoring candidates."),
    layer_stride: int = typer.Option(1, help="Score every n-th layer only (faster search)."),
    layers: Optional[str] = typer.Option(
        None, "--layers", help="Candidate layers, e.g. 20-29 (replaces the drop-the-last-20% rule)."
    ),
    out: Path = typer.Option(Path("runs/directions"), "--out"),
) -> None:
    """Refusal direction (difference of means, bypass/induce/KL selection) and harmfulness direction."""
    from ..internals.pipeline import parse_layers, run_directions

    _check(out, {"--n-train": n_train, "--n-val": n_val, "--layer-stride": layer_stride})
    target, train, _ = _setup(model, adapter, prompts)
    s = run_directions(target, train, out, n_train, n_val, layer_stride, layers=parse_layers(layers))
    typer.echo(
        f"selected layer {s['selected']['layer']} position {s['selected']['position']}; directions in {s['directions_file']}"
    )
    _done(out, "directions")


@app.command()
def steer(
    prompt: Optional[List[str]] = typer.Argument(None, help="Prompts to show answered with and without steering."),
    model: str = MODEL,
    adapter: Optional[str] = ADAPTER,
    directions_file: Path = typer.Option(..., "--directions", help="File written by `refusalkit directions`."),
    prompts: str = PROMPTS,
    alpha: float = typer.Option(1.0, help="Activation addition strength (negative subtracts)."),
    n: int = typer.Option(32, help="Test prompts per side for the refusal rates."),
    max_new_tokens: int = typer.Option(24),
    export: Optional[Path] = typer.Option(None, "--export", help="Also save the abliterated model (safetensors) here."),
    out: Path = typer.Option(Path("runs/steer"), "--out"),
) -> None:
    """Refusal rates under directional ablation, activation addition and harmfulness-gated ablation."""
    from ..internals.directions import Directions
    from ..internals.pipeline import run_steer

    _check(out, {"--n": n, "--max-new-tokens": max_new_tokens}, {"--directions": directions_file})
    target, _, test = _setup(model, adapter, prompts)
    show = [Prompt(id=f"show{i}", text=t) for i, t in enumerate(prompt or [])]
    s = run_steer(target, Directions.load(directions_file), test, out, alpha, n, max_new_tokens, show, export)
    for name, row in s["rates"].items():
        typer.echo(
            f"{name:>10}: harmful refusal {row['harmful_refusal']['rate']}, benign refusal {row['benign_refusal']['rate']}"
        )
    for ex in s["examples"]:
        typer.echo(f"[{ex['variant']}] {ex['prompt']}\n  -> {ex['answer']}")
    _done(out, "steer")


@app.command()
def guard(
    model: str = MODEL,
    adapter: Optional[str] = ADAPTER,
    prompts: str = PROMPTS,
    directions_file: Optional[Path] = typer.Option(
        None, "--directions", help="Also measure steering vs the guard's judgement."
    ),
    alpha: float = typer.Option(1.0, help="Addition strength for the steering measurement."),
    out: Path = typer.Option(Path("runs/guard"), "--out"),
) -> None:
    """Latent Guard: fit on the train split, AUROC/accuracy on the test split; save the guard."""
    from ..internals.directions import Directions
    from ..internals.pipeline import run_guard

    _check(out, {}, {"--directions": directions_file})
    target, train, test = _setup(model, adapter, prompts)
    dirs = Directions.load(directions_file) if directions_file else None
    s = run_guard(target, train, test, out, dirs, alpha)
    for name, r in s["guards"].items():
        typer.echo(f"{name}: test AUROC {r['test']['auroc']}, accuracy {r['test']['accuracy']}")
    _done(out, "guard")


@app.command()
def cliff(
    model: str = MODEL,
    adapter: Optional[str] = ADAPTER,
    prompts: str = PROMPTS,
    layer: int = typer.Option(
        -1, help="Probe layer (index into block inputs 0..L-1 and the final state L; -1 = final)."
    ),
    n: int = typer.Option(48, help="Training prompts per side (answered to label behaviour)."),
    n_test: int = typer.Option(24, help="Test prompts per side for the curves."),
    max_new_tokens: int = typer.Option(24),
    out: Path = typer.Option(Path("runs/cliff"), "--out"),
) -> None:
    """Refusal probe along prompt + answer: where the refusal score drops."""
    from ..internals.pipeline import run_cliff

    _check(out, {"--n": n, "--n-test": n_test, "--max-new-tokens": max_new_tokens})
    target, train, test = _setup(model, adapter, prompts)
    s, _ = run_cliff(target, train, test, out, layer, n, n_test, max_new_tokens)
    typer.echo(
        f"probe test accuracy {s['probe']['test_accuracy']}; largest drop {s['cliff']['drop']} at offset {s['cliff']['offset']}"
    )
    _done(out, "cliff")


@app.command()
def heads(
    model: str = MODEL,
    adapter: Optional[str] = ADAPTER,
    prompts: str = PROMPTS,
    directions_file: Optional[Path] = typer.Option(None, "--directions", help="Project on this refusal direction..."),
    probe_file: Optional[Path] = typer.Option(
        None, "--probe", help="...or on this refusal probe (from `refusalkit cliff`)."
    ),
    k: Optional[int] = typer.Option(None, help="Heads to ablate (default: about 3% of all heads)."),
    n: int = typer.Option(32, help="Test prompts per side."),
    max_new_tokens: int = typer.Option(24),
    out: Path = typer.Option(Path("runs/heads"), "--out"),
) -> None:
    """Rank attention heads by how much they write the refusal direction; ablate the top-k."""
    from ..internals.cliff import RefusalProbe
    from ..internals.directions import Directions
    from ..internals.pipeline import run_heads

    if (directions_file is None) == (probe_file is None):
        raise RefusalkitError("give exactly one of --directions FILE or --probe FILE")
    _check(
        out,
        {"--k": k, "--n": n, "--max-new-tokens": max_new_tokens},
        {"--directions": directions_file, "--probe": probe_file},
    )
    target, _, test = _setup(model, adapter, prompts)
    if directions_file:
        direction, source = Directions.load(directions_file).refusal, "refusal direction"
    else:
        direction, source = RefusalProbe.load(probe_file).direction, "refusal probe"
    s = run_heads(target, direction, test, out, k, n, max_new_tokens, source)
    for name, row in s["ablation"].items():
        typer.echo(
            f"{name:>24}: harmful refusal {row['harmful_refusal']['rate']}, benign refusal {row['benign_refusal']['rate']}"
        )
    _done(out, "heads")
