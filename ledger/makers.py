"""Manufacturer codes: GB/T 34014 maker codes bound to the OEM orgs that file them.

Owns the binding of a manufacturer code (the first three characters of a
battery code, assigned through the national coding filing system) to an OEM
org, written as a log entry (``maker_bound``, ``item`` null) so the audit
covers it and a replay of the log rebuilds the bindings (``ledger.projection``);
the list of bindings; and the rule that refuses a battery code whose
manufacturer code is bound to another org. An unbound code is accepted: the
bindings and the items' codes are what a later report compares. Writes are
functions of a ``ledger.commit.Tx``; reads take a store reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.chain import Entry
from ledger.codes import BATTERY_KINDS
from ledger.commit import Tx
from ledger.errors import DuplicateError, MakerCodeError, NotFoundError, ValidationError
from ledger.events import parse_model
from ledger.lifecycle import MAKER_BOUND, MakerBinding, Role
from ledger.records import OrgRecord
from ledger.store.base import Store

__all__ = [
    "MAKER_CODE_PATTERN",
    "Bound",
    "MakerBind",
    "bind_maker",
    "binding_of",
    "bindings",
    "check_maker_code",
    "list_makers",
    "maker_code",
]

MAKER_CODE_PATTERN = r"^[0-9A-Z]{3}$"


class MakerBind(BaseModel):
    """A binding as asked for: the manufacturer code and the OEM org it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    code: Annotated[str, Field(pattern=MAKER_CODE_PATTERN)]
    org: Annotated[str, Field(min_length=1, max_length=40)]


@dataclass(frozen=True)
class Bound:
    """A binding made, and its log entry."""

    binding: MakerBinding
    entry: Entry


def maker_code(code: str) -> str:
    """The manufacturer code of a GB/T 34014 battery code: its first three characters."""
    return code[:3]


def bind_maker(tx: Tx, actor: OrgRecord, raw: Any) -> Bound:
    """Bind a manufacturer code to an OEM org (logged) from a raw ``{code, org}``.

    Raises:
        ValidationError: a malformed code, or an org that is not an OEM.
        NotFoundError: no such org.
        DuplicateError: the code is bound already (the answer names to whom).
    """
    asked = parse_model(MakerBind, raw)
    org = tx.writer.org(asked.org)
    if org is None:
        raise NotFoundError(f"no org {asked.org}", pointer="/org")
    if org.role != Role.OEM:
        raise ValidationError(
            f"{org.name} ({org.id}) is a {org.role}; manufacturer codes belong to OEMs",
            pointer="/org",
        )
    found = tx.writer.maker(asked.code)
    if found is not None:
        whom = "this org" if found.org == org.id else f"org {found.org}"
        raise DuplicateError(
            f"manufacturer code {asked.code} is bound to {whom} already (entry {found.seq})",
            pointer="/code",
            bound_to=found.org,
        )
    entry = tx.append(actor.id, None, None, MAKER_BOUND, {"code": asked.code, "org": org.id})
    binding = MakerBinding(asked.code, org.id, entry.seq)
    tx.writer.insert_maker(binding)
    tx.makers = None  # read again by the next check
    return Bound(binding, entry)


def binding_of(entry_type: str, data: Mapping[str, Any], seq: int) -> MakerBinding | None:
    """The binding a log entry makes, or None for any other entry (a replay's fold)."""
    if entry_type != MAKER_BOUND:
        return None
    return MakerBinding(str(data["code"]), str(data["org"]), seq)


def list_makers(store: Store) -> list[MakerBinding]:
    """Every binding, by code."""
    with store.lookup() as r:
        return r.makers()


def bindings(tx: Tx) -> dict[str, str]:
    """Manufacturer code to org, read once per transaction: bindings are few and
    only ever added, and registrations check them under the chain lock."""
    if tx.makers is None:
        tx.makers = {b.code: b.org for b in tx.writer.makers()}
    return tx.makers


def check_maker_code(tx: Tx, kind: str, code: str, registrant: str, pointer: str) -> None:
    """A battery code registered by an OEM carries no other org's manufacturer code.

    Raises:
        MakerCodeError: rule ``maker-code-bound``, naming the code and its org.
    """
    if kind not in BATTERY_KINDS:
        return
    prefix = maker_code(code)
    owner = bindings(tx).get(prefix)
    if owner is not None and owner != registrant:
        raise MakerCodeError(
            f"manufacturer code {prefix} (positions 1-3) is bound to org {owner}, not to you",
            pointer=pointer,
            rule="maker-code-bound",
            maker_code=prefix,
            bound_to=owner,
        )
