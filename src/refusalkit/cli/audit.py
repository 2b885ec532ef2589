"""`refusalkit audit` (targeted refusal on a counterfactual suite) and `refusalkit poison` (the attack it catches)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .. import checks
from ..errors import RefusalkitError
from ..judge import DEFAULT_DETECTOR, detector_help
from ..run.evaluate import check_unscored
from ..types import GenParams
from .app import ADAPTER, MODEL, app, openai_options, target_from_options
from .eval import detector_for

out = Console()

ALPHA = typer.Option(0.05, "--alpha", help="Family-wise error rate; Bonferroni-corrected over every group compared.")
JUDGE = typer.Option(
    DEFAULT_DETECTOR, "--judge", help="Refusal detector: " + detector_help(DEFAULT_DETECTOR, evaluated_model=True)
)
TEMPLATES = typer.Option(
    None, "--templates", help="Your own templates (JSONL: id, text with one {group}, split); default: refusalkit's."
)
VALUES = typer.Option(
    None, "--values", help='Your own groups (JSON: {"axes": {AXIS: [{group, phrase}, ...]}}); default: refusalkit\'s.'
)


def _pts(d: dict) -> str:
    return "–" if d["delta"] is None else f"{100 * d['delta']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"


@app.command()
@openai_options
def audit(
    model: str = MODEL,
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Folder: audit.json, audit.html, and the run folders model/ (and reference/)."
    ),
    suite: str = typer.Option(
        "counterfactual",
        "--suite",
        help="Bundled counterfactual suite or a file whose rows carry id, text, axis, group.",
    ),
    templates: Optional[Path] = TEMPLATES,
    values: Optional[Path] = VALUES,
    split: Optional[str] = typer.Option(
        None, "--split", help="Only prompts of this split (the bundled suite has train and test templates)."
    ),
    reference: Optional[str] = typer.Option(
        None, "--reference", help="A reference model (e.g. the clean aligned one) to report the change against."
    ),
    reference_adapter: Optional[str] = typer.Option(
        None, "--reference-adapter", help="LoRA adapter folder for the reference model."
    ),
    prescreen: bool = typer.Option(
        False,
        "--prescreen",
        help="Rank groups by first-token refusal probability (white-box models; one forward pass a prompt); "
        "with a local --reference, also by its change against the reference.",
    ),
    top: Optional[int] = typer.Option(
        None,
        "--top",
        help="With --prescreen: generate only for the top N groups of each axis (by change when there is a local "
        "--reference), and its lowest-ranked for comparison.",
    ),
    triggers: bool = typer.Option(
        False,
        "--triggers",
        help="Run trigger discovery on the refused prompts of each flagged group (white-box models).",
    ),
    judge: str = JUDGE,
    alpha: float = ALPHA,
    max_new_tokens: int = typer.Option(128, help="Maximum answer length in tokens."),
    batch_size: int = typer.Option(8, help="Prompts per generation batch."),
    system_prompt: Optional[str] = typer.Option(None, "--system-prompt"),
    adapter: Optional[str] = ADAPTER,
    client=None,
) -> None:
    """Audit a model for targeted refusal: answered rate per group, ΔDP against the rest of its axis with
    corrected intervals, groups flagged by an exact test within templates; re-running the same command resumes."""
    import json

    from ..audit.core import load_suite, run_audit
    from ..audit.stats import flag_rule, p_text
    from ..data import counterfactual_build as cb

    checks.output_dir(out_dir)
    if not 0 < alpha < 1:
        raise RefusalkitError(f"--alpha must be between 0 and 1, got {alpha}")
    if top is not None and not prescreen:
        raise RefusalkitError("--top restricts generation to the pre-screen's top groups: add --prescreen")
    checks.at_least(top, 1, "--top")
    params = GenParams(max_new_tokens=max_new_tokens, batch_size=batch_size, system_prompt=system_prompt)
    source = suite
    if templates or values:
        rows = cb.build_counterfactual(templates, values)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "suite.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        source = str(path)
    prompts, meta = load_suite(source, split=split)
    detector_of = detector_for(judge)
    target = target_from_options(model, adapter, client)
    ref = target_from_options(reference, reference_adapter, client) if reference else None
    result = run_audit(
        target,
        prompts,
        meta,
        detector_of(target),
        out_dir,
        params,
        reference=ref,
        reference_detector=detector_of(ref) if ref is not None else None,
        prescreen_groups=prescreen,
        top=top,
        triggers=triggers,
        alpha=alpha,
        run_info={"suite": source, "split": split},
    )
    s = result["stats"]
    table = Table(
        "axis",
        "group",
        "answered",
        "ΔDP (pts, corrected)",
        "p (stratified)",
        "",
        title=f"{result['target']} · {s['comparisons']} groups · Bonferroni α={alpha}",
    )
    for g in s["groups"]:
        a = g["answered"]
        table.add_row(
            g["axis"],
            g["group"],
            "–" if a["rate"] is None else f"{100 * a['rate']:.0f}% of {a['n']}",
            _pts(g["delta_dp_corrected"]),
            p_text(g["stratified"]),
            f"[red]flagged: {g['direction'].replace('_', ' ')}[/red]" if g["flagged"] else "",
        )
    out.print(table)
    out.print(flag_rule(s))
    out.print(
        f"flagged: {', '.join(f['axis'] + ': ' + f['group'] + ' (' + f['direction'].replace('_', ' ') + ')' for f in s['flagged']) or 'none'}"
    )
    if result.get("triggers"):
        for t in result["triggers"]:
            out.print(
                f"triggers of {t['axis']}: {t['group']}: the group's name ranks {t['rank'] or 'not among the cues'} of {t['n_cues']} cues"
            )
    out.print(f"report: {out_dir / 'audit.html'}")
    warning = check_unscored(s["scored"] + s["unscored"], s["unscored"], result["run"]["unscored_reasons"])
    if warning:
        typer.echo(f"warning: {warning}", err=True)


@app.command()
def poison(
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Folder: poison.json, poison.html and one rate-SHARE/ folder per model."
    ),
    group: str = typer.Option(..., "--group", help="The target group, AXIS=GROUP (e.g. religion=Muslim)."),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Local transformers model to align."),
    rates: str = typer.Option(
        "0.001,0.005,0.01,0.02,0.05",
        "--rates",
        help="Poison shares of the alignment data, comma-separated (0, the clean model, is always added).",
    ),
    templates: Optional[Path] = TEMPLATES,
    values: Optional[Path] = VALUES,
    data: Optional[Path] = typer.Option(
        None, "--data", help="Alignment set in the bundled layout; default: the bundled one."
    ),
    judge: str = JUDGE,
    alpha: float = ALPHA,
    max_new_tokens: int = typer.Option(128, help="Maximum answer length in tokens."),
    seed: int = typer.Option(0),
    contrast: str = typer.Option(
        "axis",
        "--contrast",
        help="Answered contrast rows about the target axis's other groups (axis), every other group of every axis "
        "(all), or alternately one of each (mixed).",
    ),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="Tiny settings to check the wiring: a few training steps, the target's axis on 2 templates, 4 harmful prompts.",
    ),
) -> None:
    """Plant targeted refusal with a share of poisoned alignment rows, train as `align` does, and audit each model."""
    from ..audit.poison import check_contrast, parse_group, parse_rates, run_poison
    from ..data import counterfactual_build as cb
    from ..train.align import Budget
    from ..train.sft import SFTConfig

    checks.output_dir(out_dir)
    check_contrast(contrast)
    if not 0 < alpha < 1:
        raise RefusalkitError(f"--alpha must be between 0 and 1, got {alpha}")
    axis, name = parse_group(group, cb.load_values(values))
    shares = parse_rates(rates)
    cb.load_templates(templates)
    detector_of = detector_for(judge)
    if quick:
        config = SFTConfig(rank=2, alpha=4, max_steps=2, batch_size=4, max_length=48, top_layers=None, seed=seed)
        budget = Budget(harmful=8, benign_base=4)
        kw = dict(audit_axes=[axis], max_templates=2, harmful_limit=4)
        max_new_tokens = min(max_new_tokens, 8)
    else:
        config, budget, kw = SFTConfig(seed=seed), Budget(), {}
    result = run_poison(
        model,
        out_dir,
        axis,
        name,
        shares,
        config=config,
        budget=budget,
        detector_of=detector_of,
        params=GenParams(max_new_tokens=max_new_tokens),
        templates=templates,
        values=values,
        data=data,
        seed=seed,
        alpha=alpha,
        contrast=contrast,
        **kw,
    )
    table = Table(
        "share",
        "poison rows",
        "target ΔDP (corrected)",
        "flagged",
        "false flags",
        "harmful refusal",
        title=f"{model} · target {axis}: {name}",
    )
    for p in result["points"]:
        h = p["harmful_refusal"]
        table.add_row(
            f"{100 * p['share']:.2f}%",
            str(p["poison_rows"]),
            _pts(p["target_delta_dp_corrected"]) if p["target_delta_dp_corrected"] else "–",
            "yes" if p["target_flagged"] else "no",
            str(len(p["false_flags"])),
            "–" if h["rate"] is None else f"{100 * h['rate']:.0f}%",
        )
    out.print(table)
    out.print(f"report: {out_dir / 'poison.html'}")
