"""The ``retrace`` command: one typer app over the command groups, and its entry point.

Owns the app (the order commands are listed in) and ``main``, which turns a ledger
refusal into a message on stderr and exit code 2. The commands are ``api.cli.admin``'s
(init, serve, verify, projection, orgs), ``api.cli.labels``'s and ``api.cli.audit``'s
(export, audit).
"""

from __future__ import annotations

import os
import sys

import typer

from api.cli import admin
from api.cli.audit import audit, export
from api.cli.console import console
from api.cli.labels import labels
from ledger.errors import LedgerError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Retrace: traceability ledger for end-of-life batteries, PV modules "
    "and wind-turbine blades.",
    no_args_is_help=True,
)
app.add_typer(admin.orgs_app, name="orgs")
for command in (admin.init, admin.serve, admin.verify, admin.projection, labels, export, audit):
    app.command()(command)


def main() -> None:
    """Entry point: turn ledger refusals into a message and exit code 2."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except LedgerError as exc:
        console.print(f"error: {exc.detail}")
        sys.exit(2)
