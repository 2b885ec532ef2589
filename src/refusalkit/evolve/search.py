"""The evolutionary search for pseudo-malicious prompts (after EvoRefuse, Wu et al. 2025).

Each seed starts a lineage with a current prompt. One generation, for every lineage at once:

1. mutate the current prompt with ``mutations`` strategies (a random subset of the nine);
2. drop duplicates and candidates the safety filter flags (counted); score the rest (fitness);
3. keep the top-k children; recombine ``recombinations`` pairs of them, filter and score again;
4. simulated annealing: the best child replaces the current prompt if it is fitter, or else with
   probability exp((f_child - f_current) / tau), tau = max(tau_min, tau0 - tau_decay * generation)
   (0.1, 0.005, 0.05 as in EvoRefuse);
5. the best child ever seen in a lineage is its evolved prompt; with ``confirm`` = m > 0, the m
   fittest children of each lineage are answered greedily and judged afterwards
   (:func:`refusalkit.evolve.run_evolve`), and the fittest one judged a refusal is kept instead
   (the first-token score is a proxy for the greedy answer; this aligns the pick with what the
   refusal-triggering rate measures).

Scoring is batched over all lineages (one forward pass batch per phase on a local model). After each
generation the whole state (candidates, lineages, counters, random state) is written to
``state.json``; a run with ``resume=True`` continues after the last finished generation. A time
budget stops the run at a generation boundary.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..types import Prompt
from .fitness import Fitness
from .harm import HarmCheck
from .mutate import STRATEGIES, Mutator

STATE_FILE = "state.json"


@dataclass
class EvolveConfig:
    generations: int = 5
    mutations: int = 9  # strategies tried per lineage and generation
    top_k: int = 4
    recombinations: int = 2
    tau0: float = 0.1
    tau_decay: float = 0.005
    tau_min: float = 0.05
    time_budget: float | None = None  # seconds for this invocation
    seed: int = 0
    max_words: int = 45
    strategies: tuple[str, ...] = STRATEGIES
    # After the search: check the ``confirm`` fittest children of each lineage with a greedy answer
    # judged by the detector and keep the fittest one judged a refusal (0: keep the fittest child).
    confirm: int = 0

    def tau(self, generation: int) -> float:
        return max(self.tau_min, self.tau0 - self.tau_decay * generation)


@dataclass
class Candidate:
    id: str
    text: str
    lineage: str  # id of the seed this candidate descends from
    parents: list[str] = field(default_factory=list)
    strategy: str = "seed"
    source: str = "seed"  # seed | offline | llm
    generation: int = 0
    fitness: float | None = None
    refusal_prob: float | None = None
    confidence: float | None = None
    harm: dict | None = None
    status: str = "scored"  # scored | rejected_harm | duplicate | unscored
    accepted: bool = False  # became the lineage's current prompt
    greedy_verdict: str | None = None  # detector verdict of the greedy answer, when confirmation checked it


@dataclass
class EvolveResult:
    candidates: dict[str, Candidate]
    lineages: dict[str, dict]
    generations_done: int
    counters: Counter
    stopped: str  # done | time_budget
    elapsed_s: float
    history: list[dict]

    def evolved(self) -> list[Candidate]:
        """The best evolved (non-seed) prompt of each lineage that produced one."""
        return [self.candidates[lin["best_child"]] for lin in self.lineages.values() if lin.get("best_child")]

    def fittest_children(self, lineage: str, k: int) -> list[Candidate]:
        """The ``k`` fittest scored (harmless) children of a lineage, fittest first."""
        pool = [
            c
            for c in self.candidates.values()
            if c.lineage == lineage and c.id != lineage and c.status == "scored" and c.fitness is not None
        ]
        return sorted(pool, key=lambda c: -c.fitness)[:k]

    def seeds(self) -> list[Candidate]:
        return [self.candidates[lid] for lid in self.lineages]

    def ancestry(self, cid: str) -> list[str]:
        """Ids from the candidate back to its seed, following first parents."""
        chain = [cid]
        while self.candidates[chain[-1]].parents:
            chain.append(self.candidates[chain[-1]].parents[0])
        return chain


def _seed_hash(seeds: Sequence[Prompt]) -> str:
    return hashlib.sha256("\n".join(p.text for p in seeds).encode()).hexdigest()[:16]


def evolve(
    seeds: Sequence[Prompt],
    fitness: Fitness,
    harm: HarmCheck,
    mutator_factory: Callable[[random.Random], Mutator],
    config: EvolveConfig,
    out_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> EvolveResult:
    """Run (or resume) the search; see the module docstring."""
    if not seeds:
        raise RefusalkitError("evolve needs at least one seed prompt")
    bad = [s for s in config.strategies if s not in STRATEGIES]
    if bad:
        raise RefusalkitError(f"unknown strategy {bad[0]!r}; choose from: {', '.join(STRATEGIES)}")
    start = time.monotonic()
    state_path = out_dir / STATE_FILE if out_dir else None
    rng = random.Random(config.seed)
    mutator = mutator_factory(rng)
    if state_path and state_path.exists():
        if not resume:
            raise RefusalkitError(
                f"{out_dir} already holds an evolve run; pass --resume to continue it or choose another --out"
            )
        st = _load_state(state_path, seeds)
        candidates, lineages, counters, history = st["candidates"], st["lineages"], st["counters"], st["history"]
        done = st["generation"]
        rng.setstate(_tuple(st["rng"]))
        mutator.discarded.update(st.get("discarded", {}))
        harm.stats.update(st.get("harm_stats", {}))
    else:
        candidates, lineages, counters, history, done = {}, {}, Counter(), [], -1
    stopped = "done"

    def save(generation: int) -> None:
        if state_path is None:
            return
        state = {
            "version": 1,
            "seed_hash": _seed_hash(seeds),
            "generation": generation,
            "config": _config_dict(config),
            "rng": rng.getstate(),
            "candidates": {k: asdict(c) for k, c in candidates.items()},
            "lineages": lineages,
            "counters": dict(counters),
            "history": history,
            "discarded": dict(mutator.discarded),
            "harm_stats": dict(harm.stats),
        }
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(state_path)

    seen = {c.text.strip().lower() for c in candidates.values()}
    with progress_bar("evolving", config.generations + 1, progress) as advance:
        advance(done + 1)
        if done < 0:  # generation 0: score the seeds
            scores = fitness([s.text for s in seeds], seed=config.seed)
            for s, sc in zip(seeds, scores):
                cid = f"{s.id}"
                if cid in candidates:
                    raise RefusalkitError(f"duplicate seed id {s.id!r}")
                c = Candidate(cid, s.text, lineage=cid, accepted=True)
                _set_score(c, sc)
                candidates[cid] = c
                seen.add(s.text.strip().lower())
                if c.fitness is None:
                    counters["seeds_unscored"] += 1
                    continue
                lineages[cid] = {"seed": cid, "current": cid, "best_child": None}
            done = 0
            history.append(_snapshot(0, candidates, lineages, config.tau(0)))
            save(0)
            advance(1)
        for gen in range(done + 1, config.generations + 1):
            if config.time_budget is not None and time.monotonic() - start > config.time_budget:
                stopped = "time_budget"
                break
            tau = config.tau(gen)
            active = list(lineages.values())
            # 1-2: mutation phase
            jobs, owners = [], []
            for lin in active:
                cur = candidates[lin["current"]]
                for strategy in rng.sample(list(config.strategies), min(config.mutations, len(config.strategies))):
                    jobs.append((cur.text, strategy))
                    owners.append(lin)
            children = _admit(
                mutator.mutate(jobs),
                owners,
                [[candidates[o["current"]].id] for o in owners],
                gen,
                candidates,
                seen,
                harm,
                fitness,
                counters,
                config.seed + gen,
            )
            # 3: recombination of the top-k children of each lineage
            by_lineage: dict[str, list[Candidate]] = {}
            for c in children:
                by_lineage.setdefault(c.lineage, []).append(c)
            pairs, powners, pparents = [], [], []
            for lin in active:
                top = sorted(by_lineage.get(lin["seed"], []), key=lambda c: -c.fitness)[: config.top_k]
                by_lineage[lin["seed"]] = top
                for a, b in _pairs(len(top), config.recombinations):
                    pairs.append((top[a].text, top[b].text, candidates[lin["seed"]].text))
                    powners.append(lin)
                    pparents.append([top[a].id, top[b].id])
            if pairs and not (config.time_budget is not None and time.monotonic() - start > config.time_budget):
                for c in _admit(
                    mutator.recombine(pairs),
                    powners,
                    pparents,
                    gen,
                    candidates,
                    seen,
                    harm,
                    fitness,
                    counters,
                    config.seed + 7919 * gen,
                ):
                    by_lineage[c.lineage].append(c)
            # 4: simulated-annealing acceptance of the best child
            for lin in active:
                pool = by_lineage.get(lin["seed"], [])
                if not pool:
                    continue
                best = max(pool, key=lambda c: c.fitness)
                cur = candidates[lin["current"]]
                delta = best.fitness - cur.fitness
                if delta > 0 or rng.random() < math.exp(delta / tau):
                    lin["current"] = best.id
                    best.accepted = True
                    counters["accepted_worse" if delta <= 0 else "accepted_better"] += 1
                prev = candidates[lin["best_child"]] if lin["best_child"] else None
                if prev is None or best.fitness > prev.fitness:
                    lin["best_child"] = best.id
            history.append(_snapshot(gen, candidates, lineages, tau))
            done = gen
            save(gen)
            advance(1)
    counters["filter_rejected"] = sum(c.status == "rejected_harm" for c in candidates.values())
    counters.update({f"discarded:{k}": v for k, v in mutator.discarded.items()})
    return EvolveResult(candidates, lineages, done, counters, stopped, time.monotonic() - start, history)


def _admit(groups, owners, parent_ids, gen, candidates, seen, harm, fitness, counters, seed) -> list[Candidate]:
    """Turn mutants into candidates: dedupe, harm-check, score. Returns the scored ones."""
    fresh: list[Candidate] = []
    for group, lin, parents in zip(groups, owners, parent_ids):
        for m in group:
            if m.text is None:
                continue
            lin["n"] = lin.get("n", 0) + 1
            cid = f"{lin['seed']}.{lin['n']}"
            c = Candidate(cid, m.text, lin["seed"], list(parents), m.strategy, m.source, gen)
            candidates[cid] = c
            key = m.text.strip().lower()
            if key in seen:
                c.status = "duplicate"
                counters["duplicates"] += 1
                continue
            seen.add(key)
            fresh.append(c)
    for c, res in zip(fresh, harm.check([c.text for c in fresh])):
        c.harm = res.to_dict()
        if res.harmful:
            c.status = "rejected_harm"
    ok = [c for c in fresh if c.status != "rejected_harm"]
    for c, sc in zip(ok, fitness([c.text for c in ok], seed=seed)):
        _set_score(c, sc)
    return [c for c in ok if c.fitness is not None]


def _set_score(c: Candidate, sc) -> None:
    if sc is None:
        c.status = "unscored"
    else:
        c.fitness, c.refusal_prob, c.confidence = sc.fitness, sc.refusal_prob, sc.confidence


def _pairs(n: int, k: int) -> list[tuple[int, int]]:
    """The first k pairs of the top-n children, best pairs first: (0,1), (0,2), (1,2), ..."""
    out = [(a, b) for a in range(n) for b in range(a + 1, n)]
    out.sort(key=lambda ab: ab[0] + ab[1])
    return out[:k]


def _snapshot(gen: int, candidates: dict, lineages: dict, tau: float) -> dict:
    cur = [candidates[lin["current"]] for lin in lineages.values()]
    best = [candidates[lin["best_child"]] for lin in lineages.values() if lin.get("best_child")]
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "generation": gen,
        "tau": tau,
        "mean_current_fitness": mean([c.fitness for c in cur]),
        "mean_current_refusal_prob": mean([c.refusal_prob for c in cur]),
        "mean_best_refusal_prob": mean([c.refusal_prob for c in best]),
        "candidates": len(candidates),
    }


def _config_dict(config: EvolveConfig) -> dict:
    d = asdict(config)
    d["strategies"] = list(config.strategies)
    return d


def _tuple(x):
    return tuple(_tuple(i) for i in x) if isinstance(x, list) else x


def _load_state(path: Path, seeds: Sequence[Prompt]) -> dict:
    try:
        st = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RefusalkitError(f"cannot read {path} ({exc}); delete it to start over") from exc
    if st.get("seed_hash") != _seed_hash(seeds):
        raise RefusalkitError(f"{path} was made from other seed prompts; use the same seeds to resume or another --out")
    st["candidates"] = {k: Candidate(**v) for k, v in st["candidates"].items()}
    st["counters"] = Counter(st.get("counters", {}))
    return st
