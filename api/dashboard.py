"""The oversight dashboard's figures: reports and the log's state as ``GET /audit`` shows them.

Owns the headline figures (items by state, overdue, overall recovery rate,
anomalies, log size), the charts drawn from the report rows (``api.charts``) and
the tables beside them: each chart's marks link to their rows, each row to the
passports and entries behind it and each table to its report as JSON and CSV. It
only reshapes ``ledger.reports`` rows (DESIGN.md's shapes) and ``ledger.log_state``;
what is counted and who may see it is theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from api.charts import Bar, Mark, Rate, Series, bar_chart, line_chart, rate_chart, stacked_columns
from ledger.events import ItemKind
from ledger.lifecycle import State
from ledger.log_state import LogState
from ledger.reports import Report

__all__ = ["MONTHLY", "REPORTED", "SEQ_LINKS", "TABLE_ROWS", "dashboard", "rate_of"]

REPORTED = ("inventory", "deadlines", "recovery", "anomalies")
MONTHLY = ("registered", "retired", "collected", "recycled")
RULES = ("collect", "process", "late_report")
TABLE_ROWS = 200  # rows shown per table; the JSON and CSV have them all
SEQ_LINKS = 5  # entries linked per row; the rest are counted
MONTHS_DRAWN = 240  # months on the monthly chart's axis, at most; beyond, only those with events
_STATES = [s.value for s in State]
_KINDS = [k.value for k in ItemKind]

Row = dict[str, Any]


def _words(name: str) -> str:
    return name.replace("_", " ")


def _decimal(text: Any) -> Decimal | None:
    try:
        return None if text is None else Decimal(str(text))
    except InvalidOperation:
        return None


def _ordered(found: Sequence[str], known: Sequence[str]) -> list[str]:
    """``found``'s distinct values, those ``known`` first in its order, the rest sorted."""
    seen = set(found)
    return [k for k in known if k in seen] + sorted(seen - set(known))


def _downloads(name: str, table: str = "rows") -> dict[str, str]:
    query = "" if table == "rows" else f"&table={table}"
    return {
        "json": f"/audit/reports/{name}",
        "csv": f"/audit/reports/{name}?format=csv{query}",
        "api": f"/v1/reports/{name}",
    }


def _entries(row: Row, regulator: bool, report: str, table: str = "rows") -> dict[str, Any]:
    """A row's entries: a listed row names its seqs, the first few linked (regulators
    read the log) and the rest counted; a row of sums names its ``row_key``, and the
    seqs behind it are one link away."""
    seqs = row.get("entries")
    numbers = [s for s in seqs if isinstance(s, int)] if isinstance(seqs, list) else []
    shown = [
        {"seq": seq, "href": f"/audit/entries?start={seq}&limit=1" if regulator else None}
        for seq in numbers[:SEQ_LINKS]
    ]
    behind = None
    if not isinstance(seqs, list) and isinstance(row.get("row_key"), str):
        query = urlencode({"table": table, "row": row["row_key"]})
        behind = f"/audit/reports/{report}/entries?{query}"
    return {"shown": shown, "more": max(len(numbers) - SEQ_LINKS, 0), "behind": behind}


def rate_of(rows: Sequence[Row]) -> Decimal | None:
    """Element mass recovered over element content declared, every row with content
    (percent, two places); None when no row declared any."""
    content = recovered = Decimal(0)
    for row in rows:
        got, of = _decimal(row.get("recovered_kg")), _decimal(row.get("input_kg"))
        if got is not None and of:
            content += of
            recovered += got
    return None if not content else (recovered * 100 / content).quantize(Decimal("0.01"))


def _inventory(report: Report, regulator: bool) -> dict[str, Any]:
    rows = sorted(
        report.rows,
        key=lambda r: (
            _STATES.index(r["state"]) if r["state"] in _STATES else len(_STATES),
            str(r["state"]),
            str(r["kind"]),
            str(r["region"]),
        ),
    )
    kinds = _ordered([str(r["kind"]) for r in rows], _KINDS)
    # Every state, empty ones too: a zero is a figure.
    states = _ordered([*_STATES, *(str(r["state"]) for r in rows)], _STATES)
    counts: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], str] = {}
    table = []
    for index, row in enumerate(rows):
        key = (str(row["state"]), str(row["kind"]))
        counts[key] = counts.get(key, 0) + int(row["count"])
        anchor = f"inventory-row-{index}"
        first.setdefault(key, anchor)
        table.append({**row, "id": anchor, "links": _entries(row, regulator, "inventory")})
    series = [
        Series(
            _words(kind),
            [counts.get((state, kind), 0) for state in states],
            [f"#{first[(state, kind)]}" if (state, kind) in first else None for state in states],
        )
        for kind in kinds
    ]
    by_state = {s: sum(counts.get((s, k), 0) for k in kinds) for s in states}
    chart = stacked_columns(
        "chart-inventory", "Items by state, by kind", [_words(s) for s in states], series
    )
    return {"chart": chart, "rows": table, "by_state": by_state, "total": sum(by_state.values())}


def _month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` ("YYYY-MM"), or just the two when either
    is not a month or they lie more than ``MONTHS_DRAWN`` months apart."""
    try:
        start, end = (
            int(first[:4]) * 12 + int(first[5:7]) - 1,
            int(last[:4]) * 12 + int(last[5:7]) - 1,
        )
    except ValueError:
        return sorted({first, last})
    if not 0 <= end - start <= MONTHS_DRAWN:
        return sorted({first, last})
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, end + 1)]


def _monthly(report: Report, regulator: bool) -> dict[str, Any]:
    rows = sorted(report.tables.get("monthly", []), key=lambda r: str(r["month"]))
    found = {str(r["month"]): r for r in rows}
    # A month with no event is a zero on the line, not a month left out.
    months = _month_range(str(rows[0]["month"]), str(rows[-1]["month"])) if rows else []
    months = sorted({*months, *found})
    series = [
        Series(name, [int(found[m].get(name, 0)) if m in found else 0 for m in months])
        for name in MONTHLY
    ]
    hrefs = [f"#month-{month}" if month in found else None for month in months]
    chart = line_chart("chart-monthly", "Events per month", months, series, hrefs)
    table = [
        {
            **row,
            "id": f"month-{row['month']}",
            "links": _entries(row, regulator, "inventory", "monthly"),
        }
        for row in rows
    ]
    return {"chart": chart, "rows": table}


def _recovery(report: Report, names: Mapping[str, str], regulator: bool) -> dict[str, Any]:
    rates, table = [], []
    for index, row in enumerate(report.rows):
        anchor = f"recovery-row-{index}"
        recycler = names.get(str(row["recycler"]), str(row["recycler"]))
        period = f" {row['period']}" if row.get("period") else ""
        marks = [
            Mark(
                f"{t['regime']} from {t['from']}",
                Decimal(str(t["target"])),
                bool(t.get("in_force", True)),
                t.get("met"),
            )
            for t in row.get("targets", [])
        ]
        label = f"{recycler}{period} {row['element']}"
        rates.append(Rate(label, _decimal(row.get("rate")), marks, f"#{anchor}"))
        table.append(
            {
                **row,
                "id": anchor,
                "recycler_name": recycler,
                "links": _entries(row, regulator, "recovery"),
            }
        )
    chart = rate_chart(
        "chart-recovery", "Recovery rate by recycler and element, against targets", rates
    )
    return {"chart": chart, "rows": table, "rate": rate_of(report.rows)}


def _counted(
    chart_id: str, title: str, rows: Sequence[Row], field: str, known: Sequence[str], prefix: str
) -> tuple[str, list[Row]]:
    """A bar per value of ``field`` (how many rows have it), linked to its first row."""
    order = _ordered([str(r[field]) for r in rows], known)
    rows = sorted(rows, key=lambda r: order.index(str(r[field])))
    first: dict[str, str] = {}
    table = []
    for index, row in enumerate(rows):
        anchor = f"{prefix}-row-{index}"
        first.setdefault(str(row[field]), anchor)
        table.append({**row, "id": anchor})
    bars = [
        Bar(_words(value), sum(1 for r in rows if str(r[field]) == value), f"#{first[value]}")
        for value in order
    ]
    return bar_chart(chart_id, title, bars), table


def _deadlines(report: Report, names: Mapping[str, str], regulator: bool) -> dict[str, Any]:
    chart, table = _counted(
        "chart-deadlines", "Overdue, by rule", report.rows, "rule", RULES, "deadlines"
    )
    for row in table:
        row["org_name"] = names.get(str(row["org"]), str(row["org"]))
        row["links"] = _entries(row, regulator, "deadlines")
    items = len({row["item"] for row in table})
    return {"chart": chart, "rows": table, "items": items}


def _anomalies(report: Report, regulator: bool) -> dict[str, Any]:
    chart, table = _counted(
        "chart-anomalies", "Anomalies, by kind", report.rows, "kind", (), "anomalies"
    )
    for row in table:
        row["links"] = _entries(row, regulator, "anomalies")
    return {"chart": chart, "rows": table}


def dashboard(
    reports: Mapping[str, Report], state: LogState, names: Mapping[str, str], *, regulator: bool
) -> dict[str, Any]:
    """The page's context: ``reports`` holds each of ``REPORTED`` as the viewer sees it,
    ``names`` the orgs' names by id; ``regulator`` links entries to the log."""
    inventory = _inventory(reports["inventory"], regulator)
    recovery = _recovery(reports["recovery"], names, regulator)
    deadlines = _deadlines(reports["deadlines"], names, regulator)
    anomalies = _anomalies(reports["anomalies"], regulator)
    return {
        "generated_at": reports["inventory"].generated_at,
        "headline": {
            "items": inventory["total"],
            "by_state": inventory["by_state"],
            "overdue": len(deadlines["rows"]),
            "overdue_items": deadlines["items"],
            "recovery_rate": recovery["rate"],
            "anomalies": len(anomalies["rows"]),
            "log_size": state.size,
        },
        "inventory": inventory,
        "monthly": _monthly(reports["inventory"], regulator),
        "recovery": recovery,
        "deadlines": deadlines,
        "anomalies": anomalies,
        "downloads": {
            **{name: _downloads(name) for name in REPORTED},
            "monthly": _downloads("inventory", "monthly"),
        },
        "log": state,
        "table_rows": TABLE_ROWS,
        "words": _words,
    }
