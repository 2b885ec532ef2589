"""A prompt harm classifier: is a *request* harmful (not: did the model refuse)?

TF-IDF word 1–2-grams + logistic regression (scikit-learn), trained on the alignment set's train
split: harmful requests (1) against plain benign requests and the harmful requests' trigger-benign
twins (0). The twins teach it that a frame or topic word shared with a harmful request is not
harmful on its own, which is exactly the distinction trigger discovery needs.

Uses: split discovered cues into harmful and harmless, and check every generated benign request
before it becomes training data (:meth:`PromptHarmClassifier.check`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import RefusalkitError


@dataclass
class HarmCheck:
    accepted: list[str]
    rejected: list[str]
    scores: dict[str, float]


def align_harm_pairs(rows: Sequence[dict], split: str = "train") -> tuple[list[str], list[int]]:
    """(texts, is_harmful) of an alignment-set split: harmful requests (1), their trigger-benign twins
    and the plain benign requests (0)."""
    texts, labels = [], []
    for r in rows:
        if r.get("split", "train") != split:
            continue
        if r["label"] == "harmful":
            texts.append(r["text"]), labels.append(1)
            if r.get("trigger_benign"):
                texts.append(r["trigger_benign"]), labels.append(0)
        else:
            texts.append(r["text"]), labels.append(0)
    return texts, labels


class PromptHarmClassifier:
    """scikit-learn shape: ``fit``, ``predict_proba``, ``predict``, ``save``/``load``."""

    def __init__(self, threshold: float = 0.5, C: float = 4.0) -> None:
        self.threshold, self.C = threshold, C
        self.pipe = None

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "PromptHarmClassifier":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        if len(set(labels)) < 2:
            raise RefusalkitError("the harm classifier needs both harmful and benign examples")
        self.pipe = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
            LogisticRegression(C=self.C, max_iter=2000),
        )
        self.pipe.fit(list(texts), list(labels))
        return self

    @classmethod
    def from_align_rows(cls, rows: Sequence[dict], split: str = "train", **kwargs) -> "PromptHarmClassifier":
        return cls(**kwargs).fit(*align_harm_pairs(rows, split))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.pipe is None:
            raise RefusalkitError("the harm classifier is not fitted")
        return self.pipe.predict_proba(list(texts))[:, 1] if texts else np.zeros(0)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return (self.predict_proba(texts) >= self.threshold).astype(int)

    def check(self, texts: Sequence[str]) -> HarmCheck:
        """Split candidate benign requests into accepted (judged harmless) and rejected."""
        p = self.predict_proba(texts)
        acc = [t for t, s in zip(texts, p) if s < self.threshold]
        rej = [t for t, s in zip(texts, p) if s >= self.threshold]
        return HarmCheck(acc, rej, {t: round(float(s), 4) for t, s in zip(texts, p)})

    def harmful_span(self, text: str, max_n: int = 6, avoid: set[int] = frozenset()) -> tuple[int, int] | None:
        """Word span whose removal makes the request look harmless (shortest, then lowest score),
        never touching the word positions in ``avoid``."""
        from .attribution import without, words_of

        words = [w for w, _, _ in words_of(text)]
        cands = [(i, i + n) for n in range(1, min(max_n, len(words) - 1) + 1) for i in range(len(words) - n + 1)
                 if not avoid.intersection(range(i, i + n))]
        if not cands:
            return None
        p = self.predict_proba([without(words, i, j) for i, j in cands])
        ok = [(j - i, s, (i, j)) for (i, j), s in zip(cands, p) if s < self.threshold]
        if not ok:
            return None
        return min(ok)[2]

    def save(self, path: str | Path) -> None:
        """Write the fitted classifier without pickle (:func:`refusalkit.persist.save_fitted`)."""
        from ..persist import save_fitted

        save_fitted(self.pipe, path, kind="refusalkit.prompt-harm", meta={"threshold": self.threshold, "C": self.C})

    @classmethod
    def load(cls, path: str | Path) -> "PromptHarmClassifier":
        from ..persist import load_fitted

        pipe, state = load_fitted(path, kind="refusalkit.prompt-harm", what="prompt-harm classifier",
                                  remedy="fit it again (PromptHarmClassifier.from_align_rows(...).save(PATH))")
        obj = cls(float(state["threshold"]), float(state["C"]))
        obj.pipe = pipe
        return obj
