"""Any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, OpenAI, `refusalkit serve`).

Requests run concurrently (bounded by a semaphore) with a timeout each. 429, 5xx, connection errors,
timeouts and unparsable bodies are retried with exponential backoff; a request that still fails
becomes a :class:`Response` with ``error`` set, which the judge marks ``unscored``.
"""
from __future__ import annotations

import asyncio
import os
import random
import threading
from typing import Sequence

import httpx

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..types import GenParams, Prompt, Response
from .base import Messages, StopCheck, as_prompts, to_messages

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


class _Retryable(Exception):
    pass


class OpenAITarget:
    whitebox = False

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.timeout = max(1, concurrency), timeout
        self.max_retries, self.backoff = max(0, max_retries), backoff
        self.id = f"openai:{model}"

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
        try:
            httpx.get(f"{self.base_url}/models", headers=self._headers(), timeout=min(self.timeout, 10.0))
        except httpx.HTTPError as exc:
            raise RefusalkitError(
                f"cannot reach {self.base_url} ({type(exc).__name__}); is the server running? set --base-url or OPENAI_BASE_URL"
            ) from exc

    # --- internals -----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def _generate_all(self, ids, convs, params: GenParams, progress: bool) -> list[Response]:
        sem = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency)
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
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() * 0.25))
            try:
                r = await client.post(f"{self.base_url}/chat/completions", json=body)
                if r.status_code == 429 or r.status_code >= 500:
                    raise _Retryable(f"HTTP {r.status_code}")
                if r.status_code >= 400:  # 4xx other than 429: retrying will not help
                    return self._failed(pid, params, f"HTTP {r.status_code}: {r.text[:200]}")
                return self._parse(pid, params, r)
            except (_Retryable, httpx.TransportError, ValueError, KeyError, IndexError, TypeError) as exc:
                last_error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, _Retryable) else str(exc)
        return self._failed(pid, params, f"failed after {self.max_retries + 1} attempts: {last_error}")

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
