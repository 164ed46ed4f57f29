"""``retrace init``, ``serve``, ``verify``, ``projection`` and ``orgs``: running the service.

Owns the operator's commands over the local database; what they do is the ledger's
(``ledger.verify``, ``ledger.projection``, ``ledger.orgs``) and the server's
(``api.app``). Long work shows a progress bar.
"""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from api.bootstrap import create_admin, has_admin, prepare
from api.cli.console import console, open_ledger, out, progress_bar
from api.settings import get_settings
from ledger import reads
from ledger.lifecycle import Role
from ledger.orgs import create_org
from ledger.projection import projection_differences, rebuild_projection
from ledger.verify import verify_log

__all__ = ["init", "orgs_app", "projection", "serve", "verify"]

orgs_app = typer.Typer(help="Organisations and their API keys.", no_args_is_help=True)


def init() -> None:
    """Create the database schema, the log signing key and an admin org (key printed once)."""
    settings = get_settings()
    prepared = prepare(settings)
    if prepared.created_key:
        console.print(f"log signing key written to {settings.log_key_file} (mode 0600)")
    ledger = open_ledger()
    if prepared.admin is not None:
        console.print(f"admin org {prepared.admin.org.id} created with the bootstrap key")
        return
    if has_admin(ledger):
        console.print("an admin org exists already; use `retrace orgs create` for more")
        return
    created = create_admin(ledger)
    console.print(f"admin org {created.org.id} created. Its API key, shown once:")
    out.print(created.api_key, highlight=False)


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
        _add_demo_world()
    console.print(f"Retrace on http://{host}:{port}/  (API docs at /docs)")
    # Workers count metrics into files here and /metrics sums them (prometheus_client's
    # multiprocess mode); a fresh directory each run starts every counter at zero.
    with tempfile.TemporaryDirectory(prefix="retrace-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "api.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=workers == 1,
        )


def _add_demo_world() -> None:
    from api.cli.demo import build_demo, is_fresh

    ledger = open_ledger()
    # A bootstrap admin (RETRACE_BOOTSTRAP_ADMIN_KEY) may exist already; the demo reuses it.
    if not is_fresh(ledger):
        console.print("the ledger is not empty; the demo world is only added to a new one")
        return
    with progress_bar() as bar:
        task = bar.add_task("building the demo world", total=None)
        world = build_demo(
            ledger, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(f"demo world: {world.items} items, {world.entries} entries")
    width = max((len(name) for name in world.keys), default=0)
    for name, key in world.keys.items():
        out.print(f"  {name:<{width}}  {key}", highlight=False, soft_wrap=True)


def verify() -> None:
    """Re-hash every entry and check both chains; exit 1 naming the first bad entry."""
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
    """Check that the items table equals a rebuild from the log (exit 1 if not)."""
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
    name: Annotated[str, typer.Argument(help="the org's unique name")],
    role: Annotated[Role, typer.Option(help="admin, oem, operator, recycler or regulator")],
    region: Annotated[str, typer.Option(help="region code, e.g. CN-GD or DE")] = "CN",
) -> None:
    """Create an org from the command line; its API key is printed once."""
    ledger = open_ledger()
    admin = next((o for o in reads.list_orgs(ledger.store) if o.role == Role.ADMIN), None)
    if admin is None:
        console.print("no admin org yet: run `retrace init` first")
        raise typer.Exit(1)
    created = ledger.write(lambda tx: create_org(tx, admin, name, role, region))
    console.print(f"{role} org {created.org.id} created. Its API key, shown once:")
    out.print(created.api_key, highlight=False)


@orgs_app.command("list")
def orgs_list() -> None:
    """List orgs: id, role, region, name."""
    for org in reads.list_orgs(open_ledger().store):
        out.print(f"{org.id}  {org.role.value:<9} {org.region:<8} {org.name}")
