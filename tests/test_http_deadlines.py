"""The openai target against a misbehaving server: every failure ends as an error response (judged
unscored) within the prompt's deadline; Retry-After is honoured; the CLI exposes the bounds."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fakes import MisbehavingServer
from refusalkit import GenParams
from refusalkit.judge import load_detector
from refusalkit.targets import load_target


def _target(url, mode, timeout, retries=2):
    target = load_target("openai:" + mode, base_url=url, timeout=timeout, max_retries=retries)
    waits: list[float] = []

    async def record(seconds):  # the waits between attempts, recorded instead of slept
        waits.append(round(seconds, 3))

    target._sleep = record
    target.backoff = 0.01
    return target, waits


@pytest.mark.parametrize(
    "mode, expect_error, expect_calls",
    [
        ("500", "HTTP 500", 3),
        ("garbage", "JSONDecodeError", 3),
        ("truncated-json", "JSONDecodeError", 3),
        ("cut", "RemoteProtocolError", 3),
        ("503-retry-after-long", "retry after 3600 s", 1),
    ],
)
def test_broken_answers_end_as_unscored_errors(mode, expect_error, expect_calls):
    server = MisbehavingServer()
    with server as url:
        target, _ = _target(url, mode, timeout=10)
        resp = target.generate(["hello"], GenParams(max_new_tokens=4), progress=False)[0]
    assert resp.error and expect_error in resp.error, resp.error
    assert resp.text == "" and resp.finish_reason == "error"
    assert load_detector("prefix").judge([resp])[0].label == "unscored"
    assert server.calls[mode] == expect_calls


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_hanging_or_trickling_server_is_cut_at_the_deadline(mode):
    server = MisbehavingServer(lifetime=20, trickle_every=0.1)
    with server as url:
        target, _ = _target(url, mode, timeout=1.0)
        responses = target.generate(["a", "b"], GenParams(max_new_tokens=2), progress=False)
        # the client gave up on its own; the server did not have to stop to free it
        assert server.settled_outcomes(2) == [f"{mode}:client-closed"] * 2
    for r in responses:
        assert r.error and "deadline" in r.error and r.text == ""
        assert load_detector("prefix").judge([r])[0].label == "unscored"
    assert server.calls[mode] == 2  # one attempt each: the deadline covers retries too


def test_retry_after_is_honoured():
    server = MisbehavingServer()
    with server as url:
        target, waits = _target(url, "429-retry-after", timeout=10)
        resp = target.generate(["hi"], GenParams(max_new_tokens=2), progress=False)[0]
    assert resp.error is None and resp.text == "fine"
    assert server.calls["429-retry-after"] == 3
    assert waits == [2.0, 2.0]  # the server's Retry-After, not the 0.01 s backoff


def test_retry_after_values():
    from refusalkit.targets.openai import retry_after_seconds

    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now


@pytest.mark.parametrize("command", ["eval", "generate", "judge label", "judge-eval", "evolve", "mitigate", "study"])
def test_every_command_taking_openai_models_has_the_bounds(command):
    from refusalkit.cli import app

    out = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"}).output
    for option in ("--base-url", "--api-key", "--timeout", "--retries", "--concurrency"):
        assert option in out, (command, option)


def test_cli_timeout_bounds_a_hanging_server(tmp_path):
    from refusalkit.cli import app

    server = MisbehavingServer(lifetime=20)
    with server as url:
        res = CliRunner().invoke(
            app,
            [
                "generate",
                "Say hi.",
                "-m",
                "openai:hang",
                "--base-url",
                url,
                "--timeout",
                "1",
                "--retries",
                "0",
                "--concurrency",
                "1",
                "--out",
                str(tmp_path / "o.jsonl"),
            ],
        )
        assert server.settled_outcomes(1) == ["hang:client-closed"]
    assert res.exit_code == 0, res.output
    assert "deadline" in (tmp_path / "o.jsonl").read_text()
    bad = CliRunner().invoke(app, ["generate", "x", "-m", "openai:m", "--timeout", "0"])
    assert bad.exit_code == 2 and "--timeout" in bad.output
