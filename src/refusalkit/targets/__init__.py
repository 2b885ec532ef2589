"""Targets: the models refusalkit evaluates. See :func:`load_target`."""
from __future__ import annotations

from ..errors import RefusalkitError
from .base import Target, as_prompts, require_whitebox, to_messages
from .bundled import ALIASES
from .openai import DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT, ClientSettings


def load_target(
    spec: str,
    *,
    adapter: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_RETRIES,
):
    """Build a target from a model spec.

    - ``openai:NAME`` — an OpenAI-compatible chat endpoint (``--base-url``/``OPENAI_BASE_URL``; ``timeout`` is
      each prompt's overall deadline in seconds, retries included, see :mod:`refusalkit.targets.openai`);
    - an alias from :data:`ALIASES` (``smollm2-135m``, ``tiny-random``, ...);
    - a local transformers folder, or ``hf:org/name`` / ``org/name`` from the hub.
    """
    if spec.startswith("openai:"):
        if adapter:
            raise RefusalkitError("--adapter needs a local transformers model; got " + spec)
        from .openai import OpenAITarget

        return OpenAITarget(
            spec.split(":", 1)[1], base_url=base_url, api_key=api_key, concurrency=concurrency,
            timeout=timeout, max_retries=max_retries,
        )
    from .hf import HFTarget

    return HFTarget.load(spec, adapter=adapter)


from ..train import aligned as _aligned  # noqa: E402,F401  (registers smollm2-135m-aligned)

__all__ = ["ALIASES", "ClientSettings", "Target", "as_prompts", "load_target", "require_whitebox", "to_messages"]
