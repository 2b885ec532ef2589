"""`refusalkit eval` (measure refusal on a prompt set) and `refusalkit compare` (runs side by side)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .. import checks
from ..data.loaders import benchmark_spec
from ..errors import RefusalkitError
from ..judge import DEFAULT_DETECTOR, detector_help, detector_specs
from ..run.evaluate import DEFAULT_MAX_UNSCORED, check_unscored
from ..types import GenParams
from .app import ADAPTER, MODEL, app, openai_options, target_from_options
from .tokens import BIAS, CATEGORY_THRESHOLD, TEMPERATURE, THRESHOLD, control_from_options
from .mogu import MOGU, MOGU_CONTINUATION, check_mogu, with_mogu

out = Console()


def print_summary(summary: dict, out_dir: Path) -> None:
    from ..report.html import GROUP_NAMES, pct, resume_line

    table = Table(
        "prompts",
        "n",
        "full refusal",
        "any refusal",
        "compliance",
        "unscored",
        title=f"{summary['run']['target']} · judge {summary['run']['detector']}",
    )
    for g, b in summary["metrics"]["groups"].items():
        table.add_row(
            GROUP_NAMES[g],
            str(b["n"]),
            pct(b["full_refusal"]),
            pct(b["any_refusal"]),
            pct(b["compliance"]),
            str(b["unscored"]),
        )
    out.print(table)
    resumed = resume_line(summary["run"])
    if resumed:
        out.print(f"run store: {resumed}")
    out.print(f"report: {out_dir / 'report.html'}")


def detector_for(judge: str):
    """The judge named on the command line, checked before any model loads, as a function of the target
    it judges: a detector that reads the evaluated model (an LLM judge, the first-token score) is built on
    each target, any other once. A detector with its own model is refused (judge its answers afterwards)."""
    from ..judge import resolve_detector

    spec, kwargs = resolve_detector(judge)
    if spec.own_model:
        raise RefusalkitError(
            f"the {spec.name} detector judges with its own model, not the one under evaluation: run eval with another "
            f"--judge, then `refusalkit judge RUN/responses.jsonl --detector {judge} --model JUDGE_MODEL`"
        )
    if spec.needs_target:
        return lambda target: spec.factory(**kwargs, target=target)
    detector = spec.factory(**kwargs)
    return lambda target: detector


def run_eval(
    model: str,
    prompts: str,
    out_dir: Path,
    *,
    split: Optional[str] = None,
    limit: Optional[int] = None,
    judge: str = DEFAULT_DETECTOR,
    adapter: Optional[str] = None,
    client=None,
    params: Optional[GenParams] = None,
    early_stop: Optional[bool] = None,
    columns: Optional[dict] = None,
    with_runs: Optional[List[Path]] = None,
    steer: Optional[str] = None,
    max_unscored: float = DEFAULT_MAX_UNSCORED,
    system_prompts: Optional[List[Optional[str]]] = None,
    refusal_control=None,
    mogu: Optional[Path] = None,
    mogu_continuation: Optional[str] = None,
) -> dict:
    """Shared by `eval` and `demo`: check the arguments, load prompts, target and judge, evaluate,
    print the headline. A run whose every row is unscored is an error (exit 1) after its outputs are
    written; a share of unscored rows above ``max_unscored`` prints a warning.

    ``prompts`` may name several sets separated by commas, and ``system_prompts`` several system
    prompts: each combination is evaluated into the one run folder and reported together
    (:mod:`refusalkit.run.sets`); the summary returned is then the overview. A model trained with
    refusal tokens answers under their control (``refusal_control``, a
    :class:`~refusalkit.refusal_tokens.target.Control`; None = its own choice), and the headline adds
    how often the forced token agrees with the detector."""
    from ..data import load_prompts
    from ..run import evaluate, load_run

    # Everything that can be checked without a model is checked first.
    checks.output_dir(out_dir)
    checks.fraction(max_unscored, "--max-unscored")
    params = params or GenParams()
    if system_prompts is not None and len(system_prompts) == 1:
        params, system_prompts = replace(params, system_prompt=system_prompts[0] or None), None
    if system_prompts is not None and len(system_prompts) == 0:
        system_prompts = None
    if system_prompts:
        from ..run.sets import system_prompt_labels

        system_prompt_labels(system_prompts)  # the same prompt twice fails here, before the model loads
    others = [(Path(d).name, load_run(d)[0]["metrics"]["tradeoff"]) for d in with_runs or []]
    if steer:
        from ..internals.steering import parse_steer

        directions = Path(parse_steer(steer)["directions"])
        if not directions.is_file():
            raise RefusalkitError(
                f"--steer {steer}: {directions} does not exist (make it with `refusalkit directions`)"
            )
    check_mogu(mogu, mogu_continuation, steer)
    specs = prompt_sets(prompts)
    names = [set_name(s) for s in specs]
    if len(set(names)) != len(names):
        raise RefusalkitError(f"--prompts names the same set twice ({', '.join(names)}); give each set once")
    sets = []
    for spec in specs:
        # Column options describe files; a named benchmark reads its columns from the registry.
        cols = {} if len(specs) > 1 and benchmark_spec(spec) else (columns or {})
        sets.append((set_name(spec), spec, load_prompts(spec, split=split, limit=limit, **cols)))
    detector_of = detector_for(judge)  # unknown names and missing files fail before the model loads
    target = target_from_options(model, adapter, client)
    if steer:
        from ..internals.steering import steer_target

        target = steer_target(target, steer)
    from ..refusal_tokens.target import wrap as wrap_tokens

    target = wrap_tokens(target, refusal_control)
    if mogu:
        target = with_mogu(target, mogu, mogu_continuation)
    detector = detector_of(target)
    if len(sets) > 1 or system_prompts:
        return _run_sets(
            target,
            sets,
            params,
            detector,
            out_dir,
            system_prompts=system_prompts,
            early_stop=early_stop,
            run_info={"split": split, "limit": limit},
            others=others,
            max_unscored=max_unscored,
        )
    items = sets[0][2]
    summary = evaluate(
        target,
        items,
        params,
        detector,
        out_dir,
        early_stop=early_stop,
        run_info={"prompts": prompts, "split": split, "limit": limit, "name": out_dir.name},
        report=not with_runs,
    )
    if with_runs:  # re-render the report with the other runs on the trade-off scatter
        from ..report import render_run

        _, rows = load_run(out_dir)
        (out_dir / "report.html").write_text(render_run(summary, rows, others), encoding="utf-8")
    print_summary(summary, out_dir)
    if getattr(target, "refusal_tokens", None) is not None:
        print_token_agreement(load_run(out_dir)[1], detector)
    if mogu:
        from ..internals.mogu import gate_page

        gates = gate_page(load_run(out_dir)[1], out_dir / "mogu.html", f"MoGU gates: {target.id}")
        out.print(
            f"MoGU gates: AUROC of alpha - beta (harmful vs benign) {gates.get('auroc_alpha_minus_beta')}, "
            f"route agrees with the verdict on {gates.get('route_agrees_with_verdict')} of scored prompts; {out_dir / 'mogu.html'}"
        )
    m = summary["metrics"]
    warning = check_unscored(m["n_prompts"], m["unscored"], summary["run"]["unscored_reasons"], max_unscored)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    return summary


def print_token_agreement(rows: list, detector) -> dict:
    """How often the forced refusal token agrees with a text detector's verdict on the same answers:
    the run's detector, or the default one when the run was judged by the token itself."""
    from ..judge import judge_safely, load_detector
    from ..refusal_tokens.sweep import agreement
    from ..types import Response

    if detector.name == "refusal-token":
        detector = load_detector(DEFAULT_DETECTOR)
        responses = [Response(r["prompt_id"], r["response"] or "", "", error=r.get("error")) for r in rows]
        verdicts = judge_safely(detector, responses, None)
        rows = [{**r, "verdict": v.label} for r, v in zip(rows, verdicts)]
    agree = agreement(rows)
    if agree["n"]:
        out.print(
            f"refusal token agrees with the {detector.name} detector on {agree['k']}/{agree['n']} answers "
            f"({100 * agree['rate']:.1f}%, [{100 * agree['lo']:.1f}, {100 * agree['hi']:.1f}])"
        )
    return agree


def prompt_sets(prompts: str) -> List[str]:
    """``--prompts`` as a list of sets: one, or several separated by commas (an existing file whose
    name holds a comma is one set)."""
    if "," not in prompts or Path(prompts).expanduser().exists():
        return [prompts]
    parts = [p.strip() for p in prompts.split(",")]
    if not all(parts):
        raise RefusalkitError(f"--prompts {prompts}: an empty name between commas; give set names separated by commas")
    return parts


def set_name(spec: str) -> str:
    """The folder name of a prompt set in a run over several: the benchmark or suite name, the
    file's stem, or the dataset id with '/' as '-'."""
    named = benchmark_spec(spec)
    if named is not None:
        return named[0].name
    if spec.startswith("hf:"):
        return spec[3:].replace("/", "-")
    path = Path(spec).expanduser()
    return path.stem if path.exists() else spec


def _run_sets(
    target, sets, params, detector, out_dir: Path, *, system_prompts, early_stop, run_info, others, max_unscored
) -> dict:
    """Several sets and/or system prompts: every configuration into ``out_dir``, one report."""
    from ..report.html import pct
    from ..run.sets import evaluate_sets

    overview = evaluate_sets(
        target,
        sets,
        params,
        detector,
        out_dir,
        system_prompts=system_prompts,
        early_stop=early_stop,
        run_info=run_info,
        others=others,
    )
    table = Table(
        "configuration",
        "label",
        "n",
        "any refusal",
        "full refusal",
        "unscored",
        title=f"{overview['target']} · judge {overview['detector']}",
    )
    for c in [*overview["configs"], *overview["pooled"]]:
        for label, b in c["by_label"].items():
            if b["n"] or b["unscored"]:
                table.add_row(
                    c["name"], label, str(b["n"]), pct(b["any_refusal"]), pct(b["full_refusal"]), str(b["unscored"])
                )
    out.print(table)
    for name, text in overview["system_prompts"].items():
        out.print(f"{name}: {text[:100] if text else '(no system prompt)'}")
    out.print(f"report: {out_dir / 'report.html'}")
    fatal = None
    for c in overview["configs"]:
        summary = json.loads((out_dir / c["dir"] / "summary.json").read_text(encoding="utf-8"))
        try:
            warning = check_unscored(
                c["n_prompts"],
                c["unscored"],
                summary["run"]["unscored_reasons"],
                max_unscored,
                what=f"prompts of {c['name']}",
            )
        except RefusalkitError as exc:
            fatal = fatal or exc
            continue
        if warning:
            typer.echo(f"warning: {warning}", err=True)
    if fatal:
        raise fatal
    return overview


@app.command("eval")
@openai_options
def eval_command(
    model: str = MODEL,
    prompts: str = typer.Option(
        "core",
        "--prompts",
        "-p",
        help="Bundled suite (core, ood, ood-dev, align), a benchmark by name (see `refusalkit benchmarks`; NAME=FILE "
        "for a local copy), a .jsonl/.csv/.parquet file, or hf:DATASET. Several, separated by commas, run into "
        "one folder (OUT/SET/) with one report.",
    ),
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Run folder: run.sqlite, responses.jsonl, summary.json, report.html."
    ),
    split: Optional[str] = typer.Option(None, "--split", help="Only prompts of this split (e.g. test)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most N prompts, spread across prompt types."),
    judge: str = typer.Option(
        DEFAULT_DETECTOR, "--judge", help="Refusal detector: " + detector_help(DEFAULT_DETECTOR, evaluated_model=True)
    ),
    max_new_tokens: int = typer.Option(256, help="Maximum answer length in tokens."),
    batch_size: int = typer.Option(8, help="Prompts per generation batch (and per stored transaction)."),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    seed: int = typer.Option(0),
    system_prompt: Optional[List[str]] = typer.Option(
        None,
        "--system-prompt",
        help="System prompt. Repeat it to compare several: each is its own configuration in the same run store, "
        "reported together ('' = none).",
    ),
    system_prompts_file: Optional[Path] = typer.Option(
        None,
        "--system-prompts",
        help="File of system prompts to compare: one a line (.txt) or a 'system_prompt' column (.jsonl/.csv).",
    ),
    early_stop: Optional[bool] = typer.Option(
        None,
        "--early-stop/--no-early-stop",
        help="Stop an answer once its verdict is settled (default: on for the judges measured safe with it: "
        + ", ".join(s.name for s in detector_specs() if s.early_stop)
        + ").",
    ),
    text_col: Optional[str] = typer.Option(None, "--text-col", help="Column holding the prompt text."),
    label_col: Optional[str] = typer.Option(
        None, "--label-col", help="Column holding benign/harmful (or safe/unsafe)."
    ),
    id_col: Optional[str] = typer.Option(None, "--id-col"),
    category_col: Optional[str] = typer.Option(None, "--category-col"),
    type_col: Optional[str] = typer.Option(None, "--type-col"),
    label: Optional[str] = typer.Option(
        None, "--label", help="Label for every prompt of a file without a label column."
    ),
    with_run: Optional[List[Path]] = typer.Option(
        None, "--with-run", help="Another run folder to show on the trade-off plot."
    ),
    max_unscored: float = typer.Option(
        DEFAULT_MAX_UNSCORED,
        "--max-unscored",
        help="Warn when more than this share of prompts is unscored (failed requests or judge errors). A run "
        "with every prompt unscored always fails (exit 1).",
    ),
    steer: Optional[str] = typer.Option(
        None,
        "--steer",
        help="Steer a local model: FILE:ALPHA, FILE:ablate, FILE:gated or FILE:harmfulness:ALPHA (FILE from `refusalkit directions`).",
    ),
    adapter: Optional[str] = ADAPTER,
    refusal_threshold: Optional[float] = THRESHOLD,
    category_threshold: Optional[List[str]] = CATEGORY_THRESHOLD,
    refusal_bias: Optional[float] = BIAS,
    first_token_temperature: Optional[float] = TEMPERATURE,
    mogu: Optional[Path] = MOGU,
    mogu_continuation: Optional[str] = MOGU_CONTINUATION,
    client=None,
) -> None:
    """Generate, judge and score a prompt set; re-running the same command resumes where it stopped."""
    columns = dict(
        text_col=text_col,
        label_col=label_col,
        id_col=id_col,
        category_col=category_col,
        type_col=type_col,
        default_label=label,
    )
    params = GenParams(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size)
    sweep = list(system_prompt or []) + (read_system_prompts(system_prompts_file) if system_prompts_file else [])
    run_eval(
        model,
        prompts,
        out_dir,
        split=split,
        limit=limit,
        judge=judge,
        adapter=adapter,
        client=client,
        params=params,
        early_stop=early_stop,
        columns=columns,
        with_runs=with_run,
        steer=steer,
        max_unscored=max_unscored,
        system_prompts=sweep or None,
        refusal_control=control_from_options(
            refusal_threshold, category_threshold, refusal_bias, first_token_temperature
        ),
        mogu=mogu,
        mogu_continuation=mogu_continuation,
    )


def read_system_prompts(path: Path) -> List[Optional[str]]:
    """System prompts from a file: one a line (.txt) or the ``system_prompt`` column of a table
    (.jsonl, .csv, ...; an empty or null cell means no system prompt)."""
    from ..tables import read_rows

    _, rows = read_rows(path, text_column="system_prompt")
    if not rows:
        raise RefusalkitError(f"{path}: no system prompts")
    out: List[Optional[str]] = []
    for n, row in rows:
        if "system_prompt" not in row:
            raise RefusalkitError(f"{path}: row {n}: no 'system_prompt' column (columns: {', '.join(row)})")
        value = row["system_prompt"]
        if value is not None and not isinstance(value, str):
            raise RefusalkitError(
                f"{path}: row {n}: column 'system_prompt' must be text or null, not {type(value).__name__}"
            )
        out.append(value or None)
    return out


@app.command()
def compare(
    runs: List[Path] = typer.Argument(..., help="Run folders from `refusalkit eval`; the first is the baseline."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for compare.html and compare.json."),
) -> None:
    """Compare runs with the first: newly refused / answered prompts, rate changes with intervals."""
    if len(runs) < 2:
        raise RefusalkitError("compare needs at least two run folders")
    checks.output_dir(out_dir)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        names = [str(r) for r in runs]
    write_comparison(list(zip(names, runs)), out_dir)


def write_comparison(runs: List[tuple[str, Path]], out_dir: Path, intro: str = "") -> dict:
    """Compare named run folders with the first: write ``compare.json`` and ``compare.html`` (``intro``:
    HTML under its title) into ``out_dir`` and print one line per run; returns the comparison."""
    from .. import metrics
    from ..report import render_compare
    from ..run import load_run

    result = metrics.compare([(name, load_run(folder)[1]) for name, folder in runs])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out_dir / "compare.html").write_text(render_compare(result, intro), encoding="utf-8")
    for c in result["comparisons"]:
        d = c["deltas"]
        out.print(
            f"{c['run']} vs {result['baseline']}: newly refused {c['counts']['newly_refused']}, newly answered "
            f"{c['counts']['newly_answered']}; benign any-refusal {_signed(d['benign']['any_refusal'])}, "
            f"harmful any-refusal {_signed(d['harmful']['any_refusal'])}"
        )
    out.print(f"report: {out_dir / 'compare.html'}")
    return result


def _signed(d: dict) -> str:
    if d["delta"] is None:
        return "n/a"
    return f"{100 * d['delta']:+.1f} pts [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"
