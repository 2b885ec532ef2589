"""Self-contained HTML pages (plotly inlined, opens offline) and prompt sets for the internals commands."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Sequence

from ..errors import RefusalkitError
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
    """A labelled prompt set: a bundled suite name (``core``) or a file with text and ``label``
    (benign|harmful), optional ``split``. Uses :func:`refusalkit.data.load_prompts` when installed;
    otherwise reads JSONL itself."""
    try:
        from ..data import load_prompts  # type: ignore[attr-defined]
    except ImportError:
        load_prompts = None
    prompts = load_prompts(spec, split=split) if load_prompts else _read_jsonl(spec, split)
    if not any(p.label == "harmful" for p in prompts) or not any(p.label == "benign" for p in prompts):
        raise RefusalkitError(f"prompt set '{spec}' needs both harmful and benign prompts (column 'label')")
    return prompts


def _read_jsonl(spec: str, split: str | None) -> list[Prompt]:
    path = Path(spec)
    if not path.exists():
        bundled = Path(__file__).resolve().parent.parent / "data" / "suites" / f"{spec}.jsonl"
        if not bundled.exists():
            raise RefusalkitError(f"prompt set '{spec}' is neither a file nor a bundled suite")
        path = bundled
    prompts = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RefusalkitError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        text = row.get("text", row.get("prompt"))
        if not isinstance(text, str) or not text.strip():
            raise RefusalkitError(f"{path}:{n}: needs a non-empty 'text' or 'prompt' field")
        label = row.get("label", "")
        if label not in ("benign", "harmful"):
            raise RefusalkitError(f"{path}:{n}: column 'label' must be benign or harmful, got {label!r}")
        prompts.append(Prompt.from_dict({**row, "text": text, "id": str(row.get("id", f"p{n}"))}))
    if split:
        prompts = [p for p in prompts if p.split == split]
        if not prompts:
            raise RefusalkitError(f"prompt set '{spec}' has no prompts in split '{split}'")
    return prompts


def sides(prompts: Sequence[Prompt], n: int | None = None, spread: bool = False) -> tuple[list[Prompt], list[Prompt]]:
    """(harmful, benign), each cut to ``n`` when given: the first ``n`` in file order, or with
    ``spread`` taken round-robin across prompt types so every kind is represented."""
    harm = [p for p in prompts if p.label == "harmful"]
    safe = [p for p in prompts if p.label == "benign"]
    if not n:
        return harm, safe
    return (_round_robin(harm, n), _round_robin(safe, n)) if spread else (harm[:n], safe[:n])


def _round_robin(prompts: Sequence[Prompt], n: int) -> list[Prompt]:
    groups: dict[str, list[Prompt]] = {}
    for p in prompts:
        groups.setdefault(p.type, []).append(p)
    out: list[Prompt] = []
    while len(out) < min(n, len(prompts)):
        for g in groups.values():
            if g and len(out) < n:
                out.append(g.pop(0))
    return out
