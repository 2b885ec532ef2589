"""The refusal cliff (Yin et al. 2025): a linear refusal probe read along prompt + answer.

The probe is a logistic regression (scikit-learn) on one layer's hidden state at the last prompt
token, trained on harmful prompts the model refused vs harmless prompts it answered (80/20 split,
classes balanced by down-sampling). :func:`cliff_curves` applies it at every position of prompt +
generated answer; curves are aligned by relative position (prompt tokens on [-1, 0), answer tokens
on [0, 1]) and, for the template tail where the cliff sits, by offset from the end of the prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..types import Prompt, Response
from . import tensorfile
from .capture import capture
from .hooks import hooked


class RefusalProbe(ClassifierMixin, BaseEstimator):
    """Logistic regression on layer ``layer`` (index into the capture's ``L+1`` layers; default the
    final normed hidden state) at the last prompt token; 1 = refusal. A scikit-learn classifier:
    ``fit`` sets ``clf_`` and ``classes_``, ``predict_proba`` has one column per class."""

    def __init__(self, layer: int = -1, C: float = 1.0) -> None:
        self.layer, self.C = layer, C

    def fit(self, X: np.ndarray, y: Sequence[int]) -> "RefusalProbe":
        self.clf_ = LogisticRegression(C=self.C, max_iter=2000).fit(np.asarray(X), np.asarray(y))
        self.classes_ = self.clf_.classes_
        return self

    @property
    def w(self) -> torch.Tensor:
        if not hasattr(self, "clf_"):
            raise RefusalkitError("the probe is not fitted")
        return torch.tensor(self.clf_.coef_[0], dtype=torch.float32)

    @property
    def direction(self) -> torch.Tensor:
        """Unit vector w/‖w‖ (what head attribution projects on)."""
        return self.w / self.w.norm()

    def predict_proba(self, X) -> np.ndarray:
        """P(answered), P(refused) per row: shape (n, 2)."""
        if not hasattr(self, "clf_"):
            raise RefusalkitError("the probe is not fitted")
        return self.clf_.predict_proba(np.asarray(X))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def save(self, path: str | Path) -> Path:
        tensors = {"w": self.w, "b": torch.tensor([float(self.clf_.intercept_[0])])}
        return tensorfile.write(path, tensors, "refusalkit_probe", {"layer": self.layer, "C": self.C})

    @classmethod
    def load(cls, path: str | Path) -> "RefusalProbe":
        meta, tensors = tensorfile.read(path, "refusalkit_probe", "probe", "fit one with `refusalkit cliff`")
        w, b = tensors["w"].numpy(), float(tensors["b"][0])
        probe = cls(meta["layer"], meta["C"])
        probe.clf_ = LogisticRegression()
        probe.clf_.classes_, probe.clf_.coef_, probe.clf_.intercept_ = (
            np.array([0, 1]),
            w[None, :].astype(np.float64),
            np.array([b]),
        )
        probe.classes_ = probe.clf_.classes_
        return probe


def train_probe(
    target,
    refused_harmful: Sequence[Prompt],
    answered_harmless: Sequence[Prompt],
    layer: int = -1,
    seed: int = 0,
    progress: bool = True,
) -> tuple[RefusalProbe, dict]:
    """Fit on a balanced 80% and report accuracy on the other 20%."""
    n = min(len(refused_harmful), len(answered_harmless))
    if n < 2:
        raise RefusalkitError(
            f"the refusal probe needs at least 2 refused harmful and 2 answered harmless prompts; got "
            f"{len(refused_harmful)} and {len(answered_harmless)} (is the model aligned?)"
        )
    rng = np.random.default_rng(seed)
    pos = [refused_harmful[i] for i in rng.permutation(len(refused_harmful))[:n]]
    neg = [answered_harmless[i] for i in rng.permutation(len(answered_harmless))[:n]]
    cut = max(1, int(round(0.8 * n)))
    X_pos = capture(target, pos, progress=progress).t_post[:, layer].numpy()
    X_neg = capture(target, neg, progress=progress).t_post[:, layer].numpy()
    Xtr = np.concatenate([X_pos[:cut], X_neg[:cut]])
    ytr = np.r_[np.ones(cut), np.zeros(cut)]
    probe = RefusalProbe(layer).fit(Xtr, ytr)
    Xte, yte = np.concatenate([X_pos[cut:], X_neg[cut:]]), np.r_[np.ones(n - cut), np.zeros(n - cut)]
    stats = {
        "n_per_class": n,
        "n_train": int(len(ytr)),
        "n_test": int(len(yte)),
        "train_accuracy": float(accuracy_score(ytr, probe.predict(Xtr))),
        "test_accuracy": float(accuracy_score(yte, probe.predict(Xte))) if len(yte) else None,
    }
    return probe, stats


@torch.no_grad()
def position_scores(
    target,
    probe: RefusalProbe,
    prompts: Sequence[Prompt],
    responses: Sequence[Response],
    batch_size: int = 8,
    progress: bool = True,
) -> list[tuple[np.ndarray, int]]:
    """Probe score at every position of prompt + answer; per prompt (scores, prompt length)."""
    from .capture import capture_hooks

    model, out = target.model, []
    texts, plens = [], []
    for p, r in zip(prompts, responses):
        rendered = target.render(p.text)
        texts.append(rendered + r.text)
        plens.append(len(target.tokenizer(rendered, add_special_tokens=False)["input_ids"]))
    with progress_bar("probing positions", len(texts), progress) as advance:
        for start in range(0, len(texts), batch_size):
            enc = target.encode(texts[start : start + batch_size])
            store: dict[int, torch.Tensor] = {}
            with hooked(capture_hooks(model, store)):
                model(**enc, logits_to_keep=1, use_cache=False)
            layer = probe.layer % len(store)
            hidden = store[layer].float().cpu()
            for b in range(hidden.shape[0]):
                n = int(enc["attention_mask"][b].sum())
                h = hidden[b, -n:].numpy()
                out.append((probe.predict_proba(h)[:, 1], plens[start + b]))
            advance(hidden.shape[0])
    return out


def cliff_curves(scored: list[tuple[np.ndarray, int]], bins: int = 20, tail: int = 12) -> dict:
    """Mean probe score by relative position (prompt on [-1, 0), answer on [0, 1]) and over the last
    ``tail`` prompt tokens (offset −tail..−1 from the answer start)."""
    edges = np.linspace(-1, 1, 2 * bins + 1)
    sums, counts = np.zeros(2 * bins), np.zeros(2 * bins)
    tail_sum, tail_n = np.zeros(tail), np.zeros(tail)
    for s, plen in scored:
        n_ans = len(s) - plen
        rel = np.concatenate([np.arange(plen) / plen - 1, np.arange(n_ans) / max(n_ans, 1)])
        idx = np.clip(np.digitize(rel, edges) - 1, 0, 2 * bins - 1)
        np.add.at(sums, idx, s)
        np.add.at(counts, idx, 1)
        k = min(tail, plen)
        tail_sum[tail - k :] += s[plen - k : plen]
        tail_n[tail - k :] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        curve, tail_curve = sums / counts, tail_sum / tail_n
    centers = (edges[:-1] + edges[1:]) / 2
    return {
        "x": centers.tolist(),
        "mean": [None if np.isnan(v) else float(v) for v in curve],
        "tail_offsets": list(range(-tail, 0)),
        "tail_mean": [None if np.isnan(v) else float(v) for v in tail_curve],
    }


def cliff_drop(tail_offsets: list[int], tail_mean: list[float | None]) -> dict:
    """Where the mean score drops most between two consecutive prompt positions near the end."""
    pairs = [
        (tail_offsets[i + 1], tail_mean[i] - tail_mean[i + 1])
        for i in range(len(tail_mean) - 1)
        if tail_mean[i] is not None and tail_mean[i + 1] is not None
    ]
    if not pairs:
        return {"offset": None, "drop": None}
    at, drop = max(pairs, key=lambda t: t[1])
    return {"offset": at, "drop": float(drop)}
