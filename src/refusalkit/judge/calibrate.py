"""Adapt the default detector to one model from a few hundred of its answers labelled by hand.

How: the detector (``learned``, refusalkit's default, ``minilm`` or ``minilm-ft``) is refitted on refusalkit's corpus
(``train`` split, with the shipped detector's row weights) plus the user's rows, weighted so that the
user's rows together carry ``share`` of the total weight (default one half). The corpus keeps every class
and phrasing represented when the user's sample has few partial refusals; the user's rows pull the
decision towards how their model words things. For ``minilm`` and ``minilm-ft`` only a linear head is
refitted (logistic regression on the encoder's features; the encoder, fine-tuned or not, stays as shipped,
so a few hundred rows cannot overfit it). Quality before is the default detector on every labelled row; quality after is
cross-validated (stratified folds of the user's rows: each fold is judged by a head fitted without
it), so the two figures are on the same rows and neither has seen the rows it is scored on.
Intervals: Wilson for binary accuracy, percentile bootstrap (scipy, fixed seed) for macro-F1 and for
the paired difference in macro-F1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import RefusalkitError
from .common import CLASSES

MIN_ROWS = 20


def wilson(k: int, n: int) -> list[float]:
    """95% Wilson score interval of k/n as ``[lo, hi]`` rounded to 4 places (``[0, 1]`` when n is 0)."""
    from ..metrics import wilson as rate

    r = rate(k, n)
    return [0.0, 1.0] if n == 0 else [round(r["lo"], 4), round(r["hi"], 4)]


def _macro_f1(y, p) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, labels=list(CLASSES), average="macro", zero_division=0))


def _bootstrap(stat, n: int, seed: int = 0) -> list[float]:
    from scipy.stats import bootstrap

    res = bootstrap(
        (np.arange(n),),
        stat,
        vectorized=False,
        n_resamples=1000,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return [round(float(res.confidence_interval.low), 4), round(float(res.confidence_interval.high), 4)]


def summary(y: Sequence[str], p: Sequence[str], seed: int = 0) -> dict:
    """Binary accuracy (Wilson 95%) and macro-F1 (bootstrap 95%) of predictions ``p`` against ``y``."""
    y, p = np.asarray(y, dtype=object), np.asarray(p, dtype=object)
    hits = int(((y != "compliance") == (p != "compliance")).sum())
    return {
        "n": len(y),
        "binary_accuracy": round(hits / len(y), 4),
        "binary_accuracy_ci95": wilson(hits, len(y)),
        "macro_f1": round(_macro_f1(y, p), 4),
        "macro_f1_ci95": _bootstrap(lambda i: _macro_f1(y[i], p[i]), len(y), seed),
    }


CALIBRATABLE = ("minilm-ft", "learned", "minilm")


def calibrate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    detector: str | None = None,
    share: float = 0.5,
    folds: int = 5,
    seed: int = 0,
    progress: bool = True,
    base=None,
    corpus_rows: list[dict] | None = None,
):
    """Returns ``(detector, report)``: the detector (``learned``, ``minilm`` or ``minilm-ft``; default: refusalkit's default
    detector) refitted on the corpus plus these rows, and the before/after figures (see the module
    docstring). ``base`` (default: the shipped detector of that kind) gives the before figures;
    ``corpus_rows`` (default: the corpus's ``train`` split) are the rows refitted on besides the user's."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from . import DEFAULT_DETECTOR
    from .corpus import load_corpus

    kind = detector or DEFAULT_DETECTOR
    if kind not in CALIBRATABLE:
        raise RefusalkitError(f"calibrate adapts the {' or the '.join(CALIBRATABLE)} detector; got '{kind}'")
    if not 0 < share < 1:
        raise RefusalkitError(f"--share must be between 0 and 1 (the user's rows' part of the weight); got {share}")
    texts, labels = list(texts), list(labels)
    if len(texts) < MIN_ROWS:
        raise RefusalkitError(
            f"calibration needs at least {MIN_ROWS} labelled answers; got {len(texts)} (a few hundred is better)"
        )
    bad = sorted({str(v) for v in labels if v not in CLASSES})
    if bad:
        raise RefusalkitError(f"labels must be one of {', '.join(CLASSES)}; got {', '.join(bad[:5])}")

    rows = load_corpus("train") if corpus_rows is None else corpus_rows
    c_texts, y_c = [r["response"] for r in rows], [r["label"] for r in rows]
    y_u = np.asarray(labels, dtype=object)
    if kind == "minilm-ft":
        from .finetuned import FineTunedDetector, fit_head

        default = base if base is not None else FineTunedDetector.pretrained(progress=progress)
        w_c = np.ones(len(rows))
        x_c = default.pooled(c_texts, progress="calibrate: encoding the corpus" if progress else None)
        x_u = default.pooled(texts, progress="calibrate: encoding your answers" if progress else None)

        def fit(idx: np.ndarray, w_u: np.ndarray):
            head = fit_head(np.vstack([x_c, x_u[idx]]), y_c + list(y_u[idx]), np.concatenate([w_c, w_u]))
            return default.with_head(*head)

        def predict(det, idx: np.ndarray) -> list[str]:
            return [CLASSES[i] for i in det.proba_from_pooled(x_u[idx]).argmax(1)]
    elif kind == "minilm":
        from .minilm import DEFAULT_SETTINGS, MiniLMDetector, _weights, features

        default = base if base is not None else MiniLMDetector.pretrained(progress=progress)
        w_c = _weights(rows, DEFAULT_SETTINGS["weighted"])
        x_c = features(c_texts, default.hand, "calibrate: encoding the corpus" if progress else None)
        x_u = features(texts, default.hand, "calibrate: encoding your answers" if progress else None)

        def fit(idx: np.ndarray, w_u: np.ndarray):
            return MiniLMDetector(C=default.C, hand=default.hand).fit_features(
                np.vstack([x_c, x_u[idx]]), y_c + list(y_u[idx]), sample_weight=np.concatenate([w_c, w_u])
            )

        def predict(det, idx: np.ndarray) -> list[str]:
            return det.predict_from(x_u[idx])
    else:
        from .learned import LearnedDetector, build_pipeline, corpus_weights

        default = base if base is not None else LearnedDetector()
        w_c = corpus_weights(rows)

        def fit(idx: np.ndarray, w_u: np.ndarray):
            return LearnedDetector(pipeline=build_pipeline()).fit(
                c_texts + [texts[i] for i in idx], y_c + list(y_u[idx]), sample_weight=np.concatenate([w_c, w_u])
            )

        def predict(det, idx: np.ndarray) -> list[str]:
            return det.predict([texts[i] for i in idx])

    def refit(idx: np.ndarray):
        # the user's rows together carry `share` of the total weight, whatever their number
        return fit(idx, np.full(len(idx), share / (1 - share) * w_c.sum() / max(len(idx), 1)))

    everyone = np.arange(len(y_u))
    before = np.asarray(predict(default, everyone), dtype=object)
    counts = {c: int((y_u == c).sum()) for c in CLASSES}
    smallest = min((v for v in counts.values() if v), default=0)
    k = max(2, min(folds, smallest)) if smallest >= 2 else folds
    splitter = (
        StratifiedKFold(k, shuffle=True, random_state=seed)
        if smallest >= 2
        else KFold(k, shuffle=True, random_state=seed)
    )
    after = np.empty(len(y_u), dtype=object)
    for tr, te in splitter.split(np.zeros(len(y_u)), y_u):
        after[te] = predict(refit(tr), te)
    diff = _bootstrap(lambda i: _macro_f1(y_u[i], after[i]) - _macro_f1(y_u[i], before[i]), len(y_u), seed)
    det = refit(everyone)
    if kind in ("minilm", "minilm-ft"):
        det.meta = {
            "calibrated": True,
            "share": share,
            "n_user_rows": len(y_u),
            "user_label_counts": counts,
            "base_key": default.meta.get("key"),
        }
    report = {
        "detector": kind,
        "method": (
            f"{kind}: refitted on the corpus train split plus your rows (your rows carry {share:.0%} of the weight)"
            + ("; encoder frozen, head refitted" if kind in ("minilm", "minilm-ft") else "")
        ),
        "labels": counts,
        "folds": int(k),
        "before": {"detector": f"{kind} (shipped)", **summary(y_u, before, seed)},
        "after_cross_validated": {"detector": f"{kind} calibrated", **summary(y_u, after, seed)},
        "macro_f1_gain_ci95": diff,
    }
    return det, report
