"""First-start work: the schema, the log signing key and the first admin.

Owns what ``retrace init`` and ``retrace serve`` do before serving, so a
fresh machine works straight after install: migrate the database to the
newest schema, create the log's Ed25519 key file (0600) if absent, and,
when ``RETRACE_BOOTSTRAP_ADMIN_KEY`` is set, create the admin org with that
key unless an admin exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from api.settings import Settings
from hashing import generate_private_key, save_private_key
from ledger import reads
from ledger.lifecycle import Role
from ledger.orgs import Created, create_org
from ledger.service import Ledger
from ledger.store.roles import grant_service_role
from ledger.store.sql import SqlStore

log = structlog.get_logger("retrace.bootstrap")


def utc_now() -> datetime:
    """The service clock (UTC, aware); tests pass their own to ``Ledger``."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Prepared:
    created_key: bool
    admin: Created | None


def ensure_log_key(settings: Settings) -> bool:
    """Create the log signing key file if it is missing; True if created."""
    path = settings.log_key_file
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    save_private_key(generate_private_key(), path)
    return True


def has_admin(ledger: Ledger) -> bool:
    return any(org.role == Role.ADMIN for org in reads.list_orgs(ledger.store))


def create_admin(
    ledger: Ledger, name: str = "Retrace admin", region: str = "global", api_key: str | None = None
) -> Created:
    return ledger.write(lambda tx: create_org(tx, None, name, Role.ADMIN, region, api_key=api_key))


def migrate(settings: Settings, store: SqlStore) -> None:
    """Bring the schema to the newest revision: as the tables' owner, then grant the
    service's role its part, when ``RETRACE_OWNER_DATABASE_URL`` is set; else as the
    one role there is (PostgreSQL: with a warning, since that role could then
    disable the log's append-only triggers)."""
    owner_url = settings.owner_database()
    if owner_url is None:
        store.migrate()
        if store.dialect == "postgresql":
            log.warning(
                "database.single_role",
                detail="RETRACE_OWNER_DATABASE_URL is unset: the service's role owns the "
                "tables and could disable the log's append-only triggers",
            )
        return
    owner = SqlStore(owner_url, pool_size=1)
    try:
        if owner.dialect != "postgresql" or store.dialect != "postgresql":
            raise ValueError("RETRACE_OWNER_DATABASE_URL is for PostgreSQL only")
        owner.migrate()
        if grant_service_role(owner.engine, settings.database()):
            log.info("database.service_role_created", role=store.engine.url.username)
    finally:
        owner.dispose()


def prepare(settings: Settings) -> Prepared:
    """Migrate, make the log key, and create the bootstrap admin if asked."""
    store = SqlStore(settings.database(), pool_size=1)
    try:
        migrate(settings, store)
        created_key = ensure_log_key(settings)
        admin = None
        if settings.bootstrap_admin_key is not None:
            ledger = Ledger(store, clock=utc_now)
            if not has_admin(ledger):
                admin = create_admin(
                    ledger, api_key=settings.bootstrap_admin_key.get_secret_value()
                )
        return Prepared(created_key, admin)
    finally:
        store.dispose()
