"""SO-16 "all data" (issue 14 §4): every tenant table is in the full export, every field of it is a column or
left out for a stated reason, and docs/formats/full-export.md documents exactly the files and columns made.
A model or a field added without that decision fails here."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps

from booking.exports.tables import NOT_EXPORTED, tables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats" / "full-export.md"


def test_every_tenant_model_has_a_file_or_a_reason() -> None:
    exported = {table.model._meta.label_lower for table in tables()}
    models = {model._meta.label_lower for model in apps.get_app_config("booking").get_models()}
    missing = sorted(models - exported - set(NOT_EXPORTED))
    assert missing == [], f"add a Table to booking/exports/tables.py (or a reason to NOT_EXPORTED): {missing}"
    assert set(NOT_EXPORTED) <= models, "NOT_EXPORTED names a model that no longer exists"
    assert not exported & set(NOT_EXPORTED), "a model is both exported and not exported"


def test_every_field_is_a_column_or_left_out_for_a_reason() -> None:
    gaps = {table.filename: table.unexported_fields() for table in tables()}
    assert {name: fields for name, fields in gaps.items() if fields} == {}, (
        "a column for each (booking/exports/tables.py), or a reason in the table's `omitted`"
    )
    for table in tables():
        stale = set(table.omitted) - {f.name for f in table.model._meta.concrete_fields}
        assert not stale, f"{table.filename}: `omitted` names fields that do not exist: {stale}"
        assert len(set(table.header)) == len(table.header), f"{table.filename}: a column twice"


def test_the_format_document_lists_every_file_with_its_columns() -> None:
    documented = dict(
        re.findall(r"^\| `([a-z_]+\.csv)` \| ([^|]+) \|", DOCS.read_text(encoding="utf-8"), re.M)
    )
    made = {table.filename: ", ".join(table.header) for table in tables()}
    assert {name: cols.strip() for name, cols in documented.items()} == made
