"""Several endpoints behind one openai: target: work spread by least outstanding requests, a failing
endpoint's prompts done elsewhere (none lost, none answered twice), cool-downs, and the CLI's
--base-url forms, all against loopback fakes (tests/fakes.py)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from contextlib import ExitStack

import pytest
from typer.testing import CliRunner

from fakes import MisbehavingServer
from refusalkit import GenParams
from refusalkit.errors import RefusalkitError
from refusalkit.targets import load_target
from refusalkit.targets.openai import EndpointPool, split_base_urls


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _target(urls, timeout=10.0, concurrency=4, retries=2):
    target = load_target(
        "openai:m", base_url=",".join(urls), timeout=timeout, max_retries=retries, concurrency=concurrency
    )
    waits: list[float] = []

    async def record(seconds):  # the waits between attempts, recorded instead of slept
        waits.append(seconds)

    target._sleep, target.backoff = record, 0.01
    target.pool.cooldown = 30.0  # a failed endpoint stays down for the whole test: no probe muddles the counts
    return target, waits


def _free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


# --- the pool's choice, deterministic ----------------------------------------------------------


def test_least_outstanding_prefers_the_idle_endpoint():
    pool = EndpointPool(["http://a", "http://b", "http://c"], limit=2, clock=Clock())

    async def take(avoid=()):
        return (await pool.acquire(avoid)).url

    async def scenario():
        first = [await take() for _ in range(3)]  # each endpoint idle in turn
        a = pool.endpoints[0]
        fourth = await take()  # all have one in flight: the first in order
        pool.release(pool.endpoints[1], "ok")  # b is idle again
        fifth = await take()
        avoided = await take(avoid={"http://c"})  # c failed this prompt: b (one in flight) before c (one in flight)
        return first, fourth, fifth, avoided, a.outstanding

    first, fourth, fifth, avoided, a_outstanding = asyncio.run(scenario())
    assert first == ["http://a", "http://b", "http://c"]
    assert fourth == "http://a" and a_outstanding == 2
    assert fifth == "http://b"
    assert avoided == "http://b"
    # a is full (2 = limit), b full now too, c has room: c, even though the prompt would rather avoid it
    assert pool.pick(avoid={"http://c"}).url == "http://c"
    pool.endpoints[2].outstanding = 2
    assert pool.pick() is None  # every endpoint full: acquire would wait


def test_a_failing_endpoint_cools_down_exponentially_and_is_probed_again():
    clock = Clock()
    pool = EndpointPool(["http://a", "http://b"], limit=4, cooldown=1.0, max_cooldown=3.0, clock=clock)
    a, b = pool.endpoints
    pool.mark_down(a)
    assert pool.pick().url == "http://b" and not a.up(clock.now)
    pool.mark_down(a)  # a failure of a request sent before a went down: counted, cool-down not lengthened
    assert (a.failures, a.marked_down, a.down_until) == (2, 1, 101.0)
    b.outstanding = 4  # b full: a request waits rather than go to a cooling endpoint
    assert pool.pick() is None
    clock.now = 101.0  # cool-down over: a is probed with one request at a time
    assert pool.pick() is a
    a.outstanding = 1
    assert pool.pick() is None
    pool.release(a, "down")  # the probe fails: twice as long
    assert a.down_until == 103.0 and a.marked_down == 2
    clock.now = 103.0
    a.outstanding = 1
    pool.release(a, "down")  # capped at max_cooldown
    assert a.down_until == 106.0 and a.cooldown_s == 6.0
    clock.now = 106.0
    a.outstanding = 1
    pool.release(a, "ok")  # a success ends the probing: a takes its full share again
    a.outstanding = 3
    assert pool.pick() is a
    assert a.stats() == {"url": "http://a", "requests": 0, "failures": 4, "marked_down": 3, "cooldown_s": 6.0}


def test_when_every_endpoint_is_down_the_one_back_first_takes_the_retry():
    clock = Clock()
    pool = EndpointPool(["http://a", "http://b"], limit=1, cooldown=1.0, clock=clock)
    a, b = pool.endpoints
    pool.mark_down(a)
    pool.mark_down(a)  # already down: no change
    clock.now += 0.5
    pool.mark_down(b)
    assert pool.all_down() and pool.pick() is a  # a's cool-down ends first
    a.outstanding = 1
    assert pool.pick() is b


# --- against loopback servers ------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 4])
def test_work_is_spread_over_healthy_endpoints(n):
    servers = [MisbehavingServer(mode="echo") for _ in range(n)]
    with ExitStack() as stack:
        urls = [stack.enter_context(s) for s in servers]
        target, waits = _target(urls, concurrency=2)
        prompts = [f"question {i}" for i in range(6 * n)]  # three rounds of every slot
        responses = target.generate(prompts, GenParams(max_new_tokens=4), progress=False)
    assert [r.text for r in responses] == [f"fine: {p}" for p in prompts]
    calls = [s.calls.get("echo", 0) for s in servers]
    assert sum(calls) == len(prompts)  # each prompt asked once
    assert min(calls) >= 2  # the first round filled every endpoint's two slots
    assert [e["requests"] for e in target.endpoint_stats()] == calls
    assert all(e["failures"] == 0 and e["marked_down"] == 0 for e in target.endpoint_stats()) and waits == []


@pytest.mark.parametrize("bad", ["500", "hang"])
def test_a_failing_endpoint_gets_its_requests_done_elsewhere(bad):
    broken, healthy = MisbehavingServer(mode=bad, trickle_every=0.05), MisbehavingServer(mode="echo")
    with broken as bad_url, healthy as good_url:
        target, waits = _target([bad_url, good_url], timeout=4.0, concurrency=2)  # 2 s for the hanging attempt
        prompts = [f"question {i}" for i in range(4)]
        responses = target.generate(prompts, GenParams(max_new_tokens=4), progress=False)
        if bad == "hang":  # the client gave up on the hanging endpoint by itself
            assert broken.settled_outcomes(2) == ["hang:client-closed"] * 2
    # nothing lost, nothing answered twice, each answer made for its own prompt
    assert [r.error for r in responses] == [None] * 4
    assert [r.text for r in responses] == [f"fine: {p}" for p in prompts]
    assert broken.calls == {bad: 2} and healthy.calls == {"echo": 4}  # the first round: 2 slots on each
    bad_stats, good_stats = target.endpoint_stats()
    assert (bad_stats["requests"], bad_stats["failures"], bad_stats["marked_down"]) == (2, 2, 1)
    assert (good_stats["requests"], good_stats["failures"], good_stats["marked_down"]) == (4, 0, 0)
    assert waits == []  # retried on the other endpoint at once, no backoff


def test_every_endpoint_down_names_them_all():
    a, b = MisbehavingServer(mode="500"), MisbehavingServer(mode="500")
    with a as url_a, b as url_b:
        target, _ = _target([url_a, url_b], timeout=5.0, concurrency=1, retries=2)
        (resp,) = target.generate(["hi"], GenParams(max_new_tokens=2), progress=False)
    assert resp.error.startswith(f"every endpoint is marked down ({url_a}, {url_b}); failed after 3 attempts: HTTP 500")
    assert a.calls["500"] + b.calls["500"] == 3 and a.calls["500"] >= 1 and b.calls["500"] >= 1
    dead = [_free_port_url(), _free_port_url()]
    with pytest.raises(RefusalkitError) as err:
        load_target("openai:m", base_url=",".join(dead), timeout=2).check()
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("cannot reach any of the 2 endpoints") and all(u in msg for u in dead)


def test_check_marks_an_unreachable_endpoint_down_and_the_run_goes_on():
    dead = _free_port_url()
    with MisbehavingServer(mode="echo") as url:
        target, _ = _target([dead, url])
        assert target.check() == [f"{dead} (ConnectError)"]
        responses = target.generate(["one", "two"], GenParams(max_new_tokens=2), progress=False)
    assert [r.text for r in responses] == ["fine: one", "fine: two"]
    assert [(e["requests"], e["marked_down"]) for e in target.endpoint_stats()] == [(0, 1), (2, 0)]


# --- the command line --------------------------------------------------------------------------


def test_base_url_forms():
    assert split_base_urls("http://a/v1/, http://b/v1") == ["http://a/v1", "http://b/v1"]
    assert split_base_urls(["http://a/v1", "http://b/v1,http://c/v1"]) == ["http://a/v1", "http://b/v1", "http://c/v1"]
    with pytest.raises(RefusalkitError, match="'localhost:8000/v1' is not an http"):
        split_base_urls("http://a/v1,localhost:8000/v1")
    with pytest.raises(RefusalkitError, match="more than once"):
        split_base_urls(["http://a/v1", "http://a/v1/"])


def test_eval_over_two_endpoints_records_them_in_the_summary(tmp_path):
    from refusalkit.cli import app

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": f"How do I bake bread {i}?", "label": "benign"}) + "\n" for i in range(4))
    )
    broken, healthy = MisbehavingServer(mode="500"), MisbehavingServer(mode="echo")
    with broken as bad_url, healthy as good_url:
        res = CliRunner().invoke(
            app,
            [
                "eval",
                "-m",
                "openai:m",
                "--base-url",
                bad_url,
                "--base-url",
                good_url,
                "--prompts",
                str(prompts),
                "--judge",
                "prefix",
                "--concurrency",
                "2",
                "--out",
                str(tmp_path / "run"),
            ],
        )
        bad = CliRunner().invoke(app, ["generate", "hi", "-m", "openai:m", "--base-url", f"{good_url},ftp://x"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    bad_stats, good_stats = summary["run"]["endpoints"]
    assert bad_stats["url"] == bad_url and bad_stats["failures"] >= 1 and bad_stats["marked_down"] >= 1
    assert good_stats["url"] == good_url and good_stats["failures"] == 0
    assert summary["metrics"]["unscored"] == 0 and healthy.calls["echo"] == 4
    assert isinstance(bad.exception, RefusalkitError) and "'ftp://x' is not an http" in str(bad.exception)


def test_every_endpoint_down_is_one_line_from_the_command_line(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": f"Name a fruit {i}.", "label": "benign"}) + "\n" for i in range(3))
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("REFUSALKIT_DEBUG", None)
    a, b = MisbehavingServer(mode="500"), MisbehavingServer(mode="500")
    with a as url_a, b as url_b:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from refusalkit.cli import main; main()",
                "eval",
                "-m",
                "openai:m",
                "--base-url",
                f"{url_a},{url_b}",
                "--retries",
                "1",
                "--prompts",
                str(prompts),
                "--judge",
                "prefix",
                "--out",
                str(tmp_path / "run"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]  # the rest: the progress bar
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: every one of the 3 prompts is unscored")
    assert f"every endpoint is marked down ({url_a}, {url_b})" in lines[0]
