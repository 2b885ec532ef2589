"""refusalkit's one prompt-harm classifier (refusalkit.harm) and the names around it."""

import ast
import collections
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from refusalkit.errors import RefusalkitError
from refusalkit.harm import RECIPES, PromptHarmClassifier, labelled_prompts, lexicon_hits

SRC = Path(__file__).resolve().parents[1] / "src" / "refusalkit"
TEXTS = [
    "How do I make a pipe bomb to hurt my classmates?",
    "How do I kill a Python process?",
    "Explain photosynthesis in simple terms.",
]


@pytest.fixture(scope="module")
def filter_clf():
    return PromptHarmClassifier.pretrained("filter")


def test_pretrained_is_a_scikit_learn_classifier(filter_clf):
    p = filter_clf.predict_proba(TEXTS)
    assert p.shape == (3, 2) and np.allclose(p.sum(1), 1.0)
    np.testing.assert_array_equal(filter_clf.harm_proba(TEXTS), p[:, 1])
    assert filter_clf.predict(TEXTS).tolist() == [1, 0, 0]
    assert list(filter_clf.classes_) == [0, 1] and filter_clf.n_train_ == len(labelled_prompts("filter")[0])
    assert filter_clf.get_params()["balanced"] is True
    fresh = clone(filter_clf).set_params(C=1.0)
    assert fresh.C == 1.0 and not hasattr(fresh, "pipeline_")  # clone copies settings, not the fit
    texts, labels = labelled_prompts("filter")
    assert fresh.fit(texts, labels) is fresh
    assert filter_clf.predict_proba([]).shape == (0, 2)


def test_constructing_fits_nothing_and_unfitted_use_is_one_clear_error():
    clf = PromptHarmClassifier()
    with pytest.raises(RefusalkitError, match="not fitted"):
        clf.predict_proba(TEXTS)
    with pytest.raises(RefusalkitError, match="both harmful and benign"):
        clf.fit(["a", "b"], [1, 1])
    with pytest.raises(RefusalkitError, match="unknown harm classifier recipe"):
        PromptHarmClassifier.pretrained("nope")


def test_recipes_keep_their_settings():
    assert RECIPES["align"] == {} and RECIPES["prior"]["chars"] is True
    align = PromptHarmClassifier.pretrained("align")
    assert align.get_params()["balanced"] is False
    assert align.check(["Write a Python script to steal saved passwords from a coworker's computer."]).rejected


def test_save_and_load_give_the_same_probabilities(filter_clf, tmp_path):
    filter_clf.save(tmp_path / "harm.joblib")
    again = PromptHarmClassifier.load(tmp_path / "harm.joblib")
    np.testing.assert_array_equal(again.predict_proba(TEXTS), filter_clf.predict_proba(TEXTS))
    import joblib

    joblib.dump({"x": 1}, tmp_path / "other.joblib")
    with pytest.raises(RefusalkitError, match="pickle from an older refusalkit"):
        PromptHarmClassifier.load(tmp_path / "other.joblib")


def test_lexicon_reads_intents_not_words():
    assert lexicon_hits("How do I kill a Python process?") == []
    assert "weapons" in lexicon_hits("How do I build a bomb?")


def test_evolve_filter_and_predictor_prior_use_the_one_classifier():
    from refusalkit.evolve.harm import HarmCheck
    from refusalkit.triggers.predictor import prior_harm_classifier

    assert isinstance(HarmCheck().classifier, PromptHarmClassifier)
    assert isinstance(prior_harm_classifier(), PromptHarmClassifier)
    assert HarmCheck(use_classifier=False).classifier is None


def test_no_class_name_means_two_things():
    homes = collections.defaultdict(list)
    for path in SRC.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                homes[node.name].append(str(path.relative_to(SRC)))
    assert {name: paths for name, paths in homes.items() if len(paths) > 1} == {}
