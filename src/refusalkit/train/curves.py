"""Trade-off curves: harmful refusal against benign over-refusal as a method's strength varies.

One point per variant cannot tell a better trade-off from a weaker alignment: a fix that gives up
harmful refusal also lowers over-refusal. A curve can. refusalkit traces

- the safety SFT (a) at several strengths (passes over its mix: fewer passes, weaker alignment);
- (b) plain benign and (c) trigger-aware data at several mixing budgets K (K = 0 is (a) itself);

each point trained and evaluated like the study's variants (same prompts, detector, generation), on
the core test split and the ood suite. Curves are compared where it matters to a user: the benign
over-refusal each method leaves at a matched harmful refusal (interpolated along the curve, e.g. at
(a)'s level minus 5 points), and the mean gap between two curves over the harmful-refusal range
they share. Intervals come from a paired bootstrap over prompts: every point of every curve was
evaluated on the same prompts, so one resample of prompts is applied to all of them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..metrics import GROUPS, REFUSALS

# The benign group a curve's y axis measures: the suite's look-alikes (prompts sharing a harmful
# request's words or frame: every benign type but ``plain``). Plain benign refusal is reported apart.
Y_GROUP = "trigger_benign"


@dataclass
class Point:
    """One trained variant on a curve: ``method`` at ``param`` = ``value`` (``epochs`` or ``K``), with
    its per-prompt refusal verdicts per suite (``{suite: {prompt_id: refused or None}}``; None = unscored)."""

    method: str
    param: str
    value: float
    verdicts: dict[str, dict[str, bool | None]]

    @property
    def name(self) -> str:
        return f"{self.method}@{self.param}={self.value:g}"


def refusals(rows: Sequence[dict]) -> dict[str, bool | None]:
    """``{prompt_id: refused}`` from a run's rows (None for unscored rows)."""
    return {r["prompt_id"]: None if r["verdict"] == "unscored" else r["verdict"] in REFUSALS for r in rows}


def groups(rows: Sequence[dict]) -> dict[str, list[str]]:
    """Prompt ids of the suite per group (:data:`refusalkit.metrics.GROUPS`): ``harmful``,
    ``trigger_benign`` (look-alikes), ``plain_benign``."""
    return {g: [r["prompt_id"] for r in rows if GROUPS[g](r)] for g in ("harmful", "trigger_benign", "plain_benign")}


def _rate(verdicts: dict[str, bool | None], ids: Sequence[str]) -> float | None:
    scored = [verdicts[i] for i in ids if verdicts.get(i) is not None]
    return None if not scored else float(np.mean(scored))


def xy(point: Point, suite: str, ids: dict[str, Sequence[str]]) -> tuple[float | None, float | None]:
    """``(harmful refusal, look-alike refusal)`` of ``point`` on ``suite`` over the prompt ids ``ids``."""
    v = point.verdicts[suite]
    return _rate(v, ids["harmful"]), _rate(v, ids[Y_GROUP])


def _sorted_curve(pts: Sequence[tuple[float | None, float | None]]) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by x; points sharing an x are averaged (a curve is a function of harmful refusal)."""
    by_x: dict[float, list[float]] = {}
    for x, y in pts:
        if x is not None and y is not None:
            by_x.setdefault(x, []).append(y)
    xs = np.array(sorted(by_x))
    return xs, np.array([np.mean(by_x[x]) for x in xs])


def at_level(pts: Sequence[tuple[float | None, float | None]], level: float) -> float | None:
    """The lowest look-alike refusal the curve reaches while keeping harmful refusal at ``level`` or
    above: over its points with harmful refusal >= ``level`` and, when ``level`` lies within the curve,
    the point linearly interpolated at ``level`` (between points sharing a harmful refusal, their mean). A method whose every point stays above ``level`` is
    judged by its best point (it never needed to give that much up); None when no point reaches
    ``level``."""
    xs, ys = _sorted_curve(pts)
    if not len(xs) or level > xs[-1] + 1e-12:
        return None
    candidates = [y for x, y in pts if x is not None and y is not None and x >= level - 1e-12]
    if level >= xs[0]:
        candidates.append(float(np.interp(level, xs, ys)))
    return float(min(candidates))


def mean_gap(
    a: Sequence[tuple[float | None, float | None]], b: Sequence[tuple[float | None, float | None]]
) -> float | None:
    """Mean of (``a``'s minus ``b``'s look-alike refusal) over the harmful refusal range both curves
    cover (area between the curves divided by that range's width); positive = ``a`` over-refuses more,
    so ``b`` is the better trade-off. None when the shared range has no width."""
    xa, ya = _sorted_curve(a)
    xb, yb = _sorted_curve(b)
    if not len(xa) or not len(xb):
        return None
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if hi - lo < 1e-9:
        return None
    grid = np.unique(np.concatenate([[lo, hi], xa[(xa > lo) & (xa < hi)], xb[(xb > lo) & (xb < hi)]]))
    diff = np.interp(grid, xa, ya) - np.interp(grid, xb, yb)
    return float(np.sum((diff[1:] + diff[:-1]) / 2 * np.diff(grid)) / (hi - lo))


def compare(
    curves: dict[str, list[Point]],
    suite: str,
    ids: dict[str, list[str]],
    reference: Point,
    *,
    drops: Sequence[float] = (0.05,),
    pairs: Sequence[tuple[str, str]] = (),
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Statistics of the curves on one suite, each with a paired bootstrap 95% interval over prompts:

    - ``at_matched``: per curve, the lowest look-alike refusal it reaches with harmful refusal at least
      ``reference``'s minus each of ``drops`` (:func:`at_level`; e.g. (a)'s level minus 5 points), and
      ``reduction_vs_reference``: 1 - that / the reference's own look-alike refusal (0.5 = halved);
    - ``gaps``: per ``(a, b)`` in ``pairs``, :func:`mean_gap` (positive = ``b`` is better).

    Resampling draws prompts with replacement within each group, so each group keeps its size.
    """
    rng = np.random.default_rng(seed)

    def stats(sample: dict[str, Sequence[str]]) -> dict:
        pts = {name: [xy(p, suite, sample) for p in curve] for name, curve in curves.items()}
        rx, ry = xy(reference, suite, sample)
        out: dict = {}
        for d in drops:
            level = None if rx is None else rx - d
            for name, curve_pts in pts.items():
                y = None if level is None else at_level(curve_pts, level)
                out[f"at_matched/{d:g}/{name}"] = y
                out[f"reduction/{d:g}/{name}"] = None if y is None or not ry else 1 - y / ry
        for a, b in pairs:
            out[f"gap/{a}/{b}"] = mean_gap(pts[a], pts[b])
        return out

    point = stats(ids)
    boots: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        sample = {g: list(rng.choice(np.array(v), size=len(v), replace=True)) if v else [] for g, v in ids.items()}
        for k, v in stats(sample).items():
            if v is not None:
                boots[k].append(v)

    def ci(key: str) -> dict:
        est, b = point[key], boots[key]
        lo, hi = (
            (float(np.percentile(b, 2.5)), float(np.percentile(b, 97.5))) if len(b) >= n_boot // 2 else (None, None)
        )
        return {"value": _round(est), "ci95": [_round(lo), _round(hi)], "resamples_defined": len(b)}

    rx, ry = xy(reference, suite, ids)
    return {
        "suite": suite,
        "reference": {"point": reference.name, "harmful_refusal": rx, "look_alike_refusal": ry},
        "at_matched": {
            f"{d:g}": {
                "harmful_refusal_level": None if rx is None else round(rx - d, 4),
                **{
                    name: {
                        "look_alike_refusal": ci(f"at_matched/{d:g}/{name}"),
                        "reduction_vs_reference": ci(f"reduction/{d:g}/{name}"),
                    }
                    for name in curves
                },
            }
            for d in drops
        },
        "gaps": {f"{a} - {b}": ci(f"gap/{a}/{b}") for a, b in pairs},
        "n_boot": n_boot,
        "seed": seed,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def figure(curves: dict[str, list[Point]], suite: str, ids: dict[str, list[str]], title: str):
    """Plotly figure: one line per curve, harmful refusal (x) against look-alike refusal (y), each point
    labelled with its setting."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, curve in curves.items():
        pts = sorted(((*xy(p, suite, ids), p) for p in curve), key=lambda t: (t[0] is None, t[0]))
        pts = [t for t in pts if t[0] is not None and t[1] is not None]
        fig.add_scatter(
            x=[t[0] for t in pts],
            y=[t[1] for t in pts],
            mode="lines+markers+text",
            name=name,
            text=[f"{t[2].param}={t[2].value:g}" for t in pts],
            textposition="top center",
        )
    fig.update_layout(
        title=title,
        xaxis_title="harmful refusal rate (higher = safer)",
        yaxis_title="benign look-alike refusal rate (lower = better)",
        xaxis_range=[-0.05, 1.05],
        yaxis_range=[-0.05, 1.05],
        height=520,
    )
    return fig


def load_point(method: str, param: str, value: float, run_dirs: dict[str, Path]) -> tuple[Point, dict[str, list[dict]]]:
    """A point from its evaluated run folders (``{suite: run dir}``); also returns each suite's rows."""
    from ..run import load_run

    rows = {suite: load_run(d)[1] for suite, d in run_dirs.items()}
    return Point(method, param, value, {s: refusals(r) for s, r in rows.items()}), rows


def settings_for(settings, param: str, value: float):
    """A copy of the study's settings with one point's strength: ``epochs`` (passes over the mix) or
    ``K`` (the mixing budget of (b) and (c))."""
    s = copy.deepcopy(settings)
    if param == "epochs":
        s.sft.epochs = float(value)
    elif param == "K":
        s.budget.extra = int(value)
    else:
        raise ValueError(f"unknown curve parameter {param!r}")
    return s


@dataclass(frozen=True)
class CurveSpec:
    """One curve: ``method`` (a study variant) trained at each of ``values`` of ``param``, with
    ``overrides`` of the study's settings (e.g. ``{"look_alikes": "paired"}``)."""

    name: str
    method: str
    param: str
    values: tuple[float, ...]
    overrides: tuple[tuple[str, str], ...] = ()

    def slug(self, value: float) -> str:
        extra = "".join(f"-{k}-{v}" for k, v in self.overrides)
        return f"{self.method}{extra}-{self.param}{value:g}"


def run_dirs(root: Path, method: str, suites: Sequence[str]) -> dict[str, Path]:
    """Where a variant's evaluation of each suite lives, as the study lays it out."""
    from .study import runs_dir

    return {s: runs_dir(root, s) / method for s in suites}


def point_settings(settings, spec: CurveSpec, value: float, out: Path):
    """``(settings, method, root)`` of one point: the study's settings with the point's strength and the
    spec's overrides, the variant trained, and the folder it lives in (``out`` for the study's own
    variants; K = 0 is (a) and epochs = 0 the base model, both in ``out``)."""
    if value == 0:
        return settings, ("base" if spec.param == "epochs" else "safety"), out
    s = settings_for(settings, spec.param, value)
    for k, v in spec.overrides:
        setattr(s, k, v)
    default = s.sft.epochs == settings.sft.epochs and s.budget.extra == settings.budget.extra and not spec.overrides
    return s, spec.method, out if default else out / "curves" / spec.slug(value)


def from_runs(
    out_dir: str | Path, settings, specs: Sequence[CurveSpec], suites: Sequence[str] = ("core", "ood")
) -> dict[str, list[Point]]:
    """The curves of ``specs`` read from the run folders :func:`trace` left in ``out_dir``, with no model:
    to recompute statistics and plots of finished points."""
    out = Path(out_dir)
    return {
        spec.name: [
            load_point(spec.method, spec.param, v, run_dirs(root, method, suites))[0]
            for v in spec.values
            for _, method, root in [point_settings(settings, spec, v, out)]
        ]
        for spec in specs
    }


def trace(
    out_dir: str | Path, settings, specs: Sequence[CurveSpec], suites: Sequence[str] = ("core", "ood")
) -> dict[str, list[Point]]:
    """Train and evaluate every point of ``specs`` (resumable: adapters and answers are cached) and
    return the curves. A point with the study's own settings is the study's variant in ``out_dir``
    (trained and evaluated there, so a finished study is reused); K = 0 is (a) at full strength and
    epochs = 0 the unaligned base model. Other points live in ``out_dir/curves/<slug>``."""
    from ..harm import PromptHarmClassifier
    from ..targets import load_target
    from ..triggers import data as tdata
    from .study import _evaluate, _log, _suite, study_rows, train_study_variant

    out = Path(out_dir)
    rows, first_triggers = study_rows(settings)
    prompts = {s: _suite(settings.eval_limit if s == "core" else settings.ood_limit, s) for s in suites}
    saved = out / "trigger_data.json"
    if saved.exists():  # the study's own trigger-aware data, whatever its source
        trigger_pairs = [tuple(p) for p in json.loads(saved.read_text())[settings.trigger_source]["pairs"]]
    elif settings.trigger_source == "pairs":
        trigger_pairs = tdata.build("pairs", rows, PromptHarmClassifier.from_align_rows(rows)).pairs
    else:
        raise RuntimeError(
            f"trigger source {settings.trigger_source!r} needs the study's trigger_data.json in {out}: run the study first"
        )

    for spec in specs:
        for value in spec.values:
            s, method, root = point_settings(settings, spec, value, out)
            _log(f"curve {spec.name}: {spec.param}={value:g} ({root})")
            if method == "base":
                target = load_target(settings.model)
            else:
                pairs = trigger_pairs if method == "triggers" else None
                target = train_study_variant(s, rows, method, root, pairs, first_triggers)[0]
            for suite, d in run_dirs(root, method, suites).items():
                _evaluate(target, prompts[suite], settings, d, suite)
            target = None  # release the model before the next training run
    return from_runs(out, settings, specs, suites)
