"""Reports on the wire: the JSON body, CSV and the cells both the API and the CLI show.

Owns the shape of ``GET /v1/reports/{name}`` (``{report, generated_at, rows, ...}``,
further tables beside ``rows``) and the one way a row becomes flat cells: a list of
seqs is space-separated, a nested value is compact JSON, a null is empty, a boolean
is ``true`` or ``false``. The reports themselves are ``ledger.reports``'.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict

from api.settings import Settings
from ledger.reports import Deadlines, Report

__all__ = [
    "ReportBody",
    "ReportRowEntries",
    "cell",
    "csv_text",
    "deadlines_of",
    "entries_url",
    "linked",
    "report_json",
    "table_cells",
]


class ReportBody(BaseModel):
    """A report: its rows, each naming the log entries (seqs) it was computed from."""

    model_config = ConfigDict(extra="allow")

    report: str
    generated_at: str
    size: int
    rows: list[dict[str, Any]]


class ReportRowEntries(BaseModel):
    """The entries (seqs) behind one row of sums of a report, a page of items at a
    time: ``next_after`` (when not null) asks for the next page."""

    report: str
    table: str
    row: str
    entries: list[int]
    next_after: str | None


def deadlines_of(settings: Settings) -> Deadlines:
    """The deadline rules' working days, from ``RETRACE_*_DEADLINE_DAYS``."""
    return Deadlines(
        collect=settings.collect_deadline_days,
        process=settings.process_deadline_days,
        report=settings.report_deadline_days,
    )


def report_json(report: Report) -> dict[str, Any]:
    """The JSON body: each row of sums links the entries behind it (``entries_url``)."""
    return {
        "report": report.name,
        "generated_at": report.generated_at,
        "size": report.size,
        "rows": linked(report.name, "rows", report.rows),
        **{table: linked(report.name, table, rows) for table, rows in report.tables.items()},
    }


def entries_url(name: str, table: str, row_key: str) -> str:
    """Where the entries behind one row of sums are listed."""
    return f"/v1/reports/{name}/entries?{urlencode({'table': table, 'row': row_key})}"


def linked(name: str, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with ``entries_url`` beside each ``row_key``."""
    return [
        {**row, "entries_url": entries_url(name, table, row["row_key"])}
        if "row_key" in row
        else row
        for row in rows
    ]


def cell(value: Any) -> str:
    """One value as a flat cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return " ".join(str(v) for v in value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def table_cells(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The columns (in the order rows first name them) and each row's cells."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns, [[cell(row.get(column)) for column in columns] for row in rows]


def csv_text(rows: list[dict[str, Any]]) -> str:
    """RFC 4180 CSV: a header line, then one line per row."""
    columns, cells = table_cells(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(cells)
    return out.getvalue()
