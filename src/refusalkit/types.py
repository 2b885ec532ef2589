"""Core records that flow through refusalkit: prompts, generation settings, responses, verdicts.

They are plain dataclasses so they serialise to JSON rows and SQLite columns without ceremony.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

PromptLabel = Literal["benign", "harmful"]
VerdictLabel = Literal["compliance", "partial_refusal", "full_refusal", "unscored"]
VERDICT_LABELS: tuple[str, ...] = ("compliance", "partial_refusal", "full_refusal", "unscored")


@dataclass
class Prompt:
    """One request sent to a target.

    ``type`` is the fine-grained kind (e.g. ``homonym``, ``fiction``); ``category`` the topic or harm
    category; ``pair_id`` links a trigger-benign prompt with the harmful prompt it resembles.
    """

    id: str
    text: str
    label: PromptLabel = "benign"
    category: str = ""
    type: str = ""
    pair_id: str | None = None
    split: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Prompt":
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass
class GenParams:
    """Generation settings shared by every target. ``temperature == 0`` means greedy decoding.

    Settings no target can honour (``max_new_tokens`` or ``batch_size`` below 1, a negative
    temperature, ``top_p`` outside (0, 1]) raise :class:`~refusalkit.errors.RefusalkitError` when the
    settings are made, so a command fails before it loads a model.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    system_prompt: str | None = None
    batch_size: int = 8

    def __post_init__(self) -> None:
        from .checks import at_least
        from .errors import RefusalkitError

        at_least(self.max_new_tokens, 1, "--max-new-tokens", none_ok=False)
        at_least(self.batch_size, 1, "--batch-size", none_ok=False)
        at_least(self.temperature, 0, "--temperature", none_ok=False)
        if isinstance(self.top_p, bool) or not isinstance(self.top_p, (int, float)) or not 0 < self.top_p <= 1:
            raise RefusalkitError(f"--top-p must be above 0 and at most 1, got {self.top_p}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FinishReason = Literal["stop", "length", "early_stop", "error"]


@dataclass
class Response:
    """What a target answered to one prompt. ``error`` is set (and ``text`` empty) when it failed.

    ``extra`` holds what a wrapping target decided besides the text (the refusal token it forced and its
    probability, MoGU's gate values); it is stored with the answer and shown in ``responses.jsonl``."""

    prompt_id: str
    text: str
    target_id: str
    params: dict[str, Any] = field(default_factory=dict)
    tokens: int = 0
    prompt_tokens: int = 0
    finish_reason: FinishReason = "stop"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """A detector's reading of one response.

    ``score`` is the refusal score in [0, 1] (1 = certainly a refusal); ``evidence`` is the span or
    reason that decided it. ``unscored`` is for anything that failed and is never counted as a refusal
    or a compliance.
    """

    label: VerdictLabel
    score: float | None
    detector: str
    evidence: str = ""

    @property
    def is_refusal(self) -> bool:
        return self.label in ("partial_refusal", "full_refusal")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
