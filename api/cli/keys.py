"""``retrace keys``: issue, list and revoke API keys from the command line.

Owns the three commands; the writes are ``ledger.orgs``' (each a log entry, made as
the first admin org), and so is the rule that the last active admin key is never
revoked. A key is printed once, when it is issued; listing shows ids, never secrets.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.console import acting_admin, console, fail, open_ledger, out
from ledger import reads
from ledger.orgs import find_key, issue_key, list_keys, revoke_key

__all__ = ["keys_app"]

keys_app = typer.Typer(help="API keys: issue, list and revoke them.", no_args_is_help=True)


@keys_app.command("issue")
def keys_issue(
    org: Annotated[str, typer.Argument(metavar="ORG", help="the org's id or name")],
) -> None:
    """Issue a new API key for an org; the key is printed once."""
    ledger = open_ledger()
    found = reads.find_org(ledger.store, org)
    if found is None:
        raise fail(f"no org {org!r} (give its id or name; `retrace orgs list` lists them)")
    admin = acting_admin(ledger)
    issued = ledger.write(lambda tx: issue_key(tx, admin, found.id))
    console.print(
        f"key {issued.key_id} issued to {found.name} ({found.role.value}). The key, shown once:"
    )
    out.print(issued.api_key, highlight=False)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys: id, org, role, issued, revoked (never the key itself)."""
    with open_ledger().store.reader() as r:
        listed = list_keys(r)
    for row in listed:
        status = "active" if row.revoked_at is None else f"revoked {row.revoked_at}"
        out.print(
            f"{row.key.id}  {row.org.id}  {row.org.role.value:<9}  issued {row.issued_at}  "
            f"{status:<35}  {row.org.name}",
            highlight=False,
        )


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(metavar="KEY", help="the key's id, or the key itself")],
) -> None:
    """Revoke an API key.

    The last active admin key is never revoked: issue another one first.
    """
    ledger = open_ledger()
    with ledger.store.reader() as r:
        key_id = find_key(r, key)
    if key_id is None:
        # Only an id is named: anything else may be a secret.
        named = f" {key}" if key.startswith("key_") else ""
        raise fail(f"no such API key{named} (`retrace keys list` lists them)")
    admin = acting_admin(ledger)
    revoked = ledger.write(lambda tx: revoke_key(tx, admin, key_id))
    console.print(f"key {revoked.key_id} revoked (log entry {revoked.entry.seq})")
