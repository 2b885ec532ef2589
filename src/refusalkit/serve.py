"""An OpenAI-compatible server over any local target: how users serve a mitigated or steered model,
and what the ``openai`` target's tests talk to.

Only ``/v1/models`` and ``/v1/chat/completions`` (non-streaming) are provided. Requests are served
one generation at a time (a local model on CPU gains nothing from running two at once).

What it guarantees:

- request bodies over ``max_body_bytes`` (1 MB by default) are refused with 413 before they are read
  in full, whether they announce their length or not;
- on a local model, messages that do not fit the model's context are refused with 400 (code
  ``context_length_exceeded``) before anything is generated; a ``max_tokens`` that would pass the
  context is refused the same way, and the server's default answer length is cut to what is left;
- with an API key, every request needs it (compared in constant time); an empty key is an error,
  never "no authentication" (see :func:`resolve_api_key`);
- every error answers in OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import RefusalkitError
from .types import GenParams

DEFAULT_MAX_BODY_BYTES = 1_000_000
API_KEY_ENV = "REFUSALKIT_API_KEY"


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


# --- errors in OpenAI's shape -------------------------------------------------------------------
def error_response(
    status: int,
    message: str,
    type_: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: dict | None = None,
) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}`` with ``status``, as OpenAI's API answers errors."""
    type_ = type_ or ("server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


class APIError(HTTPException):
    """An error the server answers with :func:`error_response`."""

    def __init__(
        self, status: int, message: str, *, type_: str | None = None, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(status, message)
        self.type, self.param, self.code = type_, param, code


_STATUS_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


class _BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, from the Content-Length header
    when there is one, else while the body streams in (the handler then gets an :class:`APIError`)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self) -> APIError:
        return APIError(
            413, f"request body over {self.max_bytes} bytes (the server's --max-body-bytes)", code="request_too_large"
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            err = self._too_large()
            return await error_response(413, err.detail, param=None, code=err.code)(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)


def create_app(
    target: Any, api_key: str | None = None, default_max_tokens: int = 256, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> FastAPI:
    """The app serving ``target``. ``api_key``: required bearer key (None: no authentication; an empty
    key is refused rather than read as none)."""
    if api_key is not None and not api_key.strip():
        raise RefusalkitError("the API key is empty; give a non-empty key (or none, to serve without authentication)")
    if max_body_bytes < 1:
        raise RefusalkitError(f"max_body_bytes must be at least 1; got {max_body_bytes}")
    app = FastAPI(title="refusalkit serve")
    lock = threading.Lock()
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        if api_key is not None:
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                return error_response(
                    401, "invalid or missing API key (send it as 'Authorization: Bearer KEY')", code="invalid_api_key"
                )
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc, APIError):
            return error_response(exc.status_code, str(exc.detail), exc.type, exc.param, exc.code)
        return error_response(
            exc.status_code,
            str(exc.detail),
            code=_STATUS_CODES.get(exc.status_code),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        param = ".".join(loc) or None
        message = first.get("msg", "invalid request")
        return error_response(400, f"{param}: {message}" if param else message, param=param, code="invalid_value")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        return error_response(500, f"internal error ({type(exc).__name__})")

    @app.get("/v1/models")
    def list_models() -> dict:
        return {"object": "list", "data": [{"id": target.id, "object": "model", "owned_by": "refusalkit"}]}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest) -> dict:
        if req.stream:
            raise APIError(
                400, "streaming is not supported by refusalkit serve", param="stream", code="unsupported_value"
            )
        messages = [m.model_dump() for m in req.messages]
        asked = req.max_completion_tokens or req.max_tokens
        max_tokens = asked or default_max_tokens
        if hasattr(target, "prompt_tokens") and hasattr(target, "render_messages"):
            max_tokens = await run_in_threadpool(_fit_context, target, messages, asked, max_tokens)
        params = GenParams(
            max_new_tokens=max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed or 0,
            batch_size=1,
        )

        def run():
            with lock:
                return target.generate_messages([messages], params)[0]

        resp = await run_in_threadpool(run)
        if resp.error:
            raise APIError(502, f"generation failed: {resp.error}", type_="server_error")
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


def _fit_context(target: Any, messages: list[dict], asked: int | None, max_tokens: int) -> int:
    """The answer length to generate for ``messages`` on a local model, or an :class:`APIError` (400)
    when the messages, or the messages plus the asked ``max_tokens``, do not fit its context."""
    n, exact = target.prompt_tokens(target.render_messages(messages))
    ctx = target.context_length
    count = str(n) if exact else f"at least {n - 1}"
    if n >= ctx:
        raise APIError(
            400,
            f"This model's maximum context length is {ctx} tokens, and the messages have {count}; shorten them",
            param="messages",
            code="context_length_exceeded",
        )
    if n + max_tokens > ctx:
        if asked:
            raise APIError(
                400,
                f"This model's maximum context length is {ctx} tokens; you asked for {n + asked} "
                f"({n} in the messages, {asked} in the completion); lower max_tokens or shorten the messages",
                param="max_tokens",
                code="context_length_exceeded",
            )
        return ctx - n  # the server's own default: cut to what the context leaves
    return max_tokens


# --- the API key ----------------------------------------------------------------------------------
def resolve_api_key(
    flag: str | None = None, key_file: str | os.PathLike | None = None, environ: dict | None = None
) -> str | None:
    """The key ``refusalkit serve`` requires: from ``--api-key-file`` (first line), ``--api-key``, or
    ``$REFUSALKIT_API_KEY``, in that order of choice; None when none is given. A given but empty key
    (``--api-key ''``, an unset ``$KEY`` expanded into the flag, an empty file or variable) is an error:
    it never turns authentication off. The file and the variable keep the key out of ``ps``."""
    environ = os.environ if environ is None else environ
    if flag is not None and key_file is not None:
        raise RefusalkitError("give the API key once: --api-key or --api-key-file, not both")
    if key_file is not None:
        path = Path(key_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise RefusalkitError(
                f"cannot read the API key file {path} ({exc.strerror or type(exc).__name__})"
            ) from exc
        key = lines[0].strip() if lines else ""
        if not key:
            raise RefusalkitError(f"the API key file {path} is empty; put the key on its first line")
        return key
    if flag is not None:
        if not flag.strip():
            raise RefusalkitError(
                f"--api-key is empty (an unset variable?); give the key, use --api-key-file, or set ${API_KEY_ENV}"
            )
        return flag
    if API_KEY_ENV in environ:
        key = environ[API_KEY_ENV].strip()
        if not key:
            raise RefusalkitError(f"${API_KEY_ENV} is set but empty; give it the key, or unset it to serve without one")
        return key
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
