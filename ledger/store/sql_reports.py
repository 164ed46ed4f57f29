"""The report aggregates on SQLite and PostgreSQL (``ledger.store.base.ReportTables``).

Owns the statements over ``report_marks``, ``report_members`` and
``report_cells`` and the transaction a refresh writes in: on PostgreSQL it
holds an advisory lock of its own (not the chain lock, so appends go on), on
SQLite the write lock for the few milliseconds of one slice. Measures and keys
are JSON text; a row's sums are rewritten whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from ledger.chain import StoredEntry
from ledger.store.base import CellKey, ReportMember
from ledger.store.engine import REPORT_LOCK_KEY, WRITE_OPTION
from ledger.store.sql_log import LogRows, among, batches, insert_rows
from ledger.store.tables import EntryRow, ItemRow
from ledger.store.tables_reports import ReportCellRow, ReportMarkRow, ReportMemberRow

__all__ = ["ReportRows", "report_transaction"]

_marks = ReportMarkRow.__table__  # type: ignore[attr-defined]
_members = ReportMemberRow.__table__  # type: ignore[attr-defined]
_cells = ReportCellRow.__table__  # type: ignore[attr-defined]
_items = ItemRow.__table__  # type: ignore[attr-defined]
_entries = EntryRow.__table__  # type: ignore[attr-defined]
# Parts dropped by (item, report, key), three arrays in one statement.
_DROP_PG = sa.text(
    "DELETE FROM report_members WHERE (item, report, key) IN "
    "(SELECT * FROM unnest(CAST(:items AS text[]), CAST(:reports AS text[]), "
    "CAST(:keys AS text[])))"
)
_MARK = "reports"


def _text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _member(row: Any) -> ReportMember:
    return ReportMember(
        item=row.item,
        report=row.report,
        key=row.key,
        seqs=tuple(orjson.loads(row.seqs)),
        measures=orjson.loads(row.measures),
        viewers=tuple(orjson.loads(row.viewers)),
    )


class ReportRows(LogRows):
    """The aggregate tables' reads and writes on ``self.conn``, beside the log's reads."""

    def report_mark(self) -> int:
        upto = self.conn.execute(sa.select(_marks.c.upto).where(_marks.c.name == _MARK)).scalar()
        return int(upto or 0)

    def set_report_mark(self, upto: int) -> None:
        done = self.conn.execute(sa.update(_marks).where(_marks.c.name == _MARK).values(upto=upto))
        if not done.rowcount:
            self.conn.execute(sa.insert(_marks).values(name=_MARK, upto=upto))

    def touched(self, start: int, limit: int) -> tuple[int, dict[str, int]]:
        rows = self.conn.execute(
            sa.select(_entries.c.seq, _entries.c.item)
            .where(_entries.c.seq >= start)
            .order_by(_entries.c.seq)
            .limit(limit)
        ).all()
        return len(rows), {item: int(seq) for seq, item in rows if item is not None}

    def clear_reports(self) -> None:
        self.conn.execute(sa.delete(_members))
        self.conn.execute(sa.delete(_cells))
        self.set_report_mark(0)

    def _among(self, column: Any) -> Any:
        return among(column, self.conn.dialect.name)

    def members_of(self, items: Sequence[str]) -> list[ReportMember]:
        statement = sa.select(_members).where(self._among(_members.c.item))
        found: list[ReportMember] = []
        for batch in batches(self.conn, items):
            found.extend(_member(r) for r in self.conn.execute(statement, {"among": batch}))
        return found

    def change_members(
        self, dropped: Sequence[ReportMember], added: Sequence[ReportMember]
    ) -> None:
        if dropped and self.conn.dialect.name == "postgresql":
            self.conn.execute(
                _DROP_PG,
                {
                    "items": [m.item for m in dropped],
                    "reports": [m.report for m in dropped],
                    "keys": [m.key for m in dropped],
                },
            )
        elif dropped:
            self.conn.execute(
                sa.delete(_members).where(
                    _members.c.item == sa.bindparam("i"),
                    _members.c.report == sa.bindparam("r"),
                    _members.c.key == sa.bindparam("k"),
                ),
                [{"i": m.item, "r": m.report, "k": m.key} for m in dropped],
            )
        insert_rows(
            self.conn,
            _members,
            [
                {
                    "item": m.item,
                    "report": m.report,
                    "key": m.key,
                    "seqs": _text(list(m.seqs)),
                    "measures": _text(dict(m.measures)),
                    "viewers": _text(list(m.viewers)),
                }
                for m in added
            ],
        )

    def row_members(
        self,
        report: str,
        key: str | None = None,
        up_to: str | None = None,
        *,
        after_item: str | None = None,
        limit: int | None = None,
    ) -> list[ReportMember]:
        query = sa.select(_members).where(_members.c.report == report)
        if key is not None:
            query = query.where(_members.c.key == key)
        if up_to is not None:
            query = query.where(_members.c.key <= up_to)
        if after_item is not None:
            query = query.where(_members.c.item > after_item)
        query = query.order_by(_members.c.key, _members.c.item)
        if limit is not None:
            query = query.limit(limit)
        return [_member(r) for r in self.conn.execute(query)]

    def cells(self, scope: str, report: str) -> dict[str, dict[str, str]]:
        rows = self.conn.execute(
            sa.select(_cells.c.key, _cells.c.measures).where(
                _cells.c.scope == scope, _cells.c.report == report
            )
        )
        return {r.key: orjson.loads(r.measures) for r in rows}

    def cells_at(self, keys: Sequence[CellKey]) -> dict[CellKey, dict[str, str]]:
        found: dict[CellKey, dict[str, str]] = {}
        by_scope: dict[tuple[str, str], list[str]] = {}
        for scope, report, key in keys:
            by_scope.setdefault((scope, report), []).append(key)
        for (scope, report), wanted in by_scope.items():
            statement = sa.select(_cells.c.key, _cells.c.measures).where(
                _cells.c.scope == scope, _cells.c.report == report, self._among(_cells.c.key)
            )
            for batch in batches(self.conn, wanted):
                rows = self.conn.execute(statement, {"among": batch})
                found.update(((scope, report, r.key), orjson.loads(r.measures)) for r in rows)
        return found

    def write_cells(self, cells: Mapping[CellKey, Mapping[str, str] | None]) -> None:
        if not cells:
            return
        where = sa.and_(
            _cells.c.scope == sa.bindparam("s"),
            _cells.c.report == sa.bindparam("r"),
            _cells.c.key == sa.bindparam("k"),
        )
        self.conn.execute(
            sa.delete(_cells).where(where), [{"s": s, "r": r, "k": k} for s, r, k in cells]
        )
        kept = [
            {"scope": s, "report": r, "key": k, "measures": _text(dict(sums))}
            for (s, r, k), sums in cells.items()
            if sums is not None
        ]
        insert_rows(self.conn, _cells, kept)

    def items_from(self, origins: Sequence[str]) -> list[str]:
        statement = sa.select(_items.c.id).where(self._among(_items.c.origin))
        found: list[str] = []
        for batch in batches(self.conn, origins):
            found.extend(self.conn.execute(statement, {"among": batch}).scalars())
        return found

    def entries_of(self, items: Sequence[str]) -> dict[str, list[StoredEntry]]:
        """The log's ``items_entries``, by the name ``ReportTables`` gives it."""
        return self.items_entries(items)


@contextmanager
def report_transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction for the aggregates; ``write``: holding their lock."""
    with engine.connect() as conn:
        if write:
            conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if write and conn.dialect.name == "postgresql":
                conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({REPORT_LOCK_KEY})"))
            yield conn
