"""The internals analyses end to end, each writing ``<name>.json`` and a self-contained ``<name>.html``
into an output folder. The CLI commands and ``benchmarks/internals.py`` call these; they hold no
method of their own (the methods live in ``directions``, ``steering``, ``guard``, ``cliff``, ``heads``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import RefusalkitError
from ..types import Prompt
from .cliff import cliff_curves, cliff_drop, position_scores, train_probe
from .directions import Directions, fit_directions
from .guard import LatentGuard, labels_of
from .heads import HeadAblatedTarget, default_k, head_scores, rank_heads
from .measure import first_token_rate, judged, refusal_rate
from .page import sides, write_json, write_page
from .steering import SteeredTarget, export_abliterated


def parse_layers(spec: str | None) -> list[int] | None:
    """``"20-29"`` or ``"3,6,9"`` (or both mixed) → layer indices; None stays None."""
    if not spec:
        return None
    out: list[int] = []
    try:
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise RefusalkitError(f"bad layer list '{spec}': use e.g. 20-29 or 3,6,9") from None
    return out


def train_test(prompts: Sequence[Prompt]) -> tuple[list[Prompt], list[Prompt], str]:
    """The set's own train/test split, else the first 80% of each label as train (said in the output)."""
    train = [p for p in prompts if p.split == "train"]
    test = [p for p in prompts if p.split == "test"]
    if train and test:
        return train, test, "split column"
    harm, safe = sides(prompts)
    cut_h, cut_s = int(0.8 * len(harm)), int(0.8 * len(safe))
    return harm[:cut_h] + safe[:cut_s], harm[cut_h:] + safe[cut_s:], "first 80% of each label (no split column)"


def _go():
    import plotly.graph_objects as go

    return go


# --- directions -----------------------------------------------------------------------------------
def run_directions(
    target,
    train: Sequence[Prompt],
    out: Path,
    n_train: int = 64,
    n_val: int = 16,
    layer_stride: int = 1,
    positions: Sequence[int] | None = None,
    progress: bool = True,
    layers: Sequence[int] | None = None,
) -> dict:
    harm, safe = sides(train)
    if len(harm) < 2 or len(safe) < 2:
        raise RefusalkitError("directions need at least 2 harmful and 2 benign training prompts")
    n_val = min(n_val, len(harm) // 2, len(safe) // 2)
    n_tr = min(n_train, len(harm) - n_val, len(safe) - n_val)
    dirs, rows, baseline = fit_directions(
        target,
        harm[:n_tr],
        safe[:n_tr],
        harm[n_tr : n_tr + n_val],
        safe[n_tr : n_tr + n_val],
        layer_stride=layer_stride,
        positions=positions,
        progress=progress,
        layers=layers,
    )
    path = dirs.save(Path(out) / "directions.safetensors")
    summary = {
        "model": target.id,
        "directions_file": str(path),
        "selected": {**dirs.meta["selected"], "position": dirs.positions[dirs.pos]},
        "relaxed_filters": dirs.meta["relaxed_filters"],
        "candidate_layers": dirs.meta["candidate_layers"],
        "baseline": baseline,
        "n_train_per_side": n_tr,
        "n_val_per_side": n_val,
        "cosine_refusal_harmfulness_per_layer": dirs.cosine_per_layer(),
        "gate_layer": dirs.gate_layer,
        "candidates": rows,
    }
    write_json(Path(out) / "directions.json", summary)
    go = _go()
    figs = []
    for key, title in (
        ("bypass", "bypass: refusal metric on harmful prompts, direction ablated (lower = stronger)"),
        ("induce", "induce: refusal metric on harmless prompts, direction added"),
        ("kl", "KL on harmless prompts under ablation"),
    ):
        fig = go.Figure(layout={"title": title, "xaxis_title": "layer", "yaxis_title": key})
        for pos in sorted({r["pos"] for r in rows}):
            pr = [r for r in rows if r["pos"] == pos]
            fig.add_scatter(
                x=[r["layer"] for r in pr], y=[r[key] for r in pr], mode="lines+markers", name=dirs.positions[pos]
            )
        figs.append(fig)
    cos = go.Figure(
        layout={
            "title": "cosine(refusal direction, harmfulness direction) per layer",
            "xaxis_title": "layer",
            "yaxis_title": "cosine",
        }
    )
    cos.add_scatter(
        x=list(range(dirs.n_layers)), y=summary["cosine_refusal_harmfulness_per_layer"], mode="lines+markers"
    )
    figs.append(cos)
    sel = summary["selected"]
    write_page(
        Path(out) / "directions.html",
        f"Refusal directions — {target.id}",
        figs,
        {k: v for k, v in summary.items() if k != "candidates"},
        [
            f"Selected layer {sel['layer']}, position {sel['position']} (bypass {sel['bypass']:.3f}, induce {sel['induce']:.3f}, KL {sel['kl']:.4f})."
        ],
    )
    return summary


# --- steering -------------------------------------------------------------------------------------
def run_steer(
    target,
    dirs: Directions,
    test: Sequence[Prompt],
    out: Path,
    alpha: float = 1.0,
    n: int = 32,
    max_new_tokens: int = 24,
    show: Sequence[Prompt] = (),
    export: Path | None = None,
    alphas: Sequence[float] = (-2, -1, -0.5, 0, 0.5, 1, 2),
    progress: bool = True,
) -> dict:
    harm, safe = sides(test, n)
    variants = {
        "base": target,
        "ablate": SteeredTarget(target, dirs, "ablate"),
        f"add{alpha:+g}": SteeredTarget(target, dirs, "add", alpha),
        "gated": SteeredTarget(target, dirs, "gated"),
    }
    table = {}
    for name, t in variants.items():
        table[name] = {
            "harmful_refusal": refusal_rate(t, harm, max_new_tokens, progress=progress),
            "benign_refusal": refusal_rate(t, safe, max_new_tokens, progress=progress),
        }
    sweep = [
        {
            "alpha": a,
            "benign_first_token": first_token_rate(SteeredTarget(target, dirs, "add", a), safe),
            "harmful_first_token": first_token_rate(SteeredTarget(target, dirs, "add", a), harm),
        }
        for a in alphas
    ]
    examples = []
    if show:
        for name, t in variants.items():
            for p, r in zip(show, t.generate(list(show), _params(max_new_tokens), progress=False)):
                examples.append({"variant": name, "prompt": p.text, "answer": r.text})
    summary = {
        "model": target.id,
        "layer": dirs.layer,
        "position": dirs.positions[dirs.pos],
        "alpha": alpha,
        "n_per_side": [len(harm), len(safe)],
        "max_new_tokens": max_new_tokens,
        "rates": table,
        "addition_sweep_first_token": sweep,
        "examples": examples,
    }
    if export:
        summary["abliterated_model"] = str(export_abliterated(target, dirs, export))
    write_json(Path(out) / "steer.json", summary)
    go = _go()
    bar = go.Figure(
        layout={
            "title": "refusal rate by steering variant (test split, generated answers)",
            "yaxis_title": "refusal rate",
            "barmode": "group",
        }
    )
    for side in ("harmful_refusal", "benign_refusal"):
        bar.add_bar(x=list(table), y=[table[k][side]["rate"] for k in table], name=side)
    sw = go.Figure(
        layout={
            "title": f"activation addition at layer {dirs.layer}: first-token refusal rate vs alpha",
            "xaxis_title": "alpha",
            "yaxis_title": "P_R ≥ 0.5",
        }
    )
    for side in ("benign_first_token", "harmful_first_token"):
        sw.add_scatter(
            x=[s["alpha"] for s in sweep], y=[s[side]["rate"] for s in sweep], mode="lines+markers", name=side
        )
    write_page(Path(out) / "steer.html", f"Steering — {target.id}", [bar, sw], summary)
    return summary


def _params(max_new_tokens: int):
    from ..types import GenParams

    return GenParams(max_new_tokens=max_new_tokens)


# --- latent guard -----------------------------------------------------------------------------------
def run_guard(
    target,
    train: Sequence[Prompt],
    test: Sequence[Prompt],
    out: Path,
    dirs: Directions | None = None,
    alpha: float = 1.0,
    n_steer: int = 32,
    progress: bool = True,
) -> dict:
    from .capture import capture

    X_tr = capture(target, train, progress=progress).t_inst
    X_te = capture(target, test, progress=progress).t_inst
    y_tr, y_te = labels_of(train), labels_of(test)
    guards = {"cosine": LatentGuard("cosine").fit(X_tr, y_tr), "projection": LatentGuard("projection").fit(X_tr, y_tr)}
    results = {name: {"train": g.evaluate(X_tr, y_tr), "test": g.evaluate(X_te, y_te)} for name, g in guards.items()}
    guards["cosine"].save(Path(out) / "guard.safetensors")
    guards["projection"].save(Path(out) / "guard_projection.safetensors")
    summary = {
        "model": target.id,
        "n_train": len(train),
        "n_test": len(test),
        "guards": results,
        "guard_file": str(Path(out) / "guard.safetensors"),
    }
    go = _go()
    hist = go.Figure(
        layout={
            "title": "Latent Guard score on the test split (cosine, mean over layers)",
            "xaxis_title": "score",
            "barmode": "overlay",
        }
    )
    s = guards["cosine"].score(X_te)
    for lab, name in ((1, "harmful"), (0, "benign")):
        hist.add_histogram(x=s[y_te == lab], name=name, opacity=0.6)
    figs = [hist]
    if dirs is not None:
        summary["steering_vs_guard"] = steering_vs_guard(
            target, dirs, guards["cosine"], [p for p in test if p.label == "benign"][:n_steer], alpha
        )
        exp = summary["steering_vs_guard"]
        bar = go.Figure(
            layout={"title": f"benign test prompts, addition α={alpha} at layer {dirs.layer}", "barmode": "group"}
        )
        bar.add_bar(
            x=[c["condition"] for c in exp],
            y=[c["refusal_first_token"]["rate"] for c in exp],
            name="refusal rate (first token)",
        )
        bar.add_bar(
            x=[c["condition"] for c in exp], y=[c["guard_flag_rate"] for c in exp], name="guard: flagged harmful"
        )
        figs.append(bar)
    write_json(Path(out) / "guard.json", summary)
    write_page(Path(out) / "guard.html", f"Latent Guard — {target.id}", figs, summary)
    return summary


def steering_vs_guard(
    target, dirs: Directions, guard: LatentGuard, benign: Sequence[Prompt], alpha: float = 1.0
) -> list[dict]:
    """Refusal (first-token) and guard verdicts on benign prompts: unsteered, steered along the refusal
    direction, steered along the harmfulness direction (addition at the selected layer)."""
    rows = []
    for name, t in (
        ("base", target),
        ("refusal", SteeredTarget(target, dirs, "add", alpha)),
        ("harmfulness", SteeredTarget(target, dirs, "add", alpha, vector="harmfulness")),
    ):
        hooks = t.hooks() if isinstance(t, SteeredTarget) else ()
        scores = guard.score_prompts(target, benign, progress=False, hooks=hooks)
        rows.append(
            {
                "condition": name,
                "refusal_first_token": first_token_rate(t, benign),
                "guard_flag_rate": float((scores >= guard.threshold).mean()),
                "guard_mean_score": float(scores.mean()),
            }
        )
    return rows


# --- refusal cliff ------------------------------------------------------------------------------------
def run_cliff(
    target,
    train: Sequence[Prompt],
    test: Sequence[Prompt],
    out: Path,
    layer: int = -1,
    n: int = 48,
    n_test: int = 24,
    max_new_tokens: int = 24,
    progress: bool = True,
) -> tuple[dict, object]:
    harm, safe = sides(train, n, spread=True)  # every benign type, so some are answered even on an over-refusing model
    _, harm_ref = judged(target, harm, max_new_tokens, progress=progress)
    _, safe_ref = judged(target, safe, max_new_tokens, progress=progress)
    refused = [p for p, r in zip(harm, harm_ref) if r]
    answered = [p for p, r in zip(safe, safe_ref) if r is False]
    probe, stats = train_probe(target, refused, answered, layer, progress=progress)
    probe.save(Path(out) / "probe.safetensors")
    curves = {}
    for label, group in zip(("harmful", "benign"), sides(test, n_test, spread=True)):
        responses, _ = judged(target, group, max_new_tokens, progress=progress)
        curves[label] = cliff_curves(position_scores(target, probe, group, responses, progress=progress))
    drop = cliff_drop(curves["harmful"]["tail_offsets"], curves["harmful"]["tail_mean"])
    tail = curves["harmful"]["tail_mean"]
    summary = {
        "model": target.id,
        "layer": layer,
        "probe": stats,
        "n_refused_harmful": len(refused),
        "n_answered_benign": len(answered),
        "cliff": {**drop, "harmful_score_at_instruction_end": tail[0], "harmful_score_at_last_prompt_token": tail[-1]},
        "curves": curves,
        "probe_file": str(Path(out) / "probe.safetensors"),
    }
    write_json(Path(out) / "cliff.json", summary)
    go = _go()
    fig = go.Figure(
        layout={
            "title": "refusal probe score along prompt (−1..0) and answer (0..1)",
            "xaxis_title": "relative position",
            "yaxis_title": "mean probe score",
        }
    )
    tail_fig = go.Figure(
        layout={
            "title": "last prompt tokens (offset from answer start)",
            "xaxis_title": "offset",
            "yaxis_title": "mean probe score",
        }
    )
    for label, c in curves.items():
        fig.add_scatter(x=c["x"], y=c["mean"], mode="lines+markers", name=label)
        tail_fig.add_scatter(x=c["tail_offsets"], y=c["tail_mean"], mode="lines+markers", name=label)
    note = (
        f"Largest drop on harmful prompts: {drop['drop']} at offset {drop['offset']}."
        if drop["offset"] is not None
        else "No drop found."
    )
    write_page(
        Path(out) / "cliff.html",
        f"Refusal cliff — {target.id}",
        [fig, tail_fig],
        {k: v for k, v in summary.items() if k != "curves"},
        [note],
    )
    return summary, probe


# --- refusal heads ----------------------------------------------------------------------------------
def run_heads(
    target,
    direction,
    test: Sequence[Prompt],
    out: Path,
    k: int | None = None,
    n: int = 32,
    max_new_tokens: int = 24,
    source: str = "refusal direction",
    progress: bool = True,
) -> dict:
    harm, safe = sides(test, n)
    scores = head_scores(target, harm, direction, progress=progress).mean(0)  # [L, H]
    k = k or default_k(target.model)
    result = {
        "base": {
            "harmful_refusal": refusal_rate(target, harm, max_new_tokens, progress=progress),
            "benign_refusal": refusal_rate(target, safe, max_new_tokens, progress=progress),
        }
    }
    ranked = {}
    for kind in ("driving", "suppressing"):
        top = rank_heads(scores, k, kind)
        ranked[kind] = [{"layer": l, "head": h, "score": s} for l, h, s in top]
        t = HeadAblatedTarget(target, [(l, h) for l, h, _ in top])
        result[f"ablate_top{k}_{kind}"] = {
            "harmful_refusal": refusal_rate(t, harm, max_new_tokens, progress=progress),
            "benign_refusal": refusal_rate(t, safe, max_new_tokens, progress=progress),
        }
    summary = {
        "model": target.id,
        "direction": source,
        "k": k,
        "n_per_side": [len(harm), len(safe)],
        "top_heads": ranked,
        "ablation": result,
        "scores": scores.tolist(),
    }
    write_json(Path(out) / "heads.json", summary)
    go = _go()
    heat = go.Figure(
        go.Heatmap(z=scores.numpy(), colorscale="RdBu", zmid=0, colorbar={"title": "score"}),
        layout={
            "title": f"head output projected on the {source} (harmful prompts, last prompt token)",
            "xaxis_title": "head",
            "yaxis_title": "layer",
        },
    )
    flat = sorted(
        ((float(scores[l, h]), f"L{l}H{h}") for l in range(scores.shape[0]) for h in range(scores.shape[1])),
        reverse=True,
    )
    rank = go.Figure(layout={"title": "head ranking (most refusal-driving first)", "yaxis_title": "score"})
    rank.add_bar(x=[f[1] for f in flat], y=[f[0] for f in flat])
    bar = go.Figure(layout={"title": f"refusal rate after zero-ablating top-{k} heads", "barmode": "group"})
    for side in ("harmful_refusal", "benign_refusal"):
        bar.add_bar(x=list(result), y=[result[c][side]["rate"] for c in result], name=side)
    write_page(
        Path(out) / "heads.html",
        f"Refusal heads — {target.id}",
        [heat, rank, bar],
        {k_: v for k_, v in summary.items() if k_ != "scores"},
    )
    return summary
