"""The ``retrace`` command: init, serve, verify, orgs, projection checks, labels.

Owns the operator's view of the service. Settings come from the
environment (``RETRACE_*``), exactly as the server reads them; long work
shows a progress bar.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.audit_cli import audit, export
from api.bootstrap import create_admin, has_admin, prepare, utc_now
from api.settings import get_settings
from ledger.domain import Role
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.store.sql import SqlStore

app = typer.Typer(
    help="Retrace: traceability ledger for end-of-life batteries, PV modules "
    "and wind-turbine blades.",
    no_args_is_help=True,
)
orgs_app = typer.Typer(help="Organisations and their API keys.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
console = Console(stderr=True)
out = Console(soft_wrap=True)


def _ledger() -> Ledger:
    settings = get_settings()
    return Ledger(SqlStore(settings.database()), clock=utc_now)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


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
        from api.demo import build_demo, is_fresh

        ledger = _ledger()
        # A bootstrap admin (RETRACE_BOOTSTRAP_ADMIN_KEY) may exist already; the demo reuses it.
        if is_fresh(ledger):
            with progress_bar() as bar:
                task = bar.add_task("building the demo world", total=None)
                world = build_demo(
                    ledger,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            console.print(f"demo world: {world.items} items, {world.entries} entries")
            width = max((len(name) for name in world.keys), default=0)
            for name, key in world.keys.items():
                out.print(f"  {name:<{width}}  {key}", highlight=False, soft_wrap=True)
        else:
            console.print("the ledger is not empty; the demo world is only added to a new one")
    console.print(f"Retrace on http://{host}:{port}/  (API docs at /docs)")
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=workers == 1,
    )


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


class LabelStock(StrEnum):
    A4 = "a4"
    ROLL = "roll"


@app.command()
def labels(
    out_pdf: Annotated[
        Path | None,
        typer.Argument(
            help="the PDF to write (optional with --png-dir)", dir_okay=False, metavar="OUT.pdf"
        ),
    ] = None,
    item: Annotated[
        list[str] | None, typer.Option("--item", metavar="ID", help="an item id; repeat for more")
    ] = None,
    all_registered_by: Annotated[
        str | None,
        typer.Option(metavar="ORG", help="every item this org registered (org id or name)"),
    ] = None,
    layout: Annotated[LabelStock, typer.Option(help="A4 sheets or roll labels")] = LabelStock.A4,
    columns: Annotated[int, typer.Option(min=1, max=12, help="A4: labels across")] = 3,
    rows: Annotated[int, typer.Option(min=1, max=20, help="A4: labels down")] = 8,
    width_mm: Annotated[float, typer.Option(min=15, max=300, help="roll: label width")] = 50.0,
    height_mm: Annotated[float, typer.Option(min=15, max=300, help="roll: label height")] = 30.0,
    png_dir: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="also write one PNG per item here", file_okay=False),
    ] = None,
    dpi: Annotated[int, typer.Option(min=72, max=1200, help="PNG resolution")] = 300,
) -> None:
    """Print QR labels: a PDF sheet (A4 grid or roll) and/or one PNG per item."""
    from api.routes.labels import label_infos
    from labels import SheetLayout, render_png, render_sheet_pdf

    if out_pdf is None and png_dir is None:
        console.print("error: name the PDF to write, or --png-dir, or both")
        raise typer.Exit(2)
    settings = get_settings()
    ledger = _ledger()
    ids = list(item or [])
    with ledger.store.reader() as r:
        if all_registered_by is not None:
            org = r.org(all_registered_by) or r.org_by_name(all_registered_by)
            if org is None:
                console.print(f"error: no org {all_registered_by!r} (give its id or name)")
                raise typer.Exit(2)
            ids += [found.id for found in r.items_registered_by(org.id)]
        if not ids:
            console.print("error: no items: give --item ID or --all-registered-by ORG")
            raise typer.Exit(2)
        infos = label_infos(r, ids)
    try:
        sheet = (
            SheetLayout.roll(width_mm, height_mm)
            if layout == LabelStock.ROLL
            else SheetLayout.a4(columns, rows)
        )
    except ValueError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    base = settings.public_base_url
    with progress_bar() as bar:
        if png_dir is not None:
            png_dir.mkdir(parents=True, exist_ok=True)
            task = bar.add_task("PNG labels", total=len(infos))
            width, height = sheet.label_size
            for done, info in enumerate(infos, 1):
                png = render_png(info, base, dpi=dpi, size_mm=width, height_mm=height)
                (png_dir / f"{info.item_id}.png").write_bytes(png)
                bar.update(task, completed=done)
        if out_pdf is not None:
            task = bar.add_task("PDF labels", total=len(infos))
            pdf = render_sheet_pdf(
                infos, base, sheet, progress=lambda done: bar.update(task, completed=done)
            )
            out_pdf.write_bytes(pdf)
    if out_pdf is not None:
        pages = -(-len(infos) // sheet.labels_per_page)
        out.print(f"{out_pdf}: {len(infos)} labels on {pages} page(s)", highlight=False)
    if png_dir is not None:
        out.print(f"{png_dir}: {len(infos)} PNG labels at {dpi} dpi", highlight=False)


app.command()(export)
app.command()(audit)


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
