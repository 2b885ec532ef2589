"""The target protocol: anything that turns prompts into responses.

Every target generates text. A white-box target (a local transformers model) also exposes its
model and tokenizer for logits, hidden states and hooks; code that needs those calls
:func:`require_whitebox`, which fails with one clear message on other targets.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

from ..errors import CapabilityError
from ..types import GenParams, Prompt, Response

# Called with the partial answers of still-running rows; returns, per row, True to stop it early.
StopCheck = Callable[[list[str]], list[bool]]
Messages = list[dict[str, str]]


@runtime_checkable
class Target(Protocol):
    id: str
    whitebox: bool

    def generate(
        self,
        prompts: Sequence[Prompt | str],
        params: GenParams | None = None,
        should_stop: StopCheck | None = None,
        progress: bool = True,
    ) -> list[Response]: ...

    def generate_messages(
        self, conversations: Sequence[Messages], params: GenParams | None = None, progress: bool = False
    ) -> list[Response]: ...


def as_prompts(prompts: Sequence[Prompt | str]) -> list[Prompt]:
    """Accept bare strings where a prompt set is expected (ids ``p0``, ``p1``, ...)."""
    return [p if isinstance(p, Prompt) else Prompt(id=f"p{i}", text=p) for i, p in enumerate(prompts)]


def to_messages(text: str, system_prompt: str | None) -> Messages:
    msgs: Messages = []
    if system_prompt:
        msgs.append({"role": "system", "content": system_prompt})
    msgs.append({"role": "user", "content": text})
    return msgs


def require_whitebox(target: object, what: str):
    """Return the target if it is a local transformers model, else raise a one-line error."""
    if not getattr(target, "whitebox", False):
        raise CapabilityError(
            f"{what} needs a local transformers model; got {getattr(target, 'id', type(target).__name__)}"
        )
    return target
