"""Reading and writing the tables refusalkit's users hand it and get back (JSONL, JSON, CSV, TSV,
Parquet, plain text). Every command reads user files through :func:`read_rows` / :func:`read_table`
and writes tables through :func:`write_table`, so every command reads and writes them the same way.

Reading is strict and keeps values as they came:

- CSV/TSV cells stay the text they are (no number parsing, no ``NA`` guessing, no index column
  inference); a row with more or fewer fields than the header is an error naming the row.
- JSONL is parsed line by line with the standard JSON parser, so numbers keep their full precision;
  a line that is not a JSON object is an error naming the line.
- Text must be UTF-8; a byte that is not, or a lone UTF-16 surrogate (from a ``\\udXXX`` escape), is an
  error naming the file and the row, raised before any work is done with the file.

Row numbers are the file's line numbers for text formats (the header is row 1 of a CSV, as in a
spreadsheet) and 1-based record numbers for Parquet and JSON arrays.

Writing follows the output's extension (``.jsonl``, ``.json``, ``.csv``, ``.tsv``, ``.parquet``);
any other extension is refused by :func:`check_output`, which commands call before doing any work.
JSON output writes a missing value as ``null`` (never ``NaN``) and floats at full precision.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

from .checks import output_file
from .errors import RefusalkitError

READ_FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq", ".txt")
WRITE_FORMATS = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
_JSONL = (".jsonl", ".ndjson")
_SURROGATE = re.compile("[\ud800-\udfff]")

Row = tuple[int, dict[str, Any]]  # (row number as the user sees it, values)


# --- reading ------------------------------------------------------------------------------------
def read_rows(path: str | Path, *, text_column: str = "prompt") -> tuple[list[str], list[Row]]:
    """(columns, [(row number, row)]) of a table file; one-line :class:`RefusalkitError` for anything
    wrong with it. A ``.txt`` file (or one without an extension) holds one value a line, in column
    ``text_column``; blank lines are skipped and the others stripped."""
    path = Path(path)
    if not path.exists():
        raise RefusalkitError(f"{path} does not exist")
    if path.is_dir():
        raise RefusalkitError(f"{path} is a folder; give a file ({', '.join(READ_FORMATS)})")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = _read_parquet(path)
        return [str(c) for c in frame.columns], list(enumerate(frame.to_dict(orient="records"), 1))
    if suffix not in READ_FORMATS and suffix != "":
        raise RefusalkitError(f"{path}: unsupported file type '{suffix}'; use one of {', '.join(READ_FORMATS)}")
    text = _decode(path)
    if suffix in _JSONL:
        rows = _jsonl_rows(path, text)
    elif suffix == ".json":
        rows = _json_rows(path, text)
    elif suffix in (".txt", ""):
        rows = [(n, {text_column: line.strip()}) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    else:
        return _csv_rows(path, text, "\t" if suffix == ".tsv" else ",")
    columns: dict[str, None] = {}
    for _, row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def read_table(path: str | Path, *, text_column: str = "prompt", allow_empty: bool = False):
    """A table file as a pandas DataFrame with the values as given: CSV cells as strings (an empty
    cell is ``""``), JSON values as the JSON parser reads them (a key missing from a row is ``None``),
    Parquet columns with their stored types. A file without rows is an error unless ``allow_empty``."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        frame = _read_parquet(path)
    else:
        columns, rows = read_rows(path, text_column=text_column)
        frame = pd.DataFrame({c: [r.get(c) for _, r in rows] for c in columns}, columns=columns, dtype=object)
    if frame.empty and not allow_empty:
        raise RefusalkitError(f"{path} holds no rows")
    return frame


def _read_parquet(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise RefusalkitError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from exc


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 3]
        if len(bad) >= 2 and bad[0] == 0xED and 0xA0 <= bad[1] <= 0xBF:
            what = "a lone UTF-16 surrogate encoded as UTF-8 (not valid UTF-8)"
        else:
            what = f"not UTF-8 text (byte 0x{data[exc.start]:02x})"
        raise RefusalkitError(f"{path}: row {row}: {what}; re-save the file as UTF-8") from exc


def check_text(value: Any, where: str, column: str | None = None) -> None:
    """Refuse a lone surrogate (a ``\\ud800``-style JSON escape without its pair, or an undecodable
    command-line byte) in ``value`` or anything inside it: such text cannot be stored, encoded or
    tokenised. ``where`` names the place for the error (e.g. ``"FILE: row 3"``)."""
    if isinstance(value, str):
        m = _SURROGATE.search(value)
        if m:
            col = f"column '{column}': " if column is not None else ""
            raise RefusalkitError(
                f"{where}: {col}a lone surrogate (U+{ord(m.group()):04X}) in the text; "
                "replace it (or the \\u escape) with the character it stands for"
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, where, column)
            check_text(v, where, k if column is None else column)
    elif isinstance(value, list):
        for v in value:
            check_text(v, where, column)


def _object(path: Path, n: int, value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise RefusalkitError(f"{path}: row {n}: expected a JSON object {what}")
    check_text(value, f"{path}: row {n}")
    return value


def _jsonl_rows(path: Path, text: str) -> list[Row]:
    rows = []
    # Split on "\n" only: str.splitlines() would also split inside a string holding U+2028 and such.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RefusalkitError(f"{path}: row {n}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        rows.append((n, _object(path, n, value, "per line")))
    return rows


def _json_rows(path: Path, text: str) -> list[Row]:
    """A JSON array of objects, or (as many ``.json`` files are) one object a line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return _jsonl_rows(path, text)
        raise RefusalkitError(f"{path}: row {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if isinstance(value, dict):
        return [(1, _object(path, 1, value, ""))]
    if not isinstance(value, list):
        raise RefusalkitError(f"{path}: expected a JSON array of objects or one JSON object a line")
    return [(n, _object(path, n, v, "in the array")) for n, v in enumerate(value, 1)]


def _csv_rows(path: Path, text: str, delimiter: str) -> tuple[list[str], list[Row]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    name, shown = ("TSV", "a tab") if delimiter == "\t" else ("CSV", "a comma")
    header: list[str] | None = None
    rows: list[Row] = []
    last = 0  # line where the previous record ended; the next one starts on the line after it
    try:
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line
            if header is None:
                header = [f or f"Unnamed: {i}" for i, f in enumerate(fields)]
                dup = next((h for i, h in enumerate(header) if h in header[:i]), None)
                if dup is not None:
                    raise RefusalkitError(f"{path}: row {start}: the header names column '{dup}' twice; rename one")
                continue
            if len(fields) != len(header):
                raise RefusalkitError(
                    f"{path}: row {start}: {len(fields)} field{'s' if len(fields) != 1 else ''} but the header has {len(header)}; "
                    f"quote cells that contain {shown} or a quote, or fix the row"
                )
            rows.append((start, dict(zip(header, fields))))
    except csv.Error as exc:
        raise RefusalkitError(f"{path}: row {reader.line_num}: not readable as {name} ({exc})") from exc
    return header or [], rows


# --- writing ------------------------------------------------------------------------------------
def check_output(path: str | Path, option: str = "--out", formats: tuple[str, ...] = WRITE_FORMATS) -> Path:
    """Fail before any work when ``path`` cannot be written as a table: an extension that is not one
    of ``formats``, an existing folder, or a parent that is a file."""
    path = output_file(path, option)
    suffix = path.suffix.lower()
    if suffix not in formats:
        raise RefusalkitError(f"{option} {path}: unsupported output format '{suffix}'; use one of {', '.join(formats)}")
    return path


def _plain(value: Any) -> Any:
    """A cell as a JSON value: missing values (None, NaN, NaT, pandas NA) are ``None``; numpy scalars
    and arrays become Python values; infinities are refused (JSON has no such number)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None:
        return None
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise RefusalkitError("a value is infinite, which JSON cannot hold; write .csv or .parquet instead")
        return value
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def records(frame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dicts (see :func:`_plain`)."""
    columns = [str(c) for c in frame.columns]
    return [dict(zip(columns, (_plain(v) for v in row))) for row in frame.itertuples(index=False, name=None)]


def jsonl_text(frame) -> str:
    """``frame`` as JSON lines (full-precision floats, ``null`` for missing values)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records(frame))


def write_table(frame, path: str | Path) -> None:
    """Write ``frame`` in the format the extension of ``path`` names."""
    path = check_output(path, option="output")
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in _JSONL:
        path.write_text(jsonl_text(frame), encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(records(frame), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    elif suffix in (".csv", ".tsv"):
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    else:
        try:
            frame.to_parquet(path, index=False)
        except Exception as exc:  # pyarrow: a column mixing types it cannot store in one Parquet column
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise RefusalkitError(f"{path}: cannot write it as Parquet ({first}); write .jsonl instead") from exc


def added_columns(frame, names: tuple[str, ...], prefix: str) -> tuple[list[str], str]:
    """Names for the columns a command adds to a user's table: ``names`` when none of them is taken,
    else each with ``prefix``; an error when those are taken too. No input column is ever overwritten.
    Returns the names and the prefix used ("" when none)."""
    taken = {str(c) for c in frame.columns}
    for pre in ("", prefix):
        cols = [pre + n for n in names]
        if not taken & set(cols):
            return cols, pre
    raise RefusalkitError(
        f"the input already has columns {', '.join(sorted(taken & set(names)))} and "
        f"{', '.join(sorted(taken & {prefix + n for n in names}))}; rename them so the new ones can be added"
    )
