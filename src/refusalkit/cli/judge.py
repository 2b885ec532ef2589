"""`refusalkit judge` (label the responses in a file; `judge calibrate` adapts the detector to your
model) and `refusalkit judge-eval` (measure a detector against labels you bring)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from ..errors import RefusalkitError
from ..judge import DEFAULT_DETECTOR, detector_help
from ..judge.labels import label_schemes
from ..run.evaluate import DEFAULT_MAX_UNSCORED
from .app import app, openai_options, target_from_options

DETECTOR_OPTION_HELP = detector_help(DEFAULT_DETECTOR)
MODEL_HELP = (
    "The model a detector reads: the judge model of llm / wildguard / ensemble, the white-box model of first-token."
)
LABEL_MAP_HELP = (
    "hf: detectors: the classifier's labels to ours, e.g. 'LABEL_0=compliance,LABEL_1=full_refusal' "
    "(default: read from the model's id2label)."
)
READ_PROMPT_HELP = "hf: detectors: give the classifier the prompt with the answer (as a text pair); by default it reads the answer only."

LABEL_SCHEME = typer.Option(
    None,
    "--map",
    help=f"Map your labels to ours: a preset ({', '.join(label_schemes())}; see docs/labels.md), "
    "'their=ours,...' entries (ours: compliance, partial_refusal, full_refusal, skip), or both.",
)


class _JudgeGroup(TyperGroup):
    """`refusalkit judge FILE ...` labels a file (the `label` subcommand); `refusalkit judge calibrate ...`
    runs the subcommand it names."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["label", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(
    cls=_JudgeGroup,
    no_args_is_help=True,
    help="Label responses (`refusalkit judge FILE --out ...`) or calibrate the detector to your model.",
)
app.add_typer(judge_app, name="judge")


def build_detector(name: Optional[str], model: Optional[str], client=None, **options):
    """The detector named on the command line (a registered name, ``hf:ORG/NAME``, a model folder or a
    saved detector file), with the model it reads and the detector-specific options it accepts.

    Returns the detector and whether it needs the prompts."""
    from ..judge import resolve_detector

    spec, kwargs = resolve_detector(name or DEFAULT_DETECTOR)
    given = {k: v for k, v in options.items() if v not in (None, False)}
    for key in given:
        if key not in spec.options:
            raise RefusalkitError(f"--{key.replace('_', '-')} does not apply to the {spec.name} detector")
    if spec.needs_target and not model:
        kind = "a local transformers model" if spec.whitebox else "a local model, or openai:NAME with --base-url"
        raise RefusalkitError(f"the {spec.name} detector needs --model ({kind})")
    if model and not spec.takes_target:
        raise RefusalkitError(
            f"the {spec.name} detector reads no model; drop --model (or choose llm, wildguard, first-token or ensemble)"
        )
    if model:
        kwargs["target"] = target_from_options(model, None, client)
    det = spec.factory(**kwargs, **given)
    return det, spec.needs_prompts or bool(given.get("read_prompt"))


def _prompt_column(df, prompt_col: str, needs_prompts: bool, input_file: Path) -> Optional[str]:
    from ..judge.io import require_column

    if prompt_col in df.columns:
        return prompt_col
    if needs_prompts:
        require_column(df, prompt_col, input_file)
    return None


@judge_app.command("label")
@openai_options
def judge(
    input_file: Path = typer.Argument(..., metavar="INPUT", help="JSONL, CSV or Parquet file of responses."),
    out_file: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Output file (.jsonl, .csv or .parquet): the rows plus label, score, detector, evidence.",
    ),
    response_col: str = typer.Option("response", "--response-col"),
    prompt_col: str = typer.Option(
        "prompt", "--prompt-col", help="Used when present (first-token needs it; llm and wildguard read it)."
    ),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help=DETECTOR_OPTION_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    label_map: Optional[str] = typer.Option(None, "--label-map", help=LABEL_MAP_HELP),
    read_prompt: bool = typer.Option(False, "--read-prompt", help=READ_PROMPT_HELP),
    max_unscored: float = typer.Option(
        DEFAULT_MAX_UNSCORED,
        "--max-unscored",
        help="Warn when more than this share of rows is unscored; every row unscored always fails (exit 1).",
    ),
    client=None,
) -> None:
    """Label every response in a file as compliance / partial_refusal / full_refusal / unscored.

    Exits 1 when every row is unscored (after writing the output); warns above --max-unscored."""
    from ..checks import fraction
    from ..judge.io import add_verdicts, judge_table, require_column
    from ..run.evaluate import check_unscored
    from ..tables import check_output, read_table, write_table

    check_output(out_file)
    fraction(max_unscored, "--max-unscored")
    df = read_table(input_file)
    require_column(df, response_col, input_file)
    det, needs_prompts = build_detector(detector, model, client, label_map=label_map, read_prompt=read_prompt)
    pcol = _prompt_column(df, prompt_col, needs_prompts, input_file)
    verdicts = judge_table(df, det, response_col, pcol)
    out, prefix = add_verdicts(df, verdicts)
    write_table(out, out_file)
    counts = out[prefix + "label"].value_counts().to_dict()
    note = f" (input already had those columns: wrote {prefix}label etc.)" if prefix else ""
    typer.echo(
        f"wrote {len(out)} rows to {out_file}{note}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        err=True,
    )
    unscored = [v.evidence or "unknown" for v in verdicts if v.label == "unscored"]
    reasons = {r: unscored.count(r) for r in sorted(set(unscored), key=unscored.count, reverse=True)}
    warning = check_unscored(len(verdicts), len(unscored), reasons, max_unscored, what="rows")
    if warning:
        typer.echo(f"warning: {warning}", err=True)


def _labelled(input_file: Path, label_col: str, label_scheme: Optional[str], response_col: str):
    """The table, every row's label in our classes (None where unlabelled, ``skip`` where the map says so),
    the indices of the rows to score, and the label mapping."""
    from ..judge.common import CLASSES
    from ..judge.io import require_column
    from ..judge.labels import SKIP, parse_map
    from ..tables import read_table

    mapping = parse_map(label_scheme)
    df = read_table(input_file)
    require_column(df, response_col, input_file)
    require_column(df, label_col, input_file)

    raw = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip() for v in df[label_col].tolist()]
    gold = [mapping(v) for v in raw]
    unknown = sorted({g for g in gold if g and g != SKIP and g not in CLASSES})
    if unknown:
        how = (
            f"the {', '.join(mapping.presets)} preset does not name them; add entries"
            if mapping.presets
            else "map them with"
        )
        raise RefusalkitError(
            f"{input_file}: labels {', '.join(repr(u) for u in unknown[:6])} in column '{label_col}' are not ours; "
            f"{how} --map 'theirs=compliance,...' (ours: {', '.join(CLASSES)}, skip) or a preset (see docs/labels.md)"
        )
    keep = [i for i, g in enumerate(gold) if g and g != SKIP]
    if not keep:
        raise RefusalkitError(f"{input_file}: column '{label_col}' has no labels that map to ours")
    return df, gold, keep, mapping


@judge_app.command("calibrate")
def calibrate(
    input_file: Path = typer.Argument(
        ..., metavar="LABELLED", help="JSONL, CSV or Parquet file of your model's answers with your labels."
    ),
    label_col: str = typer.Option(..., "--label-col", help="Column with your labels."),
    label_scheme: Optional[str] = LABEL_SCHEME,
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the detector file and calibration.json."),
    response_col: str = typer.Option("response", "--response-col"),
    detector: Optional[str] = typer.Option(
        None,
        "--detector",
        "-d",
        help="Detector to adapt: learned, minilm or minilm-ft (default: the default detector, learned).",
    ),
    share: float = typer.Option(
        0.5, "--share", help="Part of the training weight your rows carry (the rest: refusalkit's corpus)."
    ),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds for the after figures."),
) -> None:
    """Adapt the detector to your model: refit it on refusalkit's corpus plus your labelled answers, report
    cross-validated binary accuracy and macro-F1 before and after (95% intervals), and save a detector file
    that `refusalkit eval --judge FILE` and `refusalkit judge --detector FILE` load."""
    from ..checks import at_least, fraction, output_dir
    from ..judge.calibrate import calibrate as run_calibration
    from ..judge.common import precheck
    from ..types import Response

    output_dir(out_dir)
    fraction(share, "--share")
    at_least(folds, 2, "--folds")
    df, gold, keep, _ = _labelled(input_file, label_col, label_scheme, response_col)
    texts = df[response_col].tolist()
    usable = [i for i in keep if precheck(Response("", texts[i], ""), "calibrate") is None]
    det, report = run_calibration(
        [texts[i] for i in usable], [gold[i] for i in usable], detector=detector, share=share, folds=folds
    )
    suffix = {"minilm": "npz", "minilm-ft": "safetensors"}.get(report["detector"], "rkmodel")
    path = out_dir / f"detector.{suffix}"
    report = {
        "input": str(input_file),
        "skipped_unlabelled": len(gold) - len(keep),
        "skipped_unscorable": len(keep) - len(usable),
        **report,
        "detector_file": str(path),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    det.save(path)
    (out_dir / "calibration.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(
        json.dumps({k: report[k] for k in ("before", "after_cross_validated", "macro_f1_gain_ci95", "detector_file")})
    )
    typer.echo(f"use it: refusalkit eval --judge {path} ...", err=True)


@app.command("judge-eval")
@openai_options
def judge_eval(
    input_file: Path = typer.Argument(..., metavar="INPUT", help="JSONL, CSV or Parquet file of labelled responses."),
    label_col: str = typer.Option(..., "--label-col", help="Column with your labels."),
    label_scheme: Optional[str] = LABEL_SCHEME,
    binary: Optional[bool] = typer.Option(
        None,
        "--binary/--three-class",
        help="Score refusal against compliance only (default for presets without a partial class) or all three classes.",
    ),
    out_dir: Path = typer.Option(
        Path("runs/judge-eval"),
        "--out",
        "-o",
        help="Folder for judge_eval.json, judge_eval.html and predictions.jsonl.",
    ),
    response_col: str = typer.Option("response", "--response-col"),
    prompt_col: str = typer.Option("prompt", "--prompt-col"),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help=DETECTOR_OPTION_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    label_map: Optional[str] = typer.Option(None, "--label-map", help=LABEL_MAP_HELP),
    read_prompt: bool = typer.Option(False, "--read-prompt", help=READ_PROMPT_HELP),
    client=None,
) -> None:
    """Measure a detector on a file you labelled: binary accuracy, per-class P/R/F1, macro-F1, confusion matrix."""
    from ..checks import output_dir
    from ..judge.common import CLASSES
    from ..judge.corpus import quality
    from ..judge.io import add_verdicts, eval_html, judge_table
    from ..judge.labels import SKIP, binary_quality
    from ..tables import write_table

    output_dir(out_dir)
    df, gold, keep, mapping = _labelled(input_file, label_col, label_scheme, response_col)
    binary = mapping.binary if binary is None else binary
    sub = df.iloc[keep].reset_index(drop=True)
    det, needs_prompts = build_detector(detector, model, client, label_map=label_map, read_prompt=read_prompt)
    pcol = _prompt_column(sub, prompt_col, needs_prompts, input_file)
    verdicts = judge_table(sub, det, response_col, pcol)
    y_true, y_pred = [gold[i] for i in keep], [v.label for v in verdicts]
    scores = binary_quality(y_true, y_pred) if binary else {"mode": "three-class", **quality(y_true, y_pred)}
    report = {
        "detector": det.name,
        "input": str(input_file),
        "map": mapping.presets or None,
        "skipped_unlabelled": sum(1 for g in gold if not g),
        "skipped_by_map": sum(1 for g in gold if g == SKIP),
        **scores,
    }
    if not report.get("n"):
        raise RefusalkitError(f"{input_file}: the detector left every row unscored (empty or non-text responses?)")

    def side(label: str) -> str:
        return label if not binary or label not in CLASSES else ("compliance" if label == "compliance" else "refusal")

    errors = [
        {"true": t, "pred": p, "response": sub[response_col].iloc[k], "evidence": verdicts[k].evidence}
        for k, (t, p) in enumerate(zip(y_true, y_pred))
        if side(t) != side(p)
    ][:100]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "judge_eval.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out_dir / "judge_eval.html").write_text(eval_html(report, errors), encoding="utf-8")
    preds, _ = add_verdicts(sub, verdicts)
    write_table(preds, out_dir / "predictions.jsonl")
    typer.echo(json.dumps({k: report[k] for k in ("detector", "mode", "n", "unscored", "binary_accuracy", "macro_f1")}))
    typer.echo(f"report: {out_dir / 'judge_eval.html'}", err=True)
