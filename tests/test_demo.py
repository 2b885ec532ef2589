"""`refusalkit demo` and its shipped adapters: int8 storage, the builder, the sha256 check, the comparison."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import refusalkit.targets.demo as demo_mod
from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.targets.demo import (
    DEMO_DIR,
    FORMAT,
    demo_adapter,
    dequantise,
    file_sha256,
    pack,
    quantise,
    read_manifest,
    unpack,
)

ROOT = Path(__file__).resolve().parents[1]


def _builder():
    spec = importlib.util.spec_from_file_location("build_demo_adapters", ROOT / "scripts" / "build_demo_adapters.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("shape, size", [((16, 576), 0.02), ((1536, 16), 0.003), ((8, 3, 5), 1.0)])
def test_quantise_round_trip_is_close(shape, size):
    torch.manual_seed(0)
    t = torch.randn(shape) * size
    t[1] = 0  # an all-zero row stays exactly zero
    q, scale = quantise(t)
    assert q.dtype == torch.int8 and scale.dtype == torch.float16 and q.shape == t.shape and scale.shape == (shape[0],)
    back = dequantise(q, scale)
    assert back.dtype == torch.float32 and back.shape == t.shape
    assert torch.equal(back[1], torch.zeros_like(back[1]))
    rows, err = t.reshape(shape[0], -1), (back - t).reshape(shape[0], -1).abs()
    # each value is off by at most half a step, and a step is the row's largest magnitude / 127 rounded up
    # to a float16 (relative spacing 2**-10, absolute 2**-24 below the smallest normal float16)
    assert (err <= scale.float()[:, None] / 2 * (1 + 1e-6)).all()
    assert (scale.float() <= rows.abs().amax(1) / 127 * (1 + 2**-10) + 2**-24).all()
    assert float((back - t).norm() / t.norm()) < 0.01


def test_pack_and_unpack_keep_every_tensor_by_name():
    torch.manual_seed(1)
    state = {"a.lora_A.weight": torch.randn(4, 32), "a.lora_B.weight": torch.randn(32, 4) * 0.01}
    packed = pack(state)
    assert set(packed) == {"a.lora_A.weight.q", "a.lora_A.weight.scale", "a.lora_B.weight.q", "a.lora_B.weight.scale"}
    back = unpack(packed)
    assert set(back) == set(state)
    for k in state:
        assert float((back[k] - state[k]).norm() / state[k].norm()) < 0.01
    with pytest.raises(RefusalkitError, match=FORMAT):
        unpack({"a.lora_A.weight": state["a.lora_A.weight"]})


def _fake_adapter(folder: Path, seed: int, base: str = "tiny-random") -> None:
    """A finished LoRA adapter folder of tiny-random, as `refusalkit study` leaves it (random weights)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from refusalkit.targets.bundled import ensure_tiny_random

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(ensure_tiny_random())
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    get_peft_model(model, config).save_pretrained(folder)
    (folder / "refusalkit-train.json").write_text(
        json.dumps(
            {
                "fingerprint": f"{seed:016x}",
                "base": base,
                "config": {"rank": 4, "alpha": 8},
                "steps": 3,
                "examples": {"refusal": 5},
                "final_loss": 1.5,
                "losses": [2.0, 1.7, 1.5],
            }
        )
    )


@pytest.fixture(scope="module")
def fake_study(tmp_path_factory):
    study = tmp_path_factory.mktemp("study")
    for seed, name in enumerate(("safety", "triggers"), 1):
        _fake_adapter(study / "adapters" / name, seed)
    (study / "study.json").write_text(
        json.dumps({"model": "tiny-random", "settings": {"model": "tiny-random", "max_new_tokens": 32}})
    )
    run = study / "runs" / "safety"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(
        json.dumps(
            {
                "run": {
                    "target": "tiny-random+safety-00000001",
                    "detector": "learned@x",
                    "params": {"max_new_tokens": 32},
                    "n_prompts": 9,
                }
            }
        )
    )
    return study


@pytest.fixture()
def shipped(fake_study, tmp_path, monkeypatch):
    """The fake study built into a folder that stands in for the package data, and a fresh
    REFUSALKIT_HOME for the dequantised copies (sharing the converted models and detectors)."""
    from refusalkit.paths import home as shared_home
    from refusalkit.targets.bundled import ensure_tiny_random

    out = tmp_path / "adapters"
    _builder().build(fake_study, out)
    monkeypatch.setattr(demo_mod, "DEMO_DIR", out)
    ensure_tiny_random()
    shared, home = shared_home(), tmp_path / "home"
    home.mkdir()
    for part in ("models", "judge"):
        (shared / part).mkdir(exist_ok=True)
        os.symlink(shared / part, home / part)
    monkeypatch.setenv("REFUSALKIT_HOME", str(home))
    return out


def test_builder_writes_a_manifest_of_what_it_shipped(fake_study, tmp_path):
    out = tmp_path / "out"
    manifest = _builder().build(fake_study, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "demo-safety.safetensors",
        "demo-triggers.safetensors",
        "demo.json",
    ]
    assert json.loads((out / "demo.json").read_text()) == manifest
    assert manifest["base"] == "tiny-random" and manifest["format"] == FORMAT
    assert manifest["study_settings"] == {"model": "tiny-random", "max_new_tokens": 32}
    for seed, name in enumerate(("safety", "triggers"), 1):
        a = manifest["adapters"][name]
        assert a["sha256"] == file_sha256(out / a["file"]) and a["fingerprint"] == f"{seed:016x}"
        assert "losses" not in a["train"] and a["train"]["steps"] == 3
        assert a["adapter_config"]["base_model_name_or_path"] == "tiny-random" and a["adapter_config"]["r"] == 4
        assert a["source_sha256"] == file_sha256(fake_study / "adapters" / name / "adapter_model.safetensors")
        original = load_file(fake_study / "adapters" / name / "adapter_model.safetensors")
        assert a["parameters"] == sum(t.numel() for t in original.values())
        assert 0 < a["relative_error"] < 0.01
        stored = load_file(out / a["file"])
        assert all(stored[f"{k}.q"].dtype == torch.int8 for k in original)
    assert manifest["adapters"]["safety"]["evaluated_with"]["target"] == "tiny-random+safety-00000001"
    assert manifest["adapters"]["triggers"]["evaluated_with"] is None


def test_builder_rerun_on_the_same_study_gives_the_same_bytes(fake_study, tmp_path):
    builder = _builder()
    builder.build(fake_study, tmp_path / "first")
    builder.build(fake_study, tmp_path / "second")
    names = sorted(p.name for p in (tmp_path / "first").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "second").iterdir())
    for n in names:
        assert (tmp_path / "first" / n).read_bytes() == (tmp_path / "second" / n).read_bytes(), n
    assert builder.check(fake_study, tmp_path / "first") == []
    assert builder.main(["--study", str(fake_study), "--out", str(tmp_path / "first"), "--check"]) == 0
    with open(tmp_path / "first" / "demo-triggers.safetensors", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    assert builder.check(fake_study, tmp_path / "first") == ["demo-triggers.safetensors"]
    assert builder.main(["--study", str(fake_study), "--out", str(tmp_path / "first"), "--check"]) == 1


def test_builder_refuses_an_unfinished_study(tmp_path):
    (tmp_path / "adapters" / "safety" / "checkpoint").mkdir(parents=True)
    with pytest.raises(RefusalkitError, match=r"study.json is missing: ship adapters of a finished study"):
        _builder().build(tmp_path, tmp_path / "out")
    (tmp_path / "study.json").write_text(json.dumps({"settings": {}}))
    with pytest.raises(RefusalkitError, match=r"safety is not a finished adapter \(missing adapter_model.safetensors"):
        _builder().build(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_demo_adapter_dequantises_once_into_a_loadable_folder(shipped):
    folder = demo_adapter("safety")
    sha = read_manifest()["adapters"]["safety"]["sha256"]
    assert (
        folder.name == f"demo-safety-{sha[:12]}" and folder.parent == Path(os.environ["REFUSALKIT_HOME"]) / "adapters"
    )
    weights = load_file(folder / "adapter_model.safetensors")
    assert weights.keys() == unpack(load_file(shipped / "demo-safety.safetensors")).keys()
    assert all(t.dtype == torch.float32 for t in weights.values())
    stamp = (folder / "adapter_model.safetensors").stat().st_mtime_ns
    assert demo_adapter("safety") == folder and (folder / "adapter_model.safetensors").stat().st_mtime_ns == stamp

    from refusalkit.targets import load_target

    base, tuned = load_target("tiny-random"), load_target("tiny-random", adapter=str(folder))
    assert tuned.id == f"tiny-random+demo-safety-{sha[:12]}"
    changed = [k for k, v in tuned.model.state_dict().items() if not torch.equal(v, base.model.state_dict()[k])]
    assert changed and all(any(m in k for m in ("q_proj", "v_proj", "down_proj")) for k in changed)


def test_a_changed_or_missing_shipped_file_is_one_line(shipped):
    with open(shipped / "demo-safety.safetensors", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(RefusalkitError) as err:
        demo_adapter("safety")
    assert "does not match demo.json" in str(err.value) and "\n" not in str(err.value)
    (shipped / "demo-triggers.safetensors").unlink()
    with pytest.raises(RefusalkitError, match="demo-triggers.safetensors is missing"):
        demo_adapter("triggers")
    with pytest.raises(RefusalkitError, match="no demo adapter 'other'"):
        demo_adapter("other")


def test_demo_command_stops_on_a_tampered_adapter_before_any_model_loads(shipped, tmp_path, monkeypatch):
    import refusalkit.targets

    def forbidden(*a, **k):
        raise AssertionError("a model loaded before the shipped adapters were checked")

    monkeypatch.setattr(refusalkit.targets, "load_target", forbidden)
    (shipped / "demo-triggers.safetensors").write_bytes(b"changed")
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "run"), "--limit", "3"])
    assert isinstance(res.exception, RefusalkitError), repr(res.exception)
    assert "demo-triggers.safetensors does not match demo.json" in str(res.exception) and "\n" not in str(res.exception)
    assert not (tmp_path / "run").exists()


def test_demo_compares_base_and_both_adapters(shipped, tmp_path, monkeypatch):
    """The demo's plumbing on tiny-random with the fake study's adapters: three runs, one comparison.
    tiny-random's answers are noise (often special tokens that decode to nothing, which every detector
    leaves unscored), so each answer is replaced by a fixed text: a compliance from the base model, a
    refusal with an adapter."""
    from dataclasses import replace

    from refusalkit.targets.hf import HFTarget

    original = HFTarget.generate

    def generate(self, prompts, params=None, **kw):
        text = "Sorry, I can't help with that." if "+demo-" in self.id else "Sure, here is how to do it."
        return [replace(r, text=text) for r in original(self, prompts, params, **kw)]

    monkeypatch.setattr(HFTarget, "generate", generate)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--limit", "3"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    _check_demo_output(out, read_manifest(), 3, res.output)
    comparison = json.loads((out / "compare.json").read_text())
    assert [c["counts"]["newly_refused"] for c in comparison["comparisons"]] == [3, 3]


def _check_demo_output(out: Path, manifest: dict, n: int, console: str) -> None:
    from refusalkit.run import load_run

    shas = {name: a["sha256"][:12] for name, a in manifest["adapters"].items()}
    targets = {
        "base": manifest["base"],
        **{name: f"{manifest['base']}+demo-{name}-{sha}" for name, sha in shas.items()},
    }
    for name, target in targets.items():
        summary, rows = load_run(out / "runs" / name)
        assert summary["run"]["target"] == target and len(rows) == n
        assert summary["run"]["params"]["max_new_tokens"] == 32 and summary["run"]["params"]["batch_size"] == 64
    comparison = json.loads((out / "compare.json").read_text())
    assert comparison["baseline"] == "base (unaligned)"
    assert [c["run"] for c in comparison["comparisons"]] == ["(a) safety SFT", "(c) + trigger-aware"]
    html = (out / "compare.html").read_text()
    for a in manifest["adapters"].values():
        assert a["fingerprint"] in html and a["fingerprint"] in console
    assert "These are the bundled model" in html and "trigger-benign refused" in console


@pytest.mark.integration
def test_demo_on_the_bundled_model_with_the_shipped_adapters(tmp_path):
    manifest = read_manifest(DEMO_DIR)
    assert manifest["base"] == "smollm2-135m"
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--limit", "6"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    _check_demo_output(out, manifest, 6, res.output)


def test_the_shipped_adapters_match_their_manifest():
    manifest = read_manifest(DEMO_DIR)
    assert manifest["base"] == "smollm2-135m" and manifest["format"] == FORMAT
    assert set(manifest["adapters"]) == {"safety", "triggers"}
    for name, a in manifest["adapters"].items():
        path = DEMO_DIR / a["file"]
        assert file_sha256(path) == a["sha256"], f"{path} changed: rebuild with scripts/build_demo_adapters.py"
        assert a["adapter_config"]["r"] == a["train"]["config"]["rank"]
        assert a["bytes"] == path.stat().st_size < 8_000_000
        assert a["relative_error"] < 0.02
