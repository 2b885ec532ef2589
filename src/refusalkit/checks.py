"""Argument checks every command runs before it loads a model or reads a prompt: a bad count or an
output path that cannot be written fails at once with one line, not after minutes of work.

Output files that are tables are checked by :func:`refusalkit.tables.check_output`; generation
settings by :class:`refusalkit.types.GenParams` itself.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import RefusalkitError


def at_least(value, lowest: int | float, option: str, *, none_ok: bool = True):
    """``value`` when it is at least ``lowest`` (or None and ``none_ok``); otherwise one line naming
    ``option``. Booleans and non-finite numbers are refused too."""
    if value is None and none_ok:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < lowest:
        raise RefusalkitError(f"{option} must be at least {lowest}, got {value}")
    return value


def fraction(value, option: str):
    """``value`` when it lies in [0, 1]; otherwise one line naming ``option``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RefusalkitError(f"{option} must be a fraction between 0 and 1, got {value}")
    return value


def output_dir(path: str | Path, option: str = "--out") -> Path:
    """An output folder: it may exist (runs resume into it) but not as a file, nor below a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RefusalkitError(f"{option} {path} is a file; give a folder")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise RefusalkitError(f"{option} {path}: {parent} is a file, not a folder")
    return path


def output_file(path: str | Path, option: str = "--out") -> Path:
    """An output file of any format: not an existing folder, not below a file."""
    path = Path(path)
    if path.is_dir():
        raise RefusalkitError(f"{option} {path} is a folder; give a file name")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise RefusalkitError(f"{option} {path}: {parent} is a file, not a folder")
    return path
