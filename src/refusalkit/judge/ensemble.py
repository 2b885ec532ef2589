"""The ensemble detector: combines what is available, with calibrated probabilities.

Always: the pattern rules and the learned classifier, stacked by a logistic regression fitted on
*out-of-fold* predictions over the corpus's train split (3 folds; the learned model inside each fold
never saw the rows it predicts), so its output probabilities are calibrated rather than the
over-confident in-sample ones. The fitted stacker is cached next to the learned model.

Optionally, with ``target=``: the LLM judge's label (when it parsed) is mixed into the class
probabilities with weight ``llm_weight`` (0.35), and with a white-box target and prompts the
first-token refusal probability is mixed into the refusal score with weight ``first_token_weight``
(0.1). These two weights are our choice (no labelled judge outputs exist offline to fit them); the
stacked part is fitted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import RefusalkitError
from ..types import Prompt, Response, Verdict
from .common import CLASSES, as_texts, precheck, refusal_score
from .learned import FEATURE_VERSION, LearnedDetector, build_pipeline, one_thread
from .pattern import PatternDetector, readable, rule_verdict

EPS = 1e-4
KIND = "refusalkit.ensemble"


def _stack_features(pattern_proba: np.ndarray, learned_proba: np.ndarray) -> np.ndarray:
    return np.hstack([pattern_proba, np.log(np.clip(learned_proba, EPS, 1.0))])


class EnsembleDetector:
    name = "ensemble"

    def __init__(
        self,
        target=None,
        use_llm: bool | None = None,
        llm_weight: float = 0.35,
        first_token_weight: float = 0.1,
        path: str | os.PathLike | None = None,
    ) -> None:
        self.pattern = PatternDetector()
        self.target = target
        self.use_llm = (target is not None) if use_llm is None else use_llm
        self.llm_weight, self.first_token_weight = llm_weight, first_token_weight
        self.version: str | None = None  # the shipped learned model's, when built on it (see run.evaluate.judge_key)
        if path is not None:
            self._load(Path(path))
        else:
            self.learned = LearnedDetector()
            self.stacker = self._default_stacker()
            self.version = self.learned.version

    # --- scikit-learn shape --------------------------------------------------------------------
    def fit(self, texts, labels, folds: int = 3, sample_weight=None) -> "EnsembleDetector":
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        texts = [t if isinstance(t, str) else "" for t in as_texts(texts)]
        labels = list(labels)
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        with one_thread():
            oof = cross_val_predict(
                build_pipeline(),
                texts,
                labels,
                cv=cv,
                method="predict_proba",
                params=None if sample_weight is None else {"clf__sample_weight": sample_weight},
            )
        classes = sorted(set(labels))
        oof = oof[:, [classes.index(c) for c in CLASSES]]
        X = _stack_features(self.pattern.predict_proba(texts), oof)
        self.stacker = LogisticRegression(C=1.0, max_iter=2000).fit(X, labels, sample_weight=sample_weight)
        self.version = None
        if not hasattr(self, "learned"):
            self.learned = LearnedDetector(pipeline=object()).fit(texts, labels, sample_weight=sample_weight)
        return self

    def predict_proba(self, texts) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in as_texts(texts)]
        X = _stack_features(self.pattern.predict_proba(texts), self.learned.predict_proba(texts))
        proba = self.stacker.predict_proba(X)
        return proba[:, [list(self.stacker.classes_).index(c) for c in CLASSES]]

    def predict(self, texts) -> list[str]:
        return [CLASSES[i] for i in self.predict_proba(texts).argmax(1)]

    def save(self, path: str | os.PathLike) -> None:
        """Write the learned part and the stacker without pickle (:func:`refusalkit.persist.save_fitted`)."""
        from ..persist import save_fitted

        save_fitted(
            {"learned": self.learned.pipeline, "stacker": self.stacker},
            path,
            kind=KIND,
            meta={"version": FEATURE_VERSION},
        )

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> "EnsembleDetector":
        return cls(path=path, **kwargs)

    # --- detector protocol ---------------------------------------------------------------------
    def judge(self, responses: Sequence[Response], prompts: Sequence[Prompt | str] | None = None) -> list[Verdict]:
        out: list[Verdict | None] = [precheck(r, self.name) for r in responses]
        todo = [i for i, v in enumerate(out) if v is None]
        if not todo:
            return out  # type: ignore[return-value]
        texts = [responses[i].text for i in todo]
        proba = self.predict_proba(texts)
        notes = [[] for _ in todo]
        if self.use_llm and self.target is not None:
            from .llm import LLMJudge

            sub_prompts = None if prompts is None else [prompts[i] for i in todo]
            for k, v in enumerate(LLMJudge(self.target).judge([responses[i] for i in todo], sub_prompts)):
                if v.label in CLASSES:
                    onehot = np.eye(3)[CLASSES.index(v.label)]
                    proba[k] = (1 - self.llm_weight) * proba[k] + self.llm_weight * onehot
                notes[k].append(f"llm={v.label}")
        first = None
        if self.target is not None and getattr(self.target, "whitebox", False) and prompts is not None:
            from .first_token import FirstTokenDetector

            first = FirstTokenDetector(self.target).scores([prompts[i] for i in todo])
        for k, i in enumerate(todo):
            label = CLASSES[int(proba[k].argmax())]
            score = refusal_score(proba[k])
            if first is not None:
                score = (1 - self.first_token_weight) * score + self.first_token_weight * float(first[k])
                notes[k].append(f"first-token={float(first[k]):.2f}")
            rule_ev = readable(texts[k], rule_verdict(texts[k])[2])
            probs = " ".join(f"{c[0]}={p:.2f}" for c, p in zip(("c", "p", "f"), proba[k]))
            ev = f"{rule_ev[:160] if label != 'compliance' else ''} [{probs}{'; ' if notes[k] else ''}{'; '.join(notes[k])}]".strip()
            out[i] = Verdict(label, round(score, 4), self.name, ev)
        return out  # type: ignore[return-value]

    # --- internals -----------------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        from ..persist import load_fitted

        blob, _ = load_fitted(
            path,
            kind=KIND,
            what="ensemble detector",
            remedy="fit the detector again (EnsembleDetector().fit(...).save(PATH))",
        )
        if not isinstance(blob, dict) or set(blob) != {"learned", "stacker"}:
            raise RefusalkitError(f"{path} is a damaged refusalkit ensemble detector file")
        self.learned = LearnedDetector(pipeline=blob["learned"])
        self.stacker = blob["stacker"]

    def _default_stacker(self):
        from .learned import _cache_file

        cache = _cache_file().with_name(_cache_file().name.replace("learned-", "ensemble-"))
        if cache.exists():
            try:
                self._load(cache)
                return self.stacker
            except RefusalkitError:
                pass
        from .corpus import load_corpus

        from .learned import corpus_weights

        rows = load_corpus("train")
        self.fit([r["response"] for r in rows], [r["label"] for r in rows], sample_weight=corpus_weights(rows))
        self.save(cache)  # atomic, so parallel first uses never read half a file
        return self.stacker
