"""`refusalkit serve` fails closed: an empty key is an error, the key can come from a file or the
environment (out of `ps`), and binding a non-loopback address without a key warns."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.serve import background_server, create_app

API_KEY_ENV = "REFUSALKIT_API_KEY"


@pytest.fixture()
def served(monkeypatch):
    """Run `refusalkit serve` up to the point where uvicorn would start; returns what it would serve."""
    seen: dict = {}

    def fake_run(app_, host, port, **kw):
        seen.update(app=app_, host=host, port=port)

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.delenv(API_KEY_ENV, raising=False)

    def invoke(*args, env=None):
        res = CliRunner().invoke(app, ["serve", "-m", "tiny-random", *args], env=env)
        return res, seen

    return invoke


def _status(app_, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with background_server(app_) as url:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        return httpx.post(f"{url}/chat/completions", json=body, headers=headers, timeout=60).status_code


@pytest.mark.parametrize("args, env", [(["--api-key", ""], None), (["--api-key", "  "], None), ([], {API_KEY_ENV: ""})])
def test_an_empty_key_is_an_error_not_open_access(served, args, env):
    res, seen = served(*args, env=env)
    assert res.exit_code != 0 and isinstance(res.exception, RefusalkitError)
    assert "empty" in str(res.exception) and "app" not in seen  # it never started


def test_empty_key_in_the_library_is_an_error(tiny_target):
    with pytest.raises(RefusalkitError, match="empty"):
        create_app(tiny_target, api_key="")


def test_key_from_file_or_environment_is_required(served, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    res, seen = served("--api-key-file", str(key_file))
    assert res.exit_code == 0, res.output
    assert _status(seen["app"]) == 401 and _status(seen["app"], "from-a-file") == 200

    res, seen = served(env={API_KEY_ENV: "from-the-env"})
    assert res.exit_code == 0, res.output
    assert _status(seen["app"]) == 401 and _status(seen["app"], "from-the-env") == 200


def test_bad_key_sources_are_one_line_errors(tmp_path):
    from refusalkit.serve import resolve_api_key

    (tmp_path / "empty").write_text("\n")
    with pytest.raises(RefusalkitError, match="empty"):
        resolve_api_key(key_file=tmp_path / "empty", environ={})
    with pytest.raises(RefusalkitError, match="cannot read"):
        resolve_api_key(key_file=tmp_path / "missing", environ={})
    with pytest.raises(RefusalkitError, match="not both"):
        resolve_api_key("k", tmp_path / "empty", environ={})
    assert resolve_api_key(environ={}) is None
    assert resolve_api_key("flag", environ={API_KEY_ENV: "env"}) == "flag"


def test_non_loopback_bind_without_key_warns(served):
    res, seen = served("--host", "0.0.0.0")
    assert res.exit_code == 0 and seen["host"] == "0.0.0.0"
    assert "without an API key" in res.output
    res, _ = served("--host", "127.0.0.1")
    assert "without an API key" not in res.output
    from refusalkit.serve import is_loopback

    assert is_loopback("localhost") and is_loopback("::1") and not is_loopback("10.0.0.5")
