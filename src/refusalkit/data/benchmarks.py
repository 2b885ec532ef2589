"""Public benchmarks by name: ``--prompts xstest``, ``--prompts or-bench-hard-1k=FILE``.

The registry is data, ``benchmarks.json`` next to this module: for each benchmark its source (a
Hugging Face dataset id with config and split, or a file URL), revision, the columns refusalkit reads,
the label its rows get (from a column through a value map, or one label for the whole set), a row
filter, its licence, size and the title to cite. :func:`benchmark_rows` turns the source's rows into
refusalkit's columns through that mapping, whether the rows come from the download or from a local file
in the source's layout, so both paths are one code path.

Hugging Face sources download through ``datasets``, file URLs with the standard library, both into
``$REFUSALKIT_HOME/datasets`` on first use. A download that
fails (offline, a gated dataset, a missing login) raises one :class:`RefusalkitError` line saying
what to do: log in, accept the licence on the dataset page, or pass a local file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import RefusalkitError
from ..tables import Row, read_rows

REGISTRY = Path(__file__).with_name("benchmarks.json")
LABELS = ("benign", "harmful")


@dataclass(frozen=True)
class Benchmark:
    """One registry entry (see ``benchmarks.json`` for the fields)."""

    name: str
    title: str
    source: dict[str, Any] | None
    revision: str | None
    columns: dict[str, Any]
    label: Any
    labels: str
    license: str
    size: int
    gated: bool
    unverified: tuple[str, ...]
    filter: dict[str, str] | None = None

    @property
    def where(self) -> str:
        """The source as a user would look it up: the dataset page or the file URL."""
        if not self.source:
            return "no verified download source"
        if "hf" in self.source:
            return f"https://huggingface.co/datasets/{self.source['hf']}"
        return self.source["url"]

    @property
    def pinned(self) -> bool:
        return bool(self.revision) and self.revision != "main"


@lru_cache(maxsize=1)
def _registry() -> dict[str, Benchmark]:
    data = json.loads(REGISTRY.read_text(encoding="utf-8"))
    out = {}
    for entry in data["benchmarks"]:
        entry = dict(entry, unverified=tuple(entry.get("unverified", ())))
        out[entry["name"]] = Benchmark(**entry)
    return out


def benchmarks() -> list[Benchmark]:
    """Every registered benchmark, in registry order."""
    return list(_registry().values())


def benchmark(name: str) -> Benchmark | None:
    """The registered benchmark called ``name`` (case-insensitive), or None."""
    return _registry().get(name.strip().lower())


def split_spec(spec: str) -> tuple[Benchmark, Path | None] | None:
    """``NAME`` or ``NAME=FILE`` when NAME is a registered benchmark: (benchmark, local file or None);
    None for anything else (a suite, a file, ``hf:``)."""
    name, sep, path = spec.partition("=")
    bench = benchmark(name)
    if bench is None:
        return None
    if sep and not path.strip():
        raise RefusalkitError(f"--prompts {spec}: give the local file after '=' (e.g. {name}=data/{name}.csv)")
    return bench, (Path(path).expanduser() if sep else None)


def benchmark_rows(bench: Benchmark, path: str | Path | None = None) -> tuple[str, list[Row]]:
    """(origin, rows) of the benchmark in refusalkit's columns (text, label, id, category, type,
    source), from ``path`` (a local file in the source's layout: the CSV, TSV, JSONL or Parquet as
    published) or else from its source, downloaded into the cache on first use.
    :func:`refusalkit.data.load_prompts` turns them into prompts as it does any file's rows."""
    if path is not None:
        origin = str(path)
        rows = read_rows(path)[1]
    else:
        origin = bench.where
        rows = _download(bench)
    return origin, _map_rows(bench, rows, origin)


# --- the mapping: source rows to refusalkit's columns ------------------------------------------


def _cell(row: dict[str, Any], spec: Any, bench: Benchmark, n: int, origin: str, what: str) -> Any:
    """One value of a source row: ``spec`` is a column name or ``{"column", "index"?, "strip_prefix"?}``."""
    column = spec if isinstance(spec, str) else spec["column"]
    if column not in row:
        raise RefusalkitError(
            f"{origin}: row {n}: no column '{column}' for {what} of {bench.name} (columns: {', '.join(map(str, row))}); "
            f"is this file in the layout of {bench.where}?"
        )
    value = row[column]
    if isinstance(spec, dict) and "index" in spec:
        if isinstance(value, str):  # a list column written to CSV/JSONL as JSON text
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = [value]
        try:
            value = list(value)[spec["index"]]
        except (TypeError, IndexError):
            raise RefusalkitError(
                f"{origin}: row {n}: column '{column}' has no item {spec['index']} for {what}"
            ) from None
    if isinstance(spec, dict) and spec.get("strip_prefix") and isinstance(value, str):
        value = value.removeprefix(spec["strip_prefix"])
    return value


def _map_rows(bench: Benchmark, rows: list[Row], origin: str) -> list[Row]:
    if not rows:
        raise RefusalkitError(f"{origin}: no rows")
    # A row without an id column is numbered by its place among the source's records (1-based, before
    # the filter), so the downloaded set and a local copy of it give every prompt the same id.
    kept = []
    for index, (n, row) in enumerate(rows, 1):
        if bench.filter and any(
            str(_cell(row, col, bench, n, origin, "the row filter")) != want for col, want in bench.filter.items()
        ):
            continue
        kept.append((index, n, row))
    if not kept:
        wanted = ", ".join(f"{c} = {v}" for c, v in (bench.filter or {}).items())
        raise RefusalkitError(f"{origin}: no row of {bench.name} has {wanted}")
    out = []
    for index, n, row in kept:
        item: dict[str, Any] = {"text": _cell(row, bench.columns["text"], bench, n, origin, "the prompt text")}
        if isinstance(bench.label, str):
            item["label"] = bench.label
        else:
            raw = str(_cell(row, bench.label["column"], bench, n, origin, "the label")).strip()
            label = bench.label["values"].get(raw)
            if label is None:
                raise RefusalkitError(
                    f"{origin}: row {n}: column '{bench.label['column']}': label '{raw}' is not one of "
                    f"{', '.join(bench.label['values'])} ({bench.name})"
                )
            item["label"] = label
        for field in ("id", "category", "type"):
            spec = bench.columns.get(field)
            item[field] = _cell(row, spec, bench, n, origin, f"the {field}") if spec else ""
        item["id"] = f"{bench.name}-{_text(item.get('id')) or index}"
        item["source"] = bench.name
        out.append((n, item))
    return out


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- downloading ---------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where downloaded benchmarks are kept: ``$REFUSALKIT_HOME/datasets``."""
    from ..paths import home

    return home() / "datasets"


def _download(bench: Benchmark) -> list[Row]:
    if not bench.source:
        raise RefusalkitError(
            f"{bench.name} has no verified download source in refusalkit's registry; get the file from its "
            f"authors ({bench.title}) and pass it with --prompts {bench.name}=FILE"
        )
    src = bench.source
    local = f"--prompts {bench.name}=FILE"
    if "url" in src:
        return read_rows(_fetch(bench, src["url"], local))[1]
    import datasets

    kwargs = {"revision": bench.revision} if bench.revision else {}
    try:
        loaded = datasets.load_dataset(
            src["hf"],
            src.get("config"),
            split=src["split"],
            cache_dir=str(cache_dir()),
            **kwargs,
            **src.get("load_kwargs", {}),
        )
    except Exception as exc:
        raise RefusalkitError(
            download_error(
                exc, f"benchmark {bench.name} from {bench.where}", bench.where, gated=bench.gated, local=local
            )
        ) from exc
    return [(n, dict(r)) for n, r in enumerate(loaded, 1)]


def _fetch(bench: Benchmark, url: str, local: str) -> Path:
    """A file source, downloaded once into ``cache_dir()/NAME/REVISION/`` and read from there after.
    The file is read with refusalkit's own table reader, as a local copy passed with NAME=FILE is."""
    import urllib.error
    import urllib.request

    path = cache_dir() / bench.name / (bench.revision or "main") / url.rsplit("/", 1)[-1]
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 (a fixed https URL from the registry)
            partial.write_bytes(answer.read())
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise RefusalkitError(download_error(exc, f"benchmark {bench.name} from {url}", url, local=local)) from exc
    partial.replace(path)  # whole or absent: an interrupted download never counts as cached
    return path


def download_error(exc: BaseException, what: str, where: str, *, gated: bool = False, local: str) -> str:
    """One line saying why loading ``what`` from ``where`` failed and what to do: log in, accept the
    licence on the dataset page, or pass a local file (``local``: how, e.g. ``--prompts xstest=FILE``)."""
    names: set[str] = set()
    e: BaseException | None = exc
    for _ in range(10):  # the exception and its causes: datasets wraps the hub's errors
        if e is None:
            break
        names.update(c.__name__ for c in type(e).__mro__)
        e = e.__cause__ or e.__context__
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    text = str(exc).lower()
    head = f"could not load {what} ({type(exc).__name__}: {reason})"
    if "GatedRepoError" in names or "gated" in text:
        return (
            f"{head}; {where} is gated: accept its licence on that page, log in with `huggingface-cli login` and "
            f"run again, or pass a local copy with {local}"
        )
    if {"OfflineModeIsEnabled", "LocalEntryNotFoundError"} & names or "offline" in text:
        return (
            f"{head}; refusalkit is offline and has no cached copy: go online once, or pass a local copy with {local}"
        )
    if {"RepositoryNotFoundError", "DatasetNotFoundError", "EntryNotFoundError", "FileNotFoundError"} & names or (
        getattr(exc, "code", None) in (401, 403, 404)
    ):
        licence = ", accept its licence on that page" if gated else ""
        return (
            f"{head}; check {where}{licence} and log in with `huggingface-cli login` if it needs one, "
            f"or pass a local copy with {local}"
        )
    return f"{head}; if you are offline or the source is unreachable, pass a local copy with {local}"
