"""Any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, OpenAI, `refusalkit serve`),
or several replicas of one model behind as many base URLs.

Requests run concurrently (at most ``concurrency`` at once on each endpoint). Each prompt has one overall deadline,
``timeout`` seconds from when its request starts, that covers every attempt, the time to read each
answer and the waits between attempts: a server that hangs, or trickles its answer a byte at a time,
cannot hold a prompt longer. 429, 5xx, connection errors and unparsable bodies are retried (at most
``max_retries`` times) with exponential backoff, or after the wait a 429/503 asks for in
``Retry-After`` (up to ``max_retry_after`` seconds; a longer wait, or one past the deadline, ends the
prompt at once). A prompt that still fails becomes a :class:`Response` with ``error`` set, which the
judge marks ``unscored``.

With several endpoints (``base_url`` lists several URLs, comma-separated), each request goes to the
endpoint with the least outstanding work (:class:`EndpointPool`). A connection error, timeout, 429 or
5xx marks that endpoint down for a cool-down (1 s, doubling with each failure in a row, at most 60 s;
longer if ``Retry-After`` asks) and the prompt is retried at once on another endpoint, within the same
deadline; while another endpoint is up, an attempt gets at most half of the time the prompt has left, so
a hanging replica leaves room to try the next. An endpoint back from its cool-down takes one request at a
time until one succeeds (the probe). When every endpoint is down, retries go to the one whose cool-down
ends first, after the usual backoff.
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
from typing import Collection, NamedTuple, Sequence

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
COOLDOWN = 1.0  # seconds an endpoint is left alone after its first failure in a row; doubles per failure
MAX_COOLDOWN = 60.0


@dataclass(frozen=True)
class ClientSettings:
    """How refusalkit talks to an OpenAI-compatible server: where, with which key, and within what bounds
    (``timeout``: seconds per prompt, all attempts included; ``retries``: attempts after the first;
    ``concurrency``: requests in flight at once on each endpoint). ``base_url`` may list several
    endpoints, comma-separated (replicas of one model)."""

    base_url: str | None = None
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY

    def target_kwargs(self) -> dict:
        """Keyword arguments of :func:`refusalkit.targets.load_target` for an ``openai:`` model."""
        return {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_retries": self.retries,
            "concurrency": self.concurrency,
        }

    def public(self) -> dict:
        """The settings for reports and logs: the key itself is never written, only whether one is set."""
        return {
            "base_url": self.base_url,
            "api_key": "(set)" if self.api_key else None,
            "timeout": self.timeout,
            "retries": self.retries,
            "concurrency": self.concurrency,
        }


def split_base_urls(value: str | Sequence[str] | None) -> list[str]:
    """The endpoints named by ``--base-url`` or ``$OPENAI_BASE_URL``: one URL, several separated by commas,
    or a list of such strings (the option repeated). A URL that is not http(s), or one given twice, is a
    one-line error."""
    items = [value] if isinstance(value, str) else list(value or [])
    urls = [u.strip().rstrip("/") for item in items for u in item.split(",") if u.strip()]
    for u in urls:
        if not u.lower().startswith(("http://", "https://")):
            raise RefusalkitError(
                f"--base-url: {u!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:8000/v1)"
            )
    twice = sorted({u for u in urls if urls.count(u) > 1})
    if twice:
        raise RefusalkitError(f"--base-url names {', '.join(twice)} more than once; give each endpoint once")
    return urls


@dataclass
class Endpoint:
    """One server of an :class:`EndpointPool` and what happened on it."""

    url: str
    limit: int  # requests in flight at once
    outstanding: int = 0
    requests: int = 0
    failures: int = 0
    marked_down: int = 0  # how many times it was taken out of rotation
    cooldown_s: float = 0.0  # the cool-downs those times set, in all
    strikes: int = 0  # failures in a row; 0 once a request succeeds
    down_until: float = 0.0  # time.monotonic() value (the pool's clock)

    def up(self, now: float) -> bool:
        return now >= self.down_until

    def has_room(self, probing: bool = True) -> bool:
        # back from a cool-down, an endpoint of several takes one request at a time until one succeeds
        # (the probe), so work is not queued on a server that may still be broken
        return self.outstanding < (1 if self.strikes and probing else self.limit)

    def stats(self) -> dict:
        return {
            "url": self.url,
            "requests": self.requests,
            "failures": self.failures,
            "marked_down": self.marked_down,
            "cooldown_s": round(self.cooldown_s, 3),
        }


class EndpointPool:
    """Spreads requests over endpoints by least outstanding work, at most ``limit`` in flight on each,
    and keeps failing endpoints out of rotation for an exponential cool-down.

    :meth:`pick` is the choice itself (synchronous, deterministic: fewest requests in flight, then
    fewest requests so far, then the order given); :meth:`acquire` waits until it has one;
    :meth:`release` records how the request ended. ``clock`` is ``time.monotonic`` (tests pass their own).
    """

    def __init__(
        self,
        urls: Sequence[str],
        limit: int,
        cooldown: float = COOLDOWN,
        max_cooldown: float = MAX_COOLDOWN,
        clock=time.monotonic,
    ) -> None:
        if not urls:
            raise RefusalkitError("no endpoint given: set --base-url or OPENAI_BASE_URL")
        self.endpoints = [Endpoint(u, max(1, limit)) for u in urls]
        self.cooldown, self.max_cooldown, self.clock = cooldown, max_cooldown, clock
        self._changed: asyncio.Event | None = None  # set (and replaced) whenever a slot frees up
        self._loop: asyncio.AbstractEventLoop | None = None

    def pick(self, avoid: Collection[str] = ()) -> Endpoint | None:
        """The endpoint the next request should go to, or None when it must wait for a free slot.
        Endpoints in ``avoid`` (those the prompt already failed on) are taken only when no other one
        with room is up. When every endpoint is marked down, the one whose cool-down ends first."""
        now = self.clock()
        order = {id(e): i for i, e in enumerate(self.endpoints)}
        up = [e for e in self.endpoints if e.up(now)]
        if up:
            ready = [e for e in up if e.has_room(probing=len(self.endpoints) > 1)]
            return min(ready, key=lambda e: (e.url in avoid, e.outstanding, e.requests, order[id(e)]), default=None)
        ready = [e for e in self.endpoints if e.has_room(probing=False)]
        return min(ready, key=lambda e: (e.down_until, e.outstanding, order[id(e)]), default=None)

    def up_elsewhere(self, endpoint: Endpoint, avoid: Collection[str] = ()) -> bool:
        """Whether an endpoint other than ``endpoint`` and those in ``avoid`` is up now."""
        now = self.clock()
        return any(e is not endpoint and e.url not in avoid and e.up(now) for e in self.endpoints)

    def all_down(self) -> bool:
        now = self.clock()
        return not any(e.up(now) for e in self.endpoints)

    async def acquire(self, avoid: Collection[str] = (), deadline: float | None = None) -> Endpoint:
        """Take a slot on the endpoint :meth:`pick` names, waiting for one to free up or to come back
        from its cool-down; TimeoutError once ``deadline`` (a clock value) passes."""
        while True:
            endpoint = self.pick(avoid)
            if endpoint is not None:
                endpoint.outstanding += 1
                endpoint.requests += 1
                return endpoint
            now = self.clock()
            wake = [e.down_until - now for e in self.endpoints if e.down_until > now]
            if deadline is not None:
                if now >= deadline:
                    raise TimeoutError
                wake.append(deadline - now)
            loop = asyncio.get_running_loop()
            if self._changed is None or self._loop is not loop:  # each generate call runs its own event loop
                self._changed, self._loop = asyncio.Event(), loop
            try:
                await asyncio.wait_for(self._changed.wait(), min(wake) if wake else None)
            except TimeoutError:
                pass

    def release(self, endpoint: Endpoint, outcome: str | None, retry_after: float | None = None) -> None:
        """Free the slot. ``outcome``: ``ok``; ``down`` (connection error, timeout, 429, 5xx: the endpoint
        is marked down unless it already is); ``failed`` (a broken answer: counted, not marked down);
        None (not sent)."""
        endpoint.outstanding -= 1
        if outcome == "ok":
            endpoint.strikes = 0
        elif outcome == "down":
            self.mark_down(endpoint, retry_after)
        elif outcome == "failed":
            endpoint.failures += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def mark_down(self, endpoint: Endpoint, retry_after: float | None = None) -> None:
        """Count a failure; an endpoint that is up is taken out of rotation for its next cool-down (a
        failure of a request sent before it went down does not lengthen the cool-down)."""
        endpoint.failures += 1
        now = self.clock()
        if not endpoint.up(now):
            return
        endpoint.strikes += 1
        cool = min(self.max_cooldown, self.cooldown * 2 ** (endpoint.strikes - 1))
        if retry_after is not None:
            cool = max(cool, retry_after)
        endpoint.down_until = now + cool
        endpoint.marked_down += 1
        endpoint.cooldown_s += cool

    def stats(self) -> list[dict]:
        return [e.stats() for e in self.endpoints]


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
        base_url: str | Sequence[str] | None = None,
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
        self.base_urls = split_base_urls(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.timeout = max(1, concurrency), float(timeout)
        self.max_retries, self.backoff, self.max_retry_after = max(0, max_retries), backoff, max_retry_after
        self.id = f"openai:{model}"
        self.pool = EndpointPool(self.base_urls, self.concurrency)
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

    def check(self) -> list[str]:
        """Probe every endpoint's ``/models``; raise a one-line error naming them if none answers (used
        by the CLI before long runs). Returns the endpoints that did not answer, each as ``URL (why)``;
        they are marked down, so requests go to the others until their cool-down ends."""
        limit = min(self.timeout, 10.0)

        async def probe(client: httpx.AsyncClient, url: str) -> str | None:
            try:
                async with asyncio.timeout(limit):  # the whole exchange, not each read
                    await client.get(f"{url}/models")
            except (httpx.HTTPError, TimeoutError) as exc:
                return type(exc).__name__
            return None

        async def probe_all() -> list[str | None]:
            async with httpx.AsyncClient(timeout=limit, headers=self._headers()) as client:
                return list(await asyncio.gather(*(probe(client, u) for u in self.base_urls)))

        failed = [(e, why) for e, why in zip(self.pool.endpoints, _run(probe_all())) if why]
        if len(failed) == len(self.base_urls):
            if len(failed) == 1:
                raise RefusalkitError(
                    f"cannot reach {self.base_urls[0]} ({failed[0][1]}); is the server running? set --base-url or OPENAI_BASE_URL"
                )
            raise RefusalkitError(
                f"cannot reach any of the {len(failed)} endpoints: "
                + ", ".join(f"{e.url} ({why})" for e, why in failed)
                + "; are the servers running? set --base-url or OPENAI_BASE_URL"
            )
        for endpoint, _ in failed:
            self.pool.mark_down(endpoint)
        return [f"{e.url} ({why})" for e, why in failed]

    def endpoint_stats(self) -> list[dict]:
        """Per endpoint, since this target was made: requests sent, failures, how many times it was
        marked down and the cool-down seconds that set (recorded in a run's summary)."""
        return self.pool.stats()

    # --- internals -----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def _generate_all(self, ids, convs, params: GenParams, progress: bool) -> list[Response]:
        limits = httpx.Limits(max_connections=self.concurrency * len(self.base_urls))
        # httpx's own timeouts bound each read; the deadline in _request bounds the whole prompt
        async with httpx.AsyncClient(timeout=self.timeout, headers=self._headers(), limits=limits) as client:
            with progress_bar(f"querying {self.id}", len(convs), progress) as advance:

                async def one(pid, conv):
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
        pool = self.pool
        endpoint = await pool.acquire()  # waiting for a free slot is not part of the prompt's deadline
        deadline = time.monotonic() + self.timeout
        tried: set[str] = set()
        last_error, wait, attempts = "", 0.0, 0
        for attempt in range(self.max_retries + 1):
            if attempt:
                if time.monotonic() + wait >= deadline:
                    break
                if wait:
                    await self._sleep(wait)
                try:
                    endpoint = await pool.acquire(tried, deadline)
                except TimeoutError:
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                pool.release(endpoint, None)
                break
            # while an endpoint this prompt has not tried is up, an attempt may take half of what is
            # left, so a hanging endpoint leaves time to try that one
            whole = not pool.up_elsewhere(endpoint, tried)
            limit = left if whole else left / 2
            attempts += 1
            tried.add(endpoint.url)
            try:
                tried_now = await self._attempt(client, endpoint.url, body, pid, params, limit, whole)
            except BaseException:  # cancelled (the run is stopping): give the slot back all the same
                pool.release(endpoint, None)
                raise
            pool.release(endpoint, tried_now.outcome, tried_now.retry_after)
            if isinstance(tried_now.result, Response):
                return tried_now.result
            last_error, asked = tried_now.result, tried_now.retry_after
            if tried_now.timed_out:
                if whole:
                    break  # the prompt's deadline is spent
                wait = 0.0  # only this attempt's share ran out: straight to another endpoint
                continue
            elsewhere = pool.up_elsewhere(endpoint)  # another endpoint can take the retry at once
            if asked is not None and not elsewhere:
                if asked > self.max_retry_after or time.monotonic() + asked >= deadline:
                    return self._failed(
                        pid,
                        params,
                        f"{last_error}: the server asks to retry after {asked:g} s, "
                        f"past the {self.timeout:g} s deadline (--timeout)",
                    )
                wait = asked
            else:
                wait = 0.0 if elsewhere else self._backoff(attempt)
        if not last_error:
            last_error = (
                f"TimeoutError: the {self.timeout:g} s deadline (--timeout) passed before an attempt could start"
            )
        error = f"failed after {attempts} attempt{'s' if attempts != 1 else ''}: {last_error}"
        if len(self.base_urls) > 1 and pool.all_down():
            error = f"every endpoint is marked down ({', '.join(self.base_urls)}); {error}"
        return self._failed(pid, params, error)

    async def _attempt(
        self, client: httpx.AsyncClient, url: str, body: dict, pid: str, params: GenParams, limit: float, whole: bool
    ) -> "_Attempt":
        """One request to one endpoint, cut after ``limit`` seconds (``whole``: all the prompt has left)."""
        where = f" from {url}" if len(self.base_urls) > 1 else ""
        try:
            async with asyncio.timeout(limit):
                r = await client.post(f"{url}/chat/completions", json=body)
            if r.status_code == 429 or r.status_code >= 500:
                return _Attempt(
                    "down", f"HTTP {r.status_code}{where}", retry_after_seconds(r.headers.get("retry-after"))
                )
            if r.status_code >= 400:  # 4xx other than 429: the request is wrong; retrying will not help
                return _Attempt("ok", self._failed(pid, params, f"HTTP {r.status_code}: {r.text[:200]}"))
            try:
                return _Attempt("ok", self._parse(pid, params, r))
            except (ValueError, KeyError, IndexError, TypeError) as exc:  # a broken answer: retried, not marked down
                return _Attempt("failed", f"{type(exc).__name__}{where}: {exc}")
        except TimeoutError:
            if whole:
                return _Attempt(
                    "down",
                    f"TimeoutError: no complete answer{where} within the {self.timeout:g} s deadline (--timeout)",
                    timed_out=True,
                )
            return _Attempt("down", f"TimeoutError: no complete answer{where} within {limit:.3g} s", timed_out=True)
        except httpx.TransportError as exc:
            return _Attempt("down", f"{type(exc).__name__}{where}: {exc}")

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
        return Response(
            prompt_id=pid, text="", target_id=self.id, params=params.to_dict(), finish_reason="error", error=error
        )


class _Attempt(NamedTuple):
    """How one request to one endpoint ended. ``outcome`` is for :meth:`EndpointPool.release`; ``result``
    the :class:`Response` (an answer, or an error that retrying cannot mend) or the error text of an
    attempt worth retrying; ``retry_after`` what the server asked to wait; ``timed_out`` whether the
    attempt's time ran out."""

    outcome: str
    result: Response | str
    retry_after: float | None = None
    timed_out: bool = False


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
