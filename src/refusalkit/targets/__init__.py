"""Targets: the models refusalkit evaluates. See :func:`load_target`.

A model spec is ``SCHEME:NAME`` for a registered scheme (:func:`register_scheme`: ``openai:`` and
``hf:`` come with refusalkit), else a bundled alias (:data:`ALIASES`, :func:`register_alias`) or a
local transformers folder or hub id ``org/name``. Adding a kind of target is one registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import RefusalkitError
from .base import Target, as_prompts, require_whitebox, to_messages
from .bundled import ALIASES, Alias, register_alias
from .openai import DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT, ClientSettings


@dataclass(frozen=True)
class TargetOptions:
    """What a command line can say about a target besides its spec; each scheme reads what it needs.
    ``timeout`` is each prompt's overall deadline in seconds, retries included
    (:mod:`refusalkit.targets.openai`)."""

    adapter: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_RETRIES


@dataclass(frozen=True)
class Scheme:
    """A kind of target named by a spec prefix (``openai:NAME``): ``build(NAME, options)`` makes it.
    ``adapter`` says whether it applies a LoRA adapter (``--adapter``)."""

    prefix: str
    build: Callable[[str, TargetOptions], Target]
    help: str
    adapter: bool = False


SCHEMES: dict[str, Scheme] = {}


def register_scheme(
    prefix: str, build: Callable[[str, TargetOptions], Target], help: str, adapter: bool = False
) -> None:
    """Make ``PREFIX:NAME`` specs load through ``build(NAME, options)``."""
    SCHEMES[prefix] = Scheme(prefix, build, help, adapter)


def _openai(name: str, options: TargetOptions) -> Target:
    from .openai import OpenAITarget

    return OpenAITarget(
        name,
        base_url=options.base_url,
        api_key=options.api_key,
        concurrency=options.concurrency,
        timeout=options.timeout,
        max_retries=options.max_retries,
    )


def _hub(name: str, options: TargetOptions) -> Target:
    from .hf import HFTarget

    return HFTarget.load(f"hf:{name}", adapter=options.adapter)


def _local(spec: str, options: TargetOptions) -> Target:
    """A spec without a scheme: an alias, a local transformers folder or a hub id ``org/name``."""
    from .hf import HFTarget

    return HFTarget.load(spec, adapter=options.adapter)


register_scheme("openai", _openai, "an OpenAI-compatible chat endpoint (--base-url or $OPENAI_BASE_URL)")
register_scheme("hf", _hub, "a transformers model from the hub, hf:org/name", adapter=True)


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
    """Build a target from a model spec: ``SCHEME:NAME`` for a registered scheme (:data:`SCHEMES`),
    else an alias from :data:`ALIASES`, a local transformers folder or a hub id ``org/name``."""
    options = TargetOptions(adapter, base_url, api_key, concurrency, timeout, max_retries)
    prefix, sep, name = spec.partition(":")
    scheme = SCHEMES.get(prefix) if sep else None
    if scheme is None:
        return _local(spec, options)
    if adapter and not scheme.adapter:
        raise RefusalkitError("--adapter needs a local transformers model; got " + spec)
    return scheme.build(name, options)


__all__ = [
    "ALIASES",
    "SCHEMES",
    "Alias",
    "ClientSettings",
    "Scheme",
    "Target",
    "TargetOptions",
    "as_prompts",
    "load_target",
    "register_alias",
    "register_scheme",
    "require_whitebox",
    "to_messages",
]
