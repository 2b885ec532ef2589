"""The ``smollm2-135m-aligned`` alias: the bundled model after refusalkit's safety alignment.

On first use it trains the safety variant (``refusalkit align`` with default settings; minutes on a
CPU, resumable), merges the adapter into the weights and caches the merged model under
``$REFUSALKIT_HOME/models/smollm2-135m-aligned-<key>``; later loads read that folder directly. The key
fingerprints the safety mix and the SFT settings, so a changed alignment set or mix builds a new model
instead of reusing a stale one.
"""

from __future__ import annotations

from pathlib import Path

from ..paths import home
from ..targets.bundled import Alias, _write_atomically, register_alias

BASE = "smollm2-135m"
NAME = "smollm2-135m-aligned"


def aligned_adapter_dir() -> Path:
    return home() / "adapters" / f"{BASE}-safety"


def aligned_model_dir() -> Path:
    from .align import Budget, safety_mix_key
    from .data import load_align_rows
    from .sft import SFTConfig

    key = safety_mix_key(load_align_rows(), Budget(), extra={"base": BASE, **SFTConfig().to_dict()})
    return home() / "models" / f"{NAME}-{key[:12]}"


def ensure_aligned() -> Path:
    """Folder of the merged aligned model, training and merging it first if needed."""
    dest = aligned_model_dir()

    def build(tmp: Path) -> None:
        from ..targets import load_target
        from .align import train_variant

        train_variant("safety", BASE, aligned_adapter_dir())
        target = load_target(BASE, adapter=str(aligned_adapter_dir()))
        target.model.save_pretrained(tmp)
        target.tokenizer.save_pretrained(tmp)

    return _write_atomically(dest, build)


def _source() -> str:
    dest = aligned_model_dir()
    if (dest / "config.json").exists():
        return str(dest)
    return f"built on first use from {BASE} + `refusalkit align` (cached in {dest})"


register_alias(
    Alias(
        NAME,
        "SmolLM2-135M-Instruct after refusalkit's LoRA safety alignment (refuses harmful requests)",
        ensure_aligned,
        _source,
    )
)
