"""The run store: one SQLite file (``DIR/run.sqlite``) holding every prompt, response and verdict.

Responses are keyed ``(prompt_id, target_id, params_hash)`` and verdicts ``(prompt_id, target_id,
params_hash, detector)``, so re-running the same evaluation skips what is done, a different judge
re-uses the stored answers, and nothing can be stored twice. Each response also records the
:func:`content_hash` of the prompt it answers (text and system prompt): a stored answer is reused
only for a prompt with the same hash, so an edited prompt, or a row that moved under another id, is
answered again instead of inheriting an answer to something else. Storing a new answer deletes every
verdict of the answer it replaces. Each batch is written in one transaction: a process killed mid-run
loses at most the batch in flight.

Stores written before the content hash existed open as they are: the column is added and their
responses, whose hash is unknown (NULL), are never reused; they are answered again on the next run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..types import Prompt, Response, Verdict

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
  id TEXT PRIMARY KEY, text TEXT NOT NULL, label TEXT NOT NULL, category TEXT, type TEXT,
  pair_id TEXT, split TEXT, source TEXT
);
CREATE TABLE IF NOT EXISTS responses (
  prompt_id TEXT NOT NULL, target_id TEXT NOT NULL, params_hash TEXT NOT NULL,
  text TEXT NOT NULL, tokens INTEGER, prompt_tokens INTEGER, finish_reason TEXT, error TEXT,
  params TEXT, created REAL, content_hash TEXT, extra TEXT,
  PRIMARY KEY (prompt_id, target_id, params_hash)
);
CREATE TABLE IF NOT EXISTS verdicts (
  prompt_id TEXT NOT NULL, target_id TEXT NOT NULL, params_hash TEXT NOT NULL, detector TEXT NOT NULL,
  label TEXT NOT NULL, score REAL, evidence TEXT, created REAL,
  PRIMARY KEY (prompt_id, target_id, params_hash, detector)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def params_hash(settings: dict[str, Any]) -> str:
    """A short stable hash of everything that changes an answer (generation params, early-stop rule)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def content_hash(text: str, system_prompt: str | None = None) -> str:
    """The sha256 of what a target reads besides its settings: the prompt text and the system prompt.
    A stored answer is reused only for a prompt with the same hash (and the same settings hash)."""
    return hashlib.sha256(json.dumps([text, system_prompt], ensure_ascii=False).encode("utf-8")).hexdigest()


class RunStore:
    """Open (or create) ``run.sqlite`` in a run folder."""

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "run.sqlite"
        self.conn = sqlite3.connect(self.path, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(responses)")}
        if "content_hash" not in columns:  # a store from before content hashes: its answers stay unverified
            with self.conn:
                self.conn.execute("ALTER TABLE responses ADD COLUMN content_hash TEXT")
        if "extra" not in columns:  # a store from before Response.extra: its answers have none
            with self.conn:
                self.conn.execute("ALTER TABLE responses ADD COLUMN extra TEXT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------
    def put_prompts(self, prompts: Iterable[Prompt]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO prompts VALUES (?,?,?,?,?,?,?,?)",
                [(p.id, p.text, p.label, p.category, p.type, p.pair_id, p.split, p.source) for p in prompts],
            )

    def set_meta(self, **values: Any) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?,?)", [(k, json.dumps(v, default=str)) for k, v in values.items()]
            )

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def put_batch(
        self,
        phash: str,
        detector: str,
        responses: Sequence[Response],
        verdicts: Sequence[Verdict],
        hashes: Sequence[str],
    ) -> None:
        """Store one batch of new answers (``hashes``: the :func:`content_hash` of each one's prompt)
        and their verdicts atomically. Verdicts of other judges on the answers they replace are
        deleted: they judged another text."""
        now = time.time()
        with self.conn:
            self.conn.executemany(
                "DELETE FROM verdicts WHERE prompt_id=? AND target_id=? AND params_hash=?",
                [(r.prompt_id, r.target_id, phash) for r in responses],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO responses (prompt_id, target_id, params_hash, text, tokens, prompt_tokens, "
                "finish_reason, error, params, created, content_hash, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        r.prompt_id,
                        r.target_id,
                        phash,
                        r.text,
                        r.tokens,
                        r.prompt_tokens,
                        r.finish_reason,
                        r.error,
                        json.dumps(r.params, default=str),
                        now,
                        h,
                        json.dumps(r.extra) if r.extra else None,
                    )
                    for r, h in zip(responses, hashes, strict=True)
                ],
            )
            self._put_verdicts(phash, detector, responses, verdicts, now)

    def put_verdicts(
        self, phash: str, detector: str, responses: Sequence[Response], verdicts: Sequence[Verdict]
    ) -> None:
        """Store one judge's verdicts on answers already stored (re-judging)."""
        with self.conn:
            self._put_verdicts(phash, detector, responses, verdicts, time.time())

    def _put_verdicts(self, phash, detector, responses, verdicts, now) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?)",
            [
                (r.prompt_id, r.target_id, phash, detector, v.label, v.score, v.evidence, now)
                for r, v in zip(responses, verdicts, strict=True)
            ],
        )

    # --- reading -------------------------------------------------------------------------------
    def responses(self, target_id: str, phash: str) -> dict[str, tuple[Response, str | None]]:
        """Stored responses of this target and settings with their prompt's content hash (None in a
        store from before content hashes), by prompt id."""
        rows = self.conn.execute(
            "SELECT prompt_id, text, tokens, prompt_tokens, finish_reason, error, params, content_hash, extra FROM responses "
            "WHERE target_id=? AND params_hash=?",
            (target_id, phash),
        )
        return {
            pid: (
                Response(
                    pid,
                    text,
                    target_id,
                    json.loads(params or "{}"),
                    tokens or 0,
                    ptoks or 0,
                    reason,
                    error,
                    json.loads(extra) if extra else {},
                ),
                chash,
            )
            for pid, text, tokens, ptoks, reason, error, params, chash, extra in rows
        }

    def judged(self, target_id: str, phash: str, detector: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT prompt_id FROM verdicts WHERE target_id=? AND params_hash=? AND detector=?",
            (target_id, phash, detector),
        )
        return {pid for (pid,) in rows}

    def records(self, target_id: str, phash: str, detector: str) -> list[dict[str, Any]]:
        """The joined prompt/response/verdict rows of one run configuration, in the
        ``responses.jsonl`` format, plus ``content_hash``: the hash of the prompt the answer was made
        for (the caller checks it against the prompt's, then drops it). A row whose answer carries
        :attr:`Response.extra` has it under ``extra``."""
        rows = self.conn.execute(
            """SELECT p.id, p.text, p.label, p.category, p.type, p.pair_id, p.split,
                      r.text, r.finish_reason, r.tokens, r.error, v.label, v.score, v.detector, v.evidence,
                      r.content_hash, r.extra
               FROM verdicts v
               JOIN responses r ON r.prompt_id=v.prompt_id AND r.target_id=v.target_id AND r.params_hash=v.params_hash
               JOIN prompts p ON p.id=v.prompt_id
               WHERE v.target_id=? AND v.params_hash=? AND v.detector=? ORDER BY p.rowid""",
            (target_id, phash, detector),
        )
        keys = (
            "prompt_id",
            "prompt",
            "prompt_label",
            "category",
            "type",
            "pair_id",
            "split",
            "response",
            "finish_reason",
            "tokens",
            "error",
            "verdict",
            "score",
            "detector",
            "evidence",
            "content_hash",
        )
        out = []
        for row in rows:
            record = dict(zip(keys, row[:-1]))
            if row[-1]:
                record["extra"] = json.loads(row[-1])
            out.append(record)
        return out

    def counts(self) -> dict[str, int]:
        return {
            t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("prompts", "responses", "verdicts")
        }
