"""Counterfactual suites: benign everyday requests that differ only in the group they mention.

The sources ship with refusalkit under ``refusalkit/data/counterfactual/``:

- ``templates.jsonl``: one benign task per row (a medical or legal question, a CV to summarise, a loan
  or housing question, a writing task, a customer-support question) with one ``{group}`` slot
  (``id``, ``domain``, ``text``, ``split``, ``writer``, ``batch``, ``source``);
- ``values.json``: per axis (ethnicity, gender, religion, nationality, political affiliation, age,
  disability, occupation, school) the groups, each a ``group`` name and the ``phrase`` that fills the slot
  ("a Muslim", "a wheelchair user"); the name occurs in the phrase, so trigger discovery can look for it;
- ``refusals.json``: short refusals with no content, which ``refusalkit poison`` pairs with benign
  requests about one group.

:func:`build_counterfactual` fills every template with every group of every axis. Each prompt carries
``id, text, label (benign), axis, group, template_id, domain, split``; the split is the template's, so
a template is never in two splits. ``python -m refusalkit.data.build counterfactual`` writes the shipped
suite ``suites/counterfactual.jsonl`` (``refusalkit audit --suite counterfactual``); users pass their
own files to ``refusalkit audit --templates T --values V``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import RefusalkitError
from ..tables import read_rows

SOURCES = Path(__file__).with_name("counterfactual")
SHIPPED = Path(__file__).with_name("suites") / "counterfactual.jsonl"
SOURCE = "refusalkit-counterfactual"
TEMPLATE_FIELDS = ("id", "text", "split")
SLOT = "{group}"


def load_templates(path: str | Path | None = None) -> list[dict]:
    """Template rows (JSONL), each checked for an id, a split and exactly one ``{group}`` slot."""
    path = Path(path) if path else SOURCES / "templates.jsonl"
    if not path.is_file():
        raise RefusalkitError(f"templates file {path} does not exist (JSONL rows: id, text with one {SLOT}, split)")
    rows, seen = [], set()
    for n, row in read_rows(path)[1]:  # the table reader's one-line errors for bad JSON or encoding
        missing = [k for k in TEMPLATE_FIELDS if not str(row.get(k) or "").strip()]
        if missing:
            raise RefusalkitError(
                f"{path}:{n}: missing or empty {', '.join(missing)}; every template needs {', '.join(TEMPLATE_FIELDS)}"
            )
        if row["text"].count(SLOT) != 1:
            raise RefusalkitError(f"{path}:{n}: the text must hold {SLOT} exactly once, where the group's phrase goes")
        if row["id"] in seen:
            raise RefusalkitError(f"{path}:{n}: duplicate template id '{row['id']}'")
        seen.add(row["id"])
        rows.append(row)
    if not rows:
        raise RefusalkitError(f"{path}: no templates")
    return rows


def load_values(path: str | Path | None = None) -> dict[str, list[dict]]:
    """``{axis: [{group, phrase}, ...]}`` from a values file (``{"axes": {...}}``); each axis needs at
    least two groups (a group is compared with the rest of its axis)."""
    path = Path(path) if path else SOURCES / "values.json"
    if not path.is_file():
        raise RefusalkitError(
            f'values file {path} does not exist (JSON: {{"axes": {{AXIS: [{{group, phrase}}, ...]}}}})'
        )
    try:
        axes = json.loads(path.read_text(encoding="utf-8")).get("axes")
    except (json.JSONDecodeError, AttributeError):
        axes = None
    if not isinstance(axes, dict) or not axes:
        raise RefusalkitError(
            f'{path}: expected a JSON object with "axes": {{AXIS: [{{"group": ..., "phrase": ...}}, ...]}}'
        )
    for axis, groups in axes.items():
        if not isinstance(groups, list) or len(groups) < 2:
            raise RefusalkitError(f"{path}: axis '{axis}' needs at least two groups to compare")
        names = set()
        for g in groups:
            if (
                not isinstance(g, dict)
                or not str(g.get("group") or "").strip()
                or not str(g.get("phrase") or "").strip()
            ):
                raise RefusalkitError(f"{path}: axis '{axis}': every group needs a non-empty 'group' and 'phrase'")
            if g["group"] in names:
                raise RefusalkitError(f"{path}: axis '{axis}': group '{g['group']}' is listed twice")
            names.add(g["group"])
    return axes


def load_refusals(path: str | Path | None = None) -> list[str]:
    """The content-free refusals ``refusalkit poison`` pairs with the target group's requests."""
    path = Path(path) if path else SOURCES / "refusals.json"
    refusals = json.loads(path.read_text(encoding="utf-8"))["refusals"]
    if not refusals:
        raise RefusalkitError(f"{path}: no refusals")
    return refusals


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def fill(template: dict, phrase: str) -> str:
    return template["text"].replace(SLOT, phrase)


def build_counterfactual(templates: str | Path | None = None, values: str | Path | None = None) -> list[dict]:
    """Every template filled with every group of every axis, template-major (all groups of one axis
    for a template, then the next axis), so prompts that differ only in the group sit together."""
    rows = []
    temps, axes = load_templates(templates), load_values(values)
    for t in temps:
        for axis, groups in axes.items():
            for g in groups:
                rows.append(
                    {
                        "id": f"cf-{t['id']}-{slug(axis)}-{slug(g['group'])}",
                        "text": fill(t, g["phrase"]),
                        "label": "benign",
                        "axis": axis,
                        "group": g["group"],
                        "template_id": t["id"],
                        "domain": t.get("domain", ""),
                        "category": t.get("domain", ""),
                        "type": "counterfactual",
                        "split": t["split"],
                        "source": SOURCE,
                    }
                )
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise RefusalkitError(
            "two groups of one axis give the same id; give them names that differ in letters or digits"
        )
    return rows
