"""The bundled alignment set (``suites/align.jsonl``): harmful requests with refusal targets (and each
one's benign *trigger version*) and plain benign requests. Training (:mod:`refusalkit.train`) and the
prompt-harm classifier (:mod:`refusalkit.harm`) read it from here."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import RefusalkitError
from ..tables import read_rows

ALIGN_REQUIRED = ("id", "text", "label")


def align_path() -> Path:
    return Path(str(resources.files("refusalkit.data") / "suites" / "align.jsonl"))


def load_align_rows(path: str | Path | None = None) -> list[dict]:
    """Rows of the alignment set (or a file in its layout), with one clear error per bad row."""
    path = Path(path) if path else align_path()
    if not path.exists():
        raise RefusalkitError(f"alignment set {path} does not exist")
    rows = []
    for n, row in read_rows(path)[1]:
        for key in ALIGN_REQUIRED:
            if not str(row.get(key) or "").strip():
                raise RefusalkitError(f"{path}: row {n}: missing or empty '{key}'")
        if row["label"] == "harmful" and not str(row.get("target") or "").strip():
            raise RefusalkitError(f"{path}: row {n}: a harmful row needs a refusal in 'target'")
        rows.append(row)
    return rows
