"""Arguments are checked before any work: bad counts, unwritable outputs and bad prompt text fail with one
line before a model loads, a prompt is generated or a training step runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.types import GenParams


@pytest.fixture()
def no_work(monkeypatch):
    """Loading a model, training or running a study fails the test: every check must come first."""
    import refusalkit.targets
    import refusalkit.train.align
    import refusalkit.train.study
    import refusalkit.triggers.predictor

    def forbidden(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(refusalkit.targets, "load_target", forbidden)
    monkeypatch.setattr(refusalkit.train.align, "train_variant", forbidden)
    monkeypatch.setattr(refusalkit.train.study, "run_study", forbidden)
    monkeypatch.setattr(refusalkit.triggers.predictor, "select_and_fit", forbidden)


@pytest.fixture()
def paths(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    file = tmp_path / "file.txt"
    file.write_text("x")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        '{"text": "How do I bake bread?", "label": "benign"}\n{"text": "How do I prune roses?", "label": "benign"}\n',
        encoding="utf-8",
    )
    surrogate = tmp_path / "s.jsonl"
    surrogate.write_text(
        '{"text": "fine", "label": "benign"}\n{"text": "broken \\udc80 text", "label": "benign"}\n', encoding="utf-8"
    )
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("".join(json.dumps({"prompt": f"p {i}", "refused": i % 2}) + "\n" for i in range(8)))
    return {
        "folder": folder,
        "file": file,
        "prompts": prompts,
        "surrogate": surrogate,
        "labelled": labelled,
        "new": tmp_path / "new",
    }


CASES = [
    (["generate", "-m", "tiny-random", "hi", "--out", "{folder}"], "is a folder"),
    (["generate", "-m", "tiny-random", "hi", "--max-new-tokens", "0"], "--max-new-tokens must be at least 1, got 0"),
    (["generate", "-m", "tiny-random", "hi", "--max-new-tokens", "-3"], "--max-new-tokens must be at least 1, got -3"),
    (["generate", "-m", "tiny-random", "hi", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["generate", "-m", "tiny-random", "hi", "--temperature", "-1"], "--temperature must be at least 0, got -1"),
    (
        ["generate", "-m", "tiny-random", "--prompts", "{surrogate}"],
        "s.jsonl: row 2: column 'text': a lone surrogate (U+DC80)",
    ),
    (
        ["eval", "-m", "tiny-random", "--prompts", "{prompts}", "--out", "{new}", "--limit", "0"],
        "--limit must be a whole number of at least 1, got 0",
    ),
    (
        ["eval", "-m", "tiny-random", "--prompts", "{prompts}", "--out", "{new}", "--max-new-tokens", "0"],
        "--max-new-tokens must be at least 1",
    ),
    (["eval", "-m", "tiny-random", "--prompts", "{prompts}", "--out", "{file}"], "is a file; give a folder"),
    (
        ["eval", "-m", "tiny-random", "--prompts", "{surrogate}", "--out", "{new}"],
        "s.jsonl: row 2: column 'text': a lone surrogate",
    ),
    (
        ["eval", "-m", "tiny-random", "--prompts", "{prompts}", "--out", "{new}", "--with-run", "{folder}"],
        "is not a finished run folder",
    ),
    (
        ["eval", "-m", "tiny-random", "--prompts", "{prompts}", "--out", "{new}", "--steer", "{file}x:1.0"],
        "does not exist",
    ),
    (["demo", "--out", "{new}", "--limit", "0"], "--limit must be a whole number of at least 1, got 0"),
    (["compare", "{folder}", "{folder}", "--out", "{file}"], "is a file; give a folder"),
    (["judge-eval", "{labelled}", "--label-col", "refused", "--out", "{file}"], "is a file; give a folder"),
    (["predictor", "train", "--data", "{labelled}", "--out", "{folder}"], "is a folder"),
    (["predictor", "train", "--data", "{labelled}", "--out", "{new}", "--cv", "1"], "--cv must be at least 2, got 1"),
    (["predictor", "explain", "--model", "{new}", "--top", "0"], "--top must be at least 1, got 0"),
    (
        ["evolve", "-m", "tiny-random", "--suite", "core", "--out", "{new}", "--generations", "0"],
        "--generations must be at least 1, got 0",
    ),
    (["evolve", "-m", "tiny-random", "--suite", "core", "--out", "{file}"], "is a file; give a folder"),
    (
        ["evolve", "-m", "tiny-random", "--suite", "core", "--out", "{new}", "--fitness", "vibes"],
        "unknown --fitness 'vibes'",
    ),
    (
        ["evolve", "-m", "tiny-random", "--suite", "core", "--out", "{new}", "--rewriter", "llm"],
        "--rewriter llm needs a rewriter model",
    ),
    (["directions", "-m", "tiny-random", "--out", "{file}"], "is a file; give a folder"),
    (
        ["steer", "-m", "tiny-random", "--directions", "{new}", "--n", "0", "--out", "{new}"],
        "--n must be at least 1, got 0",
    ),
    (["steer", "-m", "tiny-random", "--directions", "{new}", "--out", "{new}"], "--directions {new} does not exist"),
    (
        ["cliff", "-m", "tiny-random", "--max-new-tokens", "0", "--out", "{new}"],
        "--max-new-tokens must be at least 1, got 0",
    ),
    (
        ["heads", "-m", "tiny-random", "--directions", "{file}", "--k", "0", "--out", "{new}"],
        "--k must be at least 1, got 0",
    ),
    (["align", "--out", "{new}", "--lr", "0"], "--lr must be above 0, got 0.0"),
    (["align", "--out", "{file}"], "is a file; give a folder"),
    (["mitigate", "--method", "generic", "--out", "{new}", "--rank", "0"], "--rank must be at least 1, got 0"),
    (["triggers", "--out", "{new}", "--limit", "0"], "--limit must be at least 1, got 0"),
    (["study", "--out", "{new}", "--limit", "0"], "--limit must be at least 1, got 0"),
    (
        ["study", "--out", "{new}", "--look-alikes", "some"],
        "--look-alikes must be one of all, paired, partnered, got 'some'",
    ),
    (["study", "--out", "{new}", "--preference", "-1"], "--preference must be at least 0, got -1.0"),
    (
        ["study", "--out", "{new}", "--refusal-tokens", "single", "--preference", "1"],
        "--preference does not train refusal tokens",
    ),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_bad_arguments_fail_before_any_work(no_work, paths, args, message):
    res = CliRunner().invoke(app, [a.format(**paths) for a in args])
    assert res.exit_code != 0
    assert isinstance(res.exception, RefusalkitError), repr(res.exception)
    assert message.format(**paths) in str(res.exception) and "\n" not in str(res.exception)


def test_generation_settings_are_checked_where_they_are_made():
    for bad in (dict(max_new_tokens=0), dict(batch_size=-1), dict(temperature=-0.5), dict(top_p=0), dict(top_p=1.5)):
        with pytest.raises(RefusalkitError):
            GenParams(**bad)
    assert GenParams(max_new_tokens=1, temperature=0, top_p=1).max_new_tokens == 1
