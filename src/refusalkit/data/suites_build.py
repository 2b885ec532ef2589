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

Run: ``python -m refusalkit.data.build align`` (``--check`` compares instead of writing).
"""

from __future__ import annotations

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
                    rows.append(
                        {
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
                        }
                    )
    for i, row in enumerate(_jsonl(data / "benign.jsonl")):
        rows.append(
            {
                "id": f"align-b-{i:03d}",
                "text": row["text"],
                "label": "benign",
                "category": "general",
                "type": "plain_benign",
                "pair_id": None,
                "split": row["split"],
                "source": source,
                "target": "",  # helpful answers are written by the model being aligned, at training time
            }
        )
    return rows
