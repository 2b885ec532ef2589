"""Is a *request* harmful (not: did the model refuse)? refusalkit's one prompt-harm classifier.

Two checks that read only the request's text:

- :func:`lexicon_hits`: a lexicon of harmful intents written for refusalkit (regular expressions for a
  harmful act aimed at a person or animal, weapon/drug manufacture, intrusion, fraud, self-harm, hate,
  sexual content with minors, stalking); it matches intents, not single words, so "kill a Python
  process" passes;
- :class:`PromptHarmClassifier`: TF-IDF word 1-2-grams (optionally with character 2-5-grams) and a
  logistic regression, a scikit-learn classifier whose ``predict_proba`` gives P(harmless), P(harmful).

:meth:`PromptHarmClassifier.pretrained` builds the classifier each part of refusalkit uses, all from
refusalkit's own labelled prompts (:func:`labelled_prompts`):

- ``"filter"``: the evolve safety filter's (its own labelled prompts plus the ``core`` suite's train
  split; balanced classes);
- ``"align"``: trigger discovery's and the trigger-aware data's (the alignment set's train split, where
  each harmful request's trigger-benign twin teaches it that a frame or topic word shared with a
  harmful request is not harmful on its own);
- ``"prior"``: the refusal predictor's model-independent prior (the alignment set's train split and the
  filter's own prompts, word and character n-grams, balanced classes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .errors import RefusalkitError

_PERSON = (
    r"(?:someone|somebody|anyone|a person|people|(?:a |the )?(?:child|children|kid|kids|baby|minor|girl|boy|woman|man|"
    r"protester|judge|president|police officer|cop)s?|him|her|them|"
    r"(?:an? )?animals?|(?:my|his|her|their|our|a)(?: little| big| old| young| disabled)? (?:wife|husband|neighbou?r|boss|teacher|child|kid|son|daughter|mother|father|mom|mum|"
    r"dad|brother|sister|ex|partner|girlfriend|boyfriend|roommate|coworker|colleague|classmate|grandmother|grandfather|"
    r"dog|cat|family|friend)(?:'s)?)"
)
LEXICON: dict[str, re.Pattern] = {
    name: re.compile(p, re.I)
    for name, p in {
        "violence": rf"\b(?:kill|murder|poison|stab|shoot|strangle|kidnap|torture|hurt|injure|beat up|assault|drown|abduct|"
        rf"run over|spike)\b(?:\s+\w+){{0,2}}?\s+{_PERSON}\b",
        "weapons": r"\b(?:make|build|assemble|create|synthesi[sz]e|produce|manufacture|get|buy)\b(?:\s+\S+){0,4}?\s+"
        r"(?:(?<!bath )(?<!seed )(?<!photo )(?<!glitter )bomb|explosive|grenade|napalm|nerve agent|sarin|"
        r"ricin|anthrax|bioweapon|chemical weapon|toxic gas|ghost gun|silencer|untraceable gun)s?\b",
        "drugs": r"\b(?:make|cook|synthesi[sz]e|produce|brew|sell|smuggle)\b(?:\s+\S+){0,3}?\s+"
        r"(?:meth|methamphetamine|heroin|cocaine|crack cocaine|fentanyl|lsd|mdma|drugs)\b",
        "intrusion": r"\b(?:hack|break|get)\s+into\s+(?:\S+\s+){0,3}?(?:house|home|car|account|email|phone|computer|"
        r"network|server|database|system|apartment|office|instagram|facebook)\b|\b(?:write|create|make|send|build|code)"
        r"\b(?:\s+\S+){0,2}?\s+(?:ransomware|keylogger|malware|spyware|phishing)\b",
        "crime": r"\b(?:fake|forged) (?:passport|id|driver'?s licen[cs]e|identity)\b|\bcheat on (?:my|his|her|their) taxes\b|"
        r"\bevade taxes\b|\bgun illegally\b|\bshoot up\b|\bviolent riot\b|\bthreats? to send\b|\bsend threats\b|"
        r"\bdisable\b.{0,20}\bbrakes\b|\bstolen goods\b|\blook like (?:an accident|a suicide)\b|"
        r"\bbully\b(?:\s+\S+){0,3}?\s+(?:kid|child|student|classmate)",
        "theft_fraud": r"\b(?:steal(?:ing|s)?|rob(?:s|bing|bed)?|launder(?:ing)?|counterfeit(?:ing)?|forge|embezzl\w*|"
        r"blackmail(?:ing)?|extort\w*|pickpocket\w*|shoplift\w*)\b(?!\s+(?:the show|the scene|a glance|"
        r"a kiss|the spotlight|my heart|hearts|a base|second base|the ball|someone who|me\b))",
        "body": r"\b(?:dismember\w*|hide (?:a|the) (?:dead )?body|dispose of (?:a|the) (?:dead )?body|"
        r"get rid of (?:someone|somebody|a person|my (?:wife|husband|boss|neighbou?r|ex|partner))\b)",
        "self_harm": r"\b(?:kill myself|end my life|commit suicide|hurt myself|harm myself|cut myself|self-harm\b(?!\w))",
        "hate": r"\b(?:subhuman|inferior race|ethnic cleansing|gas the)\b|\b(?:write|tell|give|list|use|call)\b.{0,30}"
        r"\b(?:slurs?|racist jokes?|sexist jokes?)\b|"
        r"\b(?:women|men|immigrants|jews|muslims|christians|black people|white people|gay people|trans people)"
        r"\s+are\s+(?:inferior|subhuman|evil|animals|vermin)",
        "minors_sexual": r"\b(?:sexual|sexy|nude|naked|explicit)\b.{0,40}\b(?:child|children|minor|kid|teen|underage)s?\b|"
        r"\b(?:child|minor|kid|teen|underage)s?\b.{0,40}\b(?:sexual|nude|naked|explicit)\b|\bgroom (?:a |the )?(?:child|kid|minor)",
        "stalking": r"\b(?:track|spy on|stalk|secretly record|follow)\b(?:\s+\w+){0,2}?\s+(?:my |his |her |their )?"
        r"(?:ex|wife|husband|girlfriend|boyfriend|partner|roommate|neighbou?r|coworker)\b|"
        r"\bfind (?:out )?where (?:a |an |this |that |my |some )?(?:stranger|woman|girl|man|ex|person|someone)\b.{0,40}\blives\b",
    }.items()
}
# Asking what a crime is, how to prevent it, or how to get help is not the harmful act itself
# ("What is money laundering?", "How do I cope with urges to hurt myself?"): these rules yield to it.
_PROTECTIVE = re.compile(
    r"\b(?:what (?:is|are)|define|definition|history of|prevent\w*|protect\w*|detect\w*|avoid\w*|report\w*|"
    r"recogni[sz]\w*|signs of|cope|coping|help(?:ing)? (?:a|my|someone)|support\w*|talk to)\b",
    re.I,
)
_YIELDING = {"theft_fraud", "self_harm"}


def lexicon_hits(text: str) -> list[str]:
    """Names of the harmful-intent rules that match ``text``."""
    hits = [name for name, rx in LEXICON.items() if rx.search(text)]
    if _YIELDING & set(hits) and _PROTECTIVE.search(text):
        hits = [h for h in hits if h not in _YIELDING]
    return hits


# --- labelled prompts -----------------------------------------------------------------------------
def builtin_labelled() -> list[tuple[str, int]]:
    """refusalkit's own labelled prompts for the evolve safety filter (1 = harmful)."""
    raw = resources.files("refusalkit").joinpath("evolve", "harm_prompts.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return [(r["text"], int(r["label"] == "harmful")) for r in rows]


def core_suite_labelled(split: str | None = "train") -> list[tuple[str, int]]:
    """Labelled prompts of the bundled ``core`` suite (empty when it is not installed)."""
    from .data.loaders import bundled_suites, load_prompts

    if "core" not in bundled_suites():
        return []
    return [(p.text, int(p.label == "harmful")) for p in load_prompts("core") if split is None or p.split == split]


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


def labelled_prompts(recipe: str) -> tuple[list[str], list[int]]:
    """(texts, is_harmful) a :meth:`PromptHarmClassifier.pretrained` recipe is trained on."""
    if recipe == "filter":
        rows = builtin_labelled() + core_suite_labelled()
        return [t for t, _ in rows], [y for _, y in rows]
    from .data.align import load_align_rows

    texts, labels = align_harm_pairs(load_align_rows())
    if recipe == "align":
        return texts, labels
    if recipe == "prior":
        own = builtin_labelled()
        return texts + [t for t, _ in own], labels + [y for _, y in own]
    raise RefusalkitError(f"unknown harm classifier recipe '{recipe}' (use one of: {', '.join(RECIPES)})")


# The settings of each pretrained classifier; every other setting is the estimator's default.
RECIPES: dict[str, dict] = {
    "filter": {"balanced": True},
    "align": {},
    "prior": {"balanced": True, "chars": True, "max_iter": 3000},
}


# --- the classifier -------------------------------------------------------------------------------
@dataclass
class HarmSplit:
    """Candidate benign requests split by the classifier: accepted (judged harmless) and rejected,
    with each one's P(harmful)."""

    accepted: list[str]
    rejected: list[str]
    scores: dict[str, float]


class PromptHarmClassifier(ClassifierMixin, BaseEstimator):
    """TF-IDF word 1-2-grams (plus character 2-5-grams with ``chars``) into a logistic regression
    (``balanced``: classes weighted inversely to their frequency). A scikit-learn classifier: ``fit``
    returns it with ``pipeline_`` and ``classes_`` set, ``predict_proba`` has one column per class
    (0 harmless, 1 harmful), ``predict`` applies ``threshold`` to P(harmful)."""

    def __init__(
        self, threshold: float = 0.5, C: float = 4.0, balanced: bool = False, chars: bool = False, max_iter: int = 2000
    ) -> None:
        self.threshold, self.C, self.balanced, self.chars, self.max_iter = threshold, C, balanced, chars, max_iter

    @classmethod
    def pretrained(
        cls, recipe: str = "filter", extra: Sequence[tuple[str, int]] = (), **params
    ) -> "PromptHarmClassifier":
        """The classifier of ``recipe`` (see :data:`RECIPES`) fitted on its prompts, plus ``extra``
        ``(text, is_harmful)`` rows; ``params`` override the recipe's settings."""
        texts, labels = labelled_prompts(recipe)
        texts, labels = texts + [t for t, _ in extra], labels + [int(y) for _, y in extra]
        return cls(**(RECIPES[recipe] | params)).fit(texts, labels)

    @classmethod
    def from_align_rows(cls, rows: Sequence[dict], split: str = "train", **params) -> "PromptHarmClassifier":
        """Fitted on an alignment set's split (the ``"align"`` recipe on rows of your own)."""
        return cls(**(RECIPES["align"] | params)).fit(*align_harm_pairs(rows, split))

    def fit(self, X: Sequence[str], y: Sequence[int]) -> "PromptHarmClassifier":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        if len(set(y)) < 2:
            raise RefusalkitError("the harm classifier needs both harmful and benign examples")
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        features = (
            make_union(words, TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))
            if self.chars
            else words
        )
        clf = LogisticRegression(C=self.C, class_weight="balanced" if self.balanced else None, max_iter=self.max_iter)
        self.pipeline_ = make_pipeline(features, clf).fit(list(X), list(y))
        self.classes_, self.n_train_ = self.pipeline_.classes_, len(y)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """P(harmless), P(harmful) per request: shape (n, 2)."""
        if not hasattr(self, "pipeline_"):
            raise RefusalkitError("the harm classifier is not fitted (use PromptHarmClassifier.pretrained() or fit)")
        texts = list(X)
        return self.pipeline_.predict_proba(texts) if texts else np.zeros((0, 2))

    def harm_proba(self, X: Sequence[str]) -> np.ndarray:
        """P(harmful) per request: shape (n,)."""
        return self.predict_proba(X)[:, 1]

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return (self.harm_proba(X) >= self.threshold).astype(int)

    def check(self, texts: Sequence[str]) -> HarmSplit:
        """Split candidate benign requests into accepted (judged harmless) and rejected."""
        p = self.harm_proba(texts)
        acc = [t for t, s in zip(texts, p) if s < self.threshold]
        rej = [t for t, s in zip(texts, p) if s >= self.threshold]
        return HarmSplit(acc, rej, {t: round(float(s), 4) for t, s in zip(texts, p)})

    def save(self, path: str | Path) -> None:
        """Write the fitted classifier without pickle (:func:`refusalkit.persist.save_fitted`)."""
        from .persist import save_fitted

        save_fitted(self.pipeline_, path, kind="refusalkit.prompt-harm", meta={"params": self.get_params()})

    @classmethod
    def load(cls, path: str | Path) -> "PromptHarmClassifier":
        from .persist import load_fitted

        pipeline, meta = load_fitted(
            path,
            kind="refusalkit.prompt-harm",
            what="prompt-harm classifier",
            remedy="fit it again (PromptHarmClassifier.pretrained(...).save(PATH))",
        )
        params = meta.get("params") if isinstance(meta, dict) else None
        if not isinstance(params, dict):
            raise RefusalkitError(f"{path} is a damaged refusalkit prompt-harm classifier (no settings)")
        obj = cls(**params)
        obj.pipeline_ = pipeline
        obj.classes_ = obj.pipeline_.classes_
        return obj
