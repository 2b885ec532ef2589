"""Any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, OpenAI, `refusalkit serve`).

Requests run concurrently (at most ``concurrency`` at once). Each prompt has one overall deadline,
``timeout`` seconds from when its request starts, that covers every attempt, the time to read each
answer and the waits between attempts: a server that hangs, or trickles its answer a byte at a time,
cannot hold a prompt longer. 429, 5xx, connection errors and unparsable bodies are retried (at most
``max_retries`` times) with exponential backoff, or after the wait a 429/503 asks for in
``Retry-After`` (up to ``max_retry_after`` seconds; a longer wait, or one past the deadline, ends the
prompt at once). A prompt that still fails becomes a :class:`Response` with ``error`` set, which the
judge marks ``unscored``.
"""
from __future__ import annotations

import asyncio
import email.utils
import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import httpx

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..types import GenParams, Prompt, Response
from .base import Messages, StopCheck, as_prompts, to_messages

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 3
DEFAULT_CONCURRENCY = 8
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class ClientSettings:
    """How refusalkit talks to an OpenAI-compatible server: where, with which key, and within what bounds
    (``timeout``: seconds per prompt, all attempts included; ``retries``: attempts after the first;
    ``concurrency``: requests in flight at once)."""

    base_url: str | None = None
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY

    def target_kwargs(self) -> dict:
        """Keyword arguments of :func:`refusalkit.targets.load_target` for an ``openai:`` model."""
        return {"base_url": self.base_url, "api_key": self.api_key, "timeout": self.timeout,
                "max_retries": self.retries, "concurrency": self.concurrency}

    def public(self) -> dict:
        """The settings for reports and logs: the key itself is never written, only whether one is set."""
        return {"base_url": self.base_url, "api_key": "(set)" if self.api_key else None, "timeout": self.timeout,
                "retries": self.retries, "concurrency": self.concurrency}


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number of seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class OpenAITarget:
    whitebox = False

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_RETRIES,
        backoff: float = 0.5,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        if not timeout > 0:
            raise RefusalkitError(f"timeout must be a positive number of seconds; got {timeout}")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.timeout = max(1, concurrency), float(timeout)
        self.max_retries, self.backoff, self.max_retry_after = max(0, max_retries), backoff, max_retry_after
        self.id = f"openai:{model}"
        self._sleep = asyncio.sleep  # the waits between attempts (tests record them instead of waiting)

    # --- public --------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt | str],
        params: GenParams | None = None,
        should_stop: StopCheck | None = None,  # HTTP answers arrive whole; early stop does not apply
        progress: bool = True,
    ) -> list[Response]:
        params = params or GenParams()
        items = as_prompts(prompts)
        convs = [to_messages(p.text, params.system_prompt) for p in items]
        return _run(self._generate_all([p.id for p in items], convs, params, progress))

    def generate_messages(
        self, conversations: Sequence[Messages], params: GenParams | None = None, progress: bool = False
    ) -> list[Response]:
        params = params or GenParams()
        ids = [f"c{i}" for i in range(len(conversations))]
        return _run(self._generate_all(ids, [list(c) for c in conversations], params, progress))

    def check(self) -> None:
        """Raise a one-line error if the server cannot be reached (used by the CLI before long runs)."""
        limit = min(self.timeout, 10.0)

        async def probe() -> None:
            async with httpx.AsyncClient(timeout=limit, headers=self._headers()) as client:
                async with asyncio.timeout(limit):  # the whole exchange, not each read
                    await client.get(f"{self.base_url}/models")

        try:
            _run(probe())
        except (httpx.HTTPError, TimeoutError) as exc:
            raise RefusalkitError(
                f"cannot reach {self.base_url} ({type(exc).__name__}); is the server running? set --base-url or OPENAI_BASE_URL"
            ) from exc

    # --- internals -----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def _generate_all(self, ids, convs, params: GenParams, progress: bool) -> list[Response]:
        sem = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency)
        # httpx's own timeouts bound each read; the deadline in _request bounds the whole prompt
        async with httpx.AsyncClient(timeout=self.timeout, headers=self._headers(), limits=limits) as client:
            with progress_bar(f"querying {self.id}", len(convs), progress) as advance:

                async def one(pid, conv):
                    async with sem:
                        resp = await self._request(client, pid, conv, params)
                    advance(1)
                    return resp

                return list(await asyncio.gather(*(one(p, c) for p, c in zip(ids, convs))))

    async def _request(self, client: httpx.AsyncClient, pid: str, conv: Messages, params: GenParams) -> Response:
        body = {
            "model": self.model,
            "messages": conv,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        }
        deadline = time.monotonic() + self.timeout
        last_error, wait, attempts = "", 0.0, 0
        for attempt in range(self.max_retries + 1):
            if attempt:
                if time.monotonic() + wait >= deadline:
                    break
                await self._sleep(wait)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            attempts += 1
            try:
                async with asyncio.timeout(left):
                    r = await client.post(f"{self.base_url}/chat/completions", json=body)
                if r.status_code == 429 or r.status_code >= 500:
                    last_error = f"HTTP {r.status_code}"
                    asked = retry_after_seconds(r.headers.get("retry-after"))
                    if asked is not None:
                        if asked > self.max_retry_after or time.monotonic() + asked >= deadline:
                            return self._failed(pid, params, f"{last_error}: the server asks to retry after {asked:g} s, "
                                                             f"past the {self.timeout:g} s deadline (--timeout)")
                        wait = asked
                    else:
                        wait = self._backoff(attempt)
                    continue
                if r.status_code >= 400:  # 4xx other than 429: retrying will not help
                    return self._failed(pid, params, f"HTTP {r.status_code}: {r.text[:200]}")
                return self._parse(pid, params, r)
            except TimeoutError:
                last_error = f"TimeoutError: no complete answer within the {self.timeout:g} s deadline (--timeout)"
                break
            except (httpx.TransportError, ValueError, KeyError, IndexError, TypeError) as exc:
                last_error, wait = f"{type(exc).__name__}: {exc}", self._backoff(attempt)
        if not last_error:
            last_error = f"TimeoutError: the {self.timeout:g} s deadline (--timeout) passed before an attempt could start"
        return self._failed(pid, params, f"failed after {attempts} attempt{'s' if attempts != 1 else ''}: {last_error}")

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2**attempt * (1 + random.random() * 0.25)

    def _parse(self, pid: str, params: GenParams, r: httpx.Response) -> Response:
        data = r.json()
        choice = data["choices"][0]
        text = choice["message"]["content"]
        if not isinstance(text, str):
            raise TypeError("message content is not text")
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason") or "stop"
        return Response(
            prompt_id=pid,
            text=text.strip(),
            target_id=self.id,
            params=params.to_dict(),
            tokens=int(usage.get("completion_tokens") or 0),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            finish_reason="length" if finish == "length" else "stop",
        )

    def _failed(self, pid: str, params: GenParams, error: str) -> Response:
        return Response(prompt_id=pid, text="", target_id=self.id, params=params.to_dict(), finish_reason="error", error=error)


def _run(coro):
    """Run a coroutine from sync code, also when called inside a running event loop (e.g. a server)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict = {}

    def worker():
        result["v"] = asyncio.run(coro)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    return result["v"]
