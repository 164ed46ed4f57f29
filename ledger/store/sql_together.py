"""Many inserts and updates as one PostgreSQL statement: one round trip, no pipeline.

Owns the statement ``SqlWriter.together`` sends at the end of its block: each
held insert becomes ``INSERT … SELECT * FROM unnest(<one array per column>)``
and each held update ``UPDATE … FROM unnest(…) WHERE id = …``, all as
data-modifying CTEs of one statement, so the server runs them in one go and a
clash aborts all of them. Arrays keep the statement's text the same for any
number of rows (the server plans it once per connection), and no value is
ever written into the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["Held", "statement"]


@dataclass(frozen=True)
class Held:
    """Rows held for one table: to insert, or to update by ``id``."""

    action: Literal["insert", "update"]
    table: sa.Table
    rows: Sequence[dict[str, Any]]


def statement(held: Sequence[Held], dialect: Dialect) -> tuple[str, list[Any]]:
    """The one statement (psycopg placeholders) and its parameters for ``held``."""
    parts: list[str] = []
    params: list[Any] = []
    for n, part in enumerate(h for h in held if h.rows):
        columns = list(part.rows[0])
        arrays = ", ".join(
            f"%s::{part.table.c[c].type.compile(dialect=dialect)}[]" for c in columns
        )
        params += [[row[c] for row in part.rows] for c in columns]
        names = ", ".join(columns)
        if part.action == "insert":
            # Table and column names are our own; every value is a parameter.
            body = f"INSERT INTO {part.table.name} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
        else:
            sets = ", ".join(f"{c} = v.{c}" for c in columns if c != "id")
            body = (
                f"UPDATE {part.table.name} SET {sets} "  # noqa: S608 - our own names
                f"FROM unnest({arrays}) AS v({names}) WHERE {part.table.name}.id = v.id"
            )
        parts.append(f"w{n} AS ({body})")
    if not parts:
        return "", []
    return "WITH " + ", ".join(parts) + " SELECT 1", params
