"""Manufacturer code bindings on SQL: the statements of ``ledger.makers`` for ``SqlStore``.

Owns the reads (one binding by code, every binding) and the writes (one
binding, kept in the transaction of its ``maker_bound`` entry; every binding
replaced by a rebuild from the log) of the ``maker_codes`` table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ledger.errors import DuplicateError
from ledger.lifecycle import MakerBinding
from ledger.store.tables import MakerCodeRow

__all__ = ["MakerRows", "MakerWrites"]

_makers = MakerCodeRow.__table__  # type: ignore[attr-defined]


def _binding(row: sa.Row[tuple[str, str, int]]) -> MakerBinding:
    return MakerBinding(row.code, row.org_id, row.seq)


class MakerRows:
    """The reads of manufacturer code bindings, on one connection."""

    conn: Connection

    def maker(self, code: str) -> MakerBinding | None:
        query = sa.select(_makers.c.code, _makers.c.org_id, _makers.c.seq).where(
            _makers.c.code == code
        )
        row = self.conn.execute(query).first()
        return None if row is None else _binding(row)

    def makers(self) -> list[MakerBinding]:
        query = sa.select(_makers.c.code, _makers.c.org_id, _makers.c.seq).order_by(_makers.c.code)
        return [_binding(row) for row in self.conn.execute(query)]


class MakerWrites(MakerRows):
    """The writes of manufacturer code bindings, in a write transaction."""

    def _writing(self) -> None:
        """Called before each write (the writer begins a pending savepoint there)."""

    def insert_maker(self, binding: MakerBinding) -> None:
        self._writing()
        try:
            self.conn.execute(
                _makers.insert().values(code=binding.code, org_id=binding.org, seq=binding.seq)
            )
        except IntegrityError as exc:
            raise DuplicateError(f"manufacturer code {binding.code} is bound already") from exc

    def replace_makers(self, bindings: Sequence[MakerBinding]) -> None:
        self._writing()
        self.conn.execute(_makers.delete())
        if bindings:
            self.conn.execute(
                _makers.insert(),
                [{"code": b.code, "org_id": b.org, "seq": b.seq} for b in bindings],
            )
