"""``retrace export`` and ``retrace audit``: offline bundles, and audits of a live log.

Owns the two commands and what only a command knows: the local database's settings
(``export_database``), the HTTP client (``httpx_fetch``), where the audit state lives
by default, and writing a bundle whole or not at all (into a temporary folder beside
the target, renamed on success). Everything else is the ``ledger.verify`` library's: the
bundle format and its audit, the live audit and its state, every check.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from api.cli.console import LazyBar, progress_bar
from hashing import HashingError, parse_checkpoint, split_note
from ledger.errors import AuditFailure, AuditUnavailableError
from ledger.verify import (
    Fetch,
    LogClient,
    Tick,
    audit_bundle,
    audit_item,
    audit_server,
    bundle_size,
    export_server,
    export_store,
    start_bundle,
)

__all__ = ["audit", "default_state_path", "export", "export_database", "httpx_fetch"]

_TIMEOUT = 60.0


def default_state_path() -> Path:
    """``$XDG_CONFIG_HOME/retrace/audit-state.json`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "retrace" / "audit-state.json"


def http_client(url: str, api_key: str | None) -> httpx.Client:
    """An HTTP client for the server at ``url``, sending ``api_key`` if given."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=_TIMEOUT)


def httpx_fetch(http: httpx.Client) -> Fetch:
    """The library's ``Fetch`` over an httpx client (its base URL and headers)."""

    def fetch(path: str, params: Mapping[str, int] | None = None) -> tuple[int, bytes]:
        try:
            response = http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise AuditUnavailableError(f"cannot reach the server: {exc}") from None
        return response.status_code, response.content

    return fetch


def export_database(
    target: Path, *, publish: bool, tick: Tick, total: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Export the local database (``RETRACE_*`` settings) to a bundle at ``target``.

    Args:
        total: told the log's size before the entries are written (for a progress bar).

    Raises:
        AuditUnavailableError: no log key, no database, or ``target`` is not empty.
        typer.Exit: there is no ledger at all (the message is printed).
    """
    from api.bootstrap import utc_now
    from api.cli.console import require_ledger
    from api.settings import get_settings
    from hashing import load_private_key
    from ledger import reads
    from ledger.errors import LedgerError
    from ledger.store.sql import SqlStore
    from ledger.transparency import Transparency

    start_bundle(target)
    settings = get_settings()
    require_ledger(settings.database())
    try:
        key = load_private_key(settings.log_key_file)
    except (OSError, HashingError) as exc:
        raise AuditUnavailableError(
            f"cannot read the log key {settings.log_key_file}: {exc}"
        ) from None
    store = SqlStore(settings.database(), pool_size=1)
    try:
        tlog = Transparency(store, key, settings.log_name, utc_now)
        if publish:
            tlog.publish()
        if total is not None:
            total(reads.log_size(store))
        return export_store(store, target, vkey=tlog.vkey, tick=tick)
    except AuditUnavailableError:
        raise
    except LedgerError as exc:
        raise AuditUnavailableError(exc.detail) from None
    finally:
        store.dispose()


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message)
    return typer.Exit(code)


@contextmanager
def _whole(bundle: Path) -> Iterator[Path]:
    """A new empty folder beside ``bundle`` to write into, renamed to ``bundle`` when
    the block ends well and removed when it fails: a failed export leaves nothing, so
    the retry finds the target as it was.

    Raises:
        AuditUnavailableError: ``bundle`` is not a new or empty directory.
    """
    start_bundle(bundle)
    parent = bundle.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditUnavailableError(f"cannot create {parent}: {exc}") from None
    partial = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.partial-", dir=parent))
    try:
        yield partial
        # rename(2) replaces an empty directory in one step.
        partial.replace(bundle)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _server_size(client: LogClient) -> int | None:
    """The size of the server's latest checkpoint (what an export of it writes)."""
    try:
        return parse_checkpoint(split_note(client.checkpoint())[0]).size
    except HashingError:
        return None


def export(
    bundle: Annotated[
        Path, typer.Argument(metavar="DIR", help="directory to write (new or empty)")
    ],
    url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="export from this server (up to its latest checkpoint) instead of the local "
            "database",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="RETRACE_API_KEY", metavar="KEY", help="a regulator's API key (with --url)"
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            metavar="VKEY",
            help="a witness verifier key to list in the bundle (with --url; repeatable)",
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="sign a checkpoint over the whole local log first")
    ] = True,
) -> None:
    """Write an offline audit bundle of the log.

    Entries, checkpoints, keys and a manifest. The bundle appears whole or not at
    all: a failed export leaves no folder behind.
    """
    if url is None:
        from api.cli.console import require_ledger
        from api.settings import get_settings

        require_ledger(get_settings().database())
    try:
        with _whole(bundle) as partial, LazyBar("exporting entries") as bar:
            size = 0

            def total(entries: int) -> None:
                nonlocal size
                size = entries
                bar(0, size)

            def tick(done: int) -> None:
                bar(done, max(size, done))

            if url is None:
                manifest = export_database(partial, publish=publish, tick=tick, total=total)
            else:
                with http_client(url, key) as http:
                    client = LogClient(httpx_fetch(http))
                    total(_server_size(client) or 0)
                    manifest = export_server(
                        client, partial, url=url, witnesses=witness or [], tick=tick
                    )
    except (AuditUnavailableError, AuditFailure) as exc:
        raise _fail(f"error: {exc}", 2) from None
    typer.echo(
        f"exported {manifest['entries']} entries and {manifest['checkpoints']} "
        f"checkpoints of {manifest['origin']} to {bundle}"
    )


def audit(
    bundle: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR", help="a bundle written by `retrace export`", show_default=False
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="audit this live server instead of a bundle"),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="what earlier audits trusted (default ~/.config/retrace/audit-state.json)",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="RETRACE_API_KEY",
            metavar="KEY",
            help="an API key: with --url, a regulator's to verify the new entries too; "
            "with --item, any",
        ),
    ] = None,
    item: Annotated[
        str | None, typer.Option(metavar="ID", help="audit one item's history (with --url)")
    ] = None,
    log_key: Annotated[
        str | None,
        typer.Option(
            metavar="VKEY",
            help="the log's verifier key, learnt out of band; the log must sign with it",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            metavar="VKEY",
            help="a witness verifier key whose cosignatures must verify (repeatable)",
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            min=0,
            metavar="N",
            help="processes checking a bundle's entries (0: one per CPU); one is fastest "
            "on a machine of few cores, where the others' hand-offs cost more than they check",
        ),
    ] = 1,
) -> None:
    """Verify a bundle, or a live log since the last audit.

    Exits 1 on a finding, naming the entry's seq or the checkpoint's size and why.
    """
    if (bundle is None) == (url is None):
        raise typer.BadParameter("give a bundle directory or --url, not both")
    if item is not None and (url is None or not key):
        raise typer.BadParameter("--item needs --url and an API key (--key)")
    try:
        if bundle is not None:
            with progress_bar() as bar:
                task = bar.add_task("auditing entries", total=bundle_size(bundle))
                _, verdict = audit_bundle(
                    bundle,
                    pinned_key=log_key,
                    witnesses=witness,
                    jobs=jobs or os.cpu_count() or 1,
                    tick=lambda done: bar.update(task, completed=done),
                )
        else:
            assert url is not None  # noqa: S101 - checked above
            verdict = _audit_live(url, key, state, item, log_key, witness)
    except AuditFailure as exc:
        raise _fail(f"FAILED at {exc.subject}: {exc.reason}", 1) from None
    except AuditUnavailableError as exc:
        raise _fail(f"error: {exc}", 2) from None
    typer.echo(verdict)


def _audit_live(
    url: str,
    key: str | None,
    state: Path | None,
    item: str | None,
    log_key: str | None,
    witness: list[str] | None,
) -> str:
    with http_client(url, key) as http:
        fetch, state_path = httpx_fetch(http), state or default_state_path()
        if item is not None:
            return audit_item(fetch, url, state_path, item, pinned_key=log_key, witnesses=witness)
        with LazyBar("verifying entries") as bar:
            return audit_server(
                fetch,
                url,
                state_path,
                check_entries=bool(key),
                pinned_key=log_key,
                witnesses=witness,
                progress=bar,
            )
