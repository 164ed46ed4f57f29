"""The ``retrace`` command: one typer app over the command groups, and its entry point.

Owns the app (the order commands are listed in, and its help: click's plain layout,
which shows flags without a type and never breaks a word) and ``main``, which turns a
ledger refusal into a message on stderr and exit code 2. The commands are
``api.cli.admin``'s (init, verify, projection, orgs), ``api.cli.serve``'s,
``api.cli.keys``', ``api.cli.events``' (events import), ``api.cli.labels``'s,
``api.cli.audit``'s (export, audit), ``api.cli.report``'s and ``api.cli.witness``'.
"""

from __future__ import annotations

import os
import sys

import typer

from api.cli import admin
from api.cli.audit import audit, export
from api.cli.console import console
from api.cli.events import events_app
from api.cli.keys import keys_app
from api.cli.labels import labels
from api.cli.report import report
from api.cli.serve import serve
from api.cli.witness import witness_app
from ledger.errors import LedgerError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Retrace: traceability ledger for end-of-life batteries, PV modules "
    "and wind-turbine blades.",
    no_args_is_help=True,
    # Click's own help layout: Rich's tables printed every flag's type as <bool> and
    # folded narrow columns mid-word.
    rich_markup_mode=None,
)
for command in (admin.init, serve, admin.verify, admin.projection, labels, export, audit, report):
    app.command()(command)
app.add_typer(admin.orgs_app, name="orgs")
app.add_typer(events_app, name="events")
app.add_typer(keys_app, name="keys")
app.add_typer(witness_app, name="witness")


def main() -> None:
    """Entry point: turn ledger refusals into a message and exit code 2."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except LedgerError as exc:
        console.print(f"error: {exc.detail}", markup=False)
        sys.exit(2)
