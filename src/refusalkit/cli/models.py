"""`refusalkit models`, `generate`, `serve` and `demo`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import RefusalkitError
from ..types import GenParams, Prompt
from .app import ADAPTER, MODEL, app, openai_options, target_from_options
from .tokens import BIAS, CATEGORY_THRESHOLD, TEMPERATURE, THRESHOLD, control_from_options
from .mogu import MOGU, MOGU_CONTINUATION, check_mogu, with_mogu

out = Console()


@app.command()
def models() -> None:
    """List the model aliases and where each loads from."""
    from ..targets import ALIASES, SCHEMES

    table = Table("alias", "what", "loads from")
    for alias in ALIASES.values():
        table.add_row(alias.name, alias.description, alias.source())
    out.print(table)
    schemes = "; ".join(f"{s.prefix}:NAME, {s.help}" for s in SCHEMES.values())
    out.print(f"Also: any local transformers folder, a hub id (org/name, needs network), or {schemes}.")


def read_prompt_lines(path: Path) -> list[Prompt]:
    """Prompts from a plain text file (one a line) or any file the prompt loaders read (JSONL/CSV/Parquet)."""
    if path.suffix.lower() != ".txt":
        from ..data import load_prompts

        return load_prompts(path, default_label="benign")
    from ..tables import read_rows

    if not path.exists():
        raise RefusalkitError(f"prompt file {path} does not exist")
    return [Prompt(id=f"p{i}", text=row["prompt"]) for i, (_, row) in enumerate(read_rows(path)[1])]


@app.command()
@openai_options
def generate(
    prompt: Optional[List[str]] = typer.Argument(None, help="Prompt text(s)."),
    model: str = MODEL,
    prompts: Optional[Path] = typer.Option(
        None, "--prompts", help="JSONL (prompt/text field) or text file, one prompt a line."
    ),
    out_file: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Write the responses here (.jsonl, .json, .csv, .tsv or .parquet, by extension)."
    ),
    max_new_tokens: int = typer.Option(256, help="Maximum answer length in tokens."),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    seed: int = typer.Option(0),
    system_prompt: Optional[str] = typer.Option(None, "--system-prompt"),
    batch_size: int = typer.Option(8),
    adapter: Optional[str] = ADAPTER,
    client=None,
) -> None:
    """Generate answers for prompts given inline or in a file."""
    from ..tables import check_output, check_text, write_table

    if out_file is not None:
        check_output(out_file)
    params = GenParams(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        system_prompt=system_prompt,
        batch_size=batch_size,
    )
    for i, text in enumerate(prompt or [], 1):
        check_text(text, f"prompt argument {i}")
    items = [Prompt(id=f"p{i}", text=t) for i, t in enumerate(prompt or [])]
    if prompts:
        items += read_prompt_lines(prompts)
    if not items:
        raise RefusalkitError("give prompts as arguments or with --prompts FILE")
    target = target_from_options(model, adapter, client)
    responses = target.generate(items, params)
    if out_file:
        import pandas as pd

        write_table(pd.DataFrame([{"prompt": p.text, **r.to_dict()} for p, r in zip(items, responses)]), out_file)
        typer.echo(f"wrote {len(responses)} responses to {out_file}", err=True)
    else:
        for p, r in zip(items, responses):
            out.rule(p.text, style="dim")
            out.print(r.text if r.ok else f"[red]error: {r.error}[/red]", markup=not r.ok, highlight=False)


@app.command()
def serve(
    model: str = MODEL,
    host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
    port: int = typer.Option(8000),
    api_key: Optional[str] = typer.Option(
        None,
        "--api-key",
        help="Require this bearer key on every request (shows in `ps`: prefer $REFUSALKIT_API_KEY or --api-key-file).",
    ),
    api_key_file: Optional[Path] = typer.Option(
        None, "--api-key-file", help="Require the bearer key on the first line of this file."
    ),
    max_body_bytes: int = typer.Option(
        1_000_000, "--max-body-bytes", min=1, help="Refuse request bodies larger than this (413)."
    ),
    adapter: Optional[str] = ADAPTER,
    steer: Optional[str] = typer.Option(
        None,
        "--steer",
        help="Steer the model: FILE:ALPHA, FILE:ablate, FILE:gated or FILE:harmfulness:ALPHA (FILE from `refusalkit directions`).",
    ),
    refusal_threshold: Optional[float] = THRESHOLD,
    category_threshold: Optional[List[str]] = CATEGORY_THRESHOLD,
    refusal_bias: Optional[float] = BIAS,
    first_token_temperature: Optional[float] = TEMPERATURE,
    mogu: Optional[Path] = MOGU,
    mogu_continuation: Optional[str] = MOGU_CONTINUATION,
) -> None:
    """Serve a local model over an OpenAI-compatible /v1/chat/completions API.

    The API key comes from --api-key-file, --api-key or $REFUSALKIT_API_KEY; an empty one is an error."""
    import uvicorn

    from ..internals.steering import load_target_with_steer
    from ..serve import create_app, is_loopback, resolve_api_key

    from ..refusal_tokens.target import wrap as wrap_tokens

    key = resolve_api_key(api_key, api_key_file)  # before the model loads: a bad key fails at once
    control = control_from_options(refusal_threshold, category_threshold, refusal_bias, first_token_temperature)
    if key is None and not is_loopback(host):
        typer.echo(
            f"warning: serving on {host} without an API key: anyone who can reach this address can use the "
            "model; set $REFUSALKIT_API_KEY or --api-key-file",
            err=True,
        )
    check_mogu(mogu, mogu_continuation, steer)  # before the model loads
    target = wrap_tokens(load_target_with_steer(model, steer, adapter=adapter), control)
    if mogu:
        target = with_mogu(target, mogu, mogu_continuation)
    app_ = create_app(target, api_key=key, max_body_bytes=max_body_bytes)
    typer.echo(
        f"serving {target.id} on http://{host}:{port}/v1 ({'API key required' if key else 'no API key'})", err=True
    )
    uvicorn.run(app_, host=host, port=port, log_level="warning")


DEMO_VARIANTS = (
    "base",
    "safety",
    "triggers",
)  # the study's variants the demo shows, named as in refusalkit.train.study


@app.command()
def demo(
    out_dir: Path = typer.Option(
        Path("runs/demo"), "--out", help="Folder for runs/{base,safety,triggers}, compare.html and compare.json."
    ),
    limit: Optional[int] = typer.Option(
        None, "--limit", help="At most N prompts of the core test split (spread across prompt types)."
    ),
) -> None:
    """Over-refusal and its fix on the bundled model (`make demo`): the base model, its safety-aligned LoRA
    adapter (a) and the trigger-aware one (c), both shipped with refusalkit, on the core test split, in one
    comparison.

    Generation is the study's: greedy, 32 new tokens, the default detector. Re-running resumes."""
    from .. import checks
    from ..train.study import LABELS, StudySettings
    from ..data import load_prompts
    from ..judge import DEFAULT_DETECTOR, load_detector
    from ..run import evaluate
    from ..run.evaluate import check_unscored
    from ..targets import load_target
    from ..targets.demo import demo_adapter, read_manifest
    from .eval import write_comparison

    # Everything that can fail without a model fails first: the folder, the prompts, the shipped adapters.
    checks.output_dir(out_dir)
    items = load_prompts("core", split="test", limit=limit)
    manifest = read_manifest()
    folders = {name: demo_adapter(name) for name in DEMO_VARIANTS if name != "base"}
    study = StudySettings()  # the study's generation settings and detector, so the numbers compare with its own
    detector = load_detector(study.judge or DEFAULT_DETECTOR)
    params = GenParams(max_new_tokens=study.max_new_tokens, batch_size=study.batch_size)
    summaries = {}
    for name in DEMO_VARIANTS:
        label = LABELS[name]
        out.rule(
            f"{label}: {manifest['base']}"
            + (f" + shipped adapter {manifest['adapters'][name]['fingerprint']}" if name in folders else "")
        )
        target = load_target(manifest["base"], adapter=str(folders[name]) if name in folders else None)
        summary = evaluate(
            target,
            items,
            params,
            detector,
            out_dir / "runs" / name,
            run_info={"prompts": "core", "split": "test", "limit": limit, "name": name, "study_variant": label},
        )
        m = summary["metrics"]
        check_unscored(m["n_prompts"], m["unscored"], summary["run"]["unscored_reasons"])
        summaries[name] = summary
        target = None  # release the model before the next one loads
    out.print(_demo_table(manifest, summaries))
    out.print(_demo_note(manifest, len(items), params))
    write_comparison(
        [(LABELS[name], out_dir / "runs" / name) for name in DEMO_VARIANTS],
        out_dir,
        intro=_demo_intro(manifest, summaries, len(items), params),
    )


def _demo_rows(manifest: dict, summaries: dict) -> list[list[str]]:
    """Per variant: its label, the adapter's training fingerprint, and any-refusal rates of the three prompt groups."""
    from ..report.html import pct
    from ..train.study import LABELS

    rows = []
    for name in DEMO_VARIANTS:
        g = summaries[name]["metrics"]["groups"]
        fp = manifest["adapters"][name]["fingerprint"] if name in manifest["adapters"] else "none"
        rows.append(
            [LABELS[name], fp] + [pct(g[k]["any_refusal"]) for k in ("harmful", "trigger_benign", "plain_benign")]
        )
    return rows


DEMO_HEAD = [
    "variant",
    "adapter (training fingerprint)",
    "harmful refused",
    "trigger-benign refused",
    "plain benign refused",
]


def _demo_table(manifest: dict, summaries: dict) -> Table:
    table = Table(*DEMO_HEAD, title=f"{manifest['base']} on the core test split · any refusal, 95% Wilson interval")
    for row in _demo_rows(manifest, summaries):
        table.add_row(*row)
    return table


def _demo_note(manifest: dict, n: int, params: GenParams) -> str:
    trained = ", ".join(
        f"{a['label']} {a['fingerprint']} (trained {a['trained_on']})" for a in manifest["adapters"].values()
    )
    return (
        f"These are the bundled model's numbers ({manifest['base']}, {n} prompts, greedy, {params.max_new_tokens} new tokens, "
        "the study's detector). "
        f"The adapters ship with refusalkit, trained by `refusalkit study` and stored int8 ({manifest['format']}): {trained}. "
        "What to read: over-refusal is (a) refusing harmless requests that look like harmful ones (trigger-benign) "
        "far more often than the base model; the fix is (c) refusing fewer of them while still refusing harmful requests."
    )


def _demo_intro(manifest: dict, summaries: dict, n: int, params: GenParams) -> str:
    from ..report import esc, table

    return (
        f"<p>{esc(_demo_note(manifest, n, params))}</p>"
        + table(DEMO_HEAD, [[esc(c) for c in row] for row in _demo_rows(manifest, summaries)])
        + "<p class='note'>Shipped adapter files and their provenance: refusalkit/data/adapters/demo.json "
        "(rebuilt with scripts/build_demo_adapters.py --study DIR).</p>"
    )
