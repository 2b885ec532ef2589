"""`refusalkit benchmarks`: the public benchmarks `--prompts NAME` loads, with source, size, labels and licence."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from .app import app

out = Console()


@app.command("benchmarks")
def benchmarks_command(
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
) -> None:
    """List the benchmarks `eval --prompts NAME` can load (NAME=FILE loads a local copy in the source's layout)."""
    from ..data.benchmarks import benchmarks

    items = benchmarks()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": b.name,
                        "title": b.title,
                        "source": b.source,
                        "revision": b.revision,
                        "labels": b.labels,
                        "license": b.license,
                        "size": b.size,
                        "gated": b.gated,
                        "unverified": list(b.unverified),
                    }
                    for b in items
                ],
                indent=2,
            )
        )
        return
    table = Table("name", "size", "labels", "licence", title="benchmarks for --prompts NAME (or NAME=FILE)")
    table.add_column("source", overflow="fold")
    for b in items:
        source = b.where + ("" if b.pinned or not b.source else " (unpinned)") + (" · gated" if b.gated else "")
        notes = f"\n[dim]unverified: {', '.join(b.unverified)}[/dim]" if b.unverified else ""
        table.add_row(b.name, f"~{b.size}", b.labels, b.license, source + notes)
    out.print(table)
    out.print("Downloaded on first use into $REFUSALKIT_HOME/datasets; titles to cite: `refusalkit benchmarks --json`.")
