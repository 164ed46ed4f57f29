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

from pydantic import BaseModel, ConfigDict

from api.settings import Settings
from ledger.reports import Deadlines, Report

__all__ = ["ReportBody", "cell", "csv_text", "deadlines_of", "report_json", "table_cells"]


class ReportBody(BaseModel):
    """A report: its rows, each naming the log entries (seqs) it was computed from."""

    model_config = ConfigDict(extra="allow")

    report: str
    generated_at: str
    rows: list[dict[str, Any]]


def deadlines_of(settings: Settings) -> Deadlines:
    """The deadline rules' working days, from ``RETRACE_*_DEADLINE_DAYS``."""
    return Deadlines(
        collect=settings.collect_deadline_days,
        process=settings.process_deadline_days,
        report=settings.report_deadline_days,
    )


def report_json(report: Report) -> dict[str, Any]:
    return {
        "report": report.name,
        "generated_at": report.generated_at,
        "rows": report.rows,
        **report.tables,
    }


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
