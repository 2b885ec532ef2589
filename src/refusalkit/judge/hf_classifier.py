"""Any Hugging Face sequence-classification refusal classifier as a refusalkit detector
(``--detector hf:ORG/NAME``, or ``hf:/path/to/folder``, or a folder path).

The model and its tokenizer load with transformers (``AutoModelForSequenceClassification``,
``AutoTokenizer``). Which of its labels means a refusal comes from the model's own ``id2label``:
a name with ``refus`` or ``reject`` is a refusal (``partial_refusal`` when it also says ``partial``,
else ``full_refusal``), a name with ``compli``, ``comply`` or ``answer`` is compliance, and a negated
name (``non_refusal``, ``not answered``) is the other side. When the names say nothing of the kind
(``LABEL_0``/``LABEL_1``), the user passes ``label_map`` (``--label-map 'LABEL_0=compliance,...'``).

By default the classifier reads the answer alone; ``read_prompt=True`` gives it the prompt and the
answer as a text pair, for classifiers trained that way. Probabilities of labels that map to the same
class are added; the verdict is the most probable class and the score is refusalkit's refusal score
of the class probabilities.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import RefusalkitError
from ..types import Prompt, Response, Verdict
from .common import CLASSES, clip, precheck, refusal_score

_NEGATED = r"(?:non|not|no|un)[\s_\-]*"


def label_class(name: str) -> str | None:
    """Our class for one of a classifier's label names, or None when the name does not say."""
    low = str(name).lower()
    if re.search(_NEGATED + r"(?:refus|reject)", low):
        return "compliance"
    if re.search(_NEGATED + r"(?:answer|compl)", low):
        return "full_refusal"
    if "refus" in low or "reject" in low:
        return "partial_refusal" if "partial" in low else "full_refusal"
    if "compli" in low or "comply" in low or "answer" in low:
        return "compliance"
    return None


def parse_label_map(spec: str | dict | None, id2label: dict[int, str]) -> dict[int, str] | None:
    """``'NAME=ours,...'`` (NAME is a label name or its id) -> {label id: our class}; None if not given."""
    if spec is None:
        return None
    pairs = spec.items() if isinstance(spec, dict) else (p.rsplit("=", 1) for p in spec.split(",") if p.strip())
    by_name = {str(v): k for k, v in id2label.items()}
    out: dict[int, str] = {}
    for pair in pairs:
        if len(pair) != 2:
            raise RefusalkitError(f"--label-map entries look like LABEL=ours; got '{'='.join(pair)}'")
        theirs, ours = (str(x).strip() for x in pair)
        if ours not in CLASSES:
            raise RefusalkitError(f"--label-map: '{ours}' is not one of {', '.join(CLASSES)}")
        if theirs in by_name:
            out[by_name[theirs]] = ours
        elif theirs.isdigit() and int(theirs) in id2label:
            out[int(theirs)] = ours
        else:
            raise RefusalkitError(
                f"--label-map: the classifier has no label '{theirs}' (its labels: {', '.join(map(str, id2label.values()))})"
            )
    return out


class HFClassifierDetector:
    """A transformers sequence classifier judging answers (see the module docstring)."""

    def __init__(
        self,
        model: str,
        label_map: str | dict | None = None,
        read_prompt: bool = False,
        device: str | None = None,
        batch_size: int = 16,
        max_length: int = 512,
    ) -> None:
        self.source = str(model)
        self.name = f"hf:{self.source}"
        self.read_prompt, self.batch_size = read_prompt, batch_size
        self.tokenizer, self.model = self._load(self.source, device)
        # the shortest of the caller's limit, the tokenizer's and the model's position table
        limits = (
            max_length,
            getattr(self.tokenizer, "model_max_length", None),
            getattr(self.model.config, "max_position_embeddings", None),
        )
        self.max_length = min(int(x) for x in limits if x)
        id2label = {int(k): str(v) for k, v in (self.model.config.id2label or {}).items()}
        self.labels = parse_label_map(label_map, id2label) or self._labels_from_config(id2label)
        missing = sorted(set(id2label) - set(self.labels))
        if missing:
            raise RefusalkitError(
                f"--label-map leaves the classifier's labels {', '.join(id2label[i] for i in missing)} unmapped; map every label"
            )
        self.version = getattr(self.model.config, "_commit_hash", None)

    # --- loading ---------------------------------------------------------------------------------
    def _load(self, source: str, device: str | None):
        from transformers import (
            AutoConfig,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        path = Path(source).expanduser()
        local = path.is_dir()
        if not local:
            if source.startswith((".", "/", "~")) or source.count("/") != 1:
                raise RefusalkitError(
                    f"hf:{source}: no such folder, and not a hub id like ORG/NAME; give a model id or a local model folder"
                )
        elif not (path / "config.json").exists():
            raise RefusalkitError(f"{path} holds no config.json; is it a transformers model folder?")
        where = str(path) if local else source
        try:
            config = AutoConfig.from_pretrained(where)
            archs = list(getattr(config, "architectures", None) or [])
            if archs and not any(a.endswith("ForSequenceClassification") for a in archs):
                raise RefusalkitError(
                    f"hf:{source} is a {archs[0]} model, not a sequence classifier; use a *ForSequenceClassification model "
                    "(or --detector llm / wildguard for a generative judge)"
                )
            tokenizer = AutoTokenizer.from_pretrained(where)
            model = AutoModelForSequenceClassification.from_pretrained(where)
        except RefusalkitError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            hint = (
                "check the folder"
                if local
                else "check the id; offline, download it where the hub is reachable and pass the local folder as hf:/path"
            )
            raise RefusalkitError(f"cannot load the classifier hf:{source}: {first} ({hint})") from exc
        import torch

        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return tokenizer, model.to(dev).eval()

    def _labels_from_config(self, id2label: dict[int, str]) -> dict[int, str]:
        labels = {i: label_class(name) for i, name in id2label.items()}
        known = {c for c in labels.values() if c}
        if None in labels.values() or "compliance" not in known or not known - {"compliance"}:
            names = ", ".join(f"{i}={n}" for i, n in sorted(id2label.items()))
            raise RefusalkitError(
                f"cannot tell which labels of hf:{self.source} mean a refusal ({names}); pass "
                "--label-map 'NAME=compliance,NAME=full_refusal' (ours: compliance, partial_refusal, full_refusal)"
            )
        return labels  # type: ignore[return-value]

    # --- scoring ---------------------------------------------------------------------------------
    def class_proba(self, texts: Sequence[str], prompts: Sequence[str] | None = None):
        """Probabilities of our three classes (columns in :data:`CLASSES` order) for each text."""
        import torch

        out = []
        dev = next(self.model.parameters()).device
        for start in range(0, len(texts), self.batch_size):
            chunk = [clip(t) for t in texts[start : start + self.batch_size]]
            pair = None if prompts is None else [clip(p) for p in prompts[start : start + self.batch_size]]
            enc = (
                self.tokenizer(
                    pair,
                    chunk,
                    truncation="longest_first",
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                if pair is not None
                else self.tokenizer(
                    chunk, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
                )
            )
            with torch.inference_mode():
                probs = torch.softmax(self.model(**enc.to(dev)).logits.float(), dim=-1).cpu()
            for row in probs:
                agg = [0.0, 0.0, 0.0]
                for i, p in enumerate(row.tolist()):
                    agg[CLASSES.index(self.labels[i])] += p
                out.append(agg)
        return out

    def judge(self, responses: Sequence[Response], prompts: Sequence[Prompt | str] | None = None) -> list[Verdict]:
        if self.read_prompt and (prompts is None or len(prompts) != len(responses)):
            raise RefusalkitError(
                f"{self.name} reads the prompts (read_prompt): give one prompt per response (--prompt-col)"
            )
        out: list[Verdict | None] = [precheck(r, self.name) for r in responses]
        todo = [i for i, v in enumerate(out) if v is None]
        if not todo:
            return out  # type: ignore[return-value]
        ptext = None
        if self.read_prompt:
            ptext = [prompts[i].text if isinstance(prompts[i], Prompt) else str(prompts[i]) for i in todo]  # type: ignore[index]
        proba = self.class_proba([responses[i].text for i in todo], ptext)
        present = sorted(set(self.labels.values()), key=CLASSES.index)
        for i, p in zip(todo, proba):
            label = max(present, key=lambda c: p[CLASSES.index(c)])
            evidence = " ".join(f"{c}={p[CLASSES.index(c)]:.2f}" for c in present)
            out[i] = Verdict(label, round(refusal_score(p), 4), self.name, evidence)
        return out  # type: ignore[return-value]
