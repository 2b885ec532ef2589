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
                out.append(
                    Response(p.id, "", self.id, params.to_dict(), finish_reason="error", error="backend timed out")
                )
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


class MisbehavingServer:
    """An OpenAI-compatible endpoint on loopback (127.0.0.1, a free port) that misbehaves as the request's
    ``model`` says, or as ``mode`` says for every request (one broken replica among healthy ones).
    Plain asyncio sockets, so it can break HTTP itself:

    - ``ok``: a normal answer ("fine"); ``echo``: "fine: " and the last message, so a test can tell
      which prompt an answer was made for; ``500``: always HTTP 500;
    - ``429-retry-after``: 429 with ``Retry-After: 2`` twice, then an answer;
    - ``503-retry-after-long``: always 503 with ``Retry-After: 3600``;
    - ``garbage``: 200 with an HTML body; ``truncated-json``: 200 with half a JSON body;
    - ``cut``: the connection closes before the promised Content-Length;
    - ``hang``: never answers; ``trickle``: sends its headers, then one byte every ``trickle_every`` s.

    ``calls`` counts requests per mode; ``outcomes`` says how each hang/trickle ended: ``MODE:client-closed``
    (the client gave up) or ``MODE:server-stopped``. It stops on leaving the ``with`` block, and by
    itself after ``lifetime`` seconds, so a client that never gives up cannot hold a test forever.
    """

    def __init__(self, lifetime: float = 20.0, trickle_every: float = 0.2, mode: str | None = None) -> None:
        import threading

        self.lifetime, self.trickle_every, self.mode = lifetime, trickle_every, mode
        self.calls: dict[str, int] = {}
        self.outcomes: list[str] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("misbehaving server did not start")
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def settled_outcomes(self, n: int, wait: float = 5.0) -> list[str]:
        """``outcomes`` once ``n`` hang/trickle handlers have seen how they ended (they notice a closed
        client within ``trickle_every`` seconds), or as they are after ``wait`` seconds."""
        import time as _time

        end = _time.monotonic() + wait
        while len(self.outcomes) < n and _time.monotonic() < end:
            _time.sleep(0.02)
        return list(self.outcomes)

    # --- internals ---------------------------------------------------------------------------
    def _serve(self) -> None:
        import asyncio

        async def main():
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._loop.call_later(self.lifetime, self._stop.set)
            self._ready.set()
            async with server:
                await self._stop.wait()
            # give open handlers a moment to record how they ended
            await asyncio.sleep(0.05)

        asyncio.run(main())

    @staticmethod
    def _response(
        status: int, body: bytes, content_type: str = "application/json", extra: str = "", length: int | None = None
    ) -> bytes:
        reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n{extra}Connection: close\r\n\r\n"
        )
        return head.encode() + body

    async def _handle(self, reader, writer) -> None:
        import asyncio
        import json as _json

        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                (int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length"), 0
            )
            body = await reader.readexactly(length) if length else b""
            if lines[0].startswith("GET"):
                writer.write(
                    self._response(200, _json.dumps({"object": "list", "data": [{"id": "misbehaving"}]}).encode())
                )
                await writer.drain()
                return
            request = _json.loads(body)
            mode = self.mode or request.get("model", "ok")
            self.calls[mode] = self.calls.get(mode, 0) + 1
            ok = _json.dumps(
                {
                    "choices": [{"message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
                    "usage": {"completion_tokens": 1, "prompt_tokens": 3},
                }
            ).encode()
            if mode == "echo":
                said = _json.dumps(
                    {
                        "choices": [
                            {
                                "message": {
                                    "role": "assistant",
                                    "content": "fine: " + request["messages"][-1]["content"],
                                },
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"completion_tokens": 1, "prompt_tokens": 3},
                    }
                )
                writer.write(self._response(200, said.encode()))
            elif mode == "500":
                writer.write(self._response(500, b'{"error": {"message": "boom"}}'))
            elif mode == "429-retry-after":
                writer.write(
                    self._response(429, b'{"error": {"message": "slow down"}}', extra="Retry-After: 2\r\n")
                    if self.calls[mode] <= 2
                    else self._response(200, ok)
                )
            elif mode == "503-retry-after-long":
                writer.write(self._response(503, b'{"error": {"message": "later"}}', extra="Retry-After: 3600\r\n"))
            elif mode == "garbage":
                writer.write(self._response(200, b"<html>not json</html>", content_type="text/html"))
            elif mode == "truncated-json":
                writer.write(self._response(200, ok[: len(ok) // 2]))
            elif mode == "cut":
                writer.write(self._response(200, ok[:20], length=len(ok)))
            elif mode in ("hang", "trickle"):
                if mode == "trickle":
                    writer.write(self._response(200, b"", length=10_000))  # headers only
                closed = asyncio.ensure_future(reader.read(1))
                stopped = asyncio.ensure_future(self._stop.wait())
                while True:
                    done, _ = await asyncio.wait(
                        {closed, stopped}, timeout=self.trickle_every, return_when=asyncio.FIRST_COMPLETED
                    )
                    if closed in done:
                        self.outcomes.append(f"{mode}:client-closed")
                        break
                    if stopped in done:
                        self.outcomes.append(f"{mode}:server-stopped")
                        break
                    if mode == "trickle":
                        try:
                            writer.write(b" ")
                            await writer.drain()
                        except ConnectionError:
                            self.outcomes.append(f"{mode}:client-closed")
                            break
                closed.cancel(), stopped.cancel()
            else:
                writer.write(self._response(200, ok))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
