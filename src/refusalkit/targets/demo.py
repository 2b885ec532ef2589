"""The demo adapters: variants (a) and (c) of ``refusalkit study`` on the bundled model, shipped small.

``refusalkit demo`` shows over-refusal and its fix on the bundled SmolLM2-135M without training
anything: it evaluates the base model, the safety-aligned LoRA adapter (a) and the trigger-aware one
(c). Both adapters live in ``refusalkit/data/adapters/`` as ``demo-NAME.safetensors``, written by
``scripts/build_demo_adapters.py`` from a finished study folder, and described by ``demo.json``
(training fingerprint and settings, peft config, sha256 of each shipped file).

Storage (:data:`FORMAT`): every LoRA matrix is int8 with one float16 scale per row (``NAME.q`` and
``NAME.scale``): ``w ≈ q * scale`` with ``scale`` the row's largest magnitude / 127, rounded up to
the next float16, so no value is clipped and each is off by at most half a step. A rank-16 adapter on
every block of the bundled model is about 5 MB this way instead of about 20 MB in float32.

:func:`demo_adapter` turns a shipped file back into a float32 peft adapter folder under
``$REFUSALKIT_HOME/adapters/`` (once; the folder name carries the file's sha256) that loads with
``load_target(model, adapter=FOLDER)``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import RefusalkitError
from ..paths import home

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "adapters"
MANIFEST = "demo.json"
FORMAT = "int8-rowwise-f16scale"
REBUILD_HINT = "reinstall refusalkit, or rebuild the demo adapters with scripts/build_demo_adapters.py --study DIR"


def quantise(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``t`` (at least 1-D) as int8 values and one float16 scale per row (first dimension)."""
    rows = t.detach().float().reshape(t.shape[0], -1)
    step = rows.abs().amax(dim=1) / 127
    scale = step.half()
    # Round the scale up where float16 rounded it down, so |value / scale| <= 127 and nothing is clipped.
    low = scale.float() < step
    scale = torch.where(low, torch.nextafter(scale, torch.full_like(scale, float("inf"))), scale)
    s = scale.float()[:, None]
    q = torch.where(s > 0, torch.round(rows / torch.where(s > 0, s, 1.0)), torch.zeros_like(rows))
    return q.clamp(-127, 127).to(torch.int8).reshape(t.shape), scale


def dequantise(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float32 tensor :func:`quantise` stored as ``q`` and ``scale``."""
    return (q.float().reshape(q.shape[0], -1) * scale.float()[:, None]).reshape(q.shape)


def pack(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A peft state dict in :data:`FORMAT`: ``NAME.q`` (int8) and ``NAME.scale`` (float16) per tensor."""
    out = {}
    for name, t in tensors.items():
        out[f"{name}.q"], out[f"{name}.scale"] = quantise(t)
    return out


def unpack(packed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 peft state dict of a :func:`pack` result."""
    names = sorted(k[: -len(".q")] for k in packed if k.endswith(".q"))
    if not names or len(packed) != 2 * len(names) or any(f"{n}.scale" not in packed for n in names):
        raise RefusalkitError(
            f"not a demo adapter in the {FORMAT} format (expected NAME.q and NAME.scale tensors); {REBUILD_HINT}"
        )
    return {n: dequantise(packed[f"{n}.q"], packed[f"{n}.scale"]) for n in names}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """``demo.json`` in ``folder`` (default :data:`DEMO_DIR`): what each shipped demo adapter is and how it was made."""
    path = (folder or DEMO_DIR) / MANIFEST
    if not path.is_file():
        raise RefusalkitError(f"{path} is missing: refusalkit ships no demo adapters here; {REBUILD_HINT}")
    return json.loads(path.read_text(encoding="utf-8"))


def demo_adapter(name: str, folder: Path | None = None) -> Path:
    """The float32 peft adapter folder of shipped demo adapter ``name`` (``safety`` or ``triggers``),
    dequantised under ``$REFUSALKIT_HOME/adapters/`` on first use. The shipped file must match the
    sha256 in ``demo.json``."""
    from safetensors.torch import load_file, save_file

    from .bundled import _write_atomically

    folder = folder or DEMO_DIR
    adapters = read_manifest(folder)["adapters"]
    if name not in adapters:
        raise RefusalkitError(f"no demo adapter '{name}'; the shipped ones are: {', '.join(adapters)}")
    entry = adapters[name]
    path = folder / entry["file"]
    if not path.is_file():
        raise RefusalkitError(f"demo adapter file {path} is missing; {REBUILD_HINT}")
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise RefusalkitError(
            f"demo adapter file {path} does not match demo.json (sha256 {digest[:12]}..., expected "
            f"{entry['sha256'][:12]}...): it was changed after it was built; {REBUILD_HINT}"
        )

    def build(tmp: Path) -> None:
        save_file(unpack(load_file(path)), tmp / "adapter_model.safetensors")
        (tmp / "adapter_config.json").write_text(json.dumps(entry["adapter_config"], indent=2), encoding="utf-8")

    return _write_atomically(home() / "adapters" / f"demo-{name}-{digest[:12]}", build, marker="adapter_config.json")
