"""Other label schemes expressed in refusalkit's three classes, for ``refusalkit judge-eval --map``.

refusalkit labels answers with XSTest's definitions (``compliance``, ``partial_refusal``,
``full_refusal``; see ``docs/labels.md``). Files labelled under another scheme are mapped onto those
classes either entry by entry (``--map 'ok=compliance,no=full_refusal'``) or with a named preset
whose table lives in ``label_schemes.json`` next to this module, each entry with the reason for its
choice (``--map six-tone``). Presets and entries combine (``--map 'six-tone,unsure=partial_refusal'``);
an entry wins over a preset. A preset may map a label to nothing: those rows are left out of the
scores and counted. Schemes without a partial class are scored in binary mode (refusal against
compliance) unless told otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..errors import RefusalkitError
from .common import CLASSES

SCHEMES_FILE = "label_schemes.json"
SKIP = "__skip__"  # a label the map leaves out of the scores


@lru_cache(maxsize=1)
def label_schemes() -> dict[str, dict]:
    """The named presets: ``{name: {title, binary, labels: {theirs: {ours, why}}}}``."""
    text = (resources.files("refusalkit.judge") / SCHEMES_FILE).read_text(encoding="utf-8")
    schemes = json.loads(text)
    for name, scheme in schemes.items():
        for theirs, entry in scheme["labels"].items():
            if entry["ours"] is not None and entry["ours"] not in CLASSES:
                raise ValueError(f"{SCHEMES_FILE}: {name}/{theirs} maps to {entry['ours']!r}, not one of {CLASSES}")
    return schemes


def _key(value) -> str:
    """Preset labels match case-, space- and dash-insensitively; '3.0' (a number read as a float) is '3'."""
    text = str(value).strip().lower()
    text = re.sub(r"^(\d+)\.0+$", r"\1", text)
    return re.sub(r"[\s\-]+", "_", text)


@dataclass
class LabelMap:
    """How a file's labels become ours. ``entries`` match exactly; ``preset`` entries match by
    :func:`_key`; a label matched by neither passes through unchanged (ours already, or an error)."""

    entries: dict[str, str] = field(default_factory=dict)
    preset: dict[str, str] = field(default_factory=dict)
    presets: list[str] = field(default_factory=list)
    binary: bool = False

    def __call__(self, raw: str | None) -> str | None:
        """Our class for one raw label, :data:`SKIP` to leave the row out, None when unlabelled."""
        if raw is None or raw == "":
            return None
        if raw in self.entries:
            return self.entries[raw]
        return self.preset.get(_key(raw), raw)


def parse_map(spec: str | None) -> LabelMap:
    """``'preset'``, ``'their=ours,...'`` or both, comma-separated -> :class:`LabelMap`.

    ``ours`` is one of the three classes, or ``skip`` to leave such rows out of the scores."""
    out = LabelMap()
    schemes = label_schemes()
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            if part not in schemes:
                raise RefusalkitError(
                    f"--map: '{part}' is neither a preset ({', '.join(schemes)}) nor an entry like their=ours"
                )
            scheme = schemes[part]
            out.presets.append(part)
            out.binary = out.binary or bool(scheme.get("binary"))
            for theirs, entry in scheme["labels"].items():
                out.preset[_key(theirs)] = SKIP if entry["ours"] is None else entry["ours"]
            continue
        theirs, ours = (x.strip() for x in part.rsplit("=", 1))
        if ours == "skip":
            out.entries[theirs] = SKIP
        elif ours in CLASSES:
            out.entries[theirs] = ours
        else:
            raise RefusalkitError(f"--map: '{ours}' is not one of {', '.join(CLASSES)} or skip")
    return out


BINARY = ("compliance", "refusal")


def binary_quality(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    """Refusal (partial or full) against compliance: accuracy, per-class P/R/F1, macro-F1 over the
    two classes and the 2x2 confusion matrix, in the shape of :func:`~.corpus.quality`. ``unscored``
    predictions are counted and left out of the scores."""
    from .corpus import class_scores, scored_pairs

    def side(label: str) -> str:
        return "compliance" if label == "compliance" else "refusal"

    pairs, n_unscored = scored_pairs(y_true, y_pred)
    if not pairs:
        return {"mode": "binary", "n": 0, "unscored": n_unscored}
    scores = class_scores([side(t) for t, _ in pairs], [side(p) for _, p in pairs], list(BINARY))
    return {
        "mode": "binary",
        "n": len(pairs),
        "unscored": n_unscored,
        "binary_accuracy": scores.pop("accuracy"),
        **scores,
    }
