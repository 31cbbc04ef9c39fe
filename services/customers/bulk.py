"""Bulk card files (CSV with a BOM so Excel opens Chinese text, or JSON): parsing, per-row validation, writing.

Pure: used by the HTTP endpoints and by the command line (which validates locally before uploading).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import ValidationError

from services.customers.domain import SECTIONS, CustomerCard, CustomerIn, flatten, unflatten

Format = Literal["csv", "json"]
BOM = "\ufeff"
TOP_LEVEL = [name for name in CustomerCard.model_fields if name not in SECTIONS]
CSV_COLUMNS = TOP_LEVEL + [f"{s}.{f}" for s, model in SECTIONS.items() for f in model.model_fields]
IMPORT_COLUMNS = [*CSV_COLUMNS, "source"]


class FileError(ValueError):
    """The file as a whole cannot be read (not per row)."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


def guess_format(filename_or_type: str | None) -> Format | None:
    value = (filename_or_type or "").lower()
    if value.endswith(".csv") or "csv" in value:
        return "csv"
    if value.endswith(".json") or "json" in value:
        return "json"
    return None


def read_rows(data: bytes, fmt: Format) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, raw card dict) per record; row numbers count data rows from 1."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(f"the file is not UTF-8: {exc}") from exc
    if fmt == "json":
        try:
            doc = json.loads(content)
        except json.JSONDecodeError as exc:
            raise FileError(f"the file is not JSON: {exc}") from exc
        if isinstance(doc, dict) and isinstance(doc.get("customers"), list):
            doc = doc["customers"]
        if not isinstance(doc, list):
            raise FileError("a JSON import is a list of cards (or {\"customers\": [...]})")
        for number, item in enumerate(doc, start=1):
            yield number, item if isinstance(item, dict) else {"__root__": item}
        return
    reader = csv.DictReader(io.StringIO(content, newline=""))
    unknown = [c for c in reader.fieldnames or [] if c not in IMPORT_COLUMNS]
    if unknown:
        raise FileError(f"unknown column {unknown[0]!r}", field=unknown[0])
    if not reader.fieldnames:
        raise FileError("the CSV file has no header row")
    for number, record in enumerate(reader, start=1):
        if None in record:
            yield number, {"__root__": "more cells than columns"}
            continue
        yield number, unflatten({k: v for k, v in record.items() if v is not None and v.strip() != ""})


def row_errors(row: int, exc: ValidationError) -> list[dict[str, Any]]:
    return [{"row": row, "field": ".".join(str(p) for p in e["loc"]) or "row", "message": e["msg"]} for e in exc.errors()]


def validate_rows(rows: Iterable[tuple[int, dict[str, Any]]]) -> tuple[list[tuple[int, CustomerIn]], list[dict[str, Any]]]:
    """Every row validated; duplicate numbers inside the file are errors of the later row."""
    valid: list[tuple[int, CustomerIn]] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, raw in rows:
        if "__root__" in raw:
            errors.append({"row": number, "field": "row", "message": str(raw["__root__"])[:200] if isinstance(raw["__root__"], str) else "a card must be an object"})
            continue
        try:
            card = CustomerIn.model_validate(raw)
        except ValidationError as exc:
            errors.extend(row_errors(number, exc))
            continue
        if card.number in seen:
            errors.append({"row": number, "field": "number", "message": f"duplicate of row {seen[card.number]}"})
            continue
        seen[card.number] = number
        valid.append((number, card))
    return valid, errors


def csv_header() -> str:
    return BOM + _csv_line(CSV_COLUMNS)


def csv_row(document: dict[str, Any]) -> str:
    flat = flatten(document)
    return _csv_line(["" if flat.get(c) is None else _cell(flat[c]) for c in CSV_COLUMNS])


def _cell(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()
