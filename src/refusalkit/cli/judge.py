"""`refusalkit judge` (label the responses in a file), `refusalkit judge calibrate` (adapt the default
detector to your model from labels you bring) and `refusalkit judge-eval` (measure a detector against
labels you bring)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from ..errors import RefusalkitError
from .app import API_KEY, BASE_URL, app, target_from_options

DETECTOR_HELP = ("learned (default), minilm, pattern, prefix, ensemble, first-token (needs --model), llm (needs --model), "
                 "or the path of a saved detector (.joblib / .npz from `refusalkit judge calibrate`).")


class _JudgeGroup(TyperGroup):
    """`refusalkit judge FILE ...` labels a file (the `label` subcommand); `refusalkit judge calibrate ...`
    runs the subcommand it names."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["label", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(cls=_JudgeGroup, no_args_is_help=True,
                        help="Label responses (`refusalkit judge FILE --out ...`) or calibrate the detector to your model.")
app.add_typer(judge_app, name="judge")


def _detector(name: Optional[str], model: Optional[str], base_url: Optional[str], api_key: Optional[str]):
    from ..judge import DEFAULT_DETECTOR, NEEDS_TARGET, load_detector

    name = name or DEFAULT_DETECTOR
    if name in NEEDS_TARGET and not model:
        raise RefusalkitError(f"the {name} detector needs --model (a local model, or openai:NAME with --base-url)")
    kwargs = {"target": target_from_options(model, None, base_url, api_key)} if model and name in (*NEEDS_TARGET, "ensemble") else {}
    return load_detector(name, **kwargs)


@judge_app.command("label")
def judge(
    input_file: Path = typer.Argument(..., metavar="INPUT", help="JSONL, CSV or Parquet file of responses."),
    out_file: Path = typer.Option(..., "--out", "-o", help="Output file (.jsonl, .csv or .parquet): the rows plus label, score, detector, evidence."),
    response_col: str = typer.Option("response", "--response-col"),
    prompt_col: str = typer.Option("prompt", "--prompt-col", help="Used when present (first-token needs it; llm reads it)."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help=DETECTOR_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Judge or white-box model for llm / first-token / ensemble."),
    base_url: Optional[str] = BASE_URL,
    api_key: Optional[str] = API_KEY,
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
    det = _detector(detector, model, base_url, api_key)
    verdicts = judge_table(df, det, response_col, prompt_col)
    out, prefix = add_verdicts(df, verdicts)
    write_table(out, out_file)
    counts = out[prefix + "label"].value_counts().to_dict()
    note = f" (input already had those columns: wrote {prefix}label etc.)" if prefix else ""
    typer.echo(f"wrote {len(out)} rows to {out_file}{note}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), err=True)


def _labelled(input_file: Path, label_col: str, label_map: Optional[str], response_col: str):
    """The table, every row's label in our classes (None where unlabelled) and the labelled rows' indices."""
    from ..judge.common import CLASSES
    from ..judge.io import parse_map, read_table, require_column

    mapping = parse_map(label_map)
    df = read_table(input_file)
    require_column(df, response_col, input_file)
    require_column(df, label_col, input_file)
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
    return df, gold, keep


@judge_app.command("calibrate")
def calibrate(
    input_file: Path = typer.Argument(..., metavar="LABELLED", help="JSONL, CSV or Parquet file of your model's answers with your labels."),
    label_col: str = typer.Option(..., "--label-col", help="Column with your labels."),
    label_map: Optional[str] = typer.Option(None, "--map", help="Map your labels to ours: 'their=ours,...' (ours: compliance, partial_refusal, full_refusal)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for detector.npz and calibration.json."),
    response_col: str = typer.Option("response", "--response-col"),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Detector to adapt: learned or minilm (default: the default detector)."),
    share: float = typer.Option(0.5, "--share", help="Part of the training weight your rows carry (the rest: refusalkit's corpus)."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds for the after figures."),
) -> None:
    """Adapt the detector to your model: refit it on refusalkit's corpus plus your labelled answers, report
    cross-validated binary accuracy and macro-F1 before and after (95% intervals), and save a detector file
    that `refusalkit eval --judge FILE` and `refusalkit judge --detector FILE` load."""
    from ..judge.calibrate import calibrate as run_calibration
    from ..judge.common import precheck
    from ..types import Response

    df, gold, keep = _labelled(input_file, label_col, label_map, response_col)
    texts = df[response_col].tolist()
    usable = [i for i in keep if precheck(Response("", texts[i], ""), "calibrate") is None]
    det, report = run_calibration([texts[i] for i in usable], [gold[i] for i in usable], detector=detector, share=share, folds=folds)
    path = out_dir / ("detector.npz" if report["detector"] == "minilm" else "detector.joblib")
    report = {"input": str(input_file), "skipped_unlabelled": len(gold) - len(keep),
              "skipped_unscorable": len(keep) - len(usable), **report, "detector_file": str(path)}
    out_dir.mkdir(parents=True, exist_ok=True)
    det.save(path)
    (out_dir / "calibration.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(json.dumps({k: report[k] for k in ("before", "after_cross_validated", "macro_f1_gain_ci95", "detector_file")}))
    typer.echo(f"use it: refusalkit eval --judge {path} ...", err=True)


@app.command("judge-eval")
def judge_eval(
    input_file: Path = typer.Argument(..., metavar="INPUT", help="JSONL, CSV or Parquet file of labelled responses."),
    label_col: str = typer.Option(..., "--label-col", help="Column with your labels."),
    label_map: Optional[str] = typer.Option(None, "--map", help="Map your labels to ours: 'their=ours,...' (ours: compliance, partial_refusal, full_refusal)."),
    out_dir: Path = typer.Option(Path("runs/judge-eval"), "--out", "-o", help="Folder for judge_eval.json, judge_eval.html and predictions.jsonl."),
    response_col: str = typer.Option("response", "--response-col"),
    prompt_col: str = typer.Option("prompt", "--prompt-col"),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help=DETECTOR_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Judge or white-box model for llm / first-token / ensemble."),
    base_url: Optional[str] = BASE_URL,
    api_key: Optional[str] = API_KEY,
) -> None:
    """Measure a detector on a file you labelled: binary accuracy, per-class P/R/F1, macro-F1, confusion matrix."""
    from ..judge.corpus import quality
    from ..judge.io import add_verdicts, eval_html, judge_table, require_column, write_table

    df, gold, keep = _labelled(input_file, label_col, label_map, response_col)
    if prompt_col not in df.columns:
        if detector == "first-token":
            require_column(df, prompt_col, input_file)
        prompt_col = None  # type: ignore[assignment]
    sub = df.iloc[keep].reset_index(drop=True)
    det = _detector(detector, model, base_url, api_key)
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
