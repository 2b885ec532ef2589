"""Where refusalkit keeps converted models, caches and adapters."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cache root: ``$REFUSALKIT_HOME``, default ``~/.cache/refusalkit``."""
    root = Path(os.environ.get("REFUSALKIT_HOME") or Path.home() / ".cache" / "refusalkit")
    root.mkdir(parents=True, exist_ok=True)
    return root
