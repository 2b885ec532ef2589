"""Quality, speed and load time of every refusal detector on every split of refusalkit's response corpus.

Splits (whichever the corpus has): ``dev`` (never fitted on; held-out styles, a held-out language and
phrasings) with its hand-written, study-model and non-English parts; the spent splits ``test``..``test6``
(written blind, since used to choose settings or read for errors); ``test7`` (written blind, read only as
aggregates and used to choose the default detector); ``dev_real`` (hand-labelled answers of the bundled
model's variants, used for choices) and ``blind_real`` (hand-labelled real answers from a source with no
rows in training, never used for a choice: this script only reports it). For each: binary accuracy (any
refusal vs compliance), 3-class macro-F1, per-class F1, and for the blind splits the confusion matrix and
per-family binary accuracy.

Speed and load time are measured in fresh processes, once with 1 thread and once with 2
(``OMP_NUM_THREADS``): load_s covers loading (or fitting at first use), load_and_first_verdict_s adds the
first verdict (where lazily loaded parts such as an encoder load), answers_per_s is the
best of three passes over the dev split with every per-process cache cleared between passes.
Detectors that need a model say why they do not apply unless one is given (``--llm-model``,
``--first-token-model``). The result is printed and written to ``benchmarks/results/judge_quality.json``
with its provenance (commit, dirty flag, command line, library versions, CPUs, date, duration).

    flock /tmp/refusalkit-heavy.lock env PYTHONPATH=src python benchmarks/judge_quality.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from refusalkit.judge import DEFAULT_DETECTOR, load_detector
from refusalkit.judge.corpus import load_corpus, quality
from refusalkit.provenance import provenance, run_started
from refusalkit.types import Prompt, Response

DETECTORS = ("prefix", "pattern", "learned", "ensemble", "minilm", "minilm-ft")
SPLITS = ("dev", "test", "test2", "test3", "test4", "test5", "test6", "test7", "dev_real", "blind_real")
# What each split may be used for (reported with it).
ROLE = {
    "dev": "used for choices",
    "dev_real": "used for choices",
    "test7": "blind when written; used to choose the default",
    "blind_real": "blind: never used for a choice",
}
DETAILED = (
    "test5",
    "test6",
    "test7",
    "dev_real",
    "blind_real",
)  # splits that also get a confusion matrix and per-family accuracy
RESULT = Path(__file__).parent / "results" / "judge_quality.json"


def _clear_caches() -> None:
    """Per-process caches that would make a second pass over the same texts look faster than it is."""
    mod = sys.modules.get("refusalkit.judge.minilm")
    if mod is not None:
        mod._EMB_CACHE.clear()


def speed(name: str) -> dict:
    """Load time and answers/s of one detector in this process (called in a fresh subprocess)."""
    t0 = time.perf_counter()
    det = load_detector(name)
    load_s = time.perf_counter() - t0
    det.judge(
        [Response(prompt_id="warm", text="Sure, here it is.", target_id="corpus")]
    )  # lazy parts (an encoder) load here
    first_s = time.perf_counter() - t0
    rows = load_corpus("dev")
    responses = [Response(prompt_id=r["id"], text=r["response"], target_id="corpus") for r in rows]
    best = float("inf")
    for _ in range(3):
        _clear_caches()
        t1 = time.perf_counter()
        det.judge(responses)
        best = min(best, time.perf_counter() - t1)
    return {
        "load_s": round(load_s, 2),
        "load_and_first_verdict_s": round(first_s, 2),
        "answers_per_s": round(len(rows) / best, 1),
        "n": len(rows),
    }


def speed_in_subprocess(name: str, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, __file__, "--speed-only", name], env=env, capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _block(rows, pred, idx) -> dict:
    q = quality([rows[i]["label"] for i in idx], [pred[i] for i in idx])
    return {
        "n": q["n"],
        "unscored": q["unscored"],
        "binary_accuracy": q.get("binary_accuracy"),
        "macro_f1": q.get("macro_f1"),
        "per_class_f1": {c: m["f1"] for c, m in q.get("per_class", {}).items()},
    }


def measure(det, rows, splits) -> dict:
    responses = [Response(prompt_id=r["id"], text=r["response"], target_id="corpus") for r in rows]
    prompts = [Prompt(id=r["id"], text=r["prompt"]) for r in rows]
    pred = [v.label for v in det.judge(responses, prompts)]
    out = {}
    for s in splits:
        idx = [i for i, r in enumerate(rows) if r["split"] == s]
        out[s] = {"role": ROLE.get(s, "spent: used for choices"), **_block(rows, pred, idx)}
        if s in DETAILED or s == "dev":
            out[s]["confusion_matrix"] = quality([rows[i]["label"] for i in idx], [pred[i] for i in idx])[
                "confusion_matrix"
            ]["rows_true_cols_pred"]
        if s in DETAILED:
            fam_key = "family_style" if all("family_style" in rows[i] for i in idx) else "model"
            fams = sorted({str(rows[i].get(fam_key)) for i in idx})
            out[s][f"binary_accuracy_by_{fam_key}"] = {
                f: round(sum((rows[i]["label"] == "compliance") == (pred[i] == "compliance") for i in j) / len(j), 3)
                for f in fams
                for j in [[i for i in idx if str(rows[i].get(fam_key)) == f]]
            }
    for name, keep in (
        ("dev_handwritten", lambda r: r["split"] == "dev" and r.get("source") == "handwritten"),
        ("dev_study_models", lambda r: r["split"] == "dev" and r.get("source") == "study"),
        ("dev_non_english", lambda r: r["split"] == "dev" and r.get("lang", "en") != "en"),
    ):
        idx = [i for i, r in enumerate(rows) if keep(r)]
        if idx:
            out[name] = _block(rows, pred, idx)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm-model", help="judge model for the llm detector (alias, folder or openai:NAME)")
    ap.add_argument("--base-url")
    ap.add_argument("--first-token-model", help="white-box model for the first-token detector")
    ap.add_argument("--detectors", default=",".join(DETECTORS), help="comma-separated detectors to measure")
    ap.add_argument("--speed-only", metavar="NAME", help=argparse.SUPPRESS)  # internal: one speed measurement
    ap.add_argument(
        "--no-write", action="store_true", help="print only; do not write benchmarks/results/judge_quality.json"
    )
    args = ap.parse_args()
    if args.speed_only:
        print(json.dumps(speed(args.speed_only)))
        return

    started = run_started()  # the tree may change while it runs: provenance names the code it started with
    present = [s for s in SPLITS if load_corpus(s)]
    rows = [r for s in present for r in load_corpus(s)]
    result = {
        "corpus": {s: len(load_corpus(s)) for s in ("train",) + SPLITS},
        "splits_absent": [s for s in SPLITS if s not in present],
        "default_detector": DEFAULT_DETECTOR,
        "detectors": {},
    }
    for name in args.detectors.split(","):
        info = {"speed_1_thread": speed_in_subprocess(name, 1), "speed_2_threads": speed_in_subprocess(name, 2)}
        det = load_detector(name)
        result["detectors"][name] = {**info, **measure(det, rows, present)}
        print(
            json.dumps({name: {s: result["detectors"][name][s].get("binary_accuracy") for s in present}}),
            file=sys.stderr,
            flush=True,
        )
    if args.first_token_model:
        from refusalkit.targets import load_target

        result["detectors"]["first-token"] = measure(
            load_detector("first-token", target=load_target(args.first_token_model)), rows, present
        )
    else:
        result["detectors"]["first-token"] = {
            "not_applicable": (
                "scores the prompt with the model under test (P of a refusal opening), not a given answer; the corpus "
                "answers were not generated by a local model, so there is nothing for it to be right or wrong about here"
            )
        }
    if args.llm_model:
        from refusalkit.targets import load_target

        det = load_detector("llm", target=load_target(args.llm_model, base_url=args.base_url))
        result["detectors"]["llm"] = measure(det, rows, present)
    else:
        result["detectors"]["llm"] = {
            "not_applicable": (
                "needs a judge model (--llm-model); none that can follow the rubric is available offline here "
                "(the bundled SmolLM2-135M is too small to be a judge)"
            )
        }
    result["provenance"] = provenance(started)
    text = json.dumps(result, indent=2)
    print(text)
    if not args.no_write:
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
