"""Load prompt sets: bundled suites by name, public benchmarks by name (:mod:`refusalkit.data.benchmarks`),
JSONL / CSV / Parquet files, the XSTest CSV, ``hf:`` datasets.

Every loader ends in the same place, a list of :class:`~refusalkit.types.Prompt`, and every problem a
user can fix (missing column, empty text, duplicate id, unknown label, bad encoding) raises one
:class:`~refusalkit.errors.RefusalkitError` that names the file, the row and the column.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import RefusalkitError
from ..tables import Row, read_rows
from ..types import Prompt
from .benchmarks import benchmark_rows, download_error, split_spec

SUITES_DIR = Path(__file__).with_name("suites")

# Column names tried, in order, when the caller does not name one.
TEXT_COLUMNS = ("text", "prompt", "question", "instruction", "goal", "query")
LABEL_COLUMNS = ("label",)
# Label spellings found in public over-refusal sets, mapped onto refusalkit's two labels.
LABEL_VALUES = {
    "benign": "benign",
    "safe": "benign",
    "harmless": "benign",
    "0": "benign",
    "false": "benign",
    "harmful": "harmful",
    "unsafe": "harmful",
    "toxic": "harmful",
    "1": "harmful",
    "true": "harmful",
}
XSTEST_COLUMNS = {"prompt", "type", "label", "focus", "note"}


def bundled_suites() -> list[str]:
    """Names of the suites shipped with refusalkit (``core``, ``align``, ...)."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.jsonl"))


def load_prompts(
    spec: str | Path,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    id_col: str | None = None,
    category_col: str | None = None,
    type_col: str | None = None,
    default_label: str | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[Prompt]:
    """Prompts from a bundled suite name, a registered benchmark (``xstest``, or ``xstest=FILE`` for a
    local copy in the source's layout; see ``refusalkit benchmarks``), a file, or ``hf:<dataset>``.

    - Columns are found by the ``*_col`` arguments or by common names (``text``/``prompt``/...,
      ``label``, ``id``, ``category``, ``type``, ``pair_id``, ``split``). A file without a label
      column needs ``default_label`` (e.g. a harmful-only benchmark).
    - An XSTest-style CSV (``prompt,type,label,focus,note``, labels ``safe``/``unsafe``) is recognised as
      is: its ``type`` becomes the prompt type and the type without ``contrast_`` the category.
    - ``split`` keeps only rows of that split; ``limit`` then keeps N prompts, taken round-robin across
      (label, type) groups so a short run still covers every kind of prompt.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise RefusalkitError(f"--limit must be a whole number of at least 1, got {limit}")
    spec_s = str(spec)
    named = benchmark_spec(spec_s)
    if named is not None:
        given = [
            f"--{k.replace('_col', '-col').replace('default_label', 'label')}"
            for k, v in dict(
                text_col=text_col,
                label_col=label_col,
                id_col=id_col,
                category_col=category_col,
                type_col=type_col,
                default_label=default_label,
            ).items()
            if v is not None
        ]
        if given:
            raise RefusalkitError(
                f"{', '.join(given)} do not apply to the benchmark {named[0].name}: its columns and labels come from "
                "refusalkit's registry (see `refusalkit benchmarks`)"
            )
        origin, rows = benchmark_rows(*named)
        source, prompts = (
            named[0].name,
            _to_prompts(
                rows,
                origin,
                text_col="text",
                label_col="label",
                id_col="id",
                category_col="category",
                type_col="type",
                default_label=None,
            ),
        )
    else:
        if spec_s.startswith("hf:"):
            source, rows = spec_s, _hf_rows(spec_s[3:])
        else:
            path = _resolve(spec_s)
            source, rows = str(path), read_rows(path)[1]
        prompts = _to_prompts(
            rows,
            source,
            text_col=text_col,
            label_col=label_col,
            id_col=id_col,
            category_col=category_col,
            type_col=type_col,
            default_label=default_label,
        )
    if split:
        kept = [p for p in prompts if p.split == split]
        if not kept:
            present = sorted({p.split for p in prompts if p.split}) or ["none"]
            raise RefusalkitError(f"{source}: no prompts in split '{split}' (splits present: {', '.join(present)})")
        prompts = kept
    if limit is not None and limit < len(prompts):
        prompts = round_robin(prompts, limit)
    return prompts


def benchmark_spec(spec: str):
    """(benchmark, local file or None) when ``spec`` names a registered benchmark (``NAME`` or
    ``NAME=FILE``) and is not an existing file; else None."""
    if spec.startswith("hf:") or Path(spec).expanduser().exists():
        return None
    return split_spec(spec)


def _resolve(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_dir():
            raise RefusalkitError(f"{path} is a folder; give a .jsonl, .csv or .parquet file")
        return path
    suite = SUITES_DIR / f"{spec}.jsonl"
    if "/" not in spec and suite.exists():
        return suite
    raise RefusalkitError(
        f"no prompt file or bundled suite named '{spec}' (bundled: {', '.join(bundled_suites()) or 'none'}; "
        "benchmarks: `refusalkit benchmarks`; files: .jsonl, .csv, .parquet; or hf:<dataset>)"
    )


# --- reading rows (files: refusalkit.tables.read_rows) -------------------------------------------


def _hf_rows(name: str) -> list[Row]:
    """All splits of a hub dataset; each row's ``split`` is the dataset split it came from."""
    try:
        import datasets

        loaded = datasets.load_dataset(name)
    except Exception as exc:
        raise RefusalkitError(
            download_error(
                exc,
                f"dataset hf:{name}",
                f"https://huggingface.co/datasets/{name}",
                local="--prompts FILE (.jsonl, .csv or .parquet)",
            )
        ) from exc
    rows: list[Row] = []
    for split_name, part in loaded.items():
        for n, r in enumerate(part, 1):
            rows.append((n, {"split": split_name, **r}))
    return rows


# --- rows to prompts ---------------------------------------------------------------------------
def _pick(columns: Iterable[str], wanted: str | None, defaults: tuple[str, ...], source: str, what: str) -> str | None:
    columns = list(columns)
    if wanted is not None:
        if wanted not in columns:
            raise RefusalkitError(f"{source}: row 1: no column '{wanted}' for {what} (columns: {', '.join(columns)})")
        return wanted
    lowered = {c.lower(): c for c in reversed(columns)}  # "Goal", "Category": common in CSV exports
    return next((lowered[c] for c in defaults if c in lowered), None)


def _to_prompts(
    rows: list[Row], source: str, *, text_col, label_col, id_col, category_col, type_col, default_label
) -> list[Prompt]:
    if not rows:
        raise RefusalkitError(f"{source}: no rows")
    columns = list(OrderedDict.fromkeys(k for _, r in rows for k in r))
    xstest = XSTEST_COLUMNS <= {c.lower() for c in columns} and text_col is None
    text_c = _pick(columns, text_col, TEXT_COLUMNS, source, "the prompt text")
    if text_c is None:
        raise RefusalkitError(
            f"{source}: row 1: no prompt text column (looked for {', '.join(TEXT_COLUMNS)}; name one with --text-col)"
        )
    label_c = _pick(columns, label_col, LABEL_COLUMNS, source, "the label")
    if label_c is None and default_label is None:
        raise RefusalkitError(
            f"{source}: row 1: no 'label' column; name one with --label-col or set --label benign|harmful"
        )
    if default_label is not None and default_label not in ("benign", "harmful"):
        raise RefusalkitError(f"default label must be benign or harmful, not '{default_label}'")
    id_c = _pick(columns, id_col, ("id",), source, "the id")
    cat_c = _pick(columns, category_col, ("category",), source, "the category")
    type_c = _pick(columns, type_col, ("type",), source, "the type")
    pair_c, split_c, source_c = (_pick(columns, None, (name,), source, name) for name in ("pair_id", "split", "source"))
    stem = Path(source).stem if not source.startswith("hf:") else source[3:].replace("/", "-")

    prompts, seen = [], {}
    for n, r in rows:
        text = r.get(text_c)
        if not isinstance(text, str) or not text.strip():
            raise RefusalkitError(f"{source}: row {n}: column '{text_c}' is empty")
        label = default_label
        if label_c is not None:
            raw = str(r.get(label_c, "")).strip().lower()
            label = LABEL_VALUES.get(raw)
            if label is None:
                raise RefusalkitError(
                    f"{source}: row {n}: column '{label_c}': unknown label '{raw}' (use benign/harmful or safe/unsafe)"
                )
        pid = (_clean(r.get(id_c)) if id_c else "") or f"{stem}-{n}"
        if pid in seen:
            raise RefusalkitError(
                f"{source}: row {n}: column '{id_c or 'id'}': duplicate id '{pid}' (first at row {seen[pid]})"
            )
        seen[pid] = n
        cell = lambda c: _clean(r.get(c)) if c else ""  # noqa: E731
        ptype, category = cell(type_c), cell(cat_c)
        if xstest and not category:
            category = ptype.removeprefix("contrast_")
        prompts.append(
            Prompt(
                id=pid,
                text=text.strip(),
                label=label,
                category=category,
                type=ptype,
                pair_id=cell(pair_c) or None,
                split=cell(split_c),
                source=cell(source_c) or source,
            )
        )
    return prompts


def _clean(value: Any) -> str:
    """A cell as a string; missing values (None, NaN) become ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def round_robin(prompts: Sequence[Prompt], limit: int) -> list[Prompt]:
    """Up to ``limit`` prompts taken in turn from each (label, type) group, in file order within a group."""
    groups: dict[tuple[str, str], list[Prompt]] = OrderedDict()
    for p in prompts:
        groups.setdefault((p.label, p.type), []).append(p)
    out: list[Prompt] = []
    queues = [list(g) for g in groups.values()]
    limit = min(limit, len(prompts))
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out
