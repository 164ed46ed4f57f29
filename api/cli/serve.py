"""``retrace serve``: bind the address, prepare the ledger, then serve with uvicorn.

Owns the order of a start: the listening socket is bound first (a busy port is one
error line and exit 1, before anything is printed or built), then logging is set up
(``api.logs``, uvicorn's loggers included), then the database and log key are
prepared (and the demo world built, with ``--demo``), then the banner names
the address served and the URL labels will carry, then the report refresher starts
(``api.refresher``) and uvicorn serves on that socket.
When ``RETRACE_PUBLIC_BASE_URL`` is unset, labels carry the address actually served.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from typing import Annotated

import typer

from api import logs, refresher
from api.bootstrap import prepare
from api.cli.console import LazyBar, console, fail, open_ledger, out
from api.settings import get_settings, served_base_url

__all__ = ["bind", "public_host", "serve"]

_WILDCARDS = {"", "0.0.0.0", "::"}  # noqa: S104 - names of "every address", not binds


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening), as uvicorn binds one.

    Raises:
        OSError: the address is taken, not ours, or not an address.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def public_host(host: str) -> str:
    """The host name labels can carry for a server bound to ``host``.

    A wildcard bind (every address) is reached through the machine's outward
    address, the one its default route leaves from; without a route, loopback.
    """
    if host not in _WILDCARDS:
        return host
    family = socket.AF_INET6 if host == "::" else socket.AF_INET
    probe = ("2001:db8::1", 9) if family == socket.AF_INET6 else ("192.0.2.1", 9)
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as udp:
        # connect() on UDP sends nothing; it only picks the route and source address.
        udp.connect(probe)
        return str(udp.getsockname()[0])
    return "::1" if family == socket.AF_INET6 else "127.0.0.1"


def serve(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="address to listen on")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(metavar="PORT", help="TCP port (0: any free one)")] = 8000,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="worker processes")] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="fill an empty ledger with a demo world")
    ] = False,
) -> None:
    """Serve the API and the pages.

    Prepares a fresh database and log key first. Labels carry RETRACE_PUBLIC_BASE_URL,
    or else the address served.
    """
    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise fail(f"cannot listen on {host}:{port}: {reason}", 1) from None
    with sock:
        settings = get_settings()
        logs.configure_from(settings)
        prepared = prepare(settings)
        if prepared.created_key:
            console.print(f"log signing key written to {settings.log_key_file}")
        if demo:
            _add_demo_world()
        bound = served_base_url(host, sock.getsockname()[1])
        public = settings.public_base_url
        if not settings.public_base_url_is_set:
            public = served_base_url(public_host(host), sock.getsockname()[1])
            # The workers read their settings from this environment.
            os.environ["RETRACE_PUBLIC_BASE_URL"] = public
            get_settings.cache_clear()
        console.print(f"Retrace on {bound}/  (API docs at /docs)")
        source = "RETRACE_PUBLIC_BASE_URL" if settings.public_base_url_is_set else "served address"
        console.print(f"labels carry {public}/p/<item id>  ({source})")
        _run(sock, workers, settings.log_level)


def _run(sock: socket.socket, workers: int, log_level: str) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.timeouts import TimedHttp

    config = uvicorn.Config(
        "api.app:app_from_env",
        factory=True,
        workers=workers,
        # httptools, with a deadline for each request's headers (``api.timeouts``).
        http=TimedHttp,
        # Logging is ``api.logs``'s (configured above, and by each worker's factory):
        # uvicorn's loggers write through it, never through handlers of their own.
        log_config=None,
        log_level=log_level,
        access_log=workers == 1,
    )
    # Workers count metrics into files here and /metrics sums them (prometheus_client's
    # multiprocess mode); a fresh directory each run starts every counter at zero.
    with tempfile.TemporaryDirectory(prefix="retrace-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        # One report refresher beside the workers, whatever their number (``api.refresher``).
        folding = refresher.start()
        try:
            if workers > 1:
                Multiprocess(config, sockets=[sock]).run()
                return
            server = uvicorn.Server(config)
            with contextlib.suppress(KeyboardInterrupt):
                server.run(sockets=[sock])
        finally:
            refresher.stop(folding)
        if not server.started:
            sys.exit(3)  # uvicorn's own code for a failed start


def _add_demo_world() -> None:
    from api.cli.demo import build_demo, is_fresh

    ledger = open_ledger()
    # A bootstrap admin (RETRACE_BOOTSTRAP_ADMIN_KEY) may exist already; the demo reuses it.
    if not is_fresh(ledger):
        console.print(
            "the ledger is not empty; the demo world is only added to a new one "
            "(`retrace keys issue ORG` prints a new key for a demo org)"
        )
        return
    with LazyBar("building the demo world") as bar:
        world = build_demo(ledger, progress=bar)
    console.print(f"demo world: {world.items} items, {world.entries} entries")
    width = max((len(name) for name in world.keys), default=0)
    for name, key in world.keys.items():
        out.print(f"  {name:<{width}}  {key}", highlight=False, soft_wrap=True)
