"""Seed prompts for the evolutionary search: benign prompts from a file or a bundled suite.

Files and suites are read by :func:`refusalkit.data.loaders.load_prompts` (JSONL, CSV, Parquet,
XSTest CSV, ``hf:`` datasets); a ``.txt`` file holds one prompt a line.
"""

from __future__ import annotations

from pathlib import Path

from ..data.loaders import load_prompts
from ..checks import at_least
from ..errors import RefusalkitError
from ..tables import read_rows
from ..types import Prompt


def load_seeds(
    path: Path | None = None,
    suite: str | None = None,
    split: str | None = "train",
    types: list[str] | None = None,
    prompt_col: str | None = None,
    limit: int | None = None,
) -> list[Prompt]:
    """Benign seed prompts: the search starts from harmless requests.

    From a suite, only benign prompts are kept (filtered by ``split`` and ``types``). A file's rows are
    benign unless a label column says otherwise, and a file with harmful rows is refused.
    """
    if (path is None) == (suite is None):
        raise RefusalkitError("give seeds with exactly one of --seeds FILE or --suite NAME")
    if suite is not None:
        prompts = [p for p in load_prompts(suite, split=split or None) if p.label == "benign"]
        if types:
            prompts = [p for p in prompts if p.type in types]
    elif Path(path).suffix.lower() == ".txt":
        if not Path(path).exists():
            raise RefusalkitError(f"seed file {path} does not exist")
        prompts = [Prompt(id=f"s{i}", text=row["prompt"]) for i, (_, row) in enumerate(read_rows(path)[1])]
    else:
        prompts = load_prompts(path, text_col=prompt_col, default_label="benign")
        harmful = sum(p.label == "harmful" for p in prompts)
        if harmful:
            raise RefusalkitError(f"{path}: seeds must be benign; {harmful} rows are labelled harmful")
    at_least(limit, 1, "limit")
    if limit:
        prompts = prompts[:limit]
    if not prompts:
        raise RefusalkitError("no seed prompts matched")
    return prompts
