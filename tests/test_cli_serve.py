"""``retrace serve`` as an operator starts it: the labels it prints, a busy port.

With ``RETRACE_PUBLIC_BASE_URL`` unset, a label printed by a server on a port of its
own encodes that port (decoded by zbar, as a scanner would read it), and the banner
names the URL labels carry. A port that is taken is one error line, before any
banner and before anything is built.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path

import httpx
import pytest

from api.cli.serve import public_host
from api.settings import served_base_url
from tests.api.test_labels_api import decode_png
from tests.factories import ADMIN_KEY, registration
from tests.processes.server import Servers, retrace_env, run_cli

pytestmark = pytest.mark.slow


def sqlite_env(folder: Path, **extra: str) -> dict[str, str]:
    return retrace_env(
        f"sqlite:///{folder / 'data' / 'retrace.db'}", folder / "log.key", ADMIN_KEY, **extra
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def printed_label(url: str) -> tuple[str, str]:
    """Register an item on the server at ``url``; (its id, the URL its PNG label encodes)."""
    with httpx.Client(base_url=url, timeout=30.0) as http:
        oem = http.post(
            "/v1/orgs",
            json={"name": "Label maker", "role": "oem", "region": "CN"},
            headers=bearer(ADMIN_KEY),
        ).json()
        answer = http.post("/v1/items", json=registration(), headers=bearer(oem["api_key"]))
        assert answer.status_code == 201, answer.text
        item = answer.json()["item"]["id"]
        png = http.get(f"/v1/items/{item}/label.png", headers=bearer(oem["api_key"]))
        assert png.status_code == 200, png.text
    [decoded] = decode_png(png.content)
    return item, decoded


@pytest.mark.parametrize("workers", [1, 2])
def test_labels_carry_the_address_served(tmp_path: Path, workers: int) -> None:
    with Servers(tmp_path) as servers:
        server = servers.start(sqlite_env(tmp_path), workers=workers)
        assert server.port != 8000
        item, decoded = printed_label(server.url)
        assert decoded == f"{server.url}/p/{item}"
        log = server.log()
    assert f"labels carry {server.url}/p/<item id>" in log
    # The banner comes once the port is bound, before uvicorn's own lines.
    assert log.index(f"Retrace on {server.url}/") < log.index("Application startup complete")


def test_a_public_base_url_that_is_set_wins(tmp_path: Path) -> None:
    public = "https://retrace.example.org"
    with Servers(tmp_path) as servers:
        server = servers.start(sqlite_env(tmp_path, RETRACE_PUBLIC_BASE_URL=public))
        item, decoded = printed_label(server.url)
        log = server.log()
    assert decoded == f"{public}/p/{item}"
    assert f"labels carry {public}/p/<item id>  (RETRACE_PUBLIC_BASE_URL)" in log


def test_a_busy_port_is_one_error_line_and_no_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(["serve", "--port", str(port), "--demo"], sqlite_env(tmp_path), tmp_path)
    assert done.returncode == 1, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert re.fullmatch(rf"error: cannot listen on 127\.0\.0\.1:{port}: .*in use", lines[0])
    # Nothing was prepared or built for a server that could not start.
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "log.key").exists()


def test_a_wildcard_bind_gives_labels_an_address_others_can_reach() -> None:
    assert public_host("127.0.0.1") == "127.0.0.1"
    assert public_host("retrace.local") == "retrace.local"
    outward = ipaddress.ip_address(public_host("0.0.0.0"))  # noqa: S104 - the wildcard itself
    assert not outward.is_unspecified
    assert served_base_url("10.0.0.5", 8100) == "http://10.0.0.5:8100"
    assert served_base_url("::1", 8100) == "http://[::1]:8100"
