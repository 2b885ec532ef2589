"""The provenance block every benchmark adds to its JSON."""

from __future__ import annotations

import json
import subprocess
import time

from refusalkit.provenance import git_state, provenance


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_state_reports_commit_and_dirty_tree(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("two\n")
    assert git_state(tmp_path) == {"commit": head, "dirty": True}


def test_provenance_block_is_json_and_names_command_versions_and_duration():
    block = provenance(time.time() - 2.0, argv=["benchmarks/x.py", "--seeds", "3"])
    json.dumps(block)  # goes into the result file as is
    assert block["command"].endswith("benchmarks/x.py --seeds 3")
    assert block["versions"]["torch"] and block["versions"]["scikit-learn"]
    assert block["machine"]["cpu_count"] >= 1
    assert block["duration_s"] >= 2.0
    assert block["date"].endswith("+00:00")


def test_code_digest_ignores_formatting_and_comments_but_not_code(tmp_path):
    from refusalkit.provenance import code_digest

    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text("def f(x):\n    return x+1\n")
    b.write_text("# a comment\ndef f( x ):\n\n    return (x + 1)  # same code\n")
    c.write_text("def f(x):\n    return x + 2\n")
    assert code_digest(a) == code_digest(b)
    assert code_digest(a) != code_digest(c)


def test_provenance_names_the_code_a_run_started_with(monkeypatch):
    """A long run may end on a later commit than the code it ran: the git state is read at the start."""
    from refusalkit import provenance as prov

    monkeypatch.setattr(prov, "git_state", lambda path=None: {"commit": "start", "dirty": False})
    started = prov.run_started()
    monkeypatch.setattr(prov, "git_state", lambda path=None: {"commit": "later", "dirty": False})
    block = prov.provenance(started)
    assert block["git"]["commit"] == "start" and block["duration_s"] >= 0
