"""The items projection's writes on SQL: new rows, changed rows, the rebuild.

Owns the statements of ``ledger.store.sql`` that write ``items``: new rows (a
``registered`` entry's), many of them by COPY (``sql_log.insert_tuples``), as
tuples made straight from the ``Item``; changed rows (the item an event moved
on); and the whole table replaced by a rebuild from the log, with the
``item_custody`` rows the triggers on ``items`` keep (made, holds or held):
emptied first, given back each item's maker and holder by those triggers, and
the orgs that held it before from the actors of its ``transferred`` entries.
Reading rows back into ``Item`` values is ``sql_projection``'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ledger.codes import code_scope
from ledger.errors import DuplicateError
from ledger.lifecycle import Item
from ledger.store.sql_log import insert_tuples
from ledger.store.sql_together import Held
from ledger.store.tables import ItemCustodyRow, ItemRow

__all__ = ["ItemWrites"]

_items = ItemRow.__table__  # type: ignore[attr-defined]
_custody = ItemCustodyRow.__table__  # type: ignore[attr-defined]

# The columns of ``_item_row``, in its order; a new row adds ``created_seq``.
_COLUMNS = (
    "id",
    "kind",
    "code",
    "code_scope",
    "state",
    "holder",
    "manufacturer",
    "parent",
    "origin",
    "attributes",
    "head",
    "head_seq",
)
_CREATED = (*_COLUMNS, "created_seq")

# The orgs that held an item before its holder: the actors of its transfers
# (``replace_items``; the triggers on ``items`` add the maker and the holder).
_HELD_BEFORE = (
    " INTO item_custody (org, created_seq, item)"
    " SELECT e.actor, i.created_seq, i.id FROM entries e JOIN items i ON i.id = e.item"
    " WHERE e.type = 'transferred'"
)
_PAST_HOLDERS = {
    "postgresql": sa.text(f"INSERT{_HELD_BEFORE} ON CONFLICT DO NOTHING"),
    "sqlite": sa.text(f"INSERT OR IGNORE{_HELD_BEFORE}"),
}


def _attributes_text(attributes: dict[str, Any]) -> str:
    """The attributes column: JSON with sorted keys, read back with ``json.loads``."""
    try:
        return orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # beyond what orjson writes (a 65-bit integer)
        return json.dumps(attributes, sort_keys=True)


def _item_row(item: Item) -> tuple[Any, ...]:
    """The values of ``_COLUMNS`` (a third of the time of a dict of them)."""
    kind = item.kind.value
    return (
        item.id,
        kind,
        item.code,
        code_scope(kind, item.manufacturer),
        item.state.value,
        item.holder,
        item.manufacturer,
        item.parent,
        item.origin,
        _attributes_text(item.attributes),
        item.head,
        item.head_seq,
    )


def _item_values(item: Item) -> dict[str, Any]:
    return dict(zip(_COLUMNS, _item_row(item), strict=True))


class ItemWrites:
    """Writes of the items projection, in the transaction of the entries."""

    conn: Connection

    def _writing(self) -> None:
        """Called before each write (the writer begins a pending savepoint there)."""

    # Inside ``SqlWriter.together``: the writes held until the end of the block.
    _held: list[Held] | None = None

    def insert_items(self, items: Sequence[Item]) -> None:
        """Add new projection rows (one per ``registered`` entry).

        Raises:
            DuplicateError: a (kind, code) registered concurrently.
        """
        self._writing()
        if not items:
            return
        # Created by their first entry, the one that is their head now.
        rows = [(*_item_row(i), i.head_seq) for i in items]
        if self._held is not None:
            held = [dict(zip(_CREATED, r, strict=True)) for r in rows]
            self._held.append(Held("insert", _items, held))
            return
        try:
            insert_tuples(self.conn, _items, _CREATED, rows)
        except IntegrityError as exc:
            raise DuplicateError("an item with this kind and code exists already") from exc

    def update_items(self, items: Sequence[Item]) -> None:
        """Rewrite many projection rows with one prepared statement (executemany)."""
        self._writing()
        if not items:
            return
        if self._held is not None:
            self._held.append(Held("update", _items, [_item_values(i) for i in items]))
            return
        columns = _COLUMNS[1:]
        statement = (
            _items.update()
            .where(_items.c.id == sa.bindparam("_id"))
            .values({c: sa.bindparam(f"_{c}") for c in columns})
        )
        rows = [{f"_{c}": v for c, v in zip(_COLUMNS, _item_row(i), strict=True)} for i in items]
        for start in range(0, len(rows), 1000):
            self.conn.execute(statement, rows[start : start + 1000])

    def replace_items(self, items: Sequence[Item], created: dict[str, int]) -> None:
        """Replace the whole projection (rebuild from the log), ``item_custody`` too."""
        self._writing()
        self.conn.execute(_custody.delete())
        self.conn.execute(_items.delete())
        rows = [{**_item_values(i), "created_seq": created[i.id]} for i in items]
        for start in range(0, len(rows), 1000):
            self.conn.execute(_items.insert(), rows[start : start + 1000])
        self.conn.execute(_PAST_HOLDERS[self.conn.dialect.name])
