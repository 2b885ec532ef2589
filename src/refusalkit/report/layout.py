"""The parts every refusalkit HTML page is built from: one head and stylesheet, escaping, tables,
JSON blocks and plotly figures. Pages are self-contained: plotly.js is inlined once per page, so a
file opens offline.

Every command that writes HTML (eval and compare, the internals commands, evolve, the study, trigger
discovery, the predictor's explanation) builds its page from these.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;white-space:nowrap}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.8rem}
.answer{white-space:pre-wrap;max-height:12em;overflow:auto;font-family:ui-monospace,monospace;font-size:.8rem}
.meta{color:#555;font-size:.9rem}.note{color:#666;font-size:.85rem}
"""


# The stylesheet's first rule: a page that holds it was built here.
CSS_MARK = CSS.strip().splitlines()[0]


def esc(value: Any) -> str:
    """``value`` as HTML text (None as empty)."""
    return html.escape("" if value is None else str(value))


def page(title: str, body: str) -> str:
    """A whole HTML document: refusalkit's head and stylesheet around ``body`` (HTML)."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def write_page(path: str | Path, title: str, body: str) -> Path:
    """Write :func:`page` to ``path`` (its folder made if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, body), encoding="utf-8")
    return path


class Figures:
    """Turns plotly figures into HTML divs; plotly.js is inlined with the first one only. Use one per page."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig) -> str:
        out = fig.to_html(full_html=False, include_plotlyjs=self.first, config={"displaylogo": False})
        self.first = False
        return out


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table: ``head`` is plain text (escaped here), each row's cells are HTML (escape text with :func:`esc`)."""
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def json_block(data: Any) -> str:
    """``data`` as indented JSON in a ``<pre>`` block."""
    return "<pre>" + esc(json.dumps(data, indent=2, default=str)) + "</pre>"


def error_bars(rates: Sequence[dict[str, Any]], scale: float = 1.0, **style: Any) -> dict[str, Any]:
    """Asymmetric plotly error bars from rate records (``rate``, ``lo``, ``hi``), times ``scale`` (100 for
    percent); ``style`` adds plotly's other error-bar settings (``thickness``, ...)."""
    return dict(
        type="data",
        symmetric=False,
        array=[scale * (r["hi"] - r["rate"]) for r in rates],
        arrayminus=[scale * (r["rate"] - r["lo"]) for r in rates],
        **style,
    )
