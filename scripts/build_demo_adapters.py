"""Build the demo adapters `refusalkit demo` ships, from a finished `refusalkit study` folder.

    python scripts/build_demo_adapters.py --study runs/study [--out src/refusalkit/data/adapters] [--check]

Reads the study's LoRA adapters (a) ``STUDY/adapters/safety`` and (c) ``STUDY/adapters/triggers``
(each: adapter_model.safetensors, adapter_config.json, refusalkit-train.json) and writes into OUT:

- ``demo-safety.safetensors`` and ``demo-triggers.safetensors``: the LoRA weights, int8 with one
  float16 scale per row (the format of :mod:`refusalkit.targets.demo`);
- ``demo.json``: per adapter its file and sha256, the training fingerprint, base model and settings
  (refusalkit-train.json without the per-step losses), the peft adapter config (its
  ``base_model_name_or_path`` set to the base model's alias: the builder's local path means nothing
  elsewhere), the sha256 of the study's original weights file, the relative error of the stored
  weights, the date the adapter was trained (its refusalkit-train.json's modification time, UTC), how
  the study evaluated it (``STUDY/runs/NAME/summary.json``: target, detector, generation settings) and
  the study's settings (``STUDY/study.json``, which a finished study has: the builder needs it).

The output is a pure function of the study folder, so a rebuild from the same study writes the same
bytes. ``--check`` builds into a temporary folder and exits 1 if OUT differs from it.
"""
from __future__ import annotations

import argparse
import datetime
import filecmp
import json
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from refusalkit.errors import RefusalkitError
from refusalkit.targets.demo import DEMO_DIR, FORMAT, MANIFEST, file_sha256, pack, unpack
from refusalkit.train.study import LABELS

VARIANTS = {name: LABELS[name] for name in ("safety", "triggers")}  # the study's variants (a) and (c)
TRAIN_MANIFEST = "refusalkit-train.json"  # written by refusalkit.train.sft next to each adapter
ABOUT = (
    "LoRA adapters of the bundled model from `refusalkit study`: (a) safety SFT and (c) safety SFT plus "
    "trigger-aware benign examples at the same budget. Built by scripts/build_demo_adapters.py; weights are "
    f"int8 with a float16 scale per row ({FORMAT}); `refusalkit demo` evaluates them."
)


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _relative_error(original: dict[str, torch.Tensor], restored: dict[str, torch.Tensor]) -> float:
    """||W - W'|| / ||W|| over all tensors together (Frobenius)."""
    diff = sum(float((original[k].float() - restored[k]).pow(2).sum()) for k in original)
    norm = sum(float(original[k].float().pow(2).sum()) for k in original)
    return round((diff / norm) ** 0.5, 6) if norm else 0.0


def _evaluated_with(study: Path, name: str) -> dict | None:
    summary = _json(study / "runs" / name / "summary.json")
    if summary is None:
        return None
    run = summary["run"]
    return {k: run.get(k) for k in ("target", "detector", "params", "early_stop", "suite", "split", "n_prompts")}


def build(study: Path, out: Path) -> dict:
    """Write the shipped files for ``study`` into ``out``; returns demo.json's content."""
    finished = _json(study / "study.json")
    if finished is None:
        raise RefusalkitError(f"{study / 'study.json'} is missing: ship adapters of a finished study (its settings go into {MANIFEST})")
    # Every input is checked before anything is written: a half-written OUT would ship weights that
    # do not match demo.json.
    for name in VARIANTS:
        src = study / "adapters" / name
        need = ("adapter_model.safetensors", "adapter_config.json", TRAIN_MANIFEST)
        missing = [n for n in need if not (src / n).is_file()]
        if missing:
            raise RefusalkitError(f"{src} is not a finished adapter (missing {', '.join(missing)}); let the study finish it")
    bases = {_json(study / "adapters" / name / TRAIN_MANIFEST)["base"] for name in VARIANTS}
    if len(bases) != 1:
        raise RefusalkitError(f"the study's adapters were trained on different base models ({', '.join(sorted(bases))})")
    out.mkdir(parents=True, exist_ok=True)
    adapters = {}
    for name, label in VARIANTS.items():
        src = study / "adapters" / name
        train = _json(src / TRAIN_MANIFEST)
        weights = load_file(src / "adapter_model.safetensors")
        packed = pack(weights)
        file = f"demo-{name}.safetensors"
        # One metadata key: safetensors writes several in no fixed order, and a rebuild must give the same bytes.
        meta = json.dumps({"format": FORMAT, "variant": name, "fingerprint": train["fingerprint"]}, sort_keys=True)
        (out / file).write_bytes(save(packed, metadata={"refusalkit": meta}))
        config = {**_json(src / "adapter_config.json"), "base_model_name_or_path": train["base"]}
        trained = datetime.datetime.fromtimestamp((src / TRAIN_MANIFEST).stat().st_mtime, datetime.timezone.utc)
        adapters[name] = {
            "label": label,
            "file": file,
            "sha256": file_sha256(out / file),
            "bytes": (out / file).stat().st_size,
            "fingerprint": train["fingerprint"],
            "trained_on": trained.date().isoformat(),
            "train": {k: v for k, v in train.items() if k != "losses"},
            "adapter_config": config,
            "parameters": sum(t.numel() for t in weights.values()),
            "source_sha256": file_sha256(src / "adapter_model.safetensors"),
            "relative_error": _relative_error(weights, unpack(packed)),
            "evaluated_with": _evaluated_with(study, name),
        }
    manifest = {"about": ABOUT, "format": FORMAT, "base": bases.pop(), "study_settings": finished["settings"], "adapters": adapters}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def check(study: Path, out: Path) -> list[str]:
    """The shipped files in ``out`` that differ from a fresh build from ``study`` (empty: up to date)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        build(study, fresh)
        names = sorted(p.name for p in fresh.iterdir())
        return [n for n in names if not (out / n).is_file() or not filecmp.cmp(fresh / n, out / n, shallow=False)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", type=Path, required=True, help="A finished `refusalkit study` output folder.")
    ap.add_argument("--out", type=Path, default=DEMO_DIR, help="Where the shipped files go (default: the package data).")
    ap.add_argument("--check", action="store_true", help="Only compare OUT with a fresh build; exit 1 if they differ.")
    args = ap.parse_args(argv)
    try:
        if args.check:
            stale = check(args.study, args.out)
            if stale:
                print(f"{args.out}: {', '.join(stale)} differ from a build from {args.study}; rerun without --check", file=sys.stderr)
                return 1
            print(f"{args.out} matches a build from {args.study}")
            return 0
        manifest = build(args.study, args.out)
    except RefusalkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, a in manifest["adapters"].items():
        print(f"{a['file']}: {a['label']}, fingerprint {a['fingerprint']}, {a['bytes'] / 1e6:.1f} MB, relative error {a['relative_error']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
