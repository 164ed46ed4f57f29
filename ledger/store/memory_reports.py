"""The report aggregates held in memory, for ``ledger.store.memory``.

Owns the in-memory twin of ``ledger.store.sql_reports``: a mark, each item's
parts and each row's sums, changed on a copy and swapped in when the
transaction ends without an exception, one writer at a time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.chain import StoredEntry
from ledger.store.base import CellKey, ReportMember
from ledger.store.memory_queries import items_entries

__all__ = ["MemoryReports", "ReportState"]


@dataclass
class ReportState:
    """The aggregates: entries covered, parts by item, sums by cell."""

    mark: int = 0
    members: dict[str, list[ReportMember]] = field(default_factory=dict)
    cells: dict[CellKey, dict[str, str]] = field(default_factory=dict)

    def copy(self) -> ReportState:
        return ReportState(self.mark, copy.copy(self.members), copy.copy(self.cells))


class MemoryReports:
    """The aggregate methods of ``ReportTables`` over one ``ReportState``; the log
    and projection reads come from the reader this is mixed into."""

    _r: ReportState
    _s: Any  # the snapshot of ``ledger.store.memory`` (its ``items`` and ``entries``)

    def items_from(self, origins: Sequence[str]) -> list[str]:
        wanted = set(origins)
        return sorted(i.id for i in self._s.items.values() if i.origin in wanted)

    def entries_of(self, items: Sequence[str]) -> dict[str, list[StoredEntry]]:
        return items_entries(self._s.entries, items)

    def touched(self, start: int, limit: int) -> tuple[int, dict[str, int]]:
        tail = self._s.entries[start : start + limit]
        return len(tail), {e.item: e.seq for e in tail if e.item is not None}

    def report_mark(self) -> int:
        return self._r.mark

    def set_report_mark(self, upto: int) -> None:
        self._r.mark = upto

    def clear_reports(self) -> None:
        self._r.mark, self._r.members, self._r.cells = 0, {}, {}

    def members_of(self, items: Sequence[str]) -> list[ReportMember]:
        return [m for item in sorted(set(items)) for m in self._r.members.get(item, [])]

    def change_members(
        self, dropped: Sequence[ReportMember], added: Sequence[ReportMember]
    ) -> None:
        for m in dropped:
            kept = [
                k for k in self._r.members.get(m.item, []) if (k.report, k.key) != (m.report, m.key)
            ]
            self._r.members[m.item] = kept
        for m in added:
            self._r.members.setdefault(m.item, []).append(m)

    def row_members(
        self,
        report: str,
        key: str | None = None,
        up_to: str | None = None,
        *,
        after_item: str | None = None,
        limit: int | None = None,
    ) -> list[ReportMember]:
        found = [
            m
            for parts in self._r.members.values()
            for m in parts
            if m.report == report
            and (key is None or m.key == key)
            and (up_to is None or m.key <= up_to)
            and (after_item is None or m.item > after_item)
        ]
        return sorted(found, key=lambda m: (m.key, m.item))[:limit]

    def cells(self, scope: str, report: str) -> dict[str, dict[str, str]]:
        return {k: dict(v) for (s, r, k), v in self._r.cells.items() if s == scope and r == report}

    def cells_at(self, keys: Sequence[CellKey]) -> dict[CellKey, dict[str, str]]:
        return {key: dict(self._r.cells[key]) for key in keys if key in self._r.cells}

    def write_cells(self, cells: Mapping[CellKey, Mapping[str, str] | None]) -> None:
        for key, sums in cells.items():
            if sums is None:
                self._r.cells.pop(key, None)
            else:
                self._r.cells[key] = dict(sums)
