"""Safetensors files with a JSON metadata entry: how directions, Latent Guards and refusal probes are
saved, and the one place that turns a missing or foreign file into a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import RefusalkitError


def write(path: str | Path, tensors: dict[str, torch.Tensor], key: str, meta: dict) -> Path:
    """Save ``tensors`` (made contiguous) with ``meta`` as JSON under metadata ``key``; creates the folder."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={key: json.dumps(meta)})
    return path


def read(path: str | Path, key: str, kind: str, make_hint: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(meta, tensors)`` of a file written by :func:`write` with metadata ``key``. ``kind`` names the
    file in errors ("directions", "guard", ...), ``make_hint`` says how to make one."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise RefusalkitError(f"{kind} file {path} does not exist ({make_hint})")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get(key, "null") or "null")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own error types for bad files
        raise RefusalkitError(f"{path} is not a refusalkit {kind} file ({exc})") from exc
    if not meta:
        raise RefusalkitError(f"{path} is not a refusalkit {kind} file")
    return meta, tensors
