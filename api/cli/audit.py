"""``retrace export`` and ``retrace audit``: offline bundles, and audits of a live log.

Owns the two commands and what only a command knows: the local database's settings
(``export_database``), the HTTP client (``httpx_fetch``) and where the audit state lives
by default. Everything else is the ``ledger.verify`` library's: the bundle format and its
audit, the live audit and its state, every check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from api.cli.console import LazyBar, progress_bar
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


def export_database(target: Path, *, publish: bool, tick: Tick) -> dict[str, Any]:
    """Export the local database (``RETRACE_*`` settings) to a bundle at ``target``.

    Raises:
        AuditUnavailableError: no log key, no database, or ``target`` is not empty.
    """
    from api.bootstrap import utc_now
    from api.settings import get_settings
    from hashing import HashingError, load_private_key
    from ledger.errors import LedgerError
    from ledger.store.sql import SqlStore
    from ledger.transparency import Transparency

    start_bundle(target)
    settings = get_settings()
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


def export(
    bundle: Annotated[Path, typer.Argument(help="directory to write (new or empty)")],
    url: Annotated[
        str | None,
        typer.Option(
            help="export from this server (up to its latest checkpoint) instead of the local "
            "database"
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(envvar="RETRACE_API_KEY", help="a regulator's API key (with --url)"),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="a witness verifier key to list in the bundle (with --url; repeatable)"),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="sign a checkpoint over the whole local log first")
    ] = True,
) -> None:
    """Write an offline audit bundle: entries, checkpoints, keys, manifest."""
    try:
        with progress_bar() as bar:
            task = bar.add_task("exporting entries", total=None)

            def tick(done: int) -> None:
                bar.update(task, completed=done)

            if url is None:
                manifest = export_database(bundle, publish=publish, tick=tick)
            else:
                with http_client(url, key) as http:
                    client = LogClient(httpx_fetch(http))
                    manifest = export_server(
                        client, bundle, url=url, witnesses=witness or [], tick=tick
                    )
    except (AuditUnavailableError, AuditFailure) as exc:
        raise _fail(f"error: {exc}", 2) from None
    typer.echo(
        f"exported {manifest['entries']} entries and {manifest['checkpoints']} "
        f"checkpoints of {manifest['origin']} to {bundle}"
    )


def audit(
    bundle: Annotated[
        Path | None, typer.Argument(help="a bundle written by `retrace export`", show_default=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="audit this live server instead of a bundle")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            help="what earlier audits trusted (default ~/.config/retrace/audit-state.json)",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="RETRACE_API_KEY",
            help="an API key: with --url, a regulator's to verify the new entries too; "
            "with --item, any",
        ),
    ] = None,
    item: Annotated[str | None, typer.Option(help="audit one item's history (with --url)")] = None,
    log_key: Annotated[
        str | None,
        typer.Option(help="the log's verifier key, learnt out of band; the log must sign with it"),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="a witness verifier key whose cosignatures must verify (repeatable)"),
    ] = None,
    jobs: Annotated[
        int, typer.Option(min=0, help="processes checking a bundle's entries (0: one per CPU)")
    ] = 0,
) -> None:
    """Verify a bundle offline, or a live log against the last audit; exit 1 on a finding."""
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
