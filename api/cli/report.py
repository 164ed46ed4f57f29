"""``retrace report NAME``: a compliance report over the local database.

Owns the command: which report, whose view (``--org``: that org's items, as the API
would show it; else every item, as a regulator sees them) and how it is printed: a
table on a terminal, ``--json`` (the API's body) or ``--csv`` (the API's CSV). The
reports are ``ledger.reports``'; their wire forms are ``api.report_views``'.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from api.cli.console import fail, open_ledger, out, progress_bar
from api.report_views import csv_text, deadlines_of, linked, report_json, table_cells
from api.settings import get_settings
from ledger import reads
from ledger.reports import REPORTS, build_report, refresh
from ledger.reports import rebuild as rebuild_reports
from ledger.store.base import Store

__all__ = ["report"]


def report(
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"one of {', '.join(REPORTS)}")],
    org: Annotated[
        str | None, typer.Option(help="an org's id or name: only the items it may see")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON body")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV (one table)")] = False,
    table: Annotated[str, typer.Option(help="which table: rows, or monthly (inventory)")] = "rows",
    rebuild: Annotated[
        bool, typer.Option(help="first drop the report aggregates and fold the whole log again")
    ] = False,
) -> None:
    """Print a compliance report, from the aggregates brought up to the log first."""
    if as_json and as_csv:
        raise fail("give --json or --csv, not both")
    ledger = open_ledger()
    try:
        caller = None if org is None else reads.find_org(ledger.store, org)
        if org is not None and caller is None:
            raise fail(f"no org {org!r} (give its id or name; `retrace orgs list` lists them)")
        rules = deadlines_of(get_settings())
        _catch_up(ledger.store, rebuild=rebuild)
        done = build_report(ledger.store, name, caller, ledger.clock(), rules)
    finally:
        ledger.store.dispose()
    if as_json:
        out.print(json.dumps(report_json(done), indent=2), highlight=False, markup=False)
        return
    rows = done.table(table)
    if as_csv:
        out.file.write(csv_text(linked(done.name, table, rows)))
        return
    columns, cells = table_cells([{k: v for k, v in row.items() if k != "row_key"} for row in rows])
    shown = Table(*columns, title=f"{done.name} ({table}), {done.generated_at}")
    for line in cells:
        shown.add_row(*line)
    out.print(shown if cells else f"{done.name}: no rows", highlight=False)


def _catch_up(store: Store, *, rebuild: bool) -> None:
    """Bring the report aggregates up to the log (from nothing: ``rebuild``), with
    a bar when much is left."""
    with store.reports() as tables:
        mark, size = (0 if rebuild else tables.report_mark()), tables.size()
    if size - mark < _QUIET:
        (rebuild_reports if rebuild else refresh)(store)
        return
    with progress_bar() as bar:
        task = bar.add_task("bringing the reports up to the log", total=size, completed=mark)
        fold = rebuild_reports if rebuild else refresh
        fold(store, progress=lambda done: bar.update(task, completed=done))


# Fewer entries than this left to fold: no bar (it would only flash).
_QUIET = 20_000
