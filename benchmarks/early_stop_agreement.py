"""Would early stop change a detector's verdicts? Replays early stop on finished answers.

With greedy decoding an early-stopped answer is a prefix of the full-length answer, so early stop can be
replayed on text: each answer is tokenised with the bundled model's tokenizer, and every 4 tokens (as
``refusalkit.targets.hf`` does during generation) :class:`refusalkit.run.EarlyStop` reads the decoded
prefix; where it would stop, the detector's verdict on that prefix is compared with its verdict on the
whole answer. Answers come from the corpus (``--splits``; never ``blind_real``) or from JSONL files of
generated answers (``--answers``, e.g. ``responses.jsonl`` of an eval run without early stop). Prints
one JSON object per detector: answers, answers stopped early, agreement on all answers and on those
whose full-length verdict is a refusal, and the disagreements.

    flock /tmp/refusalkit-heavy.lock env PYTHONPATH=src python benchmarks/early_stop_agreement.py --detectors minilm,learned
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from refusalkit.judge import judge_safely, load_detector
from refusalkit.judge.corpus import load_corpus
from refusalkit.run import EarlyStop
from refusalkit.types import Response

EVERY = 4  # tokens between two reads of the partial answers (refusalkit.targets.hf's default)


def replay(detector, texts: list[str], tokenizer, max_tokens: int = 256) -> list[str | None]:
    """The text each answer would be cut at by early stop (None: it runs to the end)."""
    stopper = EarlyStop(detector)
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"][:max_tokens] for t in texts]
    cut: list[str | None] = [None] * len(texts)
    live = list(range(len(texts)))
    k = EVERY
    while live:
        live = [i for i in live if len(ids[i]) > k]  # an answer that has ended is not read again
        if not live:
            break
        partial = tokenizer.batch_decode([ids[i][:k] for i in live], skip_special_tokens=True)
        still = []
        for i, text, stop in zip(live, partial, stopper(partial)):
            if stop:
                cut[i] = text
            else:
                still.append(i)
        live, k = still, k + EVERY
    return cut


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detectors", default="minilm")
    ap.add_argument("--splits", default="dev,test,test2,test3,test4,test5,test6,test7,dev_real")
    ap.add_argument("--answers", nargs="*", default=[], help="JSONL files with a 'response' column (generated answers)")
    ap.add_argument("--tokenizer-model", default="smollm2-135m")
    args = ap.parse_args()
    from transformers import AutoTokenizer

    from refusalkit.targets import load_target

    splits = [s for s in args.splits.split(",") if s and s != "blind_real"]
    texts, source = [], []
    for s in splits:
        for r in load_corpus(s):
            texts.append(r["response"])
            source.append(f"corpus:{s}")
    for f in args.answers:
        for line in open(f, encoding="utf-8"):
            r = json.loads(line)
            if isinstance(r.get("response"), str) and r["response"].strip():
                texts.append(r["response"])
                source.append(f"file:{f}")
    from refusalkit.paths import home

    folder = home() / "models" / args.tokenizer_model  # the converted bundled model, when it exists
    tokenizer = (
        AutoTokenizer.from_pretrained(folder)
        if (folder / "tokenizer.json").is_file()
        else load_target(args.tokenizer_model).tokenizer
    )
    out = {
        "answers": len(texts),
        "sources": {s: source.count(s) for s in dict.fromkeys(source)},
        "every_tokens": EVERY,
        "detectors": {},
    }
    for name in args.detectors.split(","):
        t0 = time.time()
        det = load_detector(name)
        full = [v.label for v in judge_safely(det, [Response("", t, "") for t in texts], None)]
        cut = replay(det, texts, tokenizer)
        stopped = [i for i, c in enumerate(cut) if c is not None]
        early_v = dict(
            zip(stopped, [v.label for v in judge_safely(det, [Response("", cut[i], "") for i in stopped], None)])
        )
        early = [early_v.get(i, full[i]) for i in range(len(texts))]
        refusing = [i for i, f in enumerate(full) if f in ("full_refusal", "partial_refusal")]
        agree = sum(e == f for e, f in zip(early, full))
        agree_ref = sum(early[i] == full[i] for i in refusing)
        out["detectors"][name] = {
            "stopped_early": len(stopped),
            "agreement_all": round(agree / len(texts), 4),
            "agreeing_all": f"{agree}/{len(texts)}",
            "agreement_refusing": round(agree_ref / max(len(refusing), 1), 4),
            "agreeing_refusing": f"{agree_ref}/{len(refusing)}",
            "disagreements": [
                {"full_length": full[i], "early_stop": early[i], "cut_at": cut[i][-60:], "source": source[i]}
                for i in range(len(texts))
                if early[i] != full[i]
            ][:40],
            "seconds": round(time.time() - t0, 1),
        }
        print(
            json.dumps({name: {k: v for k, v in out["detectors"][name].items() if k != "disagreements"}}),
            file=sys.stderr,
            flush=True,
        )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
