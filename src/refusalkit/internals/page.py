"""The internals commands' pages (built by :mod:`refusalkit.report`) and prompt sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .. import report
from ..data.loaders import load_prompts, round_robin
from ..errors import RefusalkitError
from ..types import Prompt


def write_page(path: str | Path, title: str, figures: Sequence, summary: dict, notes: Sequence[str] = ()) -> Path:
    """One self-contained HTML file: title, notes, the plotly figures and the JSON summary."""
    fig = report.Figures()
    parts = [f"<h1>{report.esc(title)}</h1>"] + [f"<p>{report.esc(n)}</p>" for n in notes]
    parts += [fig(f) for f in figures] + ["<h2>Summary</h2>" + report.json_block(summary)]
    return report.write_page(path, title, "\n".join(parts))


def write_json(path: str | Path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path


def load_prompt_set(spec: str, split: str | None = None) -> list[Prompt]:
    """A labelled prompt set (a bundled suite name such as ``core``, or a file) that has both sides."""
    prompts = load_prompts(spec, split=split)
    if not any(p.label == "harmful" for p in prompts) or not any(p.label == "benign" for p in prompts):
        raise RefusalkitError(f"prompt set '{spec}' needs both harmful and benign prompts (column 'label')")
    return prompts


def sides(prompts: Sequence[Prompt], n: int | None = None, spread: bool = False) -> tuple[list[Prompt], list[Prompt]]:
    """(harmful, benign), each cut to ``n`` when given: the first ``n`` in file order, or with
    ``spread`` taken round-robin across prompt types so every kind is represented."""
    harm = [p for p in prompts if p.label == "harmful"]
    safe = [p for p in prompts if p.label == "benign"]
    if not n:
        return harm, safe
    return (round_robin(harm, n), round_robin(safe, n)) if spread else (harm[:n], safe[:n])
