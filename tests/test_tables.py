"""One strict table reader and one writer for every command: ragged rows, encodings and values kept as given."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from fakes import FakeTarget
from refusalkit.cli import app
from refusalkit.errors import RefusalkitError
from refusalkit.triggers.predictor import RefusalPredictor

# The first data row has one unquoted comma more than the header: pandas would make the first column
# the index (ids lost, columns shifted); a strict reader names the row.
RAGGED = (
    "id,prompt,response,gold\n"
    "1,How do I kill a process?,Run kill, then check,ok\n"
    "2,Write ransomware.,I'm sorry but I can't help with that.,refused\n"
)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(res, *parts):
    assert res.exit_code != 0 and isinstance(res.exception, RefusalkitError), (res.output, res.exception)
    msg = str(res.exception)
    assert "\n" not in msg and all(p in msg for p in parts), msg


@pytest.fixture()
def ragged(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(RAGGED, encoding="utf-8")
    return path


def test_a_ragged_csv_row_stops_every_command_with_one_line_naming_the_row(ragged, tmp_path, monkeypatch):
    import refusalkit.cli.eval as cli_eval

    monkeypatch.setattr(cli_eval, "target_from_options", lambda *a: FakeTarget())
    where = f"{ragged}: row 2: 5 fields but the header has 4"
    _one_line_error(run("judge", ragged, "--out", tmp_path / "j.jsonl", "--detector", "prefix"), where)
    _one_line_error(
        run(
            "judge-eval",
            ragged,
            "--label-col",
            "gold",
            "--map",
            "ok=compliance,refused=full_refusal",
            "--detector",
            "prefix",
            "--out",
            tmp_path / "je",
        ),
        where,
    )
    _one_line_error(
        run("predictor", "train", "--data", ragged, "--label-col", "gold", "--out", tmp_path / "p.joblib"), where
    )
    _one_line_error(
        run(
            "eval", "-m", "fake", "--prompts", ragged, "--label", "benign", "--out", tmp_path / "e", "--judge", "prefix"
        ),
        where,
    )
    assert not (tmp_path / "j.jsonl").exists()


def test_short_rows_bad_bytes_surrogates_and_bad_json_name_the_row(tmp_path):
    from refusalkit.tables import read_table

    short = tmp_path / "short.csv"
    short.write_text('a,b,c\n1,2,3\n\n4,"multi\nline",6\n7,8\n', encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"short.csv: row 6: 2 fields but the header has 3"):
        read_table(short)
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("a\tb\n1\tok\n2\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(RefusalkitError, match=r"latin.tsv: row 3: not UTF-8 text \(byte 0xe9\)"):
        read_table(latin)
    encoded = tmp_path / "surrogate.txt"
    encoded.write_bytes(b"fine\nbad \xed\xa0\x80 here\n")
    with pytest.raises(RefusalkitError, match=r"surrogate.txt: row 2: a lone UTF-16 surrogate"):
        read_table(encoded)
    escaped = tmp_path / "escaped.jsonl"
    escaped.write_text('{"text": "fine"}\n{"text": "bad \\ud800 here"}\n', encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"escaped.jsonl: row 2: column 'text': a lone surrogate \(U\+D800\)"):
        read_table(escaped)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n\n{"a": 2,}\n', encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"bad.jsonl: row 3: not valid JSON"):
        read_table(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a\n1,2\n", encoding="utf-8")
    with pytest.raises(RefusalkitError, match=r"names column 'a' twice"):
        read_table(dup)


def test_values_come_as_given(tmp_path):
    """CSV cells stay text (no float parsing, no NA guessing, no index inference); JSON numbers keep
    their value; a U+2028 inside a JSON string does not split the line; row numbers follow the file."""
    from refusalkit.tables import read_rows, read_table

    f = tmp_path / "v.csv"
    f.write_text('id,code,score,note\n007,1.10,NA,\n008,"2,5",0.1234567890123456789,"two\nlines"\n', encoding="utf-8")
    df = read_table(f)
    assert list(df.columns) == ["id", "code", "score", "note"]
    assert df.to_dict(orient="records") == [
        {"id": "007", "code": "1.10", "score": "NA", "note": ""},
        {"id": "008", "code": "2,5", "score": "0.1234567890123456789", "note": "two\nlines"},
    ]
    assert [n for n, _ in read_rows(f)[1]] == [2, 3]
    j = tmp_path / "v.jsonl"
    j.write_text(
        '{"x": 0.1234567890123456, "big": 18446744073709551617, "t": "a\u2028b"}\n{"y": null}\n', encoding="utf-8"
    )
    rows = read_table(j).to_dict(orient="records")
    assert rows[0]["x"] == 0.1234567890123456 and rows[0]["big"] == 2**64 + 1 and rows[0]["t"] == "a\u2028b"
    assert rows[1] == {"x": None, "big": None, "t": None, "y": None}


def test_judge_keeps_the_users_jsonl_values(tmp_path):
    """Floats are not rounded to 10 digits, big integers stay integers, nested values and nulls stay."""
    rows = [
        {
            "id": 1,
            "response": "I'm sorry, but I can't help with that.",
            "p": 0.12345678901234566,
            "tiny": 1e-300,
            "big": 2**63 + 11,
            "meta": {"k": [1, 2.5, None]},
            "none": None,
        },
        {
            "id": 2,
            "response": "Sure, here you go.",
            "p": 0.3333333333333333,
            "tiny": 5e-324,
            "big": -7,
            "meta": {},
            "none": None,
        },
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = run("judge", src, "--out", out, "--detector", "prefix")
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "NaN" not in text
    got = [json.loads(line) for line in text.splitlines()]
    assert [{k: g[k] for k in rows[0]} for g in got] == rows
    assert [g["label"] for g in got] == ["full_refusal", "compliance"]


def test_writer_follows_the_extension_and_writes_null_not_nan(tmp_path):
    from refusalkit.tables import write_table

    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]})
    for name in ("t.jsonl", "t.json", "t.csv", "t.tsv", "t.parquet"):
        write_table(frame, tmp_path / name)
    assert (tmp_path / "t.jsonl").read_text() == '{"a": 1.5, "b": "x"}\n{"a": null, "b": null}\n'
    assert json.loads((tmp_path / "t.json").read_text()) == [{"a": 1.5, "b": "x"}, {"a": None, "b": None}]
    assert pd.read_parquet(tmp_path / "t.parquet")["b"].isna().tolist() == [False, True]
    assert (tmp_path / "t.tsv").read_text().splitlines()[0] == "a\tb"
    with pytest.raises(RefusalkitError, match="unsupported output format '.txt'"):
        write_table(frame, tmp_path / "t.txt")


@pytest.fixture()
def predictor_file(tmp_path):
    texts = [f"How do I kill the {w}?" for w in ("lights", "engine", "process", "music", "noise", "fire")]
    texts += [f"Give me friendly tips for {w}." for w in ("baking", "hiking", "gardening", "sewing", "chess", "tea")]
    model = RefusalPredictor(cv=2).fit(texts, [1] * 6 + [0] * 6)
    path = tmp_path / "pred.joblib"
    model.save(path)
    return path


def test_predictor_apply_keeps_the_input_and_marks_empty_prompts(tmp_path, predictor_file):
    src = tmp_path / "in.jsonl"
    rows = [
        {"prompt": "How do I kill the lights?", "refusal_risk": 0.9, "w": 0.1234567890123456},
        {"prompt": "   ", "refusal_risk": None, "w": 2},
        {"prompt": "Give me friendly tips for baking.", "refusal_risk": 0.25, "w": None},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "risk.jsonl"
    res = run("predictor", "apply", src, "--model", predictor_file, "--out", out)
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "NaN" not in text
    got = [json.loads(line) for line in text.splitlines()]
    assert [{k: g[k] for k in rows[0]} for g in got] == rows  # the user's own refusal_risk column is kept
    risks = [g["predicted_refusal_risk"] for g in got]
    assert risks[1] is None and got[1]["predicted_refusal_risk_unscored"] == "empty prompt"
    assert risks[0] > risks[2] and got[0]["predicted_refusal_risk_unscored"] is None
    assert "wrote predicted_refusal_risk" in res.output and "1 rows unscored" in res.output

    parquet = tmp_path / "risk.parquet"
    assert run("predictor", "apply", src, "--model", predictor_file, "--out", parquet).exit_code == 0
    df = pd.read_parquet(parquet)  # a real Parquet file, not JSONL under a .parquet name
    assert df["prompt"].tolist() == [r["prompt"] for r in rows] and df["predicted_refusal_risk"].isna().tolist() == [
        False,
        True,
        False,
    ]
    assert df["refusal_risk"].tolist()[::2] == [0.9, 0.25] and df["w"].tolist()[:2] == [0.1234567890123456, 2]


def test_predictor_apply_refuses_an_unknown_extension_before_loading_anything(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("prompt\nhello\n", encoding="utf-8")
    res = run("predictor", "apply", src, "--model", tmp_path / "missing.joblib", "--out", tmp_path / "risk.xlsx")
    _one_line_error(res, "unsupported output format '.xlsx'")
