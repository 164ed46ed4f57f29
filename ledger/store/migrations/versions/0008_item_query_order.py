"""Item queries: the index of their page order.

Creates ``ix_items_created`` on ``items (created_seq, id)``: ``GET /v1/items``
pages through items in that order (``ledger.store.query``), one index range
per page whatever the size of the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_created", "items", ["created_seq", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_created", table_name="items")
