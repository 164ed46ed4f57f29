"""Browser tests: Debian's Chromium, driven by Playwright, against a real ``retrace serve``.

One server (SQLite) and one headless Chromium serve every test here. The
browser's fake camera plays a video made from a printed label of an item that
is ready to collect, so the scan station decodes a real QR label through
``getUserMedia``. Without Chromium or Playwright the tests skip locally and
fail in CI. Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from labels import LabelInfo, render_png
from tests.conftest import unavailable
from tests.factories import ADMIN_KEY, battery_code
from tests.processes.server import RetraceServer, Servers, retrace_env

CHROMIUM = Path(os.environ.get("RETRACE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
VIDEO_SIZE = (640, 480)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    key: str


@dataclass
class Stage:
    """The running server, its cast of orgs, and the browser."""

    server: RetraceServer
    api: httpx.Client
    oem: Org
    recycler: Org
    regulator: Org
    browser: Any = None
    camera_item: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def register(self, kind: str = "battery_pack") -> dict[str, Any]:
        body = {
            "kind": kind,
            "code": battery_code(kind),
            "attributes": {"mass_kg": "412.5", "chemistry": "LFP"},
        }
        response = self.api.post("/v1/items", json=body, headers=bearer(self.oem.key))
        assert response.status_code == 201, response.text
        item: dict[str, Any] = response.json()["item"]
        return item

    def record(self, org: Org, item_id: str, event_type: str, data: dict[str, Any]) -> None:
        response = self.api.post(
            f"/v1/items/{item_id}/events",
            json={"type": event_type, "data": data},
            headers=bearer(org.key),
        )
        assert response.status_code == 201, response.text

    def ready_to_collect(self) -> dict[str, Any]:
        """A retired pack the OEM has handed to the recycler."""
        item = self.register()
        self.record(self.oem, item["id"], "retired", {"reason": "capacity below 80%"})
        self.record(self.oem, item["id"], "transferred", {"to_org": self.recycler.id})
        return item

    def item(self, item_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/items/{item_id}", headers=bearer(self.regulator.key))
        assert response.status_code == 200, response.text
        out: dict[str, Any] = response.json()
        return out

    def history(self, item_id: str) -> list[dict[str, Any]]:
        response = self.api.get(f"/v1/items/{item_id}/history", headers=bearer(self.regulator.key))
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries


def write_y4m(image: Image.Image, path: Path, frames: int = 10) -> None:
    """A YUV4MPEG2 (4:2:0) video of ``image`` on white, for Chromium's fake camera."""
    width, height = VIDEO_SIZE
    canvas = Image.new("RGB", VIDEO_SIZE, "white")
    label = image.convert("RGB")
    label.thumbnail((width - 120, height - 80))
    canvas.paste(label, ((width - label.width) // 2, (height - label.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = (
        y.tobytes()
        + cb.resize(half, Image.Resampling.BILINEAR).tobytes()
        + cr.resize(half, Image.Resampling.BILINEAR).tobytes()
    )
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + planes) * frames)


def _create_org(api: httpx.Client, name: str, role: str) -> Org:
    response = api.post(
        "/v1/orgs", json={"name": name, "role": role, "region": "CN-GD"}, headers=bearer(ADMIN_KEY)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Org(body["org"]["id"], name, body["api_key"])


@pytest.fixture(scope="session")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workdir = tmp_path_factory.mktemp("e2e")
    env = retrace_env(
        f"sqlite:///{workdir / 'retrace.db'}",
        workdir / "log.key",
        ADMIN_KEY,
        RETRACE_CHECKPOINT_INTERVAL="0.5",
    )
    with Servers(workdir) as servers, httpx.Client(timeout=30.0) as api:
        server = servers.start(env)
        api.base_url = httpx.URL(server.url)
        oem = _create_org(api, "Pearl River Cells", "oem")
        recycler = _create_org(api, "Foshan Green Recycling", "recycler")
        regulator = _create_org(api, "Battery Authority", "regulator")
        stage = Stage(server, api, oem, recycler, regulator)
        # The fake camera's video is fixed at launch: the label's item comes first.
        camera_item = stage.camera_item = stage.ready_to_collect()
        label = render_png(
            LabelInfo(camera_item["id"], camera_item["code"], "battery_pack", oem.name), server.url
        )
        (ARTIFACTS / "camera-label.png").write_bytes(label)
        video = workdir / "label.y4m"
        write_y4m(Image.open(io.BytesIO(label)), video)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*LAUNCH_ARGS, f"--use-file-for-fake-video-capture={video}"],
            )
            stage.browser = browser
            try:
                yield stage
            finally:
                browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors and uncaught exceptions a test's pages report."""
    return []


def open_page(stage: Stage, viewport: dict[str, int], errors: list[str]) -> Any:
    """A fresh browser context (no cookies, no storage) with one page."""
    context = stage.browser.new_context(viewport=viewport, base_url=stage.url)
    context.grant_permissions(["camera"], origin=stage.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    # Refusals (4xx) are logged by the browser as failed loads; the page shows them.
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    return page
