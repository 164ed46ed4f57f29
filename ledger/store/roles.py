"""PostgreSQL roles: the tables' owner migrates; the service's own role only reads and writes.

Owns what the service's role may do, granted by the owner after each migration:
read every table, insert into every table, and update or delete only what is not
the log (the items and orgs it projects, keys it revokes, idempotent answers and
passport sessions that expire). On the log's tables (entries, tree nodes and tiles,
checkpoints) it may neither update nor delete, and since it owns no table it cannot
alter one either: ``ALTER TABLE entries DISABLE TRIGGER USER`` is refused, so the
append-only triggers hold against the service's own credentials.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

__all__ = ["LOG_TABLES", "grant_service_role"]

LOG_TABLES = ("entries", "tree_nodes", "tree_tiles", "checkpoints")
"""Tables the service may read and append to, never change."""


def grant_service_role(owner: Engine, service_url: str) -> bool:
    """Create the service's role if missing and grant it exactly its part.

    Args:
        owner: an engine connected as the tables' owner, after migrating.
        service_url: the service's database URL; its user is the role, its
            password (if any) the role's password.

    Returns:
        Whether the role was created.

    Raises:
        ValueError: the service URL names no user, or names the owner itself.
    """
    parsed = make_url(service_url)
    role = parsed.username
    if not role:
        raise ValueError("RETRACE_DATABASE_URL names no user: the service's role needs one")
    if role == owner.url.username:
        raise ValueError(
            "RETRACE_DATABASE_URL and RETRACE_OWNER_DATABASE_URL name the same role; "
            "the service needs a role of its own"
        )
    name = sql.Identifier(role)
    with owner.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)  # noqa: S101 - the PostgreSQL driver
        with raw.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            created = cur.fetchone() is None
            login: sql.Composable = sql.SQL("LOGIN")
            if parsed.password:
                login = sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(parsed.password))
            verb = sql.SQL("CREATE ROLE" if created else "ALTER ROLE")
            cur.execute(sql.SQL("{} {} {}").format(verb, name, login))
            database = sql.Identifier(owner.url.database or "postgres")
            tables = sql.SQL(", ").join(sql.Identifier(t) for t in LOG_TABLES)
            for statement in (
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name),
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
                sql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}"
                ).format(name),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(tables, name),
                sql.SQL(
                    "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {}"
                ).format(name),
            ):
                cur.execute(statement)
    return created
