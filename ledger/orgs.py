"""Orgs and their API keys: who may write, itself written to the log.

Owns the creation of orgs and the issue and revocation of API keys (each one a
log entry with ``item`` null, so the audit covers who was allowed to write),
how a key is stored (its SHA-256, never the key), authentication, and the
keys as listed (never their secrets). The last active key of the admin orgs is
never revoked: without it nobody could create orgs or issue keys again. Writes
are functions of a ``ledger.commit.Tx``; reads take a store reader.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from ledger import lifecycle
from ledger.chain import Entry, parse_entry
from ledger.commit import Tx
from ledger.errors import AuthError, ConflictError, DuplicateError, NotFoundError
from ledger.lifecycle import Role
from ledger.records import IssuedKey, KeyRecord, OrgRecord
from ledger.store.base import ProjectionReader, Reader

__all__ = [
    "KEY_PREFIX",
    "Created",
    "KeyIssued",
    "KeyListing",
    "KeyRevoked",
    "OrgCache",
    "authenticate",
    "authenticate_key",
    "create_org",
    "find_key",
    "hash_api_key",
    "issue_key",
    "list_keys",
    "revoke_key",
]

KEY_PREFIX = "rtr_"
_ORG_CACHE_SIZE = 10_000


def hash_api_key(api_key: str) -> str:
    """Stored form of an API key: SHA-256 hex (keys carry 256 random bits)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    """An org created with its first API key (shown once)."""

    org: OrgRecord
    api_key: str
    key_id: str
    entries: list[Entry]


@dataclass(frozen=True)
class KeyIssued:
    """A new API key of an org (shown once)."""

    key_id: str
    org_id: str
    api_key: str
    entry: Entry


@dataclass(frozen=True)
class KeyRevoked:
    key_id: str
    entry: Entry


def authenticate(r: ProjectionReader, api_key: str) -> OrgRecord:
    """The org an API key belongs to.

    Raises:
        AuthError: unknown or revoked key (the message never echoes it).
    """
    return authenticate_key(r, api_key)[1]


def authenticate_key(r: ProjectionReader, api_key: str) -> tuple[KeyRecord, OrgRecord]:
    """An active API key's record and its org.

    Raises:
        AuthError: unknown or revoked key (the message never echoes it).
    """
    found = r.key_by_hash(hash_api_key(api_key))
    if found is None:
        raise AuthError("the API key is not valid")
    if found[0].revoked:
        raise AuthError("the API key has been revoked")
    return found


class OrgCache:
    """Orgs by id, read once per process.

    Orgs are written once and never updated (only their keys are revoked), so a
    remembered one cannot go stale; scans name an item's holder on every request
    and skip that read.
    """

    def __init__(self) -> None:
        self._orgs: dict[str, OrgRecord] = {}

    def get(self, r: ProjectionReader, org_id: str) -> OrgRecord | None:
        found = self._orgs.get(org_id)
        if found is None:
            found = r.org(org_id)
            if found is not None and len(self._orgs) < _ORG_CACHE_SIZE:
                self._orgs[org_id] = found
        return found


def create_org(
    tx: Tx,
    actor: OrgRecord | None,
    name: str,
    role: Role,
    region: str,
    api_key: str | None = None,
) -> Created:
    """Create an org (logged) and issue its first key (logged).

    Args:
        actor: who creates it; None means the org creates itself (the first admin).
        api_key: the first key's secret, when it is given (bootstrap); else a new one.

    Raises:
        DuplicateError: the name is taken.
    """
    if tx.writer.org_by_name(name) is not None:
        raise DuplicateError(f"an org named {name!r} exists already", pointer="/name")
    org = OrgRecord(tx.ids.new("org"), name, role, region)
    actor_id = actor.id if actor is not None else org.id
    entry = tx.append(
        actor_id,
        None,
        None,
        lifecycle.ORG_CREATED,
        {"id": org.id, "name": name, "role": role.value, "region": region},
    )
    tx.writer.insert_org(org, entry.seq)
    issued = _issue(tx, actor_id, org.id, api_key)
    return Created(org, issued.api_key, issued.key_id, [entry, issued.entry])


def issue_key(tx: Tx, actor: OrgRecord, org_id: str) -> KeyIssued:
    """Issue another API key for an org (logged).

    Raises:
        NotFoundError: no such org.
    """
    if tx.writer.org(org_id) is None:
        raise NotFoundError(f"no org {org_id}")
    return _issue(tx, actor.id, org_id, None)


def _issue(tx: Tx, actor_id: str, org_id: str, api_key: str | None) -> KeyIssued:
    secret = api_key or KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = tx.ids.new("key")
    entry = tx.append(actor_id, None, None, lifecycle.KEY_ISSUED, {"key": key_id, "org": org_id})
    tx.writer.insert_key(key_id, org_id, hash_api_key(secret), entry.seq)
    return KeyIssued(key_id, org_id, secret, entry)


def revoke_key(tx: Tx, actor: OrgRecord, key_id: str) -> KeyRevoked:
    """Revoke an API key (logged).

    Raises:
        NotFoundError: no such key.
        DuplicateError: revoked already.
        ConflictError: it is the last active key of the admin orgs.
    """
    key = tx.writer.key(key_id)
    if key is None:
        raise NotFoundError(f"no API key {key_id}")
    if key.revoked:
        raise DuplicateError(f"API key {key_id} is revoked already")
    owner = tx.writer.org(key.org_id)
    if owner is not None and owner.role == Role.ADMIN and not _other_admin_key(tx, key_id):
        raise ConflictError(
            f"API key {key_id} is the last active admin key: without it nobody could create "
            "orgs or issue keys; issue another admin key first"
        )
    entry = tx.append(
        actor.id, None, None, lifecycle.KEY_REVOKED, {"key": key_id, "org": key.org_id}
    )
    tx.writer.revoke_key(key_id, entry.seq)
    return KeyRevoked(key_id, entry)


def _other_admin_key(tx: Tx, key_id: str) -> bool:
    """Whether an admin org holds an active key other than ``key_id``."""
    admins = [org.id for org in tx.writer.orgs() if org.role == Role.ADMIN]
    return any(
        not key.revoked and key.id != key_id
        for org_id in admins
        for key in tx.writer.api_keys(org_id)
    )


@dataclass(frozen=True)
class KeyListing:
    """An API key as listed: its org, and when it was issued and revoked (entry times)."""

    key: IssuedKey
    org: OrgRecord
    issued_at: str
    revoked_at: str | None


def list_keys(r: Reader) -> list[KeyListing]:
    """Every API key with its org, in the order they were issued (never a secret)."""
    orgs = {org.id: org for org in r.orgs()}

    def ts(seq: int) -> str:
        rows = r.entries(seq, 1)
        return parse_entry(rows[0].body).ts if rows else "?"

    return [
        KeyListing(
            key,
            orgs[key.org_id],
            ts(key.issued_seq),
            None if key.revoked_seq is None else ts(key.revoked_seq),
        )
        for key in r.api_keys()
    ]


def find_key(r: ProjectionReader, id_or_secret: str) -> str | None:
    """The id of a key given by its id or by the key itself (matched by its hash)."""
    if id_or_secret.startswith(KEY_PREFIX):
        found = r.key_by_hash(hash_api_key(id_or_secret))
        return None if found is None else found[0].id
    key = r.key(id_or_secret)
    return None if key is None else key.id
