"""scripts/make_real_batches.py: how labelled real answers are split into the judge corpus's batches."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "make_real_batches.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_real_batches", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _answer(i, variant, temperature, prompt_id="core-plain-1", adapter=None):
    return {
        "id": f"a{i}",
        "prompt": f"prompt {i}",
        "response": "Sure, here it is.",
        "model": "smollm2-135m",
        "variant": variant,
        "steer": None,
        "adapter": adapter,
        "temperature": temperature,
        "system_prompt": "none",
        "max_new_tokens": 64,
        "seed": 1,
        "finish_reason": "stop",
        "prompt_id": prompt_id,
        "prompt_group": "plain",
        "cell": "c",
    }


def test_finish_holds_out_a_variant_whole_and_the_blind_temperature(tmp_path):
    mod = _script()
    answers = [
        _answer(0, "safety", 0.0, adapter="LoRA adapter safety (refusalkit training fingerprint abc)"),
        _answer(1, "safety", 1.0),
        _answer(2, "generic", 0.0),
        _answer(3, "generic", 0.7),
        _answer(4, "safety", 0.7),
    ]
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    (tmp_path / "labels.jsonl").write_text(
        "".join(json.dumps({"id": a["id"], "label": "compliance"}) + "\n" for a in answers)
    )
    args = argparse.Namespace(
        answers=tmp_path / "answers.jsonl",
        labels=tmp_path / "labels.jsonl",
        out_dir=tmp_path,
        name="real_x",
        blind_temperature=1.0,
        blind_variant=["generic"],
    )
    mod.finish(args)
    blind = [json.loads(line) for line in (tmp_path / "real_x_blind.jsonl").read_text().splitlines()]
    rest = [json.loads(line) for line in (tmp_path / "real_x.jsonl").read_text().splitlines()]
    assert sorted(r["prompt"] for r in blind) == [
        "prompt 1",
        "prompt 2",
        "prompt 3",
    ]  # generic whole, and safety at t=1.0
    assert {r["split"] for r in blind} == {"blind_real"} and {r["split"] for r in rest} <= {"train", "dev_real"}
    assert next(r for r in rest if r["prompt"] == "prompt 0")["adapter"].endswith(
        "abc)"
    )  # the adapter's provenance is kept


def test_adapter_variants_need_an_adapter_folder(tmp_path):
    import pytest

    mod = _script()
    (tmp_path / "ad").mkdir()
    with pytest.raises(SystemExit, match="NAME=DIR"):
        mod.variants(None, 1.5, [f"x={tmp_path / 'ad'}"])
    (tmp_path / "ad" / "adapter_config.json").write_text("{}")
    assert mod.variants(None, 1.5, [f"x={tmp_path / 'ad'}"])["x"] == ("smollm2-135m", None, str(tmp_path / "ad"))


def _finish(mod, tmp_path, answers, blind_variant=None):
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
    (tmp_path / "labels.jsonl").write_text(
        "".join(json.dumps({"id": a["id"], "label": "compliance"}) + "\n" for a in answers)
    )
    args = argparse.Namespace(
        answers=tmp_path / "answers.jsonl",
        labels=tmp_path / "labels.jsonl",
        out_dir=tmp_path,
        name="real_x",
        blind_temperature=1.0,
        blind_variant=blind_variant,
    )
    mod.finish(args)


def test_finish_with_no_blind_answers_writes_no_blind_file(tmp_path):
    """A training-only batch (no answer at the blind temperature, no held-out variant) writes its one file
    and leaves no empty ``_blind`` file behind for the corpus builder to pick up."""
    mod = _script()
    _finish(mod, tmp_path, [_answer(0, "base", 0.0), _answer(1, "base", 0.7)])
    assert not (tmp_path / "real_x_blind.jsonl").exists()
    assert len((tmp_path / "real_x.jsonl").read_text().splitlines()) == 2


def test_finish_keeps_answers_with_line_separator_characters(tmp_path):
    """JSONL is split on newlines only: an answer holding U+2028 (which str.splitlines also splits on)
    is read back whole."""
    mod = _script()
    a = _answer(0, "base", 0.0)
    a["response"] = "First line\u2028second line."
    _finish(mod, tmp_path, [a])
    rows = [json.loads(line) for line in (tmp_path / "real_x.jsonl").read_text().split("\n") if line]
    assert [r["response"] for r in rows] == ["First line\u2028second line."]


def test_steered_adapter_variants(tmp_path):
    """--steer-adapter NAME=FILE:MODE adds adapter variant NAME with the refusal direction ablated or added."""
    import pytest

    mod = _script()
    (tmp_path / "ad").mkdir()
    (tmp_path / "ad" / "adapter_config.json").write_text("{}")
    table = mod.variants(None, 1.5, [f"s={tmp_path / 'ad'}"], ["s=dirs.safetensors:ablate", "s=dirs.safetensors:2"])
    assert table["s+ablate"] == ("smollm2-135m", "dirs.safetensors:ablate", str(tmp_path / "ad"))
    assert table["s+add2"] == ("smollm2-135m", "dirs.safetensors:2", str(tmp_path / "ad"))
    with pytest.raises(SystemExit, match="--adapter variant"):
        mod.variants(None, 1.5, [], ["base=dirs.safetensors:ablate"])  # not an adapter variant


def test_finish_leaves_out_answers_another_batch_already_holds(tmp_path):
    """The corpus keeps a response where it first occurs: an answer whose text another batch holds would
    otherwise take that row out of its split (or add nothing), so finish leaves it out."""
    mod = _script()
    (tmp_path / "test4.jsonl").write_text(json.dumps({"response": "The capital of Australia is Canberra."}) + "\n")
    a, b = _answer(0, "base", 0.0), _answer(1, "base", 0.0)
    a["response"] = "The capital of Australia is Canberra."
    _finish(mod, tmp_path, [a, b])
    rows = [json.loads(line) for line in (tmp_path / "real_x.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["prompt 1"]
