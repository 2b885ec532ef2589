"""An OpenAI-compatible server over any local target: how users serve a mitigated or steered model,
and what the ``openai`` target's tests talk to.

Only ``/v1/models`` and ``/v1/chat/completions`` (non-streaming) are provided. Requests are served
one generation at a time (a local model on CPU gains nothing from running two at once).
"""
from __future__ import annotations

import hmac
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .types import GenParams


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stream: bool = False


def create_app(target: Any, api_key: str | None = None, default_max_tokens: int = 256) -> FastAPI:
    app = FastAPI(title="refusalkit serve")
    lock = threading.Lock()

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        if api_key is not None:
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                return JSONResponse({"error": {"message": "invalid or missing API key", "type": "authentication_error"}}, status_code=401)
        return await call_next(request)

    @app.get("/v1/models")
    def list_models() -> dict:
        return {"object": "list", "data": [{"id": target.id, "object": "model", "owned_by": "refusalkit"}]}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest) -> dict:
        if req.stream:
            raise HTTPException(400, "streaming is not supported by refusalkit serve")
        params = GenParams(
            max_new_tokens=req.max_completion_tokens or req.max_tokens or default_max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed or 0,
            batch_size=1,
        )
        messages = [m.model_dump() for m in req.messages]

        def run():
            with lock:
                return target.generate_messages([messages], params)[0]

        resp = await run_in_threadpool(run)
        if resp.error:
            raise HTTPException(502, f"generation failed: {resp.error}")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": target.id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": resp.text},
                    "finish_reason": "length" if resp.finish_reason == "length" else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": resp.prompt_tokens,
                "completion_tokens": resp.tokens,
                "total_tokens": resp.prompt_tokens + resp.tokens,
            },
        }

    return app


@contextmanager
def background_server(app, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 20.0) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread (port 0 = a free one); yields its ``/v1`` base URL.

    Used by tests and by commands that talk to a local model through the HTTP path.
    """
    import socket

    import uvicorn

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="error", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + startup_timeout
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
