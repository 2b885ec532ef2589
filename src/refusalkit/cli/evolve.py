"""`refusalkit evolve`: the search for pseudo-malicious prompts a model wrongly refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RefusalkitError
from .app import ADAPTER, MODEL, app, openai_options, target_from_options


def _optional_target(spec: Optional[str], client, shared: dict):
    """Load ``spec`` unless it names a model already loaded (so --rewriter-model can reuse --model)."""
    if not spec:
        return None
    if spec not in shared:
        shared[spec] = target_from_options(spec, None, client)
    return shared[spec]


@app.command()
@openai_options
def evolve(
    model: str = MODEL,
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Output folder (evolved.jsonl, candidates.jsonl, report.html/json, state.json)."
    ),
    seeds: Optional[Path] = typer.Option(
        None, "--seeds", help="Benign seed prompts: JSONL/CSV/Parquet (prompt or text column) or one per line."
    ),
    suite: Optional[str] = typer.Option(
        None, "--suite", help="Take seeds from a bundled suite's benign prompts instead (e.g. core)."
    ),
    split: str = typer.Option("train", "--split", help="Suite split to take seeds from ('' for all)."),
    seed_type: Optional[List[str]] = typer.Option(None, "--type", help="Only suite prompts of this type (repeatable)."),
    prompt_col: Optional[str] = typer.Option(None, "--prompt-col", help="Prompt column of the seed file."),
    population: int = typer.Option(16, "--population", help="Number of seed prompts (lineages) to evolve; 0 = all."),
    generations: int = typer.Option(5, "--generations", help="Number of generations."),
    mutations: int = typer.Option(9, "--mutations", help="Strategies tried per prompt and generation (of 9)."),
    top_k: int = typer.Option(4, "--top-k", help="Children kept per generation for recombination."),
    recombinations: int = typer.Option(2, "--recombinations", help="Recombined children per generation."),
    time_budget: Optional[float] = typer.Option(
        None, "--time-budget", help="Stop after this many seconds (at a generation boundary)."
    ),
    confirm: int = typer.Option(
        0,
        "--confirm",
        help="Answer the N fittest children of each seed greedily and keep the fittest one the detector judges a refusal (0: the fittest).",
    ),
    rand_seed: int = typer.Option(0, "--seed", help="Random seed of the search."),
    fitness_mode: str = typer.Option(
        "auto", "--fitness", help="auto | first_token (white-box) | sampled (K answers judged)."
    ),
    samples: int = typer.Option(4, "--samples", help="K sampled answers per prompt for sampled fitness."),
    rewriter_mode: str = typer.Option("offline", "--rewriter", help="offline | llm | both."),
    rewriter_model: Optional[str] = typer.Option(
        None, "--rewriter-model", help="Model that rewrites prompts for --rewriter llm/both."
    ),
    harm_judge: Optional[str] = typer.Option(
        None, "--harm-judge", help="Also ask this model whether each candidate is harmful."
    ),
    guard: Optional[Path] = typer.Option(
        None, "--guard", help="Also reject candidates a saved Latent Guard flags (read on --model)."
    ),
    harm_threshold: float = typer.Option(
        0.5, "--harm-threshold", help="Reject a candidate when the prompt-harm classifier's P(harmful) reaches this."
    ),
    compare: Optional[str] = typer.Option(
        None, "--compare-model", help="Also report the refusal-triggering rates on this model."
    ),
    detector: Optional[str] = typer.Option(
        None, "--detector", help="Refusal detector for rates and sampled fitness (default: refusalkit's default)."
    ),
    judge_tokens: int = typer.Option(48, "--judge-tokens", help="Answer length used to judge refusals."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last finished generation."),
    adapter: Optional[str] = ADAPTER,
    client=None,
) -> None:
    """Evolve harmless seed prompts into pseudo-malicious ones that the model wrongly refuses."""
    from ..evolve import EvolveConfig, load_seeds, run_evolve
    from ..judge import DEFAULT_DETECTOR, load_detector

    from ..checks import at_least, fraction, output_dir
    from ..evolve.search import STATE_FILE

    if seeds is None and suite is None:
        raise RefusalkitError("give seed prompts with --seeds FILE or --suite NAME")
    # Checked before the seeds are read and the model loads.
    output_dir(out_dir)
    if (out_dir / STATE_FILE).exists() and not resume:
        raise RefusalkitError(
            f"{out_dir} already holds an evolve run; pass --resume to continue it or choose another --out"
        )
    for value, lowest, option in (
        (population, 0, "--population"),
        (generations, 1, "--generations"),
        (mutations, 1, "--mutations"),
        (top_k, 1, "--top-k"),
        (recombinations, 0, "--recombinations"),
        (confirm, 0, "--confirm"),
        (samples, 1, "--samples"),
        (judge_tokens, 1, "--judge-tokens"),
    ):
        at_least(value, lowest, option)
    if time_budget is not None and not time_budget > 0:
        raise RefusalkitError(f"--time-budget must be above 0 seconds, got {time_budget}")
    fraction(harm_threshold, "--harm-threshold")
    if fitness_mode not in ("auto", "first_token", "sampled"):
        raise RefusalkitError(f"unknown --fitness '{fitness_mode}': use auto, first_token or sampled")
    if rewriter_mode not in ("offline", "llm", "both"):
        raise RefusalkitError(f"unknown --rewriter '{rewriter_mode}': use offline, llm or both")
    if rewriter_mode != "offline" and not rewriter_model:
        raise RefusalkitError(f"--rewriter {rewriter_mode} needs a rewriter model (--rewriter-model)")
    prompts = load_seeds(seeds, suite, split or None, seed_type, prompt_col, limit=population or None)
    det = load_detector(detector or DEFAULT_DETECTOR)
    target = target_from_options(model, adapter, client)
    shared = {model: target}
    latent_guard = None
    if guard is not None:
        from ..evolve.harm import load_latent_guard

        latent_guard = load_latent_guard(guard, target)
    config = EvolveConfig(
        generations=generations,
        mutations=mutations,
        top_k=top_k,
        recombinations=recombinations,
        time_budget=time_budget,
        seed=rand_seed,
        confirm=confirm,
    )
    report = run_evolve(
        prompts,
        target,
        out_dir,
        config,
        fitness_mode=fitness_mode,
        samples=samples,
        rewriter=_optional_target(rewriter_model, client, shared),
        rewriter_mode=rewriter_mode,
        harm_threshold=harm_threshold,
        harm_judge=_optional_target(harm_judge, client, shared),
        guard=latent_guard,
        compare=_optional_target(compare, client, shared),
        detector=det,
        judge_tokens=judge_tokens,
        resume=resume,
    )
    keys = ("target", "evolved", "generations_done", "stopped", "seed_rate", "evolved_rate", "rate_ratio")
    summary = {k: report[k] for k in keys} | {
        "filter_rejection_rate": report["safety_filter"]["rejection_rate"],
        "diversity_evolved": report["diversity"]["evolved"],
    }
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"wrote {out_dir}/evolved.jsonl and {out_dir}/report.html", err=True)
