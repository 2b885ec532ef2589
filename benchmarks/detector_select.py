"""How the minilm detector's settings were chosen: every candidate head is fitted on the corpus's
``train`` split and scored on the splits refusalkit may choose on (``dev``, the spent splits
``test``..``test6``, ``test7`` and, when the corpus has it, ``dev_real``), plus a grouped cross-validation
on ``train`` that holds out whole model manners (``family_style``) at a time, the closest this corpus
gets to answers of a model nobody imitated. ``blind_real`` is never read here. Prints one JSON object.
The candidate with the highest sum of binary accuracy and macro-F1 over all of these becomes the default:
its settings are written to ``src/refusalkit/data/judge/minilm_settings.json`` and the shipped head
``minilm_head.npz`` is refitted with them (``--no-write`` only prints).

    flock /tmp/refusalkit-heavy.lock env PYTHONPATH=src OMP_NUM_THREADS=2 python benchmarks/detector_select.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from refusalkit.judge.corpus import load_corpus, quality
from refusalkit.judge.minilm import MiniLMDetector, _weights, embed, hand_features

CHOICE_SPLITS = ("dev", "test", "test2", "test3", "test4", "test5", "test6", "test7", "dev_real")


def score(y, p) -> dict:
    q = quality(y, p)
    return {"n": q["n"], "binary_accuracy": q["binary_accuracy"], "macro_f1": q["macro_f1"]}


def evaluate(settings: dict, x_tr, y_tr, rows_tr, blocks: dict, groups) -> dict:
    from sklearn.model_selection import GroupKFold

    w = _weights(rows_tr, settings["weighted"])
    det = MiniLMDetector(C=settings["C"], hand=settings["hand"]).fit_features(x_tr, y_tr, sample_weight=w)
    out = {s: score(y, [p for p in det.predict_from(x)]) for s, (x, y) in blocks.items()}
    pred = np.empty(len(y_tr), dtype=object)
    for tr, te in GroupKFold(n_splits=5).split(x_tr, y_tr, groups):
        d = MiniLMDetector(C=settings["C"], hand=settings["hand"]).fit_features(
            x_tr[tr], [y_tr[i] for i in tr], sample_weight=w[tr]
        )
        pred[te] = d.predict_from(x_tr[te])
    out["train_grouped_cv"] = score(y_tr, list(pred))
    out["sum"] = round(sum(v["binary_accuracy"] + v["macro_f1"] for v in out.values()), 4)
    return out


def learned_reference(train, splits) -> dict:
    """The same figures for the n-gram ``learned`` detector (its own recipe and weights), for comparison."""
    from sklearn.model_selection import GroupKFold

    from refusalkit.judge.learned import build_pipeline, corpus_weights, one_thread

    texts, y, w = [r["response"] for r in train], [r["label"] for r in train], corpus_weights(train)
    groups = [r["family_style"] for r in train]
    with one_thread():
        pipe = build_pipeline().fit(texts, y, clf__sample_weight=w)
        out = {
            s: score([r["label"] for r in rs], list(pipe.predict([r["response"] for r in rs])))
            for s, rs in splits.items()
        }
        pred = np.empty(len(y), dtype=object)
        for tr, te in GroupKFold(n_splits=5).split(texts, y, groups):
            p = build_pipeline().fit([texts[i] for i in tr], [y[i] for i in tr], clf__sample_weight=w[tr])
            pred[te] = p.predict([texts[i] for i in te])
    out["train_grouped_cv"] = score(y, list(pred))
    out["sum"] = round(sum(v["binary_accuracy"] + v["macro_f1"] for v in out.values()), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true", help="print only; keep the shipped settings and head")
    args = ap.parse_args()
    t0 = time.time()
    train = load_corpus("train")
    splits = {s: load_corpus(s) for s in CHOICE_SPLITS}
    splits = {s: r for s, r in splits.items() if r}
    everything = train + [r for rs in splits.values() for r in rs]
    emb = embed([r["response"] for r in everything], progress="encoding")
    hand = hand_features([r["response"] for r in everything])
    n = len(train)
    result = {"splits": {s: len(r) for s, r in splits.items()}, "train": n, "candidates": []}
    for use_hand, C, weighted in itertools.product((False, True), (0.03, 0.1, 0.3, 1.0), (False, True)):
        x = np.hstack([emb, hand]) if use_hand else emb
        blocks, k = {}, n
        for s, rs in splits.items():
            blocks[s] = (x[k : k + len(rs)], [r["label"] for r in rs])
            k += len(rs)
        settings = {"C": C, "hand": use_hand, "weighted": weighted}
        res = evaluate(settings, x[:n], [r["label"] for r in train], train, blocks, [r["family_style"] for r in train])
        result["candidates"].append({"settings": settings, **res})
        print(
            json.dumps(
                {
                    "settings": settings,
                    "sum": res["sum"],
                    "cv": res["train_grouped_cv"],
                    "dev": res["dev"],
                    "test7": res.get("test7"),
                }
            ),
            flush=True,
        )
    result["candidates"].sort(key=lambda c: -c["sum"])
    result["learned_reference"] = learned_reference(train, splits)
    result["chosen"] = result["candidates"][0]["settings"]
    result["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=1))
    if not args.no_write:
        from importlib import resources

        from refusalkit.judge import minilm

        best = result["candidates"][0]
        f = Path(str(resources.files("refusalkit.data") / "judge" / minilm.SETTINGS_FILE))
        f.write_text(
            json.dumps(
                {
                    **best["settings"],
                    "chosen_by": (
                        "benchmarks/detector_select.py: highest sum of binary accuracy and macro-F1 over "
                        + ", ".join(k for k in best if k not in ("settings", "sum"))
                    ),
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        minilm.DEFAULT_SETTINGS.clear()
        minilm.DEFAULT_SETTINGS.update(minilm._default_settings())
        det = minilm.fit_default(progress=False)  # the corpus is already encoded in this process
        det.save(minilm.shipped_path())
        print(f"wrote {f} and {minilm.shipped_path()}", file=sys.stderr)


if __name__ == "__main__":
    main()
