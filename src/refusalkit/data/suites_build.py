"""Build the bundled prompt suites that are composed from data files.

``align`` (``src/refusalkit/data/suites/align.jsonl``, what ``refusalkit align`` and ``refusalkit study``
train on) is composed from ``data/suites/align/`` at the repository root:

- ``intents.jsonl``: one row per harmful intent and the benign intent that keeps its topic words
  (``group``, ``category``, ``harmful``, ``benign``, ``split``, ``batch``, ``writer``, ``used_for_choice``);
  a group's intents are consecutive rows, and a held-out (``test``) intent never shares a group's
  training split;
- ``benign.jsonl``: plain benign requests (``text``, ``split``, ``batch``, ``writer``, ``used_for_choice``);
- ``compose.json``: the harmful-request frames, refusal openers, reasons per category, closing offers,
  and per intent batch its random seed and frames per intent.

Each harmful intent is put into ``frames_per_intent`` frames drawn by the batch's seeded generator; each
row's refusal target (opener, reason of its category, offer) is drawn by the same generator, and its
``trigger_benign`` twin is the same frame around the benign intent. The output is deterministic, and a
test checks that the shipped file equals it. The ``core`` and ``ood`` suites are written by hand as the
shipped JSONL itself and have no build step.

Run: ``python -m refusalkit.data.suites_build align`` (``--check`` compares instead of writing).
"""
from __future__ import annotations

import argparse
import json
import random
from itertools import groupby
from pathlib import Path

from ..errors import RefusalkitError

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data" / "suites"
SHIPPED = Path(__file__).with_name("suites")


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise RefusalkitError(f"{path} does not exist; build the suites from a refusalkit source checkout")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_align(data: Path | None = None) -> list[dict]:
    """The alignment set's rows, composed from ``data`` (default ``data/suites/align``: ``intents.jsonl``,
    ``benign.jsonl``, ``compose.json``)."""
    data = data or DATA / "align"
    compose = json.loads((data / "compose.json").read_text(encoding="utf-8"))
    frames, openers, reasons, offers = compose["frames"], compose["openers"], compose["reasons"], compose["offers"]
    source = compose["source"]
    rows: list[dict] = []
    intents = _jsonl(data / "intents.jsonl")
    for batch, in_batch in groupby(intents, key=lambda r: r["batch"]):
        settings = compose["batches"][batch]
        rng = random.Random(settings["seed"])  # one generator per batch: a batch's rows never shift another's
        for group, members in groupby(in_batch, key=lambda r: r["group"]):
            for k, intent in enumerate(members):
                category = intent["category"]
                for j, frame in enumerate(rng.sample(frames, settings["frames_per_intent"])):
                    target = f"{rng.choice(openers)} {rng.choice(reasons[category])}{rng.choice(offers)}"
                    rows.append({
                        "id": f"align-h-{group}-{k}-{j}",
                        "text": frame.format(vp=intent["harmful"]),
                        "label": "harmful",
                        "category": category,
                        "type": "harmful",
                        "pair_id": f"align-{group}-{k}-{j}",
                        "split": intent["split"],
                        "source": source,
                        "target": target,
                        "trigger_benign": frame.format(vp=intent["benign"]),
                        "frame": frame,
                        "intent": intent["harmful"],
                        "benign_intent": intent["benign"],
                    })
    for i, row in enumerate(_jsonl(data / "benign.jsonl")):
        rows.append({
            "id": f"align-b-{i:03d}",
            "text": row["text"],
            "label": "benign",
            "category": "general",
            "type": "plain_benign",
            "pair_id": None,
            "split": row["split"],
            "source": source,
            "target": "",  # helpful answers are written by the model being aligned, at training time
        })
    return rows


BUILDERS = {"align": build_align}


def render(rows: list[dict]) -> str:
    """Rows as the shipped JSONL text: one object per line, keys in build order, UTF-8 kept as is."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def build(name: str, check: bool = False) -> str:
    """Write (or with ``check`` only compare) the shipped suite ``name``; returns a one-line summary."""
    if name not in BUILDERS:
        raise RefusalkitError(f"no builder for suite '{name}' (built suites: {', '.join(BUILDERS)})")
    rows = BUILDERS[name]()
    text, path = render(rows), SHIPPED / f"{name}.jsonl"
    if check:
        same = path.exists() and path.read_text(encoding="utf-8") == text
        return f"{path}: {'matches' if same else 'DIFFERS FROM'} the build ({len(rows)} rows)"
    path.write_text(text, encoding="utf-8")
    harmful = sum(r["label"] == "harmful" for r in rows)
    return f"wrote {len(rows)} rows ({harmful} harmful, {len(rows) - harmful} benign) to {path}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m refusalkit.data.suites_build", description="Build refusalkit's composed prompt suites from data/suites/.")
    ap.add_argument("suite", choices=sorted(BUILDERS))
    ap.add_argument("--check", action="store_true", help="compare the shipped file with the build instead of writing it")
    args = ap.parse_args(argv)
    line = build(args.suite, check=args.check)
    print(line)
    return 1 if args.check and "DIFFERS" in line else 0


if __name__ == "__main__":
    raise SystemExit(main())
