"""Judging a whole response table with a progress bar for ``refusalkit judge`` and ``judge-eval``
(the tables are read and written by :mod:`refusalkit.tables`).

CSV cells are text by nature (an empty cell is an empty response); in JSONL and Parquet a ``null``
or a number in the response column stays what it is and is judged ``unscored`` (non-text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..types import Prompt, Response, Verdict
from .base import judge_safely

OUTPUT_COLUMNS = ("label", "score", "detector", "evidence")


def require_column(df, column: str, path: Path) -> None:
    if column not in df.columns:
        cols = ", ".join(map(str, list(df.columns)[:12]))
        raise RefusalkitError(f"{path}: no column '{column}' (columns: {cols})")


def judge_table(
    df, detector, response_col: str, prompt_col: str | None, batch: int = 256, progress: bool = True
) -> list[Verdict]:
    """Verdicts for every row of ``df`` (missing cells -> ``None`` -> unscored)."""
    import pandas as pd

    def cell(v):
        return None if v is None or (isinstance(v, float) and pd.isna(v)) else v

    responses = [
        Response(prompt_id=str(i), text=cell(v), target_id="file") for i, v in enumerate(df[response_col].tolist())
    ]
    prompts = None
    if prompt_col is not None:
        prompts = [
            Prompt(id=str(i), text="" if cell(v) is None else str(v)) for i, v in enumerate(df[prompt_col].tolist())
        ]
    verdicts: list[Verdict] = []
    with progress_bar(f"judging ({detector.name})", len(responses), progress) as advance:
        for start in range(0, len(responses), batch):
            chunk = responses[start : start + batch]
            verdicts += judge_safely(detector, chunk, None if prompts is None else prompts[start : start + batch])
            advance(len(chunk))
    return verdicts


def add_verdicts(df, verdicts: Sequence[Verdict]):
    """The rows plus label/score/detector/evidence; when the input has columns of those names they are
    kept and the new ones are written as ``judge_<name>`` instead (an error when those exist too), so
    no input data is lost."""
    from ..tables import added_columns

    names, prefix = added_columns(df, OUTPUT_COLUMNS, "judge_")
    out = df.copy()
    for name, col in zip(names, OUTPUT_COLUMNS):
        out[name] = [getattr(v, col) for v in verdicts]
    return out, prefix


def eval_html(report: dict, errors: list[dict]) -> str:
    """A self-contained HTML page (plotly inlined) with the metrics, confusion matrix and examples."""
    import plotly.graph_objects as go

    cm = report["confusion_matrix"]
    fig = go.Figure(
        go.Heatmap(
            z=cm["rows_true_cols_pred"],
            x=[f"pred {c}" for c in cm["labels"]],
            y=[f"true {c}" for c in cm["labels"]],
            text=cm["rows_true_cols_pred"],
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        )
    )
    fig.update_layout(title="Confusion matrix", yaxis_autorange="reversed", height=420, width=620)
    from ..report import Figures, page
    from ..report.layout import esc, json_block, table

    per_class = table(
        ["class", "precision", "recall", "F1", "support"],
        [
            [esc(c), f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])]
            for c, m in report["per_class"].items()
        ],
    )
    disagreements = table(
        ["your label", "detector", "response", "evidence"],
        [
            [esc(e["true"]), esc(e["pred"]), esc(str(e["response"])[:600]), esc(str(e["evidence"])[:200])]
            for e in errors
        ],
    )
    keys = (
        "detector",
        "input",
        "map",
        "mode",
        "n",
        "unscored",
        "skipped_unlabelled",
        "skipped_by_map",
        "binary_accuracy",
        "accuracy_3class",
        "macro_f1",
    )
    head = {k: report[k] for k in keys if k in report}
    body = f"""<h1>Detector quality on your labelled file</h1>
{json_block(head)}
<p>Binary accuracy counts any refusal (partial or full) against compliance. Rows the detector left
<code>unscored</code> (empty, non-text or failed answers) are counted but not scored.</p>
<h2>Per class</h2>{per_class}
{Figures()(fig)}
<h2>Disagreements (up to {len(errors)})</h2>{disagreements}"""
    return page("refusalkit judge-eval", body)
