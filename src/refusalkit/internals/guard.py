"""Latent Guard (Zhao et al. 2025): tell harmful from harmless prompts by the model's hidden states.

``cosine`` (default): score(x) = mean over layers of [cos(h_l, μ_harmful_l) − cos(h_l, μ_harmless_l)]
at ``t_inst``; flagged harmful when score ≥ threshold (0 by default, as published).
``projection``: one layer, score(x) = (h_l − (μ_h+μ_b)/2) · (μ_h − μ_b)/‖μ_h − μ_b‖; by default the
layer whose training scores separate the classes best (highest AUROC), our choice.

Inputs to ``fit``/``score`` are t_inst activations ``[n, L+1, d]`` (``Activations.t_inst``);
``fit_prompts``/``score_prompts`` capture them from a target. Layers 1..L are used by default (the
layer-0 input is the raw token embedding). Centroids come from the prompts given to ``fit`` with their
labels; Zhao et al. use refused-harmful and answered-harmless prompts, which on a well-aligned model are
nearly the same sets (pass only those to reproduce it exactly). Saved as safetensors with JSON metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, roc_auc_score

from ..errors import RefusalkitError
from ..types import Prompt
from . import tensorfile
from .capture import capture


def labels_of(prompts: Sequence[Prompt]) -> np.ndarray:
    return np.array([1 if p.label == "harmful" else 0 for p in prompts])


class LatentGuard(BaseEstimator):
    """A scikit-learn estimator (``get_params``/``set_params``; ``fit`` sets ``mu_harmful_``,
    ``mu_harmless_`` and ``layer_``, the layer a projection guard reads: ``layer``, or the one whose
    projection separates the training prompts best when ``layer`` is None)."""

    def __init__(self, mode: str = "cosine", layer: int | None = None, threshold: float = 0.0) -> None:
        self.mode, self.layer, self.threshold = mode, layer, threshold

    def _check_mode(self) -> None:
        if self.mode not in ("cosine", "projection"):
            raise RefusalkitError(f"unknown guard mode '{self.mode}'; choose cosine or projection")

    def fit(self, X: torch.Tensor, y: Sequence[int]) -> "LatentGuard":
        self._check_mode()
        y = torch.as_tensor(np.asarray(y), dtype=torch.bool)
        if y.all() or not y.any():
            raise RefusalkitError("the guard needs both harmful and harmless prompts to fit")
        self.mu_harmful_, self.mu_harmless_ = X[y].mean(0), X[~y].mean(0)  # [L+1, d]
        self.layer_ = self.layer
        if self.mode == "projection" and self.layer is None:
            aucs = [roc_auc_score(y.numpy(), self._projection(X, l).numpy()) for l in range(1, X.shape[1])]
            self.layer_ = 1 + int(np.argmax(aucs))
        return self

    def _check(self) -> None:
        if not hasattr(self, "mu_harmful_"):
            raise RefusalkitError("the guard is not fitted")

    def _projection(self, X: torch.Tensor, layer: int) -> torch.Tensor:
        diff = self.mu_harmful_[layer] - self.mu_harmless_[layer]
        mid = (self.mu_harmful_[layer] + self.mu_harmless_[layer]) / 2
        return (X[:, layer] - mid) @ (diff / diff.norm())

    def score(self, X: torch.Tensor) -> np.ndarray:
        """Higher = more harmful."""
        self._check()
        if self.mode == "projection":
            return self._projection(X, self.layer_).numpy()
        cos = torch.nn.functional.cosine_similarity
        layers = slice(1, X.shape[1])
        s = cos(X[:, layers], self.mu_harmful_[None, layers], dim=-1) - cos(
            X[:, layers], self.mu_harmless_[None, layers], dim=-1
        )
        return s.mean(-1).numpy()

    decision_function = score

    def predict(self, X: torch.Tensor) -> np.ndarray:
        """1 = harmful."""
        return (self.score(X) >= self.threshold).astype(int)

    def calibrate(self, X: torch.Tensor, y: Sequence[int]) -> float:
        """Set ``threshold`` to the one that maximises balanced accuracy on (X, y) (optional; default 0)."""
        s, y = self.score(X), np.asarray(y)
        cands = np.unique(s)
        bal = [((s[y == 1] >= t).mean() + (s[y == 0] < t).mean()) / 2 for t in cands]
        self.threshold = float(cands[int(np.argmax(bal))])
        return self.threshold

    def evaluate(self, X: torch.Tensor, y: Sequence[int]) -> dict:
        y = np.asarray(y)
        s = self.score(X)
        auroc = float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None
        return {
            "n": int(len(y)),
            "auroc": auroc,
            "accuracy": float(accuracy_score(y, (s >= self.threshold).astype(int))),
            "threshold": self.threshold,
            "mode": self.mode,
            "layer": self.layer_,
        }

    # --- prompts in, via a target --------------------------------------------------------------
    def fit_prompts(self, target, prompts: Sequence[Prompt], progress: bool = True) -> "LatentGuard":
        return self.fit(capture(target, prompts, progress=progress).t_inst, labels_of(prompts))

    def score_prompts(self, target, prompts: Sequence[Prompt | str], progress: bool = True, hooks=()) -> np.ndarray:
        return self.score(capture(target, prompts, progress=progress, hooks=hooks).t_inst)

    def evaluate_prompts(self, target, prompts: Sequence[Prompt], progress: bool = True) -> dict:
        return self.evaluate(capture(target, prompts, progress=progress).t_inst, labels_of(prompts))

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        self._check()
        meta = {"mode": self.mode, "layer": self.layer_, "threshold": self.threshold}
        return tensorfile.write(
            path, {"mu_harmful": self.mu_harmful_, "mu_harmless": self.mu_harmless_}, "refusalkit_guard", meta
        )

    @classmethod
    def load(cls, path: str | Path) -> "LatentGuard":
        meta, tensors = tensorfile.read(path, "refusalkit_guard", "guard", "fit one with `refusalkit guard`")
        guard = cls(meta["mode"], meta["layer"], meta["threshold"])
        guard._check_mode()
        guard.mu_harmful_, guard.mu_harmless_, guard.layer_ = (
            tensors["mu_harmful"],
            tensors["mu_harmless"],
            meta["layer"],
        )
        return guard
