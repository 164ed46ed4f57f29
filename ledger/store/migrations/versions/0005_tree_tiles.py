"""The tree in tiles of 256 hashes, for proofs that read a few rows at any size.

Creates ``tree_tiles`` (append-only, like the tree nodes) and fills it with
every tile the log already completes, read from ``entries`` (tile level 0)
and ``tree_nodes`` (the levels above), in slices of 256 tiles.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_WIDTH = 256
_HEIGHT = 8


def upgrade() -> None:
    tiles = op.create_table(
        "tree_tiles",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER tree_tiles_append_only BEFORE UPDATE OR DELETE ON tree_tiles "
            "FOR EACH ROW EXECUTE FUNCTION retrace_entries_append_only()"
        )
    elif conn.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER tree_tiles_no_{verb.lower()} BEFORE {verb} ON tree_tiles "
                f"BEGIN SELECT RAISE(ABORT, 'append-only: {verb} on tree_tiles is refused'); "
                "END"
            )
    assert tiles is not None  # noqa: S101 - create_table returns the table
    fill(conn, tiles)


def fill(conn: sa.Connection, tiles: sa.Table) -> None:
    """Write every tile the log completes into the empty ``tiles`` table."""
    size = conn.execute(sa.text("SELECT COALESCE(MAX(seq) + 1, 0) FROM entries")).scalar_one()
    level = 0
    while size >> (_HEIGHT * (level + 1)):
        _backfill(conn, tiles, level, size >> (_HEIGHT * (level + 1)))
        level += 1


def _backfill(conn: sa.Connection, tiles: sa.Table, level: int, count: int) -> None:
    """Write tiles 0 … count-1 of one tile level."""
    slice_ = 256
    for first in range(0, count, slice_):
        last = min(count, first + slice_)
        lo, hi = first * _WIDTH, last * _WIDTH
        if level == 0:
            rows = conn.execute(
                sa.text("SELECT hash FROM entries WHERE seq >= :lo AND seq < :hi ORDER BY seq"),
                {"lo": lo, "hi": hi},
            )
            hashes = [bytes.fromhex(h) for (h,) in rows]
        else:
            rows = conn.execute(
                sa.text(
                    "SELECT hash FROM tree_nodes WHERE level = :level AND idx >= :lo "
                    "AND idx < :hi ORDER BY idx"
                ),
                {"level": level * _HEIGHT, "lo": lo, "hi": hi},
            )
            hashes = [bytes(h) for (h,) in rows]
        if len(hashes) != hi - lo:
            raise RuntimeError(
                f"tree level {level * _HEIGHT} holds {len(hashes)} of nodes {lo}…{hi - 1}: "
                "run `retrace verify` on this log"
            )
        conn.execute(
            tiles.insert(),
            [
                {
                    "level": level,
                    "idx": first + n,
                    "hashes": b"".join(hashes[n * _WIDTH : (n + 1) * _WIDTH]),
                }
                for n in range(last - first)
            ],
        )


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
