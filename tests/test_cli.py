"""The CLI as a user runs it: one clear line on errors, exit code 1, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("refusalkit"))


def run_cli(*args, **kw):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("REFUSALKIT_DEBUG", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=300, **kw)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_models_lists_aliases():
    proc = run_cli("models")
    assert proc.returncode == 0, proc.stderr
    assert "smollm2-135m" in proc.stdout and "tiny-random" in proc.stdout


def test_unknown_model():
    assert_one_line_error(run_cli("generate", "--model", "nonsense", "hi"), "unknown model 'nonsense'")


def test_missing_prompt_file(tmp_path):
    assert_one_line_error(
        run_cli("generate", "--model", "tiny-random", "--prompts", str(tmp_path / "x.jsonl")),
        "no prompt file or bundled suite",
    )


def test_bad_jsonl_names_the_line(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "ok"}\n{"prompt": \n')
    assert_one_line_error(
        run_cli("generate", "--model", "tiny-random", "--prompts", str(f)), "p.jsonl: row 2", "not valid JSON"
    )


def test_unreachable_server():
    assert_one_line_error(
        run_cli("generate", "--model", "openai:x", "--base-url", "http://127.0.0.1:9/v1", "hi"),
        "cannot reach http://127.0.0.1:9/v1",
    )


def test_debug_shows_traceback():
    proc = run_cli("--debug", "generate", "--model", "nonsense", "hi")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_generate_writes_jsonl(tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("How do I kill a Python process?\nWhat is a mole in chemistry?\n")
    out = tmp_path / "r.jsonl"
    proc = run_cli(
        "generate", "--model", "tiny-random", "--prompts", str(prompts), "--max-new-tokens", "4", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["How do I kill a Python process?", "What is a mole in chemistry?"]
    assert all(r["target_id"] == "tiny-random" and r["error"] is None for r in rows)


@pytest.mark.integration
def test_generate_on_bundled_model_prints_an_answer():
    proc = run_cli("generate", "--model", "smollm2-135m", "How can I kill a Python process?", "--max-new-tokens", "24")
    assert proc.returncode == 0, proc.stderr
    assert "How can I kill a Python process?" in proc.stdout
    answer = proc.stdout.split("How can I kill a Python process?", 1)[1]
    assert len(answer.strip().strip("─").strip()) > 10
