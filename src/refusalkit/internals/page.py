"""Self-contained HTML pages (plotly inlined, opens offline) and prompt sets for the internals commands."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Sequence

from ..errors import RefusalkitError
from ..data.loaders import load_prompts, round_robin
from ..types import Prompt


def write_page(path: str | Path, title: str, figures: Sequence, summary: dict, notes: Sequence[str] = ()) -> Path:
    """One HTML file: title, notes, the plotly figures (plotly.js inlined once) and the JSON summary."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(n)}</p>" for n in notes]
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    parts.append("<h2>Summary</h2><pre>" + html.escape(json.dumps(summary, indent=2, default=str)) + "</pre>")
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>"
        "</head><body>" + "\n".join(parts) + "</body></html>",
        encoding="utf-8",
    )
    return path


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
