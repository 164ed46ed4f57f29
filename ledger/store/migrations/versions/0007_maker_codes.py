"""Manufacturer codes: GB/T 34014 maker codes bound to OEM orgs.

Creates ``maker_codes``: each manufacturer code (a battery code's first three
characters), the org it is bound to and the seq of the ``maker_bound`` log
entry that bound it (``ledger.makers``). A projection of the log: a rebuild
recomputes it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maker_codes",
        sa.Column("code", sa.String(length=3), primary_key=True),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_maker_codes_org_id", "maker_codes", ["org_id"])


def downgrade() -> None:
    op.drop_table("maker_codes")
