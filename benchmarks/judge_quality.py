"""Quality and speed of every refusal detector on the dev split of refusalkit's response corpus.

The dev split is never fitted on and uses held-out model styles, a held-out language and held-out
phrasings (see src/refusalkit/data/build.py); ``dev_study`` is its part made of hand-labelled answers of
refusalkit's own study models (SmolLM2-135M and its safety-tuned variants, cut off at 64 tokens). Prints one
JSON object: for each detector, binary accuracy (any refusal vs compliance), 3-class macro-F1, per-class F1
and responses/s, on the whole dev split, on its hand-written, study-model and non-English subsets, and on
seven hand-written splits never fitted on: ``test`` (43 answers), ``test2`` (143 answers in six chat-model
families' manners), ``test3`` (160 answers in twelve families' manners), ``test4`` (219 answers in seventeen
manners), ``test5`` (209 answers in 28 manners) and ``test6`` (216 answers in 28 manners and sizes), each
written blind but since measured, used to select detector settings or read for errors, so no longer blind;
and ``test7`` (223 answers in about 36 manners and sizes, 18 of them in seven other languages, 30% partial
refusals), written and committed in round 11 before any detector ran on it and read only as this aggregate,
with per-family binary accuracy. ``test7`` is the closest thing here to answers of models the detectors have
never seen.
Detectors that need a model say why they do not apply unless one is given (``--llm-model``,
``--first-token-model``).

    PYTHONPATH=src python benchmarks/judge_quality.py
"""
from __future__ import annotations

import argparse
import json
import time

from refusalkit.judge import DEFAULT_DETECTOR, load_detector
from refusalkit.judge.corpus import load_corpus, quality
from refusalkit.provenance import provenance
from refusalkit.types import Prompt, Response


def measure(det, rows, repeat_for_speed: int = 3) -> dict:
    responses = [Response(prompt_id=r["id"], text=r["response"], target_id="corpus") for r in rows]
    prompts = [Prompt(id=r["id"], text=r["prompt"]) for r in rows]
    t0 = time.perf_counter()
    verdicts = det.judge(responses, prompts)
    elapsed = time.perf_counter() - t0
    for _ in range(repeat_for_speed - 1):  # speed over several passes (the machine is shared)
        t1 = time.perf_counter()
        det.judge(responses, prompts)
        elapsed = min(elapsed, time.perf_counter() - t1)
    pred = [v.label for v in verdicts]
    out = {"responses_per_s": round(len(rows) / elapsed, 1)}
    for name, keep in (("dev", lambda r: r["split"] == "dev"),
                       ("dev_handwritten", lambda r: r["split"] == "dev" and r["source"] == "handwritten"),
                       ("dev_study_models", lambda r: r["split"] == "dev" and r["source"] == "study"),
                       ("dev_non_english", lambda r: r["split"] == "dev" and r["lang"] != "en"),
                       ("test_used_for_selection", lambda r: r["split"] == "test"),
                       ("test2_used_for_selection", lambda r: r["split"] == "test2"),
                       ("test3_used_for_selection", lambda r: r["split"] == "test3"),
                       ("test4_used_for_selection", lambda r: r["split"] == "test4"),
                       ("test5_used_for_selection", lambda r: r["split"] == "test5"),
                       ("test6_used_for_selection", lambda r: r["split"] == "test6"),
                       ("test7_blind", lambda r: r["split"] == "test7")):
        idx = [i for i, r in enumerate(rows) if keep(r)]
        q = quality([rows[i]["label"] for i in idx], [pred[i] for i in idx])
        out[name] = {"n": q["n"], "unscored": q["unscored"], "binary_accuracy": q.get("binary_accuracy"),
                     "macro_f1": q.get("macro_f1"), "per_class_f1": {c: m["f1"] for c, m in q.get("per_class", {}).items()}}
    for split, key in (("test5", "test5_used_for_selection"), ("test6", "test6_used_for_selection"), ("test7", "test7_blind")):
        t2 = [i for i, r in enumerate(rows) if r["split"] == split]
        out[key]["confusion_matrix"] = quality([rows[i]["label"] for i in t2], [pred[i] for i in t2])["confusion_matrix"]["rows_true_cols_pred"]
        out[key]["binary_accuracy_by_family"] = {
            fam: round(sum((rows[i]["label"] == "compliance") == (pred[i] == "compliance") for i in idx) / len(idx), 3)
            for fam in sorted({rows[i]["family_style"] for i in t2}) for idx in [[i for i in t2 if rows[i]["family_style"] == fam]]}
    dev = [i for i, r in enumerate(rows) if r["split"] == "dev"]
    out["dev"]["confusion_matrix"] = quality([rows[i]["label"] for i in dev], [pred[i] for i in dev])["confusion_matrix"]["rows_true_cols_pred"]
    return out


def main() -> None:
    started = time.time()
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm-model", help="judge model for the llm detector (alias, folder or openai:NAME)")
    ap.add_argument("--base-url")
    ap.add_argument("--first-token-model", help="white-box model for the first-token detector")
    args = ap.parse_args()

    splits = ("dev", "test", "test2", "test3", "test4", "test5", "test6", "test7")
    rows = [r for s in splits for r in load_corpus(s)]
    result = {"corpus": {s: len(load_corpus(s)) for s in ("train",) + splits}, "default_detector": DEFAULT_DETECTOR, "detectors": {}}
    from refusalkit.judge.learned import _cache_file

    for name in ("prefix", "pattern", "learned", "ensemble"):
        cache = _cache_file() if name == "learned" else _cache_file().with_name(_cache_file().name.replace("learned-", "ensemble-"))
        cached = cache.exists()
        t0 = time.perf_counter()
        det = load_detector(name)
        load_s = time.perf_counter() - t0
        info = {"load_s": round(load_s, 2)}
        if name in ("learned", "ensemble"):
            info["load"] = "from cache" if cached else "fitted from the shipped corpus (first use)"
        result["detectors"][name] = {**info, **measure(det, rows)}
    if args.first_token_model:
        from refusalkit.targets import load_target

        det = load_detector("first-token", target=load_target(args.first_token_model))
        result["detectors"]["first-token"] = measure(det, rows, repeat_for_speed=1)
    else:
        result["detectors"]["first-token"] = {"not_applicable": (
            "scores the prompt with the model under test (P of a refusal opening), not a given answer; the corpus "
            "answers were not generated by a local model, so there is nothing for it to be right or wrong about here")}
    if args.llm_model:
        from refusalkit.targets import load_target

        det = load_detector("llm", target=load_target(args.llm_model, base_url=args.base_url))
        result["detectors"]["llm"] = measure(det, rows, repeat_for_speed=1)
    else:
        result["detectors"]["llm"] = {"not_applicable": (
            "needs a judge model (--llm-model); none that can follow the rubric is available offline here "
            "(the bundled SmolLM2-135M is too small to be a judge)")}
    result["provenance"] = provenance(started)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
