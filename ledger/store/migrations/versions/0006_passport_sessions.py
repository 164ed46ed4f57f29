"""Passport sessions: a browser's sign-in, bound to an API key, kept beside the keys.

Creates ``passport_sessions``: the SHA-256 of each session id, the key it was
opened with and when it ends (``ledger.sessions``). Nothing in it is derived
from the log; signing in and out appends no entry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passport_sessions",
        sa.Column("id_hash", sa.String(length=64), primary_key=True),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
    )
    op.create_index("ix_passport_sessions_key_id", "passport_sessions", ["key_id"])
    op.create_index("ix_passport_sessions_expires_at", "passport_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("passport_sessions")
