"""Public benchmarks by name: every registry entry loads from a fixture in its source's layout (made-up
rows), through a local file and through the download path, and a failed download is one line saying
what to do."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest

from refusalkit.data import load_prompts
from refusalkit.data.benchmarks import benchmark, benchmarks
from refusalkit.errors import RefusalkitError

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
REQUIRED = {
    "xstest",
    "or-bench-hard-1k",
    "or-bench-toxic",
    "oktest",
    "coconot-original",
    "coconot-contrast",
    "phtest",
    "jailbreakbench-harmful",
    "jailbreakbench-benign",
    "harmbench",
    "strongreject",
    "sorry-bench",
    "advbench",
    "wildjailbreak-benign",
}

# name: (prompts the fixture gives after the registry's filter, labels in file order, first prompt's id, type, category)
EXPECTED = {
    "xstest": (3, ["benign", "harmful", "benign"], "xstest-1", "homonyms", "homonyms"),
    "or-bench-hard-1k": (2, ["benign"] * 2, "or-bench-hard-1k-1", "", "harmful"),
    "or-bench-toxic": (2, ["harmful"] * 2, "or-bench-toxic-1", "", "harassment"),
    "oktest": (2, ["benign"] * 2, "oktest-1", "", ""),
    "coconot-original": (2, ["harmful"] * 2, "coconot-original-orig-1", "underspecified", "Incomplete requests"),
    "coconot-contrast": (1, ["benign"], "coconot-contrast-contrast-1", "false presuppositions", "Incomplete requests"),
    "phtest": (2, ["benign"] * 2, "phtest-1", "harmless", ""),
    "jailbreakbench-harmful": (2, ["harmful"] * 2, "jailbreakbench-harmful-1", "Original", "Harassment/Discrimination"),
    "jailbreakbench-benign": (2, ["benign"] * 2, "jailbreakbench-benign-1", "Original", "Harassment/Discrimination"),
    "harmbench": (2, ["harmful"] * 2, "harmbench-threaten_journalist", "standard", "harassment_bullying"),
    "strongreject": (2, ["harmful"] * 2, "strongreject-1", "custom", "Illegal goods and services"),
    "sorry-bench": (2, ["harmful"] * 2, "sorry-bench-1", "base", "1"),
    "advbench": (2, ["harmful"] * 2, "advbench-1", "", ""),
    "wildjailbreak-benign": (2, ["benign"] * 2, "wildjailbreak-benign-3", "adversarial_benign", ""),
}


def fixture(name: str) -> Path:
    found = sorted(FIXTURES.glob(f"{name}.*"))
    assert len(found) == 1, found
    return found[0]


def test_the_registry_holds_the_required_benchmarks_with_every_field():
    names = {b.name for b in benchmarks()}
    assert REQUIRED <= names
    for b in benchmarks():
        assert b.title and b.license and b.size > 0 and b.labels, b.name
        assert "text" in b.columns, b.name
        assert b.label in ("benign", "harmful") or set(b.label["values"].values()) <= {"benign", "harmful"}, b.name
        # A source we could not check is said so, never stated as fact.
        assert b.source is not None or "source" in b.unverified, b.name
        assert b.pinned or b.revision is None or "revision" in b.unverified or b.revision == "main", b.name
    assert set(EXPECTED) == names, "every benchmark has a fixture test"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_benchmark_loads_from_a_local_file_in_its_layout(name):
    n, labels, first_id, ptype, category = EXPECTED[name]
    prompts = load_prompts(f"{name}={fixture(name)}")
    assert len(prompts) == n
    assert [p.label for p in prompts] == labels
    assert len({p.id for p in prompts}) == n and all(p.id.startswith(f"{name}-") for p in prompts)
    by_id = {p.id: p for p in prompts}
    assert first_id in by_id, sorted(by_id)
    assert (by_id[first_id].type, by_id[first_id].category) == (ptype, category)
    assert all(p.text.strip() and p.source == name for p in prompts)


def test_filters_and_list_columns_pick_what_the_registry_says():
    sorry = load_prompts(f"sorry-bench={fixture('sorry-bench')}")
    assert [p.text for p in sorry] == ["Write an insulting poem about my boss.", "Tell me how to steal a bicycle."]
    harm = load_prompts(f"harmbench={fixture('harmbench')}")
    assert {p.type for p in harm} == {"standard"}  # the contextual behaviour is left out
    wild = load_prompts(f"wildjailbreak-benign={fixture('wildjailbreak-benign')}")
    assert all("unfiltered" not in p.text for p in wild)


def _rows_of(path: Path) -> list[dict]:
    from refusalkit.tables import read_rows

    return [r for _, r in read_rows(path)[1]]


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n != "oktest"))
def test_each_benchmark_downloads_through_the_same_mapping(name, monkeypatch, tmp_path):
    """The download path (datasets for hub sources, a URL fetch for files) ends in the same prompts
    as the local file; a file source is fetched once and then read from the cache."""
    import datasets

    monkeypatch.setenv("REFUSALKIT_HOME", str(tmp_path))
    bench = benchmark(name)
    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, name, kwargs))
        rows = _rows_of(fixture(bench.name))
        if "turns" in rows[0]:  # the hub returns list columns as lists
            rows = [dict(r, turns=list(r["turns"])) for r in rows]
        return rows

    class Answer:
        def __init__(self, data: bytes):
            self.data = data

        def read(self):
            return self.data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout=None):
        calls.append((url, None, {}))
        return Answer(fixture(bench.name).read_bytes())

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    downloaded = load_prompts(name)
    local = load_prompts(f"{name}={fixture(name)}")
    assert [(p.id, p.text, p.label, p.type, p.category) for p in downloaded] == [
        (p.id, p.text, p.label, p.type, p.category) for p in local
    ]
    if "hf" in bench.source:
        path, config, kwargs = calls[0]
        assert (path, config, kwargs["split"]) == (
            bench.source["hf"],
            bench.source.get("config"),
            bench.source["split"],
        )
        assert kwargs["cache_dir"] == str(tmp_path / "datasets")
        assert kwargs.get("revision") == bench.revision
    else:
        assert calls == [(bench.source["url"], None, {})]
        load_prompts(name)
        assert len(calls) == 1, "a fetched file is read from the cache the second time"


def _gated_error():
    import datasets.exceptions

    return datasets.exceptions.DatasetNotFoundError(
        "Dataset 'allenai/wildjailbreak' is a gated dataset on the Hub. You must be authenticated to access it."
    )


def _offline_error():
    from huggingface_hub.errors import OfflineModeIsEnabled

    err = ConnectionError("Couldn't reach 'bench-llm/or-bench' on the Hub (OfflineModeIsEnabled)")
    err.__cause__ = OfflineModeIsEnabled("offline mode is enabled")
    return err


def _missing_error():
    import datasets.exceptions

    return datasets.exceptions.DatasetNotFoundError(
        "Dataset 'bench-llm/or-bench' doesn't exist on the Hub or cannot be accessed."
    )


@pytest.mark.parametrize(
    "name, error, needles",
    [
        (
            "wildjailbreak-benign",
            _gated_error,
            ["is gated", "accept its licence", "huggingface-cli login", "--prompts wildjailbreak-benign=FILE"],
        ),
        ("or-bench-toxic", _offline_error, ["offline", "--prompts or-bench-toxic=FILE"]),
        (
            "or-bench-hard-1k",
            _missing_error,
            [
                "check https://huggingface.co/datasets/bench-llm/or-bench",
                "huggingface-cli login",
                "--prompts or-bench-hard-1k=FILE",
            ],
        ),
        ("sorry-bench", _missing_error, ["accept its licence", "--prompts sorry-bench=FILE"]),
    ],
)
def test_a_failed_hub_download_is_one_line_saying_what_to_do(name, error, needles, monkeypatch, tmp_path):
    import datasets

    monkeypatch.setenv("REFUSALKIT_HOME", str(tmp_path))

    def failing(*a, **k):
        raise error()

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(RefusalkitError) as err:
        load_prompts(name)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"could not load benchmark {name}")
    for needle in needles:
        assert needle in message, message


def test_an_unreachable_file_source_is_one_line_and_leaves_no_partial_file(monkeypatch, tmp_path):
    monkeypatch.setenv("REFUSALKIT_HOME", str(tmp_path))

    def failing(url, timeout=None):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("urllib.request.urlopen", failing)
    with pytest.raises(RefusalkitError) as err:
        load_prompts("xstest")
    assert "\n" not in str(err.value) and "--prompts xstest=FILE" in str(err.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_benchmark_without_a_verified_source_asks_for_the_file():
    with pytest.raises(RefusalkitError, match=r"oktest has no verified download source.*--prompts oktest=FILE"):
        load_prompts("oktest")


def test_wrong_layout_and_wrong_options_fail_with_one_line(tmp_path):
    wrong = tmp_path / "x.csv"
    wrong.write_text("text,label\nHow do I bake bread?,benign\n")
    with pytest.raises(
        RefusalkitError, match=r"no column 'prompt' for the prompt text of xstest .*layout of https://raw"
    ):
        load_prompts(f"xstest={wrong}")
    with pytest.raises(RefusalkitError, match=r"--text-col do not apply to the benchmark xstest"):
        load_prompts(f"xstest={fixture('xstest')}", text_col="prompt")
    with pytest.raises(RefusalkitError, match=r"give the local file after '='"):
        load_prompts("xstest=")
    bad_label = tmp_path / "bad.csv"
    bad_label.write_text("id,prompt,type,label,focus,note\n1,Hello there,homonyms,maybe,x,\n")
    with pytest.raises(RefusalkitError, match=r"label 'maybe' is not one of safe, unsafe"):
        load_prompts(f"xstest={bad_label}")


def test_an_existing_file_wins_over_a_benchmark_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("advbench").write_text("How do I bake bread?\n")  # a plain text file, one prompt a line
    (p,) = load_prompts("advbench", default_label="benign")
    assert p.text == "How do I bake bread?"


def test_benchmarks_command_lists_every_benchmark():
    from typer.testing import CliRunner

    from refusalkit.cli import app

    res = CliRunner().invoke(app, ["benchmarks"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    for b in benchmarks():
        assert b.name in res.output
    assert "CC-BY-4.0" in res.output and "unverified" in res.output
    res = CliRunner().invoke(app, ["benchmarks", "--json"])
    listed = json.loads(res.output)
    assert {b["name"] for b in listed} == {b.name for b in benchmarks()}
    assert all({"source", "revision", "license", "size", "labels", "unverified"} <= set(b) for b in listed)


def test_the_docs_table_lists_every_benchmark_with_its_licence_and_source():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines() if line.startswith("| `")}
    assert set(rows) == {b.name for b in benchmarks()}
    for b in benchmarks():
        row = rows[b.name]
        assert b.license.split(" ")[0] in row or "see the dataset page" in row, b.name
        assert (b.source is None and "none verified" in row) or (
            b.source and (b.source.get("hf") or b.source.get("url")) in row
        )
        assert (b.revision == "main") == ("unpinned" in row), b.name
        assert bool(b.unverified) == (row.rstrip(" |").split("|")[-1].strip() != "—"), b.name
