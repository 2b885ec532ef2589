"""refusalkit's own safety alignment and the mitigations compared against it.

Every variant is a fresh LoRA SFT of the base model on a mix built from the alignment set's
``train`` split:

- ``safety`` (variant a, what ``refusalkit align`` trains): harmful → refusal ∪ a base share of the
  plain benign requests → the base model's own helpful answer (a standard alignment mix);
- ``generic`` (variant b): ``safety`` + K more plain benign requests → helpful;
- ``triggers`` (variant c): ``safety`` + K trigger-benign requests (the harmful requests' harmless
  frames and topics, harm-checked) → helpful.

(b) and (c) add the same number K of helpful examples, so they compare at the same data budget.
Helpful answers are generated once by the base model and cached (:func:`helpful_answers`).

Optionally (:func:`suite_train_rows`, ``refusalkit study --suite-train``) an evaluation suite's ``train``
split joins the alignment data: its harmful prompts are pinned into every variant's safety mix, and its
trigger-benign prompts (homonyms, figurative language, safe contexts, ...) come first in (c)'s K.
With ``look_alikes="partnered"`` each of those prompts that has no harmful request of its own brings its
hand-written harmful partner (``suites/<suite>-partners.jsonl``, :func:`suite_partners`) into (c) as a
refusal, so every frame (c) learns to answer is set against a harmful request in the same frame.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import RefusalkitError
from ..paths import home
from .data import SFTExample, data_hash, helpful_examples, load_align_rows, refusal_examples
from .sft import SFTConfig, TrainResult, train_lora

METHODS = ("safety", "generic", "triggers")
ANSWER_TOKENS = 64
SUITE_SOURCE = "suite-train"  # rows a suite's train split adds; always in the safety mix


@dataclass
class Budget:
    """How many examples of each kind a variant trains on (``None`` = all available)."""

    harmful: int | None = 300
    benign_base: int = 200  # plain benign in the safety mix; the rest of the train split is the generic pool
    extra: int = 150  # K: helpful examples (b) and (c) add on top of the safety mix


def split_rows(rows: Sequence[dict], split: str = "train") -> tuple[list[dict], list[dict]]:
    harmful = [r for r in rows if r["label"] == "harmful" and r.get("split", "train") == split]
    benign = [r for r in rows if r["label"] == "benign" and r.get("split", "train") == split]
    return harmful, benign


def _spread(rows: Sequence[dict], n: int | None, seed: int) -> list[dict]:
    rows = list(rows)
    if n is None or n >= len(rows):
        return rows
    random.Random(seed).shuffle(rows)  # a prefix of one fixed order: a larger budget extends a smaller one
    return rows[:n]


def harmful_mix(harmful: Sequence[dict], budget: Budget, seed: int) -> list[dict]:
    """The safety mix's harmful rows: every pinned suite row, then ``budget.harmful`` of the others."""
    pinned = [r for r in harmful if r.get("source") == SUITE_SOURCE]
    return pinned + _spread([r for r in harmful if r.get("source") != SUITE_SOURCE], budget.harmful, seed)


def _borrowed_refusals(rows: Sequence[dict]) -> list[str]:
    """The alignment set's refusal targets, which requests written without one borrow in turn
    (request ``i`` takes refusal ``7 i`` modulo their number)."""
    refusals = [r["target"] for r in rows if r["label"] == "harmful"]
    if not refusals:
        raise RefusalkitError("the alignment set has no harmful rows whose refusals the suite's requests could borrow")
    return refusals


def suite_train_rows(rows: Sequence[dict], suite: str = "core") -> tuple[list[dict], list[str]]:
    """A suite's ``train`` split in the alignment layout: its harmful prompts as refusal rows (wording taken
    in turn from the alignment set's own refusals; a contrast pair's benign half as ``trigger_benign``),
    and its trigger-benign prompts (every benign kind but ``plain``), in suite order, for variant (c)."""
    from ..data import load_prompts

    prompts = load_prompts(suite, split="train")
    refusals = _borrowed_refusals(rows)
    twin = {p.pair_id: p.text for p in prompts if p.label == "benign" and p.pair_id}
    harmful = [p for p in prompts if p.label == "harmful"]
    extra = [
        {
            "id": p.id,
            "text": p.text,
            "label": "harmful",
            "split": "train",
            "category": p.category or "suite",
            "source": SUITE_SOURCE,
            "trigger_benign": twin.get(p.pair_id),
            "target": refusals[(7 * i) % len(refusals)],
        }
        for i, p in enumerate(harmful)
    ]
    return extra, [p.text for p in prompts if p.label == "benign" and (p.type or "plain") != "plain"]


def suite_partners(rows: Sequence[dict], suite: str = "core") -> dict[str, dict]:
    """The hand-written harmful partners (``suites/<suite>-partners.jsonl``) of a suite's trigger-benign
    ``train`` prompts that have no harmful request of their own, in the alignment layout (refusal wording
    borrowed from the alignment set's refusals as in :func:`suite_train_rows`), keyed by the look-alike's
    text. Each partner names its look-alike by id (``pair_id``) and text (``look_alike``); both must match
    the suite."""
    from ..data import load_prompts
    from ..data.loaders import SUITES_DIR

    path = SUITES_DIR / f"{suite}-partners.jsonl"
    if not path.exists():
        raise RefusalkitError(
            f"suite '{suite}' has no written partners ({path.name} is not bundled): use --look-alikes all or paired"
        )
    looks = {
        p.id: p.text
        for p in load_prompts(suite, split="train")
        if p.label == "benign" and (p.type or "plain") != "plain"
    }
    refusals = _borrowed_refusals(rows)
    partners: dict[str, dict] = {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, row in enumerate(json.loads(line) for line in lines):
        if looks.get(row.get("pair_id")) != row.get("look_alike") or row.get("label") != "harmful":
            raise RefusalkitError(
                f"{path.name}: partner {row.get('id')!r} must be harmful and name a trigger-benign train prompt of "
                f"'{suite}' by id (pair_id) and exact text (look_alike); fix the row"
            )
        partners[row["look_alike"]] = {
            "id": row["id"],
            "text": row["text"],
            "label": "harmful",
            "split": "train",
            "category": row.get("category") or "suite",
            "source": row.get("source") or path.stem,
            "look_alike": row["look_alike"],
            "target": refusals[(7 * i) % len(refusals)],
        }
    return partners


def joined_partners(trained: Sequence[str], partners: dict[str, dict], mix: set[str]) -> list[dict]:
    """The partners that join (c) with ``look_alikes="partnered"``: the partner of each look-alike (c)
    trains on that has one, in the look-alikes' order, each once, unless the mix already refuses it."""
    rows = [partners[t] for t in dict.fromkeys(trained) if t in partners]
    return [r for r in rows if r["text"] not in mix]


def request_form(row: dict) -> str:
    """Stratum of a benign request: its ``form`` field when the set has one, else its opening words
    (the alignment set's templated questions share openings such as "Summarize the history of")."""
    return str(row.get("form") or " ".join(row["text"].lower().split()[:2]))


def base_share(benign: Sequence[dict], n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded sample of ``n`` benign rows stratified by :func:`request_form` (shares proportional to
    each form's size, largest remainders first), so the safety mix sees templated and free-form
    requests alike; returns ``(share, rest)``, the rest being the generic pool."""
    rng = random.Random(seed)
    groups: dict[str, list[dict]] = {}
    for r in sorted(benign, key=lambda r: r["id"]):
        groups.setdefault(request_form(r), []).append(r)
    n = min(n, len(benign))
    quota = {k: n * len(g) / len(benign) for k, g in groups.items()}
    take = {k: int(q) for k, q in quota.items()}
    for k in sorted(groups, key=lambda k: (take[k] - quota[k], rng.random()))[: n - sum(take.values())]:
        take[k] += 1
    chosen: set[str] = set()
    for k, g in groups.items():
        chosen.update(r["id"] for r in rng.sample(g, take[k]))
    share = [r for r in benign if r["id"] in chosen]
    rng.shuffle(share)
    return share, [r for r in benign if r["id"] not in chosen]


LOOK_ALIKES = ("all", "paired", "partnered")


def trigger_twins(
    trigger: Sequence[str | tuple[str, str]],
    mix: set[str],
    n: int,
    seed: int = 0,
    first: Sequence[str] = (),
    look_alikes: str = "all",
) -> list[str]:
    """``n`` trigger-benign requests for variant (c). ``trigger`` holds texts or ``(harmful request,
    twin)`` pairs; ``first`` (a suite's trigger-benign train prompts) come first, then twins of harmful
    requests that are in the safety mix, so each refusal the model learns is set against its own harmless
    version (the method's pairing), then the others.

    ``look_alikes="paired"`` keeps only look-alikes whose harmful request is in the safety mix: a
    ``first`` prompt stays only when it is the twin of a refusal the model learns, and twins of harmful
    requests outside the mix are never taken. Every frame (c) learns to answer is then also a frame it
    learns to refuse with a harmful stance; an unpaired look-alike ("Why do older people face
    discrimination at work?") teaches only that its frame is answered. Each text is taken once.

    ``look_alikes="partnered"`` takes the same look-alikes as ``"all"``; :func:`variant_examples` then
    adds the written harmful partner of each unpaired suite look-alike (:func:`suite_partners`)."""
    if look_alikes not in LOOK_ALIKES:
        raise RefusalkitError(f"unknown look-alike selection '{look_alikes}': use one of {', '.join(LOOK_ALIKES)}")
    items = [
        tuple(t) if isinstance(t, (tuple, list)) else (None, t) for t in trigger
    ]  # pairs read back from JSON are lists
    own = [twin for harmful, twin in items if harmful in mix]
    if look_alikes in ("all", "partnered"):
        other = [twin for harmful, twin in items if harmful not in mix]
        chosen = list(first[:n])
        chosen += _spread(own, n - len(chosen), seed)
        return chosen + _spread(other, n - len(chosen), seed)
    paired = set(own)
    chosen = list(dict.fromkeys(t for t in first if t in paired))[:n]
    taken = set(chosen)
    return chosen + _spread(list(dict.fromkeys(t for t in own if t not in taken)), n - len(chosen), seed)


def safety_mix_key(rows: Sequence[dict], budget: Budget, seed: int = 0, extra: dict | None = None) -> str:
    """Fingerprint of the safety mix's requests (and ``extra`` settings), computable without a model:
    names caches built from that mix, such as the merged ``smollm2-135m-aligned`` model."""
    harmful, benign = split_rows(rows)
    harmful = harmful_mix(harmful, budget, seed)
    base, _ = base_share(benign, budget.benign_base, seed)
    return data_hash([SFTExample(r["text"], r.get("target", ""), r["label"]) for r in harmful + base], extra)


def safety_examples(
    base_target,
    rows: Sequence[dict],
    budget: Budget,
    seed: int = 0,
    progress: bool = True,
    answer_tokens: int = ANSWER_TOKENS,
) -> tuple[list[SFTExample], list[dict]]:
    """The safety mix and the plain benign rows it left unused (the generic pool)."""
    harmful, benign = split_rows(rows)
    harmful = harmful_mix(harmful, budget, seed)
    base, pool = base_share(benign, budget.benign_base, seed)
    ex = refusal_examples(harmful) + helpful_examples(
        base_target, [r["text"] for r in base], "benign", answer_tokens, progress
    )
    return ex, pool


def variant_examples(
    method: str,
    base_target,
    rows: Sequence[dict] | None = None,
    budget: Budget | None = None,
    trigger_texts: Sequence[str | tuple[str, str]] | None = None,
    seed: int = 0,
    progress: bool = True,
    answer_tokens: int = ANSWER_TOKENS,
    first_triggers: Sequence[str] = (),
    look_alikes: str = "all",
    partners: dict[str, dict] | None = None,
) -> list[SFTExample]:
    """Training set of one variant. ``trigger_texts`` are harm-checked trigger-benign requests (c), or
    ``(harmful request, twin)`` pairs; ``first_triggers`` take the first places and ``look_alikes`` says
    whether unpaired look-alikes may be taken (see :func:`trigger_twins`). With ``"partnered"`` the
    written partner of each trained look-alike that has one joins (c) as a refusal (``partners``, keyed by
    look-alike text; default :func:`suite_partners` of the core suite)."""
    if method not in METHODS:
        raise RefusalkitError(f"unknown method '{method}': use one of {', '.join(METHODS)}")
    rows = rows if rows is not None else load_align_rows()
    budget = budget or Budget()
    examples, pool = safety_examples(base_target, rows, budget, seed, progress, answer_tokens)
    if method == "safety":
        return examples
    if method == "generic":
        extra = [r["text"] for r in _spread(pool, budget.extra, seed)]
        if len(extra) < budget.extra:
            raise RefusalkitError(
                f"the generic pool has {len(extra)} benign requests; the budget asks for {budget.extra}"
            )
        return examples + helpful_examples(base_target, extra, "benign", answer_tokens, progress)
    if not trigger_texts:
        raise RefusalkitError("the trigger-aware variant needs trigger-benign requests (see refusalkit.triggers.data)")
    mix = {e.prompt for e in examples if e.kind == "refusal"}
    chosen = trigger_twins(trigger_texts, mix, budget.extra, seed, first_triggers, look_alikes)
    if len(chosen) < budget.extra:
        raise RefusalkitError(
            f"only {len(chosen)} trigger-benign requests passed the harm check; the budget asks for {budget.extra}"
        )
    helpful = helpful_examples(base_target, chosen, "trigger", answer_tokens, progress)
    if look_alikes != "partnered":
        return examples + helpful
    partners = suite_partners(rows) if partners is None else partners
    return examples + refusal_examples(joined_partners([e.prompt for e in helpful], partners, mix)) + helpful


def train_variant(
    method: str,
    base: str = "smollm2-135m",
    out_dir: str | Path | None = None,
    config: SFTConfig | None = None,
    budget: Budget | None = None,
    trigger_texts: Sequence[str | tuple[str, str]] | None = None,
    progress: bool = True,
    rows: Sequence[dict] | None = None,
    refusal_tokens: str | None = None,
) -> TrainResult:
    """Build a variant's data with the base model, then LoRA-train it into ``out_dir``. ``rows``: an
    alignment set in the bundled layout (default: the bundled one). ``refusal_tokens`` (``single`` or
    ``categories``) prefixes every answer with a control token (:mod:`refusalkit.refusal_tokens`)."""
    from ..targets.refusal_tokens import prepare
    from ..targets import load_target

    rows = rows if rows is not None else load_align_rows()
    target = load_target(base)
    examples = variant_examples(method, target, rows, budget=budget, trigger_texts=trigger_texts, progress=progress)
    examples = prepare(target, examples, rows, refusal_tokens)
    out = Path(out_dir) if out_dir else home() / "adapters" / f"{target.id}-{method}"
    return train_lora(target, examples, out, config, progress=progress, description=f"training {method}")
