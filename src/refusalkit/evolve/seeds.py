"""Seed prompts for the evolutionary search: a user's file or a bundled suite's benign prompts."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..errors import RefusalkitError
from ..types import Prompt


def suite_rows(name: str) -> list[dict]:
    """Rows of a bundled suite (``refusalkit/data/suites/NAME.jsonl``)."""
    try:
        raw = resources.files("refusalkit.data").joinpath(f"suites/{name}.jsonl").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError) as exc:
        raise RefusalkitError(f"no bundled suite named '{name}'") from exc
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def load_seeds(
    path: Path | None = None,
    suite: str | None = None,
    split: str | None = "train",
    types: list[str] | None = None,
    prompt_col: str | None = None,
    limit: int | None = None,
) -> list[Prompt]:
    """Benign seed prompts from a file (JSONL, CSV, Parquet or one prompt a line) or a bundled suite.

    From a suite only ``label == benign`` rows are taken, filtered by ``split`` and ``types``. From a
    file, a ``label`` column, when present, must say benign: the search starts from harmless prompts.
    """
    if (path is None) == (suite is None):
        raise RefusalkitError("give seeds with exactly one of --seeds FILE or --suite NAME")
    if suite is not None:
        rows = [r for r in suite_rows(suite) if r.get("label") == "benign"]
        if split:
            rows = [r for r in rows if r.get("split") == split]
        if types:
            rows = [r for r in rows if r.get("type") in types]
        prompts = [Prompt.from_dict({**r, "text": r.get("text") or r.get("prompt")}) for r in rows]
    else:
        from ..triggers.predictor import read_table, pick_column

        df = read_table(Path(path))
        col = pick_column(df, prompt_col, ("prompt", "text"), "prompt", path)
        if "label" in df.columns:
            harmful = df[df["label"].astype(str).str.lower().isin(["harmful", "unsafe", "1", "true"])]
            if len(harmful):
                raise RefusalkitError(f"{path}: seeds must be benign; {len(harmful)} rows are labelled harmful")
        ids = df["id"].astype(str).tolist() if "id" in df.columns else [f"s{i}" for i in range(len(df))]
        prompts = [Prompt(id=i, text=str(t).strip()) for i, t in zip(ids, df[col].tolist()) if str(t).strip()]
    if limit:
        prompts = prompts[:limit]
    if not prompts:
        raise RefusalkitError("no seed prompts matched")
    return prompts
