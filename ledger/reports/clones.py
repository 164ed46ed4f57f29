"""The anomalies report's ``cloned_label`` rows: one item scanned at two sites too fast.

Owns the rows made from the cloned-label findings that ``ledger.site_scans``
keeps when a scan is recorded (the report reads those findings, never the
scans): ``{kind: "cloned_label", item, detail, entries}``, one per finding on an
item the caller may see, its ``entries`` the item's registration (the scans
themselves are kept beside the log, so the detail names their sites, orgs and
times). Which items a caller may see is the report's to say (``visible``).
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime
from typing import Any

from ledger.site_scans import CloneFinding
from ledger.store.base import Reader

__all__ = ["cloned_labels"]

Row = dict[str, Any]


def cloned_labels(reader: Reader, visible: Container[str] | None = None) -> list[Row]:
    """A row per finding, in the order the findings were made.

    Args:
        visible: the ids of the items the caller may see; None: every item.
    """
    findings = [f for f in reader.clone_findings() if visible is None or f.item in visible]
    registered: dict[str, list[int]] = {}
    for item_id in dict.fromkeys(f.item for f in findings):
        first = reader.item_entries(item_id)[:1]
        registered[item_id] = [first[0].seq] if first and first[0].type == "registered" else []
    return [_row(f, registered[f.item]) for f in findings]


def _row(finding: CloneFinding, entries: list[int]) -> Row:
    first, second = finding.first, finding.second
    detail = (
        f"label scanned at {first.site!r} by {first.org} at {first.at}, then at "
        f"{second.site!r} by {second.org} at {second.at}, "
        f"{_apart(first.at, second.at)} later: two labels carry this item's code"
    )
    return {"kind": "cloned_label", "item": finding.item, "detail": detail, "entries": entries}


def _apart(start: str, end: str) -> str:
    seconds = (_instant(end) - _instant(start)).total_seconds()
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _instant(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
