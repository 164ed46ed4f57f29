"""The ``retrace`` command: init, serve, verify, orgs, projection checks.

Owns the operator's view of the service. Settings come from the
environment (``RETRACE_*``), exactly as the server reads them; long work
shows a progress bar.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.bootstrap import create_admin, has_admin, prepare, utc_now
from api.settings import get_settings
from ledger.domain import Role
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.store.sql import SqlStore

app = typer.Typer(help="Retrace: traceability ledger for end-of-life batteries, PV modules "
                       "and wind-turbine blades.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations and their API keys.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
console = Console(stderr=True)
out = Console()


def _ledger() -> Ledger:
    settings = get_settings()
    return Ledger(SqlStore(settings.database()), clock=utc_now)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


@app.command()
def init() -> None:
    """Create the database schema, the log signing key and an admin org (key printed once)."""
    settings = get_settings()
    prepared = prepare(settings)
    if prepared.created_key:
        console.print(f"log signing key written to {settings.log_key_file} (mode 0600)")
    ledger = _ledger()
    if prepared.admin is not None:
        console.print(f"admin org {prepared.admin.org.id} created with the bootstrap key")
        return
    if has_admin(ledger):
        console.print("an admin org exists already; use `retrace orgs create` for more")
        return
    created = create_admin(ledger)
    console.print(f"admin org {created.org.id} created. Its API key, shown once:")
    out.print(created.api_key, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    demo: Annotated[bool, typer.Option(help="fill an empty ledger with a demo world")] = False,
) -> None:
    """Serve the API (preparing a fresh database and log key first)."""
    import uvicorn

    settings = get_settings()
    prepared = prepare(settings)
    if prepared.created_key:
        console.print(f"log signing key written to {settings.log_key_file}")
    if demo:
        from api.demo import build_demo

        ledger = _ledger()
        with ledger.store.reader() as r:
            empty = r.size() == 0
        if empty:
            with progress_bar() as bar:
                task = bar.add_task("building the demo world", total=None)
                world = build_demo(ledger, progress=lambda done, total: bar.update(
                    task, completed=done, total=total))
            console.print(f"demo world: {world.items} items, {world.entries} entries")
            for name, key in world.keys.items():
                out.print(f"  {name:<34} {key}", highlight=False)
        else:
            console.print("the ledger is not empty; the demo world is only added to a new one")
    console.print(f"Retrace on http://{host}:{port}/  (API docs at /docs)")
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=workers == 1)


@app.command()
def verify() -> None:
    """Re-hash every entry and check both chains; exit 1 naming the first bad entry."""
    ledger = _ledger()
    with ledger.store.reader() as r:
        total = r.size()
    with progress_bar() as bar:
        task = bar.add_task("verifying entries", total=total)
        report = ledger.verify(progress=lambda done: bar.update(task, completed=done))
    if report.ok:
        out.print(f"ok: {report.size} entries, head {report.head}")
        return
    assert report.first_bad is not None  # noqa: S101 - not ok means a bad entry
    out.print(f"BROKEN at seq {report.first_bad['seq']}: {report.first_bad['reason']}")
    raise typer.Exit(1)


@app.command()
def projection(
    rebuild: Annotated[bool, typer.Option(help="replace the items table by the rebuild")] = False,
) -> None:
    """Check that the items table equals a rebuild from the log (exit 1 if not)."""
    ledger = _ledger()
    differences = ledger.projection_differences()
    if not differences:
        out.print("ok: the items table equals the rebuild from the log")
        return
    for line in differences[:50]:
        out.print(line)
    if rebuild:
        count = ledger.rebuild_projection()
        out.print(f"rebuilt: {count} items")
        return
    raise typer.Exit(1)


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Argument(help="the org's unique name")],
    role: Annotated[Role, typer.Option(help="admin, oem, operator, recycler or regulator")],
    region: Annotated[str, typer.Option(help="region code, e.g. CN-GD or DE")] = "CN",
) -> None:
    """Create an org from the command line; its API key is printed once."""
    ledger = _ledger()
    with ledger.store.reader() as r:
        admin = next((o for o in r.orgs() if o.role == Role.ADMIN), None)
    if admin is None:
        console.print("no admin org yet: run `retrace init` first")
        raise typer.Exit(1)
    created = ledger.write(lambda tx: ledger.create_org(tx, admin, name, role, region))
    console.print(f"{role} org {created.org.id} created. Its API key, shown once:")
    out.print(created.api_key, highlight=False)


@orgs_app.command("list")
def orgs_list() -> None:
    """List orgs: id, role, region, name."""
    with _ledger().store.reader() as r:
        for org in r.orgs():
            out.print(f"{org.id}  {org.role.value:<9} {org.region:<8} {org.name}")


def main() -> None:
    """Entry point: turn ledger refusals into a message and exit code 2."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except LedgerError as exc:
        console.print(f"error: {exc.detail}")
        sys.exit(2)


if __name__ == "__main__":
    main()
