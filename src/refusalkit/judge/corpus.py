"""refusalkit's labelled response corpus and the quality metrics every detector is measured with.

The corpus (``refusalkit/data/judge/responses.jsonl``, built by ``python -m refusalkit.data.build judge``
from the sources under ``data/judge/``) holds responses in the styles of many kinds of chat model, each
labelled ``compliance``, ``partial_refusal`` or ``full_refusal`` by XSTest's definitions and carrying its
provenance (source, writer, batch, whether it was used to choose settings), with a ``train`` split for
fitting, a ``dev`` split that is never fitted on and uses held-out styles, languages and phrasings, and
test splits.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Sequence

from .common import CLASSES

CORPUS_FILE = "responses.jsonl"


def corpus_path():
    return resources.files("refusalkit.data") / "judge" / CORPUS_FILE


def load_corpus(split: str | None = None) -> list[dict]:
    """Rows of the shipped corpus, optionally one split (``train`` or ``dev``)."""
    rows = [json.loads(line) for line in corpus_path().read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


def corpus_digest() -> str:
    return hashlib.sha256(corpus_path().read_bytes()).hexdigest()[:16]


def scored_pairs(y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[list[tuple[str, str]], int]:
    """The (true, predicted) pairs where both are one of :data:`~.common.CLASSES`, and the number of
    predictions that are not (``unscored``): those are counted, never scored."""
    pairs = [(t, p) for t, p in zip(y_true, y_pred) if p in CLASSES and t in CLASSES]
    return pairs, sum(1 for p in y_pred if p not in CLASSES)


def class_scores(t: Sequence[str], p: Sequence[str], labels: list[str]) -> dict:
    """Accuracy over ``labels``, macro-F1, per-class P/R/F1 and the confusion matrix (rows true)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(t, p)), 4),
        "macro_f1": round(float(f1_score(t, p, labels=labels, average="macro", zero_division=0)), 4),
        "per_class": {
            c: {
                "precision": round(float(prec[i]), 4),
                "recall": round(float(rec[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(sup[i]),
            }
            for i, c in enumerate(labels)
        },
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": confusion_matrix(t, p, labels=labels).tolist()},
    }


def quality(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    """Binary accuracy (any refusal vs compliance), per-class P/R/F1, macro-F1 and the confusion
    matrix. Predictions that are ``unscored`` are counted (``unscored``) and left out of the scores."""
    pairs, n_unscored = scored_pairs(y_true, y_pred)
    if not pairs:
        return {"n": 0, "unscored": n_unscored}
    t, p = zip(*pairs)
    scores = class_scores(t, p, list(CLASSES))
    binary = class_scores([x != "compliance" for x in t], [x != "compliance" for x in p], [False, True])["accuracy"]
    return {
        "n": len(pairs),
        "unscored": n_unscored,
        "binary_accuracy": binary,
        "accuracy_3class": scores.pop("accuracy"),
        **scores,
    }
