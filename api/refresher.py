"""The report refresher: one process beside the workers that keeps the report
aggregates close behind the log.

``retrace serve`` starts it (``start``) before its uvicorn workers and stops it
after them (``stop``). Folding entries into the aggregates
(``ledger.reports.aggregate``) costs about as much CPU per entry as writing it;
in a process of its own that work never holds a worker's GIL, a server folds
once whatever its number of workers, and the process runs at a lower CPU
priority (``NICENESS``), so on a busy machine writes and reads go first and the
fold takes the time left over. A report request still folds whatever it finds
left (``ledger.reports.build_report``), so a refresher that falls behind makes
reports slower, never wrong.

The workers learn from ``APART`` in their environment that the refresher runs
(``api.app.app_from_env``); an app built otherwise (``create_app`` in a test, or
``uvicorn`` started by hand) folds in its own event loop instead.

Run as ``python -m api.refresher PARENT_PID``: it reads the same settings as the
workers and ends when its parent does, a ``kill -9`` of ``retrace serve`` included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import structlog

from api import logs
from api.settings import get_settings
from ledger.errors import LedgerError
from ledger.reports import behind, refresh
from ledger.store.sql import SqlStore

__all__ = ["APART", "NICENESS", "SLICE", "fold_slice", "fold_while", "start", "stop"]

APART = "RETRACE_SERVE_REFRESHER"
"""Set in the workers' environment by ``retrace serve``: the refresher runs apart."""

NICENESS = 10
"""How much lower than the workers the refresher's CPU priority is (``nice``)."""

SLICE = 1000
"""Entries folded per transaction: on SQLite appends wait for one slice at most."""

STOP_TIMEOUT_S = 10.0

log_ = structlog.get_logger("retrace.reports")


def start() -> subprocess.Popen[bytes]:
    """Start the refresher for this process, with this process's environment."""
    os.environ[APART] = "1"
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "api.refresher", str(os.getpid())],
        stdin=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the refresher: SIGTERM, then SIGKILL if it does not end in time.

    A fold cut short is rolled back whole: the aggregates' mark moves only with it.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fold_slice(store: SqlStore) -> float | None:
    """Fold one ``SLICE`` of the entries the aggregates do not cover yet; the rest
    to take before the next, as long as this one took, or None once the aggregates
    reach the head. While a backlog lasts (after a bulk upload) the fold so takes at
    most half of a core, and of the database's time, which ``nice`` does not lower.

    A refusal or a bug is logged and ends the round (None): the next round tries again.
    """
    began = time.monotonic()
    try:
        refresh(store, slice_size=SLICE, budget=SLICE)
        if behind(store) == 0:
            return None
    except LedgerError as exc:
        log_.error("reports.refresh_failed", code=exc.code, detail=exc.detail)
        return None
    except Exception:  # the loop must outlive a bug in one refresh
        log_.exception("reports.refresh_failed")
        return None
    return time.monotonic() - began


def fold_while(store: SqlStore, interval: float, alive: Callable[[], bool]) -> None:
    """Every ``interval`` seconds, fold the log's new entries into the aggregates a
    slice at a time (``fold_slice``) until it is all folded; stop once ``alive()``
    is false."""
    while alive():
        waited = 0.0
        while waited < interval and alive():
            step = min(1.0, interval - waited)
            time.sleep(step)
            waited += step
        while alive() and (rest := fold_slice(store)) is not None:
            time.sleep(rest)


def main(argv: list[str]) -> int:
    parent = int(argv[1])
    # SIGTERM from ``stop`` ends the loop between two statements; SIGINT (Ctrl-C
    # reaches the whole foreground group) is the server's to handle, not ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    settings = get_settings()
    logs.configure_from(settings)
    store = SqlStore(settings.database(), pool_size=1)
    try:
        fold_while(store, settings.report_refresh_interval, lambda: os.getppid() == parent)
    finally:
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
