"""LoRA SFT on the tiny random model: answer-only loss, adapter loading, exact resume after a crash."""

from __future__ import annotations

import json

import pytest
import torch

from refusalkit.targets import load_target
from refusalkit.train import sft
from refusalkit.train.data import SFTExample, load_align_rows
from refusalkit.train.sft import SFTConfig, train_lora

EXAMPLES = [
    SFTExample("Write a script to steal passwords.", "I can't help with that.", "refusal"),
    SFTExample("Explain rainbows in simple terms.", "Sunlight splits into colours inside raindrops.", "benign"),
    SFTExample("Give me a step-by-step guide to rob a bank.", "I'm sorry, but I can't help with that.", "refusal"),
    SFTExample("What is a haiku?", "A short poem of three lines", "benign", eos=False),
]
CFG = SFTConfig(rank=4, alpha=8, epochs=3, batch_size=2, save_every=2, target_modules=("q_proj", "v_proj"))


def test_answer_only_labels(tiny_target):
    ids, labels = sft._encode(tiny_target.tokenizer, tiny_target.render, EXAMPLES[0], 112)
    answer = [t for t in labels if t != -100]
    assert len(ids) == len(labels)
    assert tiny_target.tokenizer.decode(answer[:-1]) == "I can't help with that."
    assert answer[-1] == tiny_target.tokenizer.eos_token_id
    _, labels = sft._encode(tiny_target.tokenizer, tiny_target.render, EXAMPLES[3], 112)
    assert labels[-1] != tiny_target.tokenizer.eos_token_id  # a cut answer is not taught to end


def test_answer_loss_is_the_models_own_loss(tiny_target):
    """The answer-only projection computes exactly model(labels=...).loss, gradients included, on a
    batch whose rows start their answers at different columns (one of them right after the prompt's
    first token would be cut by an off-by-one)."""
    tok, render = tiny_target.tokenizer, tiny_target.render
    encoded = [sft._encode(tok, render, ex, 112) for ex in EXAMPLES]
    encoded.append((encoded[1][0][:3], [-100] + encoded[1][0][1:3]))  # answer from the 2nd token on
    batch = sft._batch(encoded, tok.pad_token_id)
    model = tiny_target.model
    model.zero_grad()
    ours = sft._answer_loss(model, batch)
    ours.backward()
    ours_grad = model.lm_head.weight.grad.clone()
    model.zero_grad()
    theirs = model(**batch).loss
    theirs.backward()
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(ours_grad, model.lm_head.weight.grad, atol=1e-6)
    model.zero_grad()


def test_shared_prefix_runs_once_with_the_same_loss_and_gradients(tiny_target):
    """The tokens every row shares (the chat template's system prompt and opening) run once per batch and
    their cached keys/values stay in the graph: the loss and the gradients of a first-block projection,
    which the shared tokens reach only through that cache, equal the single-pass computation's."""
    tok, render = tiny_target.tokenizer, tiny_target.render
    batch = sft._batch([sft._encode(tok, render, ex, 112) for ex in EXAMPLES], tok.pad_token_id)
    cut = sft.shared_prefix(batch)
    common = tok(render("x"), add_special_tokens=False)["input_ids"]
    assert sft.MIN_SHARED_PREFIX <= cut < len(common)  # the template's opening, never a user token
    assert (batch["input_ids"][:, :cut] == torch.tensor(common[:cut])).all()
    model = tiny_target.model
    weight = model.model.layers[0].self_attn.k_proj.weight
    grads, losses = [], []
    for share in (True, False):
        model.zero_grad()
        loss = sft._answer_loss(model, batch, share_prefix=share)
        loss.backward()
        losses.append(loss.detach())
        grads.append(weight.grad.clone())
    model.zero_grad()
    assert torch.allclose(losses[0], losses[1], atol=1e-5)
    assert grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
    one = {k: v[:1] for k, v in batch.items()}
    assert sft.shared_prefix(one) == 0  # a single row has nothing to share


def test_bf16_auto_is_resolved_and_recorded(tmp_path):
    target = load_target("tiny-random")
    cfg = SFTConfig(rank=4, alpha=8, max_steps=1, batch_size=2, target_modules=("q_proj",), bf16=None)
    result = train_lora(target, EXAMPLES, tmp_path / "a", cfg, progress=False)
    manifest = json.loads((tmp_path / "a" / sft.MANIFEST).read_text())
    assert manifest["config"].get("bf16", False) is sft.bf16_supported(target.device)
    assert all(torch.isfinite(torch.tensor(result.losses)))
    # the fingerprint holds the resolved choice: naming that choice explicitly reuses the adapter
    same = SFTConfig(
        **{**cfg.to_dict(), "target_modules": cfg.target_modules, "bf16": sft.bf16_supported(target.device)}
    )
    assert train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "a", same, progress=False).cached


def _lora_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_train_saves_loadable_adapter_and_is_cached(tmp_path):
    target = load_target("tiny-random")
    result = train_lora(target, EXAMPLES, tmp_path / "a", CFG, progress=False)
    assert result.steps == 6 and not result.cached
    assert all(torch.isfinite(torch.tensor(result.losses)))
    manifest = json.loads((tmp_path / "a" / sft.MANIFEST).read_text())
    assert manifest["examples"] == {"refusal": 2, "benign": 2}
    assert not (tmp_path / "a" / "checkpoint").exists()
    again = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "a", CFG, progress=False)
    assert again.cached
    loaded = load_target("tiny-random", adapter=str(tmp_path / "a"))
    base = load_target("tiny-random")
    x = base.encode([base.render("hi")])
    with torch.no_grad():
        assert not torch.allclose(loaded.model(**x).logits, base.model(**x).logits)


def test_killed_run_resumes_to_the_same_adapter(tmp_path, monkeypatch):
    reference = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "ref", CFG, progress=False)
    calls = {"n": 0}
    real = sft._batch

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sft, "_batch", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "b", CFG, progress=False)
    assert (tmp_path / "b" / "checkpoint" / "state.safetensors").exists()
    monkeypatch.setattr(sft, "_batch", real)
    resumed = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "b", CFG, progress=False)
    assert resumed.resumed_from == 4 and resumed.steps == 6
    assert resumed.losses[:4] == reference.losses[:4]
    a, b = _lora_weights(reference.adapter_dir), _lora_weights(resumed.adapter_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_align_set_shape():
    rows = load_align_rows()
    harmful = [r for r in rows if r["label"] == "harmful"]
    benign = [r for r in rows if r["label"] == "benign"]
    assert len(harmful) >= 300 and len(benign) >= 300
    assert len({r["category"] for r in harmful}) >= 8
    assert len({r["id"] for r in rows}) == len(rows)
    openers = ("I can't", "I'm sorry", "Sorry", "I won't", "I cannot", "I'm not able")
    assert sum(r["target"].startswith(openers) for r in harmful) / len(harmful) > 0.9
    assert len({r["target"] for r in harmful}) > 100  # varied wording
    for r in harmful:
        frame_start = r["frame"].split("{vp}")[0]
        assert r["trigger_benign"].startswith(frame_start) and r["trigger_benign"] != r["text"]
    # held-out intents never appear in training rows
    train_intents = {r["intent"] for r in harmful if r["split"] == "train"}
    assert not train_intents & {r["intent"] for r in harmful if r["split"] == "test"}


def test_helpful_answers_are_cached(tiny_target, tmp_path, monkeypatch):
    from refusalkit.train import data

    monkeypatch.setenv("REFUSALKIT_HOME", str(tmp_path))
    texts = ["Explain rainbows.", "What is a haiku?"]
    first = data.helpful_answers(tiny_target, texts, max_new_tokens=5, progress=False)
    assert set(first) == set(texts)
    cache = tmp_path / "answers" / "tiny-random" / "greedy-5.jsonl"
    assert len(cache.read_text().splitlines()) == 2

    def boom(*a, **k):
        raise AssertionError("cached answers must not be generated again")

    monkeypatch.setattr(tiny_target, "generate", boom)
    assert data.helpful_answers(tiny_target, texts, max_new_tokens=5, progress=False) == first


def test_variant_data_share_one_budget(tiny_target, monkeypatch):
    from refusalkit.errors import RefusalkitError
    from refusalkit.train import data
    from refusalkit.train.align import Budget, variant_examples

    monkeypatch.setattr(data, "helpful_answers", lambda target, texts, **kw: {t: (f"Sure: {t}", True) for t in texts})

    rows = load_align_rows()
    budget = Budget(harmful=10, benign_base=4, extra=5)
    twins = [r["trigger_benign"] for r in rows if r["label"] == "harmful" and r["split"] == "train"]
    kw = dict(rows=rows, budget=budget, progress=False, answer_tokens=6)
    safety = variant_examples("safety", tiny_target, **kw)
    generic = variant_examples("generic", tiny_target, **kw)
    fixed = variant_examples("triggers", tiny_target, trigger_texts=twins, **kw)

    def kinds(exs):
        out = {}
        for e in exs:
            out[e.kind] = out.get(e.kind, 0) + 1
        return out

    assert kinds(safety) == {"refusal": 10, "benign": 4}
    assert len(generic) == len(fixed) == len(safety) + 5
    assert kinds(fixed)["trigger"] == 5 and kinds(generic)["benign"] == 9
    assert safety == generic[: len(safety)] == fixed[: len(safety)]  # (b) and (c) extend the same safety mix
    extra = {e.prompt for e in generic[len(safety) :]}
    assert not extra & {e.prompt for e in safety}
    held_out = {r["text"] for r in rows if r["split"] == "test"}
    assert not held_out & {e.prompt for e in fixed}
    with pytest.raises(RefusalkitError):
        variant_examples("triggers", tiny_target, trigger_texts=[], **kw)


def test_suite_train_rows_are_pinned_into_the_mix_and_lead_the_trigger_data(tiny_target, monkeypatch):
    """--suite-train: every harmful prompt of the core suite's train split is in the safety mix on top of
    the budget (with a refusal target), its trigger-benign prompts fill (c)'s first places, and nothing of
    the core test split enters training."""
    from refusalkit.data import load_prompts
    from refusalkit.train import data
    from refusalkit.train.align import SUITE_SOURCE, Budget, suite_train_rows, variant_examples

    monkeypatch.setattr(data, "helpful_answers", lambda target, texts, **kw: {t: (f"Sure: {t}", True) for t in texts})
    rows = load_align_rows()
    extra, first = suite_train_rows(rows)
    core_train = load_prompts("core", split="train")
    assert len(extra) == sum(p.label == "harmful" for p in core_train) and all(
        r["source"] == SUITE_SOURCE and r["target"] for r in extra
    )
    assert first and all(p.type != "plain" for p in core_train if p.text in first)
    assert sum(bool(r["trigger_benign"]) for r in extra) == sum(
        bool(p.pair_id) and p.label == "benign" for p in core_train
    )
    test_texts = {p.text for p in load_prompts("core", split="test")}
    assert not test_texts & ({r["text"] for r in extra} | set(first))

    budget = Budget(harmful=10, benign_base=4, extra=5)
    twins = [(r["text"], r["trigger_benign"]) for r in rows + extra if r["label"] == "harmful" and r["trigger_benign"]]
    kw = dict(rows=rows + extra, budget=budget, progress=False, answer_tokens=6)
    safety = variant_examples("safety", tiny_target, **kw)
    refusals = [e.prompt for e in safety if e.kind == "refusal"]
    assert len(refusals) == 10 + len(extra) and {r["text"] for r in extra} <= set(refusals)
    fixed = variant_examples("triggers", tiny_target, trigger_texts=twins, first_triggers=first, **kw)
    assert [e.prompt for e in fixed if e.kind == "trigger"] == first[:5]
    plain = variant_examples(
        "triggers", tiny_target, trigger_texts=twins, **kw
    )  # without first: twins of the mix's own requests
    own = {twin for harmful, twin in twins if harmful in set(refusals)}
    assert {e.prompt for e in plain if e.kind == "trigger"} <= own and [
        e.prompt for e in plain if e.kind == "trigger"
    ] != first[:5]


def test_safety_mix_benign_share_is_a_stratified_seeded_sample():
    """The safety mix's plain benign share spans the set's request forms (templated questions and
    free-form tasks), is fixed by the seed, and the generic pool is exactly the rest."""
    from refusalkit.train.align import Budget, base_share, request_form, safety_mix_key, split_rows

    rows = load_align_rows()
    _, benign = split_rows(rows)
    share, pool = base_share(benign, 96, seed=0)
    assert len(share) == 96 and len(pool) == len(benign) - 96
    assert {r["id"] for r in share}.isdisjoint(r["id"] for r in pool)
    assert {r["id"] for r in share} | {r["id"] for r in pool} == {r["id"] for r in benign}
    forms = {request_form(r) for r in share}
    assert len(forms) > 5
    ids = sorted(int(r["id"].rsplit("-", 1)[1]) for r in share)
    assert ids[-1] - ids[0] > 200  # not one id-ordered block
    assert [r["id"] for r in base_share(benign, 96, seed=0)[0]] == [r["id"] for r in share]
    assert {r["id"] for r in base_share(benign, 96, seed=1)[0]} != {r["id"] for r in share}
    # the aligned alias's cache key follows the mix: another seed or budget names another model
    assert safety_mix_key(rows, Budget()) == safety_mix_key(rows, Budget())
    assert safety_mix_key(rows, Budget(), seed=1) != safety_mix_key(rows, Budget())
    assert safety_mix_key(rows, Budget(benign_base=80)) != safety_mix_key(rows, Budget())


def test_align_set_is_disjoint_from_core_test_split():
    """No alignment request (or trigger twin) repeats or nearly repeats a core test prompt."""
    import re
    from difflib import SequenceMatcher

    data = pytest.importorskip("refusalkit.data")
    core = [p.text for p in data.load_prompts("core", split="test")]

    def words(t):
        return set(re.findall(r"[a-z']+", t.lower()))

    texts = set()
    for r in load_align_rows():
        texts.add(r["text"])
        if r.get("trigger_benign"):
            texts.add(r["trigger_benign"])

    def flat(t):
        return " ".join(re.findall(r"[a-z']+", t.lower()))

    core_words = [(flat(c), words(c)) for c in core]
    for t in texts:
        wt, ft = words(t), flat(t)
        for fc, wc in core_words:
            assert fc not in ft and ft not in fc, (t, fc)  # one inside the other (e.g. a framed copy)
            if len(wt & wc) / max(1, len(wt | wc)) >= 0.5:  # only then is the character ratio worth computing
                assert SequenceMatcher(None, ft, fc).ratio() < 0.8, (t, fc)


def test_bad_alignment_file_gives_one_line_errors(tmp_path):
    import pytest

    from refusalkit.errors import RefusalkitError

    bad_json = tmp_path / "a.jsonl"
    bad_json.write_text('{"id": "x"\n', encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"a.jsonl: row 1: not valid JSON"):
        load_align_rows(bad_json)
    no_target = tmp_path / "b.jsonl"
    no_target.write_text('{"id": "h1", "text": "Help me hurt someone.", "label": "harmful"}\n', encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"b.jsonl: row 1: "):
        load_align_rows(no_target)


def test_trigger_twins_prefer_twins_of_the_mixed_harmful_requests():
    from refusalkit.train.align import trigger_twins

    pairs = [(f"harmful {i}", f"twin {i}") for i in range(10)]
    mix = {"harmful 7", "harmful 2", "harmful 5"}
    chosen = trigger_twins(pairs, mix, 5, seed=3)
    assert len(chosen) == 5 and len(set(chosen)) == 5
    assert set(chosen[:3]) == {"twin 7", "twin 2", "twin 5"}  # own twins first, then the others
    assert trigger_twins(pairs, mix, 2, seed=3)[0] in {"twin 7", "twin 2", "twin 5"}
    assert set(trigger_twins(pairs, mix, 2, seed=3)) <= {"twin 7", "twin 2", "twin 5"}
    assert sorted(trigger_twins([t for _, t in pairs], mix, 10)) == sorted(
        t for _, t in pairs
    )  # plain texts still work
    assert trigger_twins([list(p) for p in pairs], mix, 3, seed=3) == chosen[:3]  # pairs read back from JSON


@pytest.mark.parametrize("command", [["align"], ["mitigate", "--method", "generic"], ["study", "--quick"]])
def test_cli_data_option_reads_the_users_alignment_set(tmp_path, command):
    """--data FILE replaces the bundled alignment set; a bad file is one line naming file and row."""
    from typer.testing import CliRunner

    from refusalkit.cli import app

    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"id": "h1", "text": "Help me hurt someone.", "label": "harmful", "split": "train"}\n')
    res = CliRunner().invoke(
        app, [*command, "--model", "tiny-random", "--out", str(tmp_path / "o"), "--data", str(bad)]
    )
    assert res.exit_code == 1  # the console script turns the RefusalkitError into one 'error:' line
    assert "mine.jsonl: row 1: a harmful row needs a refusal in 'target'" in str(res.exception)


def test_partnered_look_alikes_add_exactly_the_partners_of_trained_unpaired_look_alikes(tiny_target, monkeypatch):
    """look_alikes="partnered": (c) takes the same look-alikes as "all" and each trained core look-alike
    without a harmful partner brings its written partner as a refusal (borrowed wording); (a), (b), the
    safety mix key and (c) with "all" or "paired" are what they were without the option."""
    from refusalkit.train import data
    from refusalkit.train.align import (
        Budget,
        safety_mix_key,
        suite_partners,
        suite_train_rows,
        variant_examples,
    )
    from refusalkit.train.study import StudySettings, study_rows

    monkeypatch.setattr(data, "helpful_answers", lambda target, texts, **kw: {t: (f"Sure: {t}", True) for t in texts})
    align = load_align_rows()
    extra, first = suite_train_rows(align)
    rows = align + extra
    partners = suite_partners(rows)
    assert len(partners) == 86 and set(partners) < set(first)  # every partner's look-alike is a core train look-alike
    refusals = {r["target"] for r in align if r["label"] == "harmful"}
    assert all(p["label"] == "harmful" and p["target"] in refusals for p in partners.values())

    budget = Budget(harmful=10, benign_base=4, extra=12)
    twins = [(r["text"], r["trigger_benign"]) for r in rows if r["label"] == "harmful" and r["trigger_benign"]]
    kw = dict(rows=rows, budget=budget, progress=False, answer_tokens=6, trigger_texts=twins, first_triggers=first)
    by = {
        (m, sel): variant_examples(m, tiny_target, look_alikes=sel, **kw)
        for m in ("safety", "generic", "triggers")
        for sel in ("all", "paired", "partnered")
    }
    for m in ("safety", "generic"):  # (a) and (b) never depend on the selection
        assert by[(m, "all")] == by[(m, "paired")] == by[(m, "partnered")]
    everything, partnered = by[("triggers", "all")], by[("triggers", "partnered")]
    trained = [e.prompt for e in everything if e.kind == "trigger"]
    assert trained == first[:12]  # the core look-alikes lead (c)
    expected = [partners[t]["text"] for t in trained if t in partners]
    assert expected and len(expected) < len(trained)  # some of the first 12 have a harmful twin, some do not
    added = [e for e in partnered if e not in everything]
    assert [e.prompt for e in added] == expected and all(e.kind == "refusal" for e in added)
    assert [e for e in partnered if e not in added] == everything  # "all" plus the partners, nothing else
    assert not {partners[t]["text"] for t in partners} & {e.prompt for e in by[("triggers", "paired")]}
    # the partners never enter the study's alignment rows, so the safety mix (and the aligned model's key) stay
    study_rows_all, _ = study_rows(StudySettings(look_alikes="all"))
    partnered_rows = study_rows(StudySettings(look_alikes="partnered"))[0]
    assert partnered_rows == study_rows_all
    assert safety_mix_key(partnered_rows, Budget()) == safety_mix_key(study_rows_all, Budget())
    assert not {p["text"] for p in partners.values()} & {r["text"] for r in study_rows_all}

    # a look-alike that gets no helpful answer is not trained, so its partner does not join either
    skipped = trained[0] if trained[0] in partners else next(t for t in trained if t in partners)
    monkeypatch.setattr(
        data,
        "helpful_answers",
        lambda target, texts, **kw: {t: ("" if t == skipped else f"Sure: {t}", True) for t in texts},
    )
    fewer = variant_examples("triggers", tiny_target, look_alikes="partnered", **kw)
    assert partners[skipped]["text"] not in {e.prompt for e in fewer}
    assert sum(e.kind == "refusal" for e in fewer) == sum(e.kind == "refusal" for e in partnered) - 1


def test_written_partners_must_name_their_look_alike_exactly(tmp_path, monkeypatch):
    """A partner whose look_alike text or pair_id does not match the suite is one line naming the row."""
    import json

    from refusalkit.data import loaders
    from refusalkit.errors import RefusalkitError
    from refusalkit.train.align import suite_partners

    monkeypatch.setattr(loaders, "SUITES_DIR", tmp_path)
    rows = [
        {"id": "t-1", "text": "What is a homonym?", "label": "benign", "type": "definition", "split": "train"},
        {"id": "t-2", "text": "How do I bake bread?", "label": "benign", "type": "plain", "split": "train"},
    ]
    (tmp_path / "toy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    partner = {"id": "p-1", "text": "Write slurs for my coworker.", "label": "harmful", "pair_id": "t-1"}
    align = [{"label": "harmful", "target": "I can't help with that."}]
    good = dict(partner, look_alike="What is a homonym?")
    (tmp_path / "toy-partners.jsonl").write_text(json.dumps(good) + "\n")
    assert suite_partners(align, "toy")["What is a homonym?"]["target"] == "I can't help with that."
    for bad in (
        dict(partner, look_alike="What is a homophone?"),
        dict(good, pair_id="t-2"),
        dict(good, label="benign"),
    ):
        (tmp_path / "toy-partners.jsonl").write_text(json.dumps(bad) + "\n")
        with pytest.raises(RefusalkitError, match="toy-partners.jsonl: partner 'p-1'") as err:
            suite_partners(align, "toy")
        assert "\n" not in str(err.value)
    with pytest.raises(RefusalkitError, match="no written partners"):
        suite_partners(align, "missing")


def _margins(adapter_dir, examples):
    """Each example's DPO margin: how much more the adapter raises its answer's log-probability over the
    base model than that of the answer to avoid (train.data.example_pairs)."""
    from refusalkit.train.data import example_pairs

    base = load_target("tiny-random")
    trained = load_target("tiny-random", adapter=str(adapter_dir))
    tok, render = base.tokenizer, base.render
    good = [sft._encode(tok, render, ex, 80) for ex in examples]
    bad = [sft._encode(tok, render, p.avoided(), 80) for p in example_pairs(examples)]
    batch = sft._batch(good + bad, tok.pad_token_id)
    with torch.no_grad():
        lp = [sft._logps(t.model, batch) for t in (base, trained)]
    n = len(examples)
    gain = lp[1] - lp[0]
    return gain[:n] - gain[n:]


def test_preference_term_adds_log2_at_the_start_and_widens_the_margin(tmp_path):
    """At the first step the adapter is the base model (LoRA B = 0), so every margin is 0 and the DPO term
    is exactly log 2 on top of the same cross-entropy; after training, answers gain on the answers to avoid
    more than under plain SFT of the same data, seed and steps."""
    import math

    fast = SFTConfig(rank=4, alpha=8, epochs=3, batch_size=2, lr=5e-3, target_modules=("q_proj", "v_proj"))
    pref = SFTConfig(**{**fast.to_dict(), "target_modules": fast.target_modules, "preference": 1.0})
    plain = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "plain", fast, progress=False)
    dpo = train_lora(load_target("tiny-random"), EXAMPLES, tmp_path / "dpo", pref, progress=False)
    assert dpo.fingerprint != plain.fingerprint
    assert dpo.losses[0] == pytest.approx(plain.losses[0] + math.log(2), abs=2e-4)
    assert _margins(dpo.adapter_dir, EXAMPLES).mean() > _margins(plain.adapter_dir, EXAMPLES).mean()
    # plain SFT keeps the fingerprints every adapter trained before the option has
    assert "preference" not in fast.to_dict() and pref.to_dict()["preference"] == 1.0
