"""Bulk writes: less work for the database per new item and per entry.

``item_custody`` rows of new items come, on PostgreSQL, from one statement per
insert statement on ``items`` (a statement-level trigger reading the transition
table of the new rows: the maker, and the holder where it is another org), no
longer from a PL/pgSQL call and two ``INSERT … ON CONFLICT`` per row, which cost
about as much as the item row and its eight indexes together. It inserts without
``ON CONFLICT``: a new item's id is new, and so are its custody rows; the one
path that inserts items again, the projection's rebuild (``replace_items``),
empties ``item_custody`` first and adds the past holders back from the log's
``transferred`` entries. The trigger on a change of holder stays per row (its
``WHEN`` clause skips every update but a transfer). SQLite keeps its per-row
triggers.

``ix_items_parent`` and ``ix_items_origin`` hold only the items that have a
parent or an origin (``WHERE … IS NOT NULL``): every lookup along them is by
equality, which implies the condition on both databases, and most items have
neither, so most inserts no longer touch them.

``entries`` loses ``uq_entries_hash`` and ``ix_entries_actor``: no statement
reads along either. The hash index, in SHA-256 order, sent every new entry to a
random page of an index as large as the log (and, after each checkpoint, a whole
page into the WAL): its cost per entry grew with the log. The primary key on
``seq`` still refuses a second entry at a seq, which is what turns a lost race
into ``ConcurrentAppendError``; two entries cannot share a hash, their bytes
holding their seqs. On SQLite the table is copied without them, and its
append-only triggers are made again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_PG_ADDED = """
CREATE FUNCTION retrace_item_custody_added() RETURNS trigger AS $$
BEGIN
    INSERT INTO item_custody (org, created_seq, item)
    SELECT manufacturer, created_seq, id FROM added_items
    UNION ALL
    SELECT holder, created_seq, id FROM added_items WHERE holder <> manufacturer;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_PG_INSERT_TRIGGER = (
    "CREATE TRIGGER items_custody_insert AFTER INSERT ON items "
    "REFERENCING NEW TABLE AS added_items "
    "FOR EACH STATEMENT EXECUTE FUNCTION retrace_item_custody_added()"
)
# The per-row function stays for the change of holder (its TG_OP = 'UPDATE' branch).
_SQLITE_GUARDS = tuple(
    f"CREATE TRIGGER entries_no_{verb.lower()} BEFORE {verb} ON entries "
    f"BEGIN SELECT RAISE(ABORT, 'the log is append-only: {verb} on entries "
    "is refused'); END"
    for verb in ("UPDATE", "DELETE")
)
_LINKS = ("parent", "origin")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER items_custody_insert ON items")
        op.execute(_PG_ADDED)
        op.execute(_PG_INSERT_TRIGGER)
    for column in _LINKS:
        op.drop_index(f"ix_items_{column}", table_name="items")
        present = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_items_{column}",
            "items",
            [column],
            postgresql_where=present,
            sqlite_where=present,
        )
    if dialect == "postgresql":
        op.drop_index("ix_entries_actor", table_name="entries")
        op.drop_constraint("uq_entries_hash", "entries", type_="unique")
        return
    # SQLite drops a table's triggers with it: the copy gets them again.
    with op.batch_alter_table("entries", recreate="always") as batch:
        batch.drop_index("ix_entries_actor")
        batch.drop_constraint("uq_entries_hash", type_="unique")
    for statement in _SQLITE_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
