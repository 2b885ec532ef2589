"""The README and the docs site agree with the result files they cite."""

from __future__ import annotations

import importlib.util
import json
import shutil
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _renderer():
    spec = importlib.util.spec_from_file_location("render_results", ROOT / "benchmarks" / "render_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_results_tables_match_the_result_files():
    render = _renderer()
    stale = [
        str(p.relative_to(ROOT))
        for p in render.TARGETS
        if render.render_text(p.read_text(encoding="utf-8"), p) != p.read_text(encoding="utf-8")
    ]
    assert not stale, f"run `python benchmarks/render_results.py`; stale tables in {stale}"


def test_a_changed_figure_shows_up_as_drift():
    render = _renderer()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- BEGIN results:headline -->" in readme
    start = readme.index("<!-- BEGIN results:headline -->")
    figure = re.search(r"\d\.\d{3} binary accuracy", readme[start:])
    assert figure, "the headline table quotes the detector's binary accuracy"
    at = start + figure.start()
    tampered = readme[:at] + "0.123" + readme[at + 5 :]
    assert tampered != readme
    assert render.render_text(tampered, ROOT / "README.md") == readme


def test_readme_is_short_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 12 * 1024
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local, "the README links to its docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, missing


def test_every_docs_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")]
    assert not [p for p in pages if p not in nav]


def test_figures_match_the_result_files():
    stale = _renderer().stale_figures()
    assert not stale, f"run `python benchmarks/render_results.py`; stale figures {stale}"


def test_a_figure_is_drawn_from_its_results_and_goes_stale_when_they_change(tmp_path, monkeypatch):
    render = _renderer()
    results = tmp_path / "results"
    results.mkdir()
    for files, _ in render.FIGURES.values():
        for name in files:
            shutil.copy(render.RESULTS / name, results / name)
    monkeypatch.setattr(render, "RESULTS", results)
    monkeypatch.setattr(render, "IMG", tmp_path / "img")
    assert sorted(render.stale_figures()) == sorted(render.FIGURES)  # nothing drawn yet
    svg = render.draw_figure("poison.svg").read_text(encoding="utf-8")
    group = render.load(render.POISON_HEADLINE)["target"]["group"]
    assert f"Alignment poisoned against {group}s" in svg and svg.lstrip().startswith("<?xml")
    assert render.stale_figures() == ["tradeoff.svg"]
    data = json.loads((results / render.POISON_HEADLINE).read_text(encoding="utf-8"))
    data["points"][-1]["target_delta_dp_corrected"]["delta"] -= 0.01
    (results / render.POISON_HEADLINE).write_text(json.dumps(data), encoding="utf-8")
    assert render.stale_figures() == ["tradeoff.svg", "poison.svg"]
