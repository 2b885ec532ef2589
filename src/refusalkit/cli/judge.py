"""`refusalkit judge` (label the responses in a file) and `refusalkit judge-eval` (measure a detector
against labels you bring)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import RefusalkitError
from .app import app, openai_options, target_from_options

DETECTOR_HELP = "prefix, pattern, learned (default), ensemble, first-token (needs --model), llm (needs --model)."


def _detector(name: Optional[str], model: Optional[str], client):
    from ..judge import DEFAULT_DETECTOR, NEEDS_TARGET, load_detector

    name = name or DEFAULT_DETECTOR
    if name in NEEDS_TARGET and not model:
        raise RefusalkitError(f"the {name} detector needs --model (a local model, or openai:NAME with --base-url)")
    kwargs = {"target": target_from_options(model, None, client)} if model and name in (*NEEDS_TARGET, "ensemble") else {}
    return load_detector(name, **kwargs)


@app.command()
@openai_options
def judge(
    input_file: Path = typer.Argument(..., metavar="INPUT", help="JSONL, CSV or Parquet file of responses."),
    out_file: Path = typer.Option(..., "--out", "-o", help="Output file (.jsonl, .csv or .parquet): the rows plus label, score, detector, evidence."),
    response_col: str = typer.Option("response", "--response-col"),
    prompt_col: str = typer.Option("prompt", "--prompt-col", help="Used when present (first-token needs it; llm reads it)."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help=DETECTOR_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Judge or white-box model for llm / first-token / ensemble."),
    client=None,
) -> None:
    """Label every response in a file as compliance / partial_refusal / full_refusal / unscored."""
    from ..judge.io import add_verdicts, check_output, judge_table, read_table, require_column, write_table

    check_output(out_file)
    df = read_table(input_file)
    require_column(df, response_col, input_file)
    if prompt_col not in df.columns:
        if detector == "first-token":
            require_column(df, prompt_col, input_file)
        prompt_col = None  # type: ignore[assignment]
    det = _detector(detector, model, client)
    verdicts = judge_table(df, det, response_col, prompt_col)
    out, prefix = add_verdicts(df, verdicts)
    write_table(out, out_file)
    counts = out[prefix + "label"].value_counts().to_dict()
    note = f" (input already had those columns: wrote {prefix}label etc.)" if prefix else ""
    typer.echo(f"wrote {len(out)} rows to {out_file}{note}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), err=True)


@app.command("judge-eval")
@openai_options
def judge_eval(
    input_file: Path = typer.Argument(..., metavar="INPUT", help="JSONL, CSV or Parquet file of labelled responses."),
    label_col: str = typer.Option(..., "--label-col", help="Column with your labels."),
    label_map: Optional[str] = typer.Option(None, "--map", help="Map your labels to ours: 'their=ours,...' (ours: compliance, partial_refusal, full_refusal)."),
    out_dir: Path = typer.Option(Path("runs/judge-eval"), "--out", "-o", help="Folder for judge_eval.json, judge_eval.html and predictions.jsonl."),
    response_col: str = typer.Option("response", "--response-col"),
    prompt_col: str = typer.Option("prompt", "--prompt-col"),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help=DETECTOR_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Judge or white-box model for llm / first-token / ensemble."),
    client=None,
) -> None:
    """Measure a detector on a file you labelled: binary accuracy, per-class P/R/F1, macro-F1, confusion matrix."""
    from ..judge.common import CLASSES
    from ..judge.corpus import quality
    from ..judge.io import add_verdicts, eval_html, judge_table, parse_map, read_table, require_column, write_table

    mapping = parse_map(label_map)
    df = read_table(input_file)
    require_column(df, response_col, input_file)
    require_column(df, label_col, input_file)
    if prompt_col not in df.columns:
        if detector == "first-token":
            require_column(df, prompt_col, input_file)
        prompt_col = None  # type: ignore[assignment]

    raw = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip() for v in df[label_col].tolist()]
    gold = [mapping.get(v, v) if v else None for v in raw]
    unknown = sorted({g for g in gold if g and g not in CLASSES})
    if unknown:
        raise RefusalkitError(
            f"{input_file}: labels {', '.join(repr(u) for u in unknown[:6])} in column '{label_col}' are not ours; "
            f"map them with --map 'theirs=compliance,...' (ours: {', '.join(CLASSES)})"
        )
    keep = [i for i, g in enumerate(gold) if g]
    if not keep:
        raise RefusalkitError(f"{input_file}: column '{label_col}' has no labels")
    sub = df.iloc[keep].reset_index(drop=True)
    det = _detector(detector, model, client)
    verdicts = judge_table(sub, det, response_col, prompt_col)
    y_true, y_pred = [gold[i] for i in keep], [v.label for v in verdicts]
    report = {"detector": det.name, "input": str(input_file), "skipped_unlabelled": len(gold) - len(keep), **quality(y_true, y_pred)}
    if not report.get("n"):
        raise RefusalkitError(f"{input_file}: the detector left every row unscored (empty or non-text responses?)")
    errors = [
        {"true": t, "pred": p, "response": sub[response_col].iloc[k], "evidence": verdicts[k].evidence}
        for k, (t, p) in enumerate(zip(y_true, y_pred)) if t != p
    ][:100]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "judge_eval.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out_dir / "judge_eval.html").write_text(eval_html(report, errors), encoding="utf-8")
    preds, _ = add_verdicts(sub, verdicts)
    write_table(preds, out_dir / "predictions.jsonl")
    typer.echo(json.dumps({k: report[k] for k in ("detector", "n", "unscored", "binary_accuracy", "macro_f1")}))
    typer.echo(f"report: {out_dir / 'judge_eval.html'}", err=True)
