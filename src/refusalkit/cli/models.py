"""`refusalkit models`, `generate`, `serve` and `demo`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import RefusalkitError
from ..types import GenParams, Prompt
from .app import ADAPTER, API_KEY, BASE_URL, MODEL, app, target_from_options

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
    if not path.exists():
        raise RefusalkitError(f"prompt file {path} does not exist")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Prompt(id=f"p{i}", text=t) for i, t in enumerate(lines)]


@app.command()
def generate(
    prompt: Optional[List[str]] = typer.Argument(None, help="Prompt text(s)."),
    model: str = MODEL,
    prompts: Optional[Path] = typer.Option(None, "--prompts", help="JSONL (prompt/text field) or text file, one prompt a line."),
    out_file: Optional[Path] = typer.Option(None, "--out", "-o", help="Write responses as JSONL here."),
    max_new_tokens: int = typer.Option(256, help="Maximum answer length in tokens."),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    seed: int = typer.Option(0),
    system_prompt: Optional[str] = typer.Option(None, "--system-prompt"),
    batch_size: int = typer.Option(8),
    adapter: Optional[str] = ADAPTER,
    base_url: Optional[str] = BASE_URL,
    api_key: Optional[str] = API_KEY,
) -> None:
    """Generate answers for prompts given inline or in a file."""
    items = [Prompt(id=f"p{i}", text=t) for i, t in enumerate(prompt or [])]
    if prompts:
        items += read_prompt_lines(prompts)
    if not items:
        raise RefusalkitError("give prompts as arguments or with --prompts FILE")
    target = target_from_options(model, adapter, base_url, api_key)
    params = GenParams(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, system_prompt=system_prompt, batch_size=batch_size)
    responses = target.generate(items, params)
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        with out_file.open("w", encoding="utf-8") as fh:
            for p, r in zip(items, responses):
                fh.write(json.dumps({"prompt": p.text, **r.to_dict()}, ensure_ascii=False) + "\n")
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
    api_key: Optional[str] = typer.Option(None, "--api-key", help="Require this bearer key on every request."),
    adapter: Optional[str] = ADAPTER,
    steer: Optional[str] = typer.Option(None, "--steer", help="Steer the model: FILE:ALPHA, FILE:ablate, FILE:gated or FILE:harmfulness:ALPHA (FILE from `refusalkit directions`)."),
) -> None:
    """Serve a local model over an OpenAI-compatible /v1/chat/completions API."""
    import uvicorn

    from ..internals.steering import load_target_with_steer
    from ..serve import create_app

    target = load_target_with_steer(model, steer, adapter=adapter)
    typer.echo(f"serving {target.id} on http://{host}:{port}/v1", err=True)
    uvicorn.run(create_app(target, api_key=api_key), host=host, port=port, log_level="warning")


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out"),
    model: str = typer.Option("smollm2-135m", "--model", "-m"),
    max_new_tokens: int = typer.Option(64, help="Kept short so the demo finishes in minutes on a CPU."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N prompts of the core test split."),
) -> None:
    """The main job on the bundled model (`make demo`): evaluate it on the core suite's test split."""
    from .eval import run_eval

    run_eval(model, "core", out_dir, split="test", limit=limit, params=GenParams(max_new_tokens=max_new_tokens, batch_size=16))
