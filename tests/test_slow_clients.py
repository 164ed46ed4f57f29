"""Slow clients against a real server: stalled headers and trickling bodies are cut off.

A client that opens a connection and sends half its headers, or a body slower than
the deadline, holds its socket no longer than ``RETRACE_HEADER_TIMEOUT`` or
``RETRACE_BODY_TIMEOUT`` (one second here), and everyone else is served meanwhile.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.factories import ADMIN_KEY
from tests.processes.server import Servers, retrace_env

DEADLINE = 1.0


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    started = time.monotonic()
    sock.settimeout(limit)
    got = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return got, time.monotonic() - started
        got += chunk


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_stalled_headers_and_trickling_bodies_are_cut_off(
    database_url: str, tmp_path: Path
) -> None:
    env = retrace_env(
        database_url,
        tmp_path / "log.key",
        ADMIN_KEY,
        RETRACE_HEADER_TIMEOUT=str(DEADLINE),
        RETRACE_BODY_TIMEOUT=str(DEADLINE),
    )
    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=2)  # the protocol travels to each worker
        host, port = "127.0.0.1", server.port

        # Half a request line and headers, then nothing.
        stalled = socket.create_connection((host, port))
        stalled.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        # A connection that sends nothing at all.
        silent = socket.create_connection((host, port))
        # A body announced at 1,000 bytes, of which 10 come.
        trickle = socket.create_connection((host, port))
        trickle.sendall(
            b"POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
            b'Content-Length: 1000\r\n\r\n{"kind": "'
        )
        # Everyone else is served meanwhile.
        with httpx.Client(base_url=server.url, timeout=5.0) as api:
            for _ in range(5):
                assert api.get("/healthz").status_code == 200

        got, after = read_until_closed(stalled, 5 * DEADLINE)
        assert got == b""
        assert after < 3 * DEADLINE
        got, after = read_until_closed(silent, 5 * DEADLINE)
        assert got == b""
        assert after < 3 * DEADLINE
        got, after = read_until_closed(trickle, 5 * DEADLINE)
        assert got.startswith(b"HTTP/1.1 408"), got[:200]
        assert b"application/problem+json" in got
        assert b"body-timeout" in got
        assert after < 3 * DEADLINE
        for sock in (stalled, silent, trickle):
            sock.close()
        # And the server serves on.
        with httpx.Client(base_url=server.url, timeout=5.0) as api:
            assert api.get("/healthz").status_code == 200
