"""PV and blade serials are unique per manufacturer, battery codes per kind.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("code_scope", sa.String(40), nullable=False, server_default=""))
    op.execute(
        "UPDATE items SET code_scope = manufacturer WHERE kind IN ('pv_module', 'wind_blade')"
    )
    with op.batch_alter_table("items") as batch:
        batch.alter_column("code_scope", server_default=None)
        batch.drop_constraint("uq_items_kind_code", type_="unique")
        batch.create_unique_constraint("uq_items_kind_scope_code", ["kind", "code_scope", "code"])
        batch.create_index("ix_items_code", ["code"])


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
