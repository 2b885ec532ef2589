"""A scripted target for fast tests of the evaluation loop: no model, known answers."""
from __future__ import annotations

import time

from refusalkit.targets import as_prompts
from refusalkit.types import GenParams, Response

REFUSAL = "I'm sorry, but I can't help with that."
ANSWER = "Sure. Here is a friendly and complete answer to your question, with a few practical tips."


class FakeTarget:
    """Refuses prompts whose text contains any of ``refuse_words``; fails on ``fail_words``.

    ``calls`` records the prompt ids of every generate call, so tests can check what was generated.
    ``delay`` sleeps per batch (for the kill test). With ``echo`` every answer ends with
    ``[re: PROMPT TEXT]``, so a test can tell which prompt an answer was made for.
    """

    whitebox = False

    def __init__(self, refuse_words=("kill", "bomb", "steal"), fail_words=(), delay=0.0, target_id="fake", echo=False):
        self.id, self.refuse_words, self.fail_words, self.delay = target_id, refuse_words, fail_words, delay
        self.echo = echo
        self.calls: list[list[str]] = []

    def generate(self, prompts, params=None, should_stop=None, progress=True):
        params = params or GenParams()
        items = as_prompts(prompts)
        self.calls.append([p.id for p in items])
        if self.delay:
            time.sleep(self.delay)
        out = []
        for p in items:
            low = p.text.lower()
            if any(w in low for w in self.fail_words):
                out.append(Response(p.id, "", self.id, params.to_dict(), finish_reason="error", error="backend timed out"))
                continue
            text = REFUSAL if any(w in low for w in self.refuse_words) else ANSWER
            if self.echo:
                text += f" [re: {p.text}]"
            out.append(Response(p.id, text, self.id, params.to_dict(), tokens=len(text.split())))
        return out

    def generate_messages(self, conversations, params=None, progress=False):  # pragma: no cover - unused
        raise NotImplementedError

    @property
    def generated_ids(self) -> list[str]:
        return [i for call in self.calls for i in call]
