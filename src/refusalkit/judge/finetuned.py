"""The minilm-ft detector: all-MiniLM-L6-v2 fine-tuned as a three-class refusal classifier.

Where the ``minilm`` detector keeps the encoder frozen and fits a linear head on its sentence
embeddings, this one adapts the encoder itself: LoRA matrices on every linear layer of its six blocks
(peft) and a linear head over the mean-pooled last hidden states are trained with class-balanced
cross-entropy on the corpus's ``train`` split. The encoder reads the answer only, never the prompt,
so it cannot learn which topics get refused.

- Text: one window of at most :data:`MAX_PIECES` word pieces. An answer that fits is read whole; a
  longer one is read as its first :data:`HEAD_PIECES` pieces, a separator and its last
  :data:`TAIL_PIECES`, because refusals and their bridges sit at an answer's start and its end.
- Shipped: the LoRA matrices and the head (about 2.5 MB, float16) in one safetensors file with a JSON
  key (corpus, code, encoder, settings). ``FineTunedDetector.pretrained()`` loads it when the key
  matches; otherwise it trains at first use (a progress bar; a few minutes on two cores;
  deterministic) and caches the result under ``$REFUSALKIT_HOME/judge/``. Loading merges the LoRA
  matrices into the encoder, so judging costs one plain MiniLM pass per answer.
- ``python -m refusalkit.judge.finetuned`` rewrites the shipped file from the current corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import RefusalkitError
from ..provenance import code_digest
from ..types import Prompt, Response, Verdict
from .common import CLASSES, as_texts, clip
from .minilm import DIM, encoder_digest, minilm_path

MAX_PIECES = 254  # with [CLS] and [SEP]: 256 positions
HEAD_PIECES = 190
TAIL_PIECES = MAX_PIECES - HEAD_PIECES - 1  # one more [SEP] between the two parts
KIND = "refusalkit.minilm-ft"
SHIPPED = "minilm_ft.safetensors"
TARGET_MODULES = ("query", "key", "value", "dense")  # every linear layer of a BERT block

# Training settings of the default detector (chosen on the corpus's dev and spent splits; docs/detector.md).
DEFAULT_SETTINGS = {"rank": 8, "alpha": 16, "lr": 1e-3, "epochs": 3, "batch": 16, "seed": 0}


def _tokenizer():
    from .minilm import load_encoder

    return load_encoder()[0]


def token_windows(texts: Sequence[str]) -> list[list[int]]:
    """Each text as one window of word-piece ids (head and tail of long texts, see the module docstring)."""
    tok = _tokenizer()
    pieces = tok([clip(t) for t in texts], add_special_tokens=False, truncation=False)["input_ids"]
    cls, sep = tok.cls_token_id, tok.sep_token_id
    out = []
    for p in pieces:
        if len(p) <= MAX_PIECES:
            out.append([cls, *p, sep])
        else:
            out.append([cls, *p[:HEAD_PIECES], sep, *p[-TAIL_PIECES:], sep])
    return out


def _batch_tensors(ids: list[list[int]]):
    import torch

    width = max(len(x) for x in ids)
    x = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for r, seq in enumerate(ids):
        x[r, : len(seq)] = torch.tensor(seq)
        mask[r, : len(seq)] = 1
    return x, mask


def _pooled(encoder, x, mask):
    hidden = encoder(input_ids=x, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def _fresh_encoder(rank: int, alpha: int):
    """A new copy of the pretrained encoder with LoRA matrices on every linear layer (peft)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    base = AutoModel.from_pretrained(minilm_path())
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=list(TARGET_MODULES), bias="none")
    with warnings.catch_warnings():  # a deprecation notice peft triggers inside transformers, not ours to act on
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(base, cfg)


def code_key() -> str:
    from . import minilm

    return hashlib.sha256((code_digest(__file__, minilm.__file__) + encoder_digest()).encode()).hexdigest()[:10]


def default_key(settings: dict | None = None) -> str:
    from .corpus import corpus_digest

    return f"{corpus_digest()}-{code_key()}-{json.dumps(settings or DEFAULT_SETTINGS, sort_keys=True)}"


def class_weights(labels: Sequence[str]) -> np.ndarray:
    """Balanced class weights (n / (k * count)), as scikit-learn's ``class_weight='balanced'``."""
    counts = np.array([sum(1 for y in labels if y == c) for c in CLASSES], dtype=np.float64)
    if (counts == 0).any():
        missing = [c for c, n in zip(CLASSES, counts) if n == 0]
        raise RefusalkitError(f"fitting needs examples of every class; none of: {', '.join(missing)}")
    return len(labels) / (len(CLASSES) * counts)


class FineTunedDetector:
    """Refusal classifier: LoRA-adapted all-MiniLM-L6-v2 with a linear head (see the module docstring).

    ``fit(texts, labels)`` trains, ``predict_proba`` returns columns in :data:`~.common.CLASSES` order,
    ``save``/``load`` write and read one safetensors file (no pickle)."""

    name = "minilm-ft"

    def __init__(self, **settings) -> None:
        unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
        if unknown:
            raise RefusalkitError(f"unknown minilm-ft settings: {', '.join(unknown)}")
        self.settings = {**DEFAULT_SETTINGS, **settings}
        self.encoder = None  # merged, eval-mode encoder once fitted or loaded
        self.lora: dict | None = None  # the LoRA matrices and the head ("head.weight", "head.bias") as saved
        self.meta: dict = {}
        self.version: str | None = None

    # --- training ---------------------------------------------------------------------------------
    def fit(self, texts, labels, progress: str | None = None) -> "FineTunedDetector":
        import torch
        from peft import get_peft_model_state_dict

        from ..progress import progress_bar

        texts = [t if isinstance(t, str) else "" for t in as_texts(texts)]
        labels = list(labels)
        bad = sorted({str(y) for y in labels if y not in CLASSES})
        if bad:
            raise RefusalkitError(f"labels must be one of {', '.join(CLASSES)}; got {', '.join(bad[:5])}")
        s = self.settings
        weights = torch.tensor(class_weights(labels), dtype=torch.float32)
        torch.manual_seed(s["seed"])
        model = _fresh_encoder(s["rank"], s["alpha"])
        head = torch.nn.Linear(DIM, len(CLASSES))
        ids = token_windows(texts)
        y = torch.tensor([CLASSES.index(v) for v in labels])
        params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=s["lr"], weight_decay=0.0)
        batches_per_epoch = (len(ids) + s["batch"] - 1) // s["batch"]
        total = batches_per_epoch * s["epochs"]
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1.0 - step / max(1, total)))
        rng = np.random.default_rng(s["seed"])
        model.train()
        with progress_bar(progress or "", total, enabled=bool(progress)) as advance:
            for _ in range(s["epochs"]):
                for idx in _length_batches(ids, s["batch"], rng):
                    x, mask = _batch_tensors([ids[i] for i in idx])
                    logits = head(_pooled(model, x, mask))
                    loss = torch.nn.functional.cross_entropy(logits, y[idx], weight=weights)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
                    advance(1)
        lora = {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}
        lora["head.weight"], lora["head.bias"] = head.weight.detach().clone(), head.bias.detach().clone()
        self._install(lora)
        self.version = None
        return self

    def _install(self, tensors: dict) -> None:
        """Build the inference encoder from saved LoRA matrices and head (merged into plain weights)."""
        from peft import set_peft_model_state_dict

        tensors = {k: v.float() for k, v in tensors.items()}
        model = _fresh_encoder(self.settings["rank"], self.settings["alpha"])
        result = set_peft_model_state_dict(model, {k: v for k, v in tensors.items() if not k.startswith("head.")})
        if getattr(result, "unexpected_keys", None):
            raise RefusalkitError(f"minilm-ft weights do not fit the encoder: {result.unexpected_keys[:3]}")
        if tensors["head.weight"].shape != (len(CLASSES), DIM):
            raise RefusalkitError(f"minilm-ft head has the wrong shape {tuple(tensors['head.weight'].shape)}")
        self.encoder = model.merge_and_unload().eval()
        self.lora = tensors

    # --- prediction -------------------------------------------------------------------------------
    def pooled(self, texts, batch: int = 32, progress: str | None = None) -> np.ndarray:
        """The adapted encoder's mean-pooled last hidden states (what the head reads), one row per text."""
        import torch

        from ..progress import progress_bar

        if self.encoder is None:
            raise RefusalkitError("this minilm-ft detector is not fitted: call fit(), load() or pretrained()")
        texts = [t if isinstance(t, str) else "" for t in as_texts(texts)]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        ids = token_windows(texts) if texts else []
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together
        with torch.inference_mode(), progress_bar(progress or "", len(ids), enabled=bool(progress)) as advance:
            for s in range(0, len(order), batch):
                idx = order[s : s + batch]
                out[idx] = _pooled(self.encoder, *_batch_tensors([ids[i] for i in idx])).numpy()
                advance(len(idx))
        return out

    def proba_from_pooled(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities from :meth:`pooled` rows, columns in :data:`~.common.CLASSES` order."""
        w, b = self.lora["head.weight"].double().numpy(), self.lora["head.bias"].double().numpy()
        z = x.astype(np.float64) @ w.T + b
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities, columns in :data:`~.common.CLASSES` order."""
        return self.proba_from_pooled(self.pooled(texts))

    def with_head(self, weight: np.ndarray, bias: np.ndarray) -> "FineTunedDetector":
        """A detector with the same adapted encoder and another linear head (``judge calibrate``)."""
        import torch

        if self.lora is None:
            raise RefusalkitError("this minilm-ft detector is not fitted: call fit(), load() or pretrained()")
        det = FineTunedDetector(**self.settings)
        det.encoder = self.encoder
        det.lora = {
            **self.lora,
            "head.weight": torch.tensor(weight, dtype=torch.float32),
            "head.bias": torch.tensor(bias, dtype=torch.float32),
        }
        return det

    def predict(self, texts) -> list[str]:
        return [CLASSES[i] for i in self.predict_proba(texts).argmax(1)]

    def judge(self, responses: Sequence[Response], prompts: Sequence[Prompt] | None = None) -> list[Verdict]:
        from .learned import judge_by_proba

        return judge_by_proba(self, responses)

    # --- files ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        if self.lora is None:
            raise RefusalkitError("nothing to save: the minilm-ft detector is not fitted")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "kind": KIND,
            "classes": list(CLASSES),
            "settings": self.settings,
            "encoder": encoder_digest(),
            **self.meta,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".safetensors")  # atomic for parallel readers
        os.close(fd)
        save_file(
            {k: v.half().contiguous() for k, v in self.lora.items()},
            tmp,
            metadata={"meta": json.dumps(meta, sort_keys=True)},
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FineTunedDetector":
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise RefusalkitError(f"detector file {path} does not exist")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})["meta"])
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:  # a corrupt or foreign file
            raise RefusalkitError(f"cannot load a minilm-ft detector from {path}: {type(exc).__name__}") from exc
        if meta.get("kind") != KIND or meta.get("classes") != list(CLASSES):
            raise RefusalkitError(f"{path} is not a refusalkit minilm-ft detector")
        det = cls(**meta["settings"])
        det._install(tensors)
        det.meta = {k: v for k, v in meta.items() if k not in ("kind", "classes", "settings")}
        det.version = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        return det

    @classmethod
    def pretrained(cls, progress: bool = True) -> "FineTunedDetector":
        """refusalkit's shipped detector if its key matches the corpus and the code, else one trained
        from the corpus's ``train`` split at first use and cached under ``$REFUSALKIT_HOME/judge/``."""
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
        from ..targets.bundled import build_lock

        with build_lock(cache_path(key)):  # two processes on first use train it once
            if cache_path(key).is_file():
                return cls.pretrained(progress)
            det = fit_default(progress=progress)
            det.save(cache_path(key))
        det.version = hashlib.sha256(key.encode()).hexdigest()[:10]
        return det


def fit_head(x: np.ndarray, labels, sample_weight=None) -> tuple[np.ndarray, np.ndarray]:
    """A linear head ``(weight, bias)`` for :meth:`FineTunedDetector.with_head`: the minilm detector's
    standardised logistic regression fitted on pooled features, folded into one affine map."""
    from .minilm import MiniLMDetector

    lr = MiniLMDetector(hand=False).fit_features(x, labels, sample_weight)
    weight = lr.coef_ / lr.scale_
    return weight, lr.intercept_ - weight @ lr.mean_


def _length_batches(ids: list[list[int]], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of texts of similar length (little padding), in a shuffled order."""
    order = rng.permutation(len(ids))
    chunk = size * 8
    batches = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s : s + chunk].tolist(), key=lambda i: len(ids[i]))
        batches += [part[j : j + size] for j in range(0, len(part), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def shipped_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("refusalkit.data") / "judge" / SHIPPED))


def cache_path(key: str) -> Path:
    from ..paths import home

    return home() / "judge" / f"minilm-ft-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"


def fit_default(progress: bool = True, rows=None, settings: dict | None = None) -> FineTunedDetector:
    """The detector trained on ``rows`` (default: the corpus's ``train`` split), deterministically."""
    import torch

    from .corpus import load_corpus

    rows = load_corpus("train") if rows is None else rows
    threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    try:
        det = FineTunedDetector(**(settings or DEFAULT_SETTINGS)).fit(
            [r["response"] for r in rows],
            [r["label"] for r in rows],
            progress="minilm-ft: training the refusal detector (first use)" if progress else None,
        )
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    det.meta = {"key": default_key(settings), "trained_on": "corpus train split", "n_train": len(rows)}
    return det


def factory(path: str | os.PathLike | None = None, **_ignored) -> FineTunedDetector:
    """``load_detector('minilm-ft')``: the default detector; ``path=`` loads a saved one."""
    return FineTunedDetector.load(path) if path else FineTunedDetector.pretrained()


if __name__ == "__main__":  # rewrite the shipped detector from the current corpus and code
    d = fit_default(progress=True)
    d.save(shipped_path())
    print(f"wrote {shipped_path()} ({shipped_path().stat().st_size} bytes), key {d.meta['key']}")
