"""`refusalkit serve` and the openai target, talking over real loopback HTTP."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from refusalkit import GenParams
from refusalkit.serve import background_server, create_app
from refusalkit.targets import load_target


def test_serve_round_trip_matches_local_generation(tiny_target):
    params = GenParams(max_new_tokens=5)
    local = tiny_target.generate(["How do I kill a Python process?"], params, progress=False)[0]
    with background_server(create_app(tiny_target)) as url:
        models = httpx.get(f"{url}/models").json()
        assert models["data"][0]["id"] == "tiny-random"
        remote = load_target("openai:tiny-random", base_url=url).generate(
            ["How do I kill a Python process?"], params, progress=False
        )[0]
    assert remote.error is None
    assert remote.text == local.text
    assert remote.tokens == local.tokens and remote.prompt_tokens == local.prompt_tokens
    assert remote.target_id == "openai:tiny-random"


def test_api_key_is_enforced(tiny_target):
    with background_server(create_app(tiny_target, api_key="s3cret")) as url:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        assert httpx.post(f"{url}/chat/completions", json=body).status_code == 401
        bad = httpx.post(f"{url}/chat/completions", json=body, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        good = httpx.post(f"{url}/chat/completions", json=body, headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200 and good.json()["choices"][0]["message"]["role"] == "assistant"
        # the target with the wrong key gets an error-marked response, not a verdict-able answer
        wrong = load_target("openai:m", base_url=url, api_key="nope").generate(
            ["hi"], GenParams(max_new_tokens=2), progress=False
        )[0]
        assert wrong.error and "401" in wrong.error and wrong.text == ""
        right = load_target("openai:m", base_url=url, api_key="s3cret").generate(
            ["hi"], GenParams(max_new_tokens=2), progress=False
        )[0]
        assert right.error is None


def test_serve_rejects_bad_requests(tiny_target):
    with background_server(create_app(tiny_target)) as url:
        assert httpx.post(f"{url}/chat/completions", json={"messages": []}).status_code == 400  # as OpenAI answers
        assert (
            httpx.post(
                f"{url}/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "stream": True}
            ).status_code
            == 400
        )


def _flaky_app(state: dict) -> FastAPI:
    """A misbehaving OpenAI-compatible server: behaviour chosen by the model name."""
    app = FastAPI()

    def ok(text="fine"):
        return {
            "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"completion_tokens": 1, "prompt_tokens": 3},
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        mode = body["model"]
        state[mode] = state.get(mode, 0) + 1
        if mode == "always500":
            return JSONResponse({"error": "boom"}, status_code=500)
        if mode == "429-then-ok":
            return JSONResponse({"error": "slow down"}, status_code=429) if state[mode] < 3 else ok("after retries")
        if mode == "garbage":
            return PlainTextResponse("<html>not json</html>")
        if mode == "wrong-shape":
            return {"choices": []}
        if mode == "hang":
            await asyncio.sleep(30)
            return ok()
        return ok()

    return app


@pytest.mark.parametrize(
    "mode, expect_error, expect_calls",
    [
        ("always500", "HTTP 500", 3),
        ("429-then-ok", None, 3),
        ("garbage", "JSONDecodeError", 3),
        ("wrong-shape", "IndexError", 3),
        ("hang", "deadline", 1),  # one attempt: the deadline covers retries too
    ],
)
def test_openai_target_bounded_retries(mode, expect_error, expect_calls):
    state: dict = {}
    with background_server(_flaky_app(state)) as url:
        target = load_target("openai:" + mode, base_url=url, timeout=0.5, max_retries=2)
        target.backoff = 0.01
        start = time.time()
        resp = target.generate(["hello"], GenParams(max_new_tokens=4), progress=False)[0]
        elapsed = time.time() - start
    assert state[mode] == expect_calls
    assert elapsed < 10, "a failing server must never hang the run"
    if expect_error is None:
        assert resp.error is None and resp.text == "after retries"
    else:
        assert resp.error and expect_error in resp.error
        assert resp.text == "" and resp.finish_reason == "error"


def test_unreachable_server_gives_error_responses_and_a_clear_check():
    from refusalkit.errors import RefusalkitError

    target = load_target("openai:m", base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=1)
    target.backoff = 0.01
    resp = target.generate(["a", "b"], GenParams(max_new_tokens=2), progress=False)
    assert [r.prompt_id for r in resp] == ["p0", "p1"]
    assert all(r.error and "ConnectError" in r.error for r in resp)
    with pytest.raises(RefusalkitError, match="cannot reach"):
        target.check()


def test_openai_target_works_inside_a_running_event_loop(tiny_target):
    with background_server(create_app(tiny_target)) as url:
        target = load_target("openai:tiny", base_url=url)

        async def call():
            return target.generate(["hi"], GenParams(max_new_tokens=2), progress=False)

        assert asyncio.run(call())[0].error is None
