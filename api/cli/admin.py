"""``retrace init``, ``verify``, ``projection`` and ``orgs``: the operator's local commands.

Owns the operator's commands over the local database; what they do is the ledger's
(``ledger.verify``, ``ledger.projection``, ``ledger.orgs``). Serving is
``api.cli.serve``'s, API keys are ``api.cli.keys``'. Long work shows a progress bar.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.bootstrap import create_admin, has_admin, prepare
from api.cli.console import acting_admin, console, open_ledger, out, progress_bar
from api.settings import get_settings
from ledger import reads
from ledger.lifecycle import Role
from ledger.orgs import create_org
from ledger.projection import projection_differences, rebuild_projection
from ledger.verify import verify_log

__all__ = ["init", "orgs_app", "projection", "verify"]

orgs_app = typer.Typer(help="Organisations: create and list them.", no_args_is_help=True)

ROLES = ", ".join(role.value for role in Role)


def init() -> None:
    """Create the schema, the log key and an admin org.

    The admin org's API key is printed once; run again, init changes nothing.
    """
    settings = get_settings()
    prepared = prepare(settings)
    if prepared.created_key:
        console.print(f"log signing key written to {settings.log_key_file} (mode 0600)")
    ledger = open_ledger()
    if prepared.admin is not None:
        console.print(f"admin org {prepared.admin.org.id} created with the bootstrap key")
        return
    if has_admin(ledger):
        console.print("an admin org exists already; use `retrace keys issue` for another key")
        return
    created = create_admin(ledger)
    console.print(f"admin org {created.org.id} created. Its API key, shown once:")
    out.print(created.api_key, highlight=False)


def verify() -> None:
    """Check every entry's hash and both chains.

    Exits 1 naming the first bad entry.
    """
    ledger = open_ledger()
    total = reads.log_size(ledger.store)
    with progress_bar() as bar:
        task = bar.add_task("verifying entries", total=total)
        report = verify_log(ledger.store, progress=lambda done: bar.update(task, completed=done))
    if report.ok:
        out.print(f"ok: {report.size} entries, head {report.head}")
        return
    assert report.first_bad is not None  # noqa: S101 - not ok means a bad entry
    out.print(f"BROKEN at seq {report.first_bad['seq']}: {report.first_bad['reason']}")
    raise typer.Exit(1)


def projection(
    rebuild: Annotated[bool, typer.Option(help="replace the items table by the rebuild")] = False,
) -> None:
    """Check the items table against the log.

    Exits 1 when it differs from a rebuild from the log (unless --rebuild replaces it).
    """
    ledger = open_ledger()
    differences = projection_differences(ledger.store)
    if not differences:
        out.print("ok: the items table equals the rebuild from the log")
        return
    for line in differences[:50]:
        out.print(line)
    if rebuild:
        count = rebuild_projection(ledger.store)
        out.print(f"rebuilt: {count} items")
        return
    raise typer.Exit(1)


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the org's unique name")],
    role: Annotated[Role, typer.Option(metavar="ROLE", help=f"one of: {ROLES}")],
    region: Annotated[
        str, typer.Option(metavar="REGION", help="region code, e.g. CN-GD or DE")
    ] = "CN",
) -> None:
    """Create an org; its API key is printed once."""
    ledger = open_ledger()
    admin = acting_admin(ledger)
    created = ledger.write(lambda tx: create_org(tx, admin, name, role, region))
    console.print(f"{role} org {created.org.id} created. Its API key, shown once:")
    out.print(created.api_key, highlight=False)


@orgs_app.command("list")
def orgs_list() -> None:
    """List orgs: id, role, region, name."""
    for org in reads.list_orgs(open_ledger().store):
        out.print(f"{org.id}  {org.role.value:<9} {org.region:<8} {org.name}", highlight=False)
