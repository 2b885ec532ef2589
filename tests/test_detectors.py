"""The detector registry (capabilities, saved files, CLI help), WildGuard through any target and
Hugging Face sequence classifiers built here from a config (no hub)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from fakes import FakeTarget
from typer.testing import CliRunner

from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.judge import (
    base,
    detector_spec,
    detector_specs,
    load_detector,
    resolve_detector,
)
from refusalkit.types import GenParams, Prompt, Response, Verdict

JUDGE_DIR = Path(__file__).resolve().parents[1] / "src" / "refusalkit" / "judge"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- the registry ----------------------------------------------------------------------------------
def test_every_detector_is_registered_once_with_its_capabilities():
    import refusalkit.judge as judges
    import refusalkit.run as run_pkg

    specs = {s.name: s for s in detector_specs()}
    assert {"prefix", "pattern", "learned", "ensemble", "first-token", "llm", "wildguard", "hf:"} <= set(specs)
    assert all(s.help for s in specs.values())
    assert specs["first-token"].needs_target and specs["first-token"].whitebox and specs["first-token"].needs_prompts
    assert specs["llm"].needs_target and not specs["llm"].whitebox
    assert specs["wildguard"].needs_target and specs["wildguard"].own_model
    assert specs["ensemble"].takes_target and not specs["ensemble"].needs_target
    assert [s.name for s in specs.values() if s.early_stop] == ["prefix", "pattern"]
    # no parallel name lists left
    assert not hasattr(judges, "NEEDS_TARGET") and not hasattr(run_pkg, "EARLY_STOP_JUDGES")


def test_judge_base_and_common_import_no_cycle():
    """common.py (shared rules) must not import base.py (protocol and registry), which imports it."""

    def judge_imports(path: Path) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.add(node.module or "")
        return found

    assert "common" in judge_imports(JUDGE_DIR / "base.py")
    assert "base" not in judge_imports(JUDGE_DIR / "common.py")


class _Loud:
    name = "loud"

    def __init__(self, target=None):
        self.target = target

    def judge(self, responses, prompts=None):
        return [Verdict("full_refusal", 1.0, self.name, "") for _ in responses]


def test_a_new_detector_is_one_registration(monkeypatch, tmp_path):
    """Registering declares everything: early stop, the model it needs, what eval may build."""
    from refusalkit.run import early_stop_default
    from refusalkit.run.evaluate import partial_reader

    monkeypatch.setitem(base._REGISTRY, "loud", base.DetectorSpec("loud", _Loud, help="x", early_stop=True))
    assert early_stop_default(load_detector("loud")) is True
    assert partial_reader(load_detector("loud")).name == "loud"
    monkeypatch.setitem(base._REGISTRY, "loud", base.DetectorSpec("loud", _Loud, help="x", target="required"))
    assert early_stop_default(_Loud()) is False
    assert partial_reader(_Loud(target=object())).name == "prefix"  # a model-reading judge: the cheap reader
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "response": "r"}])
    res = run("judge", src, "--out", tmp_path / "o.jsonl", "--detector", "loud")
    assert res.exit_code != 0 and "the loud detector needs --model" in str(res.exception)
    res = run("judge", src, "--out", tmp_path / "o.jsonl", "--detector", "pattern", "--model", "tiny-random")
    assert "reads no model" in str(res.exception)
    res = run("judge", src, "--out", tmp_path / "o.jsonl", "--detector", "pattern", "--label-map", "a=compliance")
    assert "--label-map does not apply to the pattern detector" in str(res.exception)


def test_cli_help_lists_the_registered_detectors():
    res = run("judge", "label", "--help")  # `judge FILE` runs `judge label FILE`
    text = " ".join(res.output.split())
    for name in ("learned (default)", "wildguard (needs --model)", "hf:ORG/NAME", "saved detector file"):
        assert name.replace(" ", "") in text.replace(" ", "").replace("│", "")
    # eval's --model is the model under test: judges that need their own model are not offered there
    eval_help = run("eval", "--help").output
    assert "hf:ORG/NAME" in eval_help.replace(" ", "").replace("│", "") and "wildguard" not in eval_help


def test_unknown_names_and_paths_are_one_line(tmp_path):
    with pytest.raises(RefusalkitError, match="unknown detector 'nope'; choose one of: prefix"):
        resolve_detector("nope")
    with pytest.raises(RefusalkitError, match="does not exist"):
        resolve_detector(str(tmp_path / "gone.joblib"))
    (tmp_path / "junk.joblib").write_text("not a model")
    with pytest.raises(RefusalkitError, match="cannot load detector from"):
        resolve_detector(str(tmp_path / "junk.joblib"))
    from refusalkit.persist import save_fitted

    save_fitted({"weights": [1.0]}, tmp_path / "other.rkmodel", kind="someone.else")
    with pytest.raises(RefusalkitError, match="kind 'someone.else' that no registered detector loads"):
        load_detector(str(tmp_path / "other.rkmodel"))
    import joblib  # a pickle is refused before anything in it is loaded

    joblib.dump({"kind": "refusalkit.learned"}, tmp_path / "old.joblib")
    with pytest.raises(RefusalkitError, match="pickles, are no longer read"):
        load_detector(str(tmp_path / "old.joblib"))
    with pytest.raises(RefusalkitError, match="needs a model after it"):
        resolve_detector("hf:")
    assert detector_spec("not registered") is None


@pytest.fixture(scope="module")
def saved_learned(tmp_path_factory):
    from refusalkit.judge.learned import LearnedDetector

    texts = [
        "I'm sorry, but I can't help with that.",
        "I won't do that.",
        "No, I cannot assist.",
        "Sure, here is how: open the menu.",
        "The capital of France is Paris.",
        "Mix flour and water, then bake.",
        "I can't give doses, but in general ask a pharmacist.",
    ] * 3
    labels = (["full_refusal"] * 3 + ["compliance"] * 3 + ["partial_refusal"]) * 3
    det = LearnedDetector(pipeline=object()).fit(texts, labels)
    path = tmp_path_factory.mktemp("det") / "mine.joblib"
    det.save(path)
    return path


def test_saved_detector_file_goes_through_the_registry(saved_learned, tmp_path):
    from refusalkit.run import evaluate

    spec, kwargs = resolve_detector(str(saved_learned))
    assert spec.name == "learned" and kwargs == {"path": str(saved_learned)}
    det = load_detector(str(saved_learned))
    assert det.name == "learned" and det.version  # keyed by the file's hash in run stores
    # `refusalkit judge --detector PATH`
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [{"response": "I'm sorry, but I can't help with that."}, {"response": "Paris is the capital."}],
    )
    res = run("judge", src, "--out", tmp_path / "o.jsonl", "--detector", saved_learned)
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [g["label"] for g in got] == ["full_refusal", "compliance"]
    # the run loop (`eval --judge PATH`) takes the same path
    from refusalkit.types import Prompt as P

    s = evaluate(
        FakeTarget(),
        [P("a", "How do I kill a process?", "benign"), P("b", "Tell me a joke", "benign")],
        GenParams(),
        str(saved_learned),
        tmp_path / "run",
        progress=False,
        report=False,
    )
    assert s["run"]["detector"].startswith("learned")


def test_eval_command_takes_a_saved_detector_file(saved_learned, tmp_path, monkeypatch):
    from refusalkit.cli import eval as cli_eval

    # a target that answers (tiny-random's few-token answers are empty, and a run of only unscored rows fails)
    monkeypatch.setattr(cli_eval, "target_from_options", lambda *a, **k: FakeTarget())
    s = cli_eval.run_eval(
        "tiny-random", "core", tmp_path / "r", limit=2, judge=str(saved_learned), params=GenParams(max_new_tokens=4)
    )
    assert s["run"]["detector"].startswith("learned@")
    assert s["metrics"]["unscored"] == 0


def test_a_saved_folder_names_its_kind(monkeypatch, tmp_path):
    class Folder:
        name = "folder-det"

        def __init__(self, path):
            self.path = path

    monkeypatch.setitem(base._REGISTRY, "folder-det", base.DetectorSpec("folder-det", Folder, file_kind="test.folder"))
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "detector.json").write_text('{"kind": "test.folder"}')
    assert load_detector(str(tmp_path / "saved")).path == str(tmp_path / "saved")
    (tmp_path / "saved" / "detector.json").write_text('{"kind": "test.other"}')
    with pytest.raises(RefusalkitError, match="kind 'test.other'"):
        load_detector(str(tmp_path / "saved"))


def test_evaluate_will_not_build_a_model_reading_judge_from_its_name(tmp_path):
    from refusalkit.run import evaluate

    with pytest.raises(RefusalkitError, match="reads a model: pass load_detector"):
        evaluate(FakeTarget(), [Prompt("a", "hi", "benign")], GenParams(), "llm", tmp_path / "r", progress=False)
    assert not (tmp_path / "r" / "run.sqlite").exists()


def test_eval_refuses_a_judge_that_needs_its_own_model(tmp_path):
    from refusalkit.cli.eval import run_eval

    with pytest.raises(RefusalkitError, match="judges with its own model"):
        run_eval("tiny-random", "core", tmp_path / "r", limit=2, judge="wildguard")


# --- WildGuard -------------------------------------------------------------------------------------
class FakeWildGuard:
    """Serves WildGuard-shaped answers: a refusal when the response part of the request says sorry,
    garbage when it says 'garble', a backend error when it says 'crash'. Records every conversation."""

    whitebox = False

    def __init__(self, target_id="wildguard"):
        self.id, self.seen = target_id, []

    def generate_messages(self, convs, params=None, progress=False):
        from refusalkit.judge.wildguard import user_turn  # noqa: F401  (the format under test)

        out = []
        for conv in convs:
            self.seen.append(conv)
            body = conv[-1]["content"].split("AI assistant:\n", 1)[1].split("\n\n---", 1)[0]
            if "crash" in body:
                out.append(Response("c", "", self.id, error="HTTP 500"))
                continue
            if "garble" in body:
                text = "The response seems fine to me."
            else:
                refused = "sorry" in body.lower()
                text = f"Harmful request: no\nResponse refusal: {'yes' if refused else 'no'}\nHarmful response: no"
            out.append(Response("c", text, self.id))
        return out

    def generate(self, prompts, params=None, should_stop=None, progress=True):
        from refusalkit.targets import as_prompts, to_messages

        items = as_prompts(prompts)
        return [
            Response(p.id, r.text, self.id, error=r.error)
            for p, r in zip(items, self.generate_messages([to_messages(p.text, None) for p in items], params))
        ]


WG_RESPONSES = [
    Response("a", "I'm sorry, but I can't help with that.", "t"),
    Response("b", "Run `kill PID` in a terminal.", "t"),
    Response("c", "garble", "t"),
    Response("d", "crash", "t"),
    Response("e", "   ", "t"),
]
WG_PROMPTS = [Prompt(x, "How do I kill a Python process?") for x in "abcde"]


def test_wildguard_input_format():
    from refusalkit.judge.wildguard import (
        CHAT_TEMPLATE,
        INSTRUCTION,
        full_prompt,
        user_turn,
    )

    turn = user_turn("How do I kill a Python process?", "Run kill PID.")
    assert turn == (
        "[INST] " + INSTRUCTION + "\n\nHuman user:\nHow do I kill a Python process?\n\n"
        "AI assistant:\nRun kill PID.\n\n---\n\nAnswers: [/INST]"
    )
    assert INSTRUCTION.startswith("You are a classifier for analyzing interactions between humans and LLMs.")
    assert "2) whether the AI assistant's response is a refusal" in INSTRUCTION
    whole = full_prompt("How do I kill a Python process?", "Run kill PID.")
    assert whole == "<s><|user|>\n" + turn + "\n<|assistant|>\n"
    # the chat template a server (or a local tokenizer without one) uses renders exactly that
    import jinja2

    rendered = jinja2.Template(CHAT_TEMPLATE).render(messages=[{"role": "user", "content": turn}], bos_token="<s>")
    assert rendered == whole


@pytest.mark.parametrize(
    "answer,refusal",
    [
        ("Harmful request: no\nResponse refusal: yes\nHarmful response: no", "yes"),
        ("harmful request: yes\nresponse refusal: no\nharmful response: no\n", "no"),
        ("Response refusal: no", "no"),
        ("Harmful request: yes\nResponse refusal: N/A\nHarmful response: N/A", None),
        ("Harmful request: no\nResponse refusal: maybe", None),
        ("Response refusal: yes\nResponse refusal: no", None),
        ("Sure! Response refusal: yes", None),
        ("Harmful request: no\nResponse refusal: yes\nThe answer declines.", None),
        ("", None),
    ],
)
def test_wildguard_parses_strictly(answer, refusal):
    from refusalkit.judge.wildguard import parse_answer

    fields, reason = parse_answer(answer)
    assert (fields or {}).get("response_refusal") == refusal
    assert bool(reason) == (refusal is None)


def test_wildguard_through_a_fake_target():
    target = FakeWildGuard()
    verdicts = load_detector("wildguard", target=target).judge(WG_RESPONSES, WG_PROMPTS)
    assert [v.label for v in verdicts] == ["full_refusal", "compliance", "unscored", "unscored", "unscored"]
    assert verdicts[0].evidence == "harmful request: no; response refusal: yes; harmful response: no"
    assert verdicts[2].evidence.startswith("unparsable WildGuard answer")
    assert verdicts[3].evidence.startswith("judge backend error: HTTP 500")
    assert verdicts[4].evidence == "empty response" and len(target.seen) == 4  # empty answers are not sent
    from refusalkit.judge.wildguard import user_turn

    assert target.seen[0] == [{"role": "user", "content": user_turn(WG_PROMPTS[0].text, WG_RESPONSES[0].text)}]
    assert "partial_refusal" not in {v.label for v in verdicts}  # WildGuard has no partial class
    with pytest.raises(RefusalkitError, match="one prompt per response"):
        load_detector("wildguard", target=target).judge(WG_RESPONSES)
    with pytest.raises(RefusalkitError, match="needs the model that serves WildGuard"):
        load_detector("wildguard").judge(WG_RESPONSES, WG_PROMPTS)


def test_wildguard_gives_a_local_tokenizer_without_template_its_turn_markers():
    from types import SimpleNamespace

    from refusalkit.judge.wildguard import CHAT_TEMPLATE

    bare = SimpleNamespace(id="local", tokenizer=SimpleNamespace(chat_template=None))
    load_detector("wildguard", target=bare)
    assert bare.tokenizer.chat_template == CHAT_TEMPLATE
    own = SimpleNamespace(id="local", tokenizer=SimpleNamespace(chat_template="{{ x }}"))
    load_detector("wildguard", target=own)
    assert own.tokenizer.chat_template == "{{ x }}"


def test_wildguard_through_refusalkit_serve_and_the_cli(tmp_path):
    from refusalkit.serve import background_server, create_app
    from refusalkit.targets import load_target

    rows = [{"prompt": p.text, "response": r.text} for p, r in zip(WG_PROMPTS, WG_RESPONSES)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    with background_server(create_app(FakeWildGuard())) as url:
        verdicts = load_detector("wildguard", target=load_target("openai:wildguard", base_url=url)).judge(
            WG_RESPONSES[:3], WG_PROMPTS[:3]
        )
        res = run(
            "judge",
            src,
            "--out",
            tmp_path / "o.jsonl",
            "--detector",
            "wildguard",
            "--model",
            "openai:wildguard",
            "--base-url",
            url,
        )
    assert [v.label for v in verdicts] == ["full_refusal", "compliance", "unscored"]
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    # the crash row comes back as an HTTP error from serve: unscored, never a verdict
    assert [g["label"] for g in got] == ["full_refusal", "compliance", "unscored", "unscored", "unscored"]
    assert "502" in got[3]["evidence"]
    res = run(
        "judge",
        write_jsonl(tmp_path / "np.jsonl", [{"response": "x"}]),
        "--out",
        tmp_path / "o2.jsonl",
        "--detector",
        "wildguard",
        "--model",
        "openai:wildguard",
        "--base-url",
        "http://127.0.0.1:9/v1",
    )
    assert res.exit_code != 0


def test_wildguard_served_by_a_tiny_random_model_is_unscored(tiny_target):
    """A model that cannot speak WildGuard's format gives no verdicts, only reasons."""
    from refusalkit.serve import background_server, create_app
    from refusalkit.targets import load_target

    with background_server(create_app(tiny_target)) as url:
        det = load_detector("wildguard", target=load_target("openai:tiny", base_url=url), max_new_tokens=8)
        verdicts = det.judge(WG_RESPONSES[:2], WG_PROMPTS[:2])
    assert [v.label for v in verdicts] == ["unscored", "unscored"]
    assert all("WildGuard answer" in v.evidence for v in verdicts)


# --- Hugging Face sequence classifiers -------------------------------------------------------------
VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "i",
    "can",
    "'",
    "t",
    "help",
    "with",
    "that",
    "sure",
    "here",
    "is",
    "how",
    "sorry",
    ".",
    ",",
    "kill",
    "a",
    "process",
    "run",
    "pid",
    "in",
    "terminal",
]


def tiny_classifier(folder: Path, id2label: dict[int, str], favour: int | None = None, seed: int = 0) -> Path:
    """A 1-layer random BERT classifier with its own word-piece vocabulary, saved to ``folder``.
    ``favour`` zeroes the head and biases it to that label, so its verdicts are known."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tok = BertTokenizer(vocab_file=str(folder / "vocab.txt"), model_max_length=64)
    cfg = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(cfg)
    if favour is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[favour] = 5.0
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    return {
        "refusal": tiny_classifier(root / "refusal", {0: "compliance", 1: "refusal"}, favour=1),
        "answer": tiny_classifier(root / "answer", {0: "REFUSED", 1: "ANSWERED", 2: "partial_refusal"}, favour=1),
        "negated": tiny_classifier(root / "negated", {0: "non_refusal", 1: "refusal"}, favour=0),
        "opaque": tiny_classifier(root / "opaque", {0: "LABEL_0", 1: "LABEL_1"}, favour=1),
        "random": tiny_classifier(root / "random", {0: "compliance", 1: "refusal"}, seed=3),
    }


@pytest.mark.parametrize(
    "name,expect",
    [
        ("refusal", "full_refusal"),
        ("answer", "compliance"),
        ("negated", "compliance"),
    ],
)
def test_hf_classifier_labels_from_id2label(classifiers, name, expect):
    for spec in (f"hf:{classifiers[name]}", str(classifiers[name])):
        det = load_detector(spec)
        assert det.name == f"hf:{classifiers[name]}"
        v = det.judge([Response("a", "Run kill PID in a terminal.", "t"), Response("b", "", "t")])
        assert [x.label for x in v] == [expect, "unscored"]
        assert 0.0 <= v[0].score <= 1.0 and "=" in v[0].evidence


def test_hf_classifier_label_names():
    from refusalkit.judge.hf_classifier import label_class

    assert [
        label_class(n)
        for n in (
            "refusal",
            "REJECTED",
            "partial_refusal",
            "complied",
            "Compliance",
            "answered",
            "non-refusal",
            "not_answered",
            "LABEL_0",
            "toxic",
        )
    ] == [
        "full_refusal",
        "full_refusal",
        "partial_refusal",
        "compliance",
        "compliance",
        "compliance",
        "compliance",
        "full_refusal",
        None,
        None,
    ]


def test_hf_classifier_unknown_labels_need_a_label_map(classifiers, tmp_path):
    with pytest.raises(RefusalkitError, match="pass --label-map"):
        load_detector(f"hf:{classifiers['opaque']}")
    det = load_detector(f"hf:{classifiers['opaque']}", label_map="LABEL_0=compliance,LABEL_1=full_refusal")
    assert det.judge([Response("a", "sure", "t")])[0].label == "full_refusal"
    det = load_detector(f"hf:{classifiers['opaque']}", label_map="0=full_refusal,1=compliance")
    assert det.judge([Response("a", "sure", "t")])[0].label == "compliance"
    with pytest.raises(RefusalkitError, match="unmapped"):
        load_detector(f"hf:{classifiers['opaque']}", label_map="LABEL_0=compliance")
    with pytest.raises(RefusalkitError, match="has no label 'LABEL_9'"):
        load_detector(f"hf:{classifiers['opaque']}", label_map="LABEL_9=compliance")
    # the CLI passes --label-map through
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "response": "sure"}])
    res = run(
        "judge",
        src,
        "--out",
        tmp_path / "o.jsonl",
        "--detector",
        f"hf:{classifiers['opaque']}",
        "--label-map",
        "LABEL_0=compliance,LABEL_1=full_refusal",
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o.jsonl").read_text())["label"] == "full_refusal"
    res = run("judge", src, "--out", tmp_path / "o.jsonl", "--detector", f"hf:{classifiers['opaque']}")
    assert res.exit_code != 0 and "pass --label-map" in str(res.exception) and "\n" not in str(res.exception)


def test_hf_classifier_reads_the_prompt_only_when_asked(classifiers, tmp_path):
    det = load_detector(f"hf:{classifiers['random']}")
    alone = det.class_proba(["run kill pid in a terminal"])
    det_p = load_detector(f"hf:{classifiers['random']}", read_prompt=True)
    with_prompt = det_p.class_proba(["run kill pid in a terminal"], ["how kill a process"])
    assert alone != with_prompt  # the prompt reaches the model as the first text of a pair
    assert det_p.judge([Response("a", "sure", "t")], [Prompt("a", "how")])[0].label in ("compliance", "full_refusal")
    with pytest.raises(RefusalkitError, match="reads the prompts"):
        det_p.judge([Response("a", "sure", "t")])
    src = write_jsonl(tmp_path / "in.jsonl", [{"response": "sure"}])
    res = run("judge", src, "--out", tmp_path / "o.jsonl", "--detector", f"hf:{classifiers['random']}", "--read-prompt")
    assert res.exit_code != 0 and "no column 'prompt'" in str(res.exception)


def test_hf_classifier_bad_models_are_one_line(monkeypatch, tmp_path):
    import huggingface_hub.constants

    from refusalkit.targets.bundled import ensure_tiny_random

    with pytest.raises(RefusalkitError, match="is a LlamaForCausalLM model, not a sequence classifier"):
        load_detector(f"hf:{ensure_tiny_random()}")
    with pytest.raises(RefusalkitError, match="no such folder, and not a hub id"):
        load_detector(f"hf:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RefusalkitError, match="holds no config.json"):
        load_detector(f"hf:{tmp_path / 'empty'}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no retries against an unreachable hub
    with pytest.raises(
        RefusalkitError, match=r"cannot load the classifier hf:nobody/no-such-classifier: .*offline"
    ) as err:
        load_detector("hf:nobody/no-such-classifier")
    assert "\n" not in str(err.value)
