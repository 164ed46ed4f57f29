"""What every command shares: the consoles, the progress bar and the ledger.

Settings come from the environment (``RETRACE_*``), exactly as the server reads them;
messages go to stderr (``console``), results to stdout (``out``).
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from api.bootstrap import utc_now
from api.settings import get_settings
from ledger.service import Ledger
from ledger.store.sql import SqlStore

__all__ = ["LazyBar", "console", "open_ledger", "out", "progress_bar"]

console = Console(stderr=True)
out = Console(soft_wrap=True)


def open_ledger() -> Ledger:
    """The ledger over the database the settings name."""
    settings = get_settings()
    return Ledger(SqlStore(settings.database()), clock=utc_now)


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
    """A progress callback ``(done, total)`` that shows its bar from the first call on.

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
        self._bar.update(self._task, completed=done, total=total)

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
