"""Item queries: an index range in page order for each common filter and each org.

The single-column indexes on ``items.state``, ``holder`` and ``manufacturer``
become ``(column, created_seq, id)``: a query filtered by one of them reads one
index range already in page order and stops at the page's end, instead of
walking the whole page order and testing every item, which cost what the table
holds when few items match. The lookups the old indexes served use the new
ones' first column; the number of indexes a write maintains stays the same.

``item_custody`` holds, for every org that made, holds or held an item, the
row ``(org, created_seq, item)``: an org's own items (``GET /v1/items`` for any
org but a regulator) are one range of its primary key, in page order, however
many items others have. Triggers on ``items`` keep it (the maker and holder of a
new item; each new holder), so every write path keeps it alike; it starts
filled from the items and the ``transferred`` entries, and nothing deletes from it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ORDERED = ("state", "holder", "manufacturer")


_PG_CUSTODY = """
CREATE FUNCTION retrace_item_custody() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO item_custody (org, created_seq, item)
        VALUES (NEW.manufacturer, NEW.created_seq, NEW.id) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO item_custody (org, created_seq, item)
    VALUES (NEW.holder, NEW.created_seq, NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER items_custody_insert AFTER INSERT ON items "
    "FOR EACH ROW EXECUTE FUNCTION retrace_item_custody()",
    "CREATE TRIGGER items_custody_update AFTER UPDATE OF holder ON items "
    "FOR EACH ROW WHEN (OLD.holder IS DISTINCT FROM NEW.holder) "
    "EXECUTE FUNCTION retrace_item_custody()",
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER items_custody_insert AFTER INSERT ON items BEGIN "
    "INSERT OR IGNORE INTO item_custody (org, created_seq, item) "
    "VALUES (NEW.manufacturer, NEW.created_seq, NEW.id); "
    "INSERT OR IGNORE INTO item_custody (org, created_seq, item) "
    "VALUES (NEW.holder, NEW.created_seq, NEW.id); END",
    "CREATE TRIGGER items_custody_update AFTER UPDATE OF holder ON items "
    "WHEN OLD.holder IS NOT NEW.holder BEGIN "
    "INSERT OR IGNORE INTO item_custody (org, created_seq, item) "
    "VALUES (NEW.holder, NEW.created_seq, NEW.id); END",
)
_BACKFILL = (
    "INSERT INTO item_custody (org, created_seq, item) "
    "SELECT manufacturer, created_seq, id FROM items "
    "UNION SELECT holder, created_seq, id FROM items "
    "UNION SELECT e.actor, i.created_seq, i.id FROM entries e JOIN items i ON i.id = e.item "
    "WHERE e.type = 'transferred'"
)


def upgrade() -> None:
    for column in _ORDERED:
        op.drop_index(f"ix_items_{column}", table_name="items")
        op.create_index(f"ix_items_{column}_created", "items", [column, "created_seq", "id"])
    op.create_table(
        "item_custody",
        sa.Column("org", sa.String(40), primary_key=True),
        sa.Column("created_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("item", sa.String(40), primary_key=True),
    )
    op.execute(_BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_CUSTODY)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
