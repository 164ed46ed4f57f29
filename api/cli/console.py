"""What every command shares: the consoles, the progress bar and the ledger.

Settings come from the environment (``RETRACE_*``), exactly as the server reads them;
messages go to stderr (``console``), results to stdout (``out``). Only ``init`` and
``serve`` create a database: every other command opens an existing ledger
(``open_ledger``) and stops with one line when there is none, creating nothing.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.engine import make_url

from api.bootstrap import utc_now
from api.settings import get_settings
from ledger import reads
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore

__all__ = [
    "NO_LEDGER",
    "LazyBar",
    "acting_admin",
    "console",
    "fail",
    "open_ledger",
    "out",
    "progress_bar",
    "require_ledger",
]

NO_LEDGER = "no ledger here: run `retrace init` or set RETRACE_DATABASE_URL"

console = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: <message>`` on stderr; the exit to raise with ``code``."""
    console.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def require_ledger(url: str) -> None:
    """Stop (exit 2, one line) unless ``url`` holds a ledger; create nothing.

    A SQLite file that does not exist is not opened (opening it would create it); a
    database without Retrace's schema is no ledger either.
    """
    path = _sqlite_file(url)
    if path is not None and not path.is_file():
        raise fail(f"{NO_LEDGER} (no database file {path})")
    store = SqlStore(url, pool_size=1)
    try:
        revision = store.schema_revision()
    finally:
        store.dispose()
    if revision is None:
        raise fail(f"{NO_LEDGER} (the database has no Retrace schema)")


def open_ledger() -> Ledger:
    """The ledger over the database the settings name, which must exist already."""
    settings = get_settings()
    url = settings.database()
    require_ledger(url)
    return Ledger(SqlStore(url), clock=utc_now, tolerances=settings.tolerances())


def acting_admin(ledger: Ledger) -> OrgRecord:
    """The admin org a command acts as (the first one), or stop when there is none."""
    admin = next((o for o in reads.list_orgs(ledger.store) if o.role == Role.ADMIN), None)
    if admin is None:
        raise fail("no admin org yet: run `retrace init` first")
    return admin


def progress_bar() -> Progress:
    """A progress bar on stderr: description, bar, done/total, time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class LazyBar:
    """A progress callback ``(done, total)`` that shows its bar from the first call on,
    so the bar never shows an unknown total.

    Use as a context manager; nothing is shown if it is never called.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = progress_bar()
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=total)
        assert self._task is not None  # noqa: S101 - set with the bar
        self._bar.update(self._task, completed=done, total=max(total, done))

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
