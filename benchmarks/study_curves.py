"""Trade-off curves of the study's methods on the bundled model (refusalkit.train.curves).

Traces harmful refusal against benign look-alike refusal for
(a) safety SFT at several strengths (passes over its mix; 0 = the unaligned base model),
(b) + plain benign and (c) + trigger-aware data at several mixing budgets K (0 = (a) itself),
and, with --paired, (c) taking only look-alikes paired with a refusal in its mix; with --all-look-alikes,
(c) taking every look-alike without the written harmful partners that the study's (c) adds for the unpaired
core look-alikes (the study's selection before partnered became its default). Every point is
trained and evaluated like `refusalkit study` (same prompts, detector, generation settings), on each
suite of --suites; points with the study's own settings are the study's variants in --out, so a
finished study is reused, and every other point is cached under OUT/curves/. Prints JSON: each
point's rates (Wilson 95%), look-alike refusal at matched harmful refusal ((a)'s level minus each
--drops) with its reduction against (a), and the mean gap between curves, each with a paired
bootstrap 95% interval over prompts; writes OUT/curves.html with one plot per suite.

    python benchmarks/study_curves.py --out runs/study [--ks 50 150] [--epochs 1 2 3] [--paired] [--all-look-alikes] [--coarse c] [--suites core ood] [--preference W] [--quick]

--preference sets the weight of the preference term in (c)'s loss (default the study's; 0 trains plain SFT (c),
as the curves in benchmarks/results/study_curves.json were).

The generic pool holds 189 plain benign requests, so (b) stops there (K <= 189).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from refusalkit.metrics import wilson
from refusalkit.provenance import provenance, run_started
from refusalkit.report import Figures, page
from refusalkit.report.layout import json_block
from refusalkit.train.curves import CurveSpec, compare, figure, from_runs, groups, trace
from refusalkit.train.study import LABELS, StudySettings, runs_dir


def main() -> None:
    started = run_started()
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/study")
    ap.add_argument(
        "--quick", action="store_true", help="tiny settings on the given model (a smoke run; numbers not meaningful)"
    )
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--ks", type=float, nargs="+", default=[50, 150])
    ap.add_argument("--epochs", type=float, nargs="+", default=[1, 2, 3])
    ap.add_argument("--paired", action="store_true", help="also trace (c) with paired look-alikes only")
    ap.add_argument(
        "--all-look-alikes",
        action="store_true",
        help="also trace (c) with every look-alike and no written harmful partners",
    )
    ap.add_argument("--suites", nargs="+", default=["core", "ood"])
    ap.add_argument(
        "--coarse",
        nargs="*",
        default=[],
        choices=["b", "c", "paired", "all"],
        help="curves traced only at K=0 and the study's own K (to spend training time on the others)",
    )
    ap.add_argument("--drops", type=float, nargs="+", default=[0.05, 0.10])
    ap.add_argument(
        "--preference",
        type=float,
        default=StudySettings.preference,
        help=f"weight of (c)'s preference term (default {StudySettings.preference}, the study's; 0: plain SFT); points "
        "cached in OUT under another weight are retrained over, so give each weight its own --out",
    )
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument(
        "--from-runs",
        action="store_true",
        help="no training or generation: read finished points from OUT's run folders",
    )
    args = ap.parse_args()
    settings = (StudySettings.quick if args.quick else StudySettings)(model=args.model, preference=args.preference)

    def ks(curve: str) -> tuple[float, ...]:
        return (
            (0.0, float(settings.budget.extra))
            if curve in args.coarse
            else tuple(sorted({0.0, float(settings.budget.extra), *args.ks}))
        )

    specs = [
        CurveSpec(LABELS["safety"], "safety", "epochs", tuple(sorted({0.0, settings.sft.epochs, *args.epochs}))),
        CurveSpec(LABELS["generic"], "generic", "K", ks("b")),
        CurveSpec(LABELS["triggers"], "triggers", "K", ks("c")),
    ]
    if args.paired:
        specs.append(CurveSpec("(c) paired look-alikes", "triggers", "K", ks("paired"), (("look_alikes", "paired"),)))
    if args.all_look_alikes:
        specs.append(
            CurveSpec("(c) all look-alikes, no partners", "triggers", "K", ks("all"), (("look_alikes", "all"),))
        )
    out = Path(args.out)
    curves = (from_runs if args.from_runs else trace)(out, settings, specs, args.suites)

    from refusalkit.run import load_run

    a_full = next(p for p in curves[LABELS["safety"]] if p.value == settings.sft.epochs)
    a, b, c = (LABELS[m] for m in ("safety", "generic", "triggers"))
    pairs = [(b, c), (a, c), (a, b)] + [
        pair for other in list(curves)[3:] for pair in ((c, other), (b, other))
    ]  # (x, y): positive gap = y better
    result: dict = {
        "model": settings.model,
        "preference": settings.preference,  # weight of the preference term in (c)'s loss (0: plain SFT)
        "y_axis": "benign look-alike refusal (every benign type but plain)",
        "suites": {},
        "curves": {},
    }
    figures, sections = Figures(), []
    for suite in args.suites:
        rows = load_run(runs_dir(out, suite) / "base")[1]
        ids = groups(rows)
        result["curves"][suite] = {
            name: [
                {
                    "point": p.name,
                    **{
                        g: wilson(
                            sum(bool(p.verdicts[suite].get(i)) for i in ids[g]),
                            sum(p.verdicts[suite].get(i) is not None for i in ids[g]),
                        )
                        for g in ("harmful", "trigger_benign", "plain_benign")
                    },
                }
                for p in curve
            ]
            for name, curve in curves.items()
        }
        result["suites"][suite] = compare(curves, suite, ids, a_full, drops=args.drops, pairs=pairs, n_boot=args.n_boot)
        sections.append(figures(figure(curves, suite, ids, f"Trade-off curves: {suite} suite")))
    result["from_runs"] = args.from_runs  # statistics over points trained and rated by earlier runs of this script
    result["provenance"] = provenance(started)
    (out / "curves.json").write_text(json.dumps(result, indent=1))
    (out / "curves.html").write_text(
        page(
            f"refusalkit trade-off curves: {settings.model}",
            "<h1>Trade-off curves</h1>" + "".join(sections) + json_block(result),
        ),
        encoding="utf-8",
    )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
