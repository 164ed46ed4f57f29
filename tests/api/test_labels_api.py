"""QR labels through the API and the CLI, on both databases.

Every label served is decoded by zbar (pyzbar on the PNG; SVG rasterised by
``rsvg-convert``; PDF pages by ``pdftoppm``) and must give back exactly the
item's passport URL, ``http://retrace.test/p/<id>``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from api.settings import Settings
from tests.conftest import World
from tests.factories import register, registration
from tests.labels.conftest import unavailable
from tests.processes.server import retrace_env, run_cli

BASE = "http://retrace.test"
PROBLEM = "application/problem+json"
KINDS = ["battery_pack", "battery_module", "battery_cell", "pv_module", "wind_blade"]


def decode(image: Image.Image) -> list[str]:
    try:
        from pyzbar.pyzbar import ZBarSymbol
        from pyzbar.pyzbar import decode as zbar_decode
    except ImportError:
        unavailable("pyzbar with libzbar0 is needed to decode QR symbols")
    return [s.data.decode() for s in zbar_decode(image, symbols=[ZBarSymbol.QRCODE])]


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (Debian package {package})")
    return path


def decode_png(body: bytes) -> list[str]:
    with Image.open(io.BytesIO(body)) as image:
        return decode(image.convert("L"))


def decode_svg(body: bytes, tmp_path: Path) -> list[str]:
    svg = tmp_path / "label.svg"
    svg.write_bytes(body)
    png = tmp_path / "label.png"
    subprocess.run(
        [
            tool("rsvg-convert", "librsvg2-bin"),
            "--dpi-x",
            "300",
            "--dpi-y",
            "300",
            "--background-color",
            "white",
            "--output",
            str(png),
            str(svg),
        ],
        check=True,
        timeout=60,
    )
    return decode_png(png.read_bytes())


def decode_pdf(body: bytes, tmp_path: Path, dpi: int = 200) -> list[list[str]]:
    """The URLs on each page of a PDF, page by page."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    pdf = folder / "sheet.pdf"
    pdf.write_bytes(body)
    subprocess.run(
        [
            tool("pdftoppm", "poppler-utils"),
            "-r",
            str(dpi),
            "-gray",
            "-png",
            str(pdf),
            str(folder / "page"),
        ],
        check=True,
        timeout=300,
    )
    pages = sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert pages
    out = []
    for page in pages:
        with Image.open(page) as image:
            out.append(decode(image.convert("L")))
    return out


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def items_of_every_kind(world: World) -> list[dict[str, Any]]:
    return [register(world.client, world.oem, registration(kind)) for kind in KINDS]


def test_png_label_of_every_kind_decodes_to_the_passport_url(world: World) -> None:
    for item in items_of_every_kind(world):
        response = world.client.get(
            f"/v1/items/{item['id']}/label.png", headers=world.recycler.headers
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert "max-age=" in response.headers["cache-control"]
        assert decode_png(response.content) == [f"{BASE}/p/{item['id']}"]


def test_svg_label_decodes_and_names_the_manufacturer(world: World, tmp_path: Path) -> None:
    for item in items_of_every_kind(world):
        response = world.client.get(
            f"/v1/items/{item['id']}/label.svg", headers=world.regulator.headers
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert "max-age=" in response.headers["cache-control"]
        svg = response.text
        assert ">oem org</text>" in svg  # the org's name, not its id
        assert item["code"] in svg
        assert decode_svg(response.content, tmp_path) == [f"{BASE}/p/{item['id']}"]


def test_png_options_set_size_and_resolution(world: World) -> None:
    item = register(world.client, world.oem)
    response = world.client.get(
        f"/v1/items/{item['id']}/label.png",
        params={"dpi": 600, "size_mm": 30},
        headers=world.oem.headers,
    )
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.size == (709, 709)  # 30 mm at 600 dpi
        assert round(image.info["dpi"][0]) == 600
        assert decode(image.convert("L")) == [f"{BASE}/p/{item['id']}"]
    wide = world.client.get(
        f"/v1/items/{item['id']}/label.png",
        params={"size_mm": 70, "height_mm": 35},
        headers=world.oem.headers,
    )
    assert wide.status_code == 200, wide.text
    with Image.open(io.BytesIO(wide.content)) as image:
        assert image.size == (827, 413)
        assert decode(image.convert("L")) == [f"{BASE}/p/{item['id']}"]


@pytest.mark.parametrize(
    ("suffix", "params", "pointer"),
    [
        ("png", {"dpi": 10}, "query:/dpi"),
        ("png", {"dpi": 5000}, "query:/dpi"),
        ("png", {"dpi": "high"}, "query:/dpi"),
        ("png", {"size_mm": 5}, "query:/size_mm"),
        ("png", {"size_mm": 1000}, "query:/size_mm"),
        ("png", {"height_mm": 0}, "query:/height_mm"),
        ("png", {"dpi": 72, "size_mm": 30}, "query:/dpi"),  # under 2 pixels per module
        ("png", {"size_mm": 15}, "query:/size_mm"),  # no room for the symbol
        ("svg", {"size_mm": 14}, "query:/size_mm"),
        ("svg", {"height_mm": 201}, "query:/height_mm"),
    ],
)
def test_bad_label_options_are_refused(
    world: World, suffix: str, params: dict[str, Any], pointer: str
) -> None:
    item = register(world.client, world.oem)
    response = world.client.get(
        f"/v1/items/{item['id']}/label.{suffix}", params=params, headers=world.oem.headers
    )
    body = problem(response, 422)
    assert body["pointer"] == pointer


def test_labels_of_unknown_items_are_404(world: World) -> None:
    missing = "itm_01JD8Z3K5V7W9XQRSTABCDEFGH"
    for suffix in ("png", "svg"):
        body = problem(
            world.client.get(f"/v1/items/{missing}/label.{suffix}", headers=world.oem.headers), 404
        )
        assert missing in body["detail"]
    known = register(world.client, world.oem)["id"]
    other = "itm_01JD8Z3K5V7W9XQRSTABCDEFGJ"
    response = world.client.post(
        "/v1/labels/sheet", json={"item_ids": [known, missing, other]}, headers=world.oem.headers
    )
    body = problem(response, 404)
    assert missing in body["detail"]
    assert other not in body["detail"]
    assert body["pointer"] == "/item_ids/1"


def test_labels_need_an_api_key(world: World) -> None:
    item = register(world.client, world.oem)
    problem(world.client.get(f"/v1/items/{item['id']}/label.png"), 401)
    problem(world.client.post("/v1/labels/sheet", json={"item_ids": [item["id"]]}), 401)


def test_a4_sheet_decodes_to_every_url(world: World, tmp_path: Path) -> None:
    items = [
        register(world.client, world.oem, registration(KINDS[n % len(KINDS)])) for n in range(7)
    ]
    ids = [item["id"] for item in items]
    response = world.client.post(
        "/v1/labels/sheet",
        json={"item_ids": ids, "layout": {"a4": {"columns": 2, "rows": 3}}},
        headers=world.operator.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    pages = decode_pdf(response.content, tmp_path)
    assert len(pages) == 2  # 6 labels a page
    assert sorted(url for page in pages for url in page) == sorted(f"{BASE}/p/{i}" for i in ids)


def test_roll_prints_one_label_per_page_in_order(world: World, tmp_path: Path) -> None:
    ids = [register(world.client, world.oem)["id"] for _ in range(3)]
    response = world.client.post(
        "/v1/labels/sheet",
        json={"item_ids": ids, "layout": {"roll": {"width_mm": 50, "height_mm": 30}}},
        headers=world.oem.headers,
    )
    assert response.status_code == 200, response.text
    assert decode_pdf(response.content, tmp_path, dpi=300) == [[f"{BASE}/p/{i}"] for i in ids]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"item_ids": []}, "/item_ids"),
        ({"item_ids": ["x"] * 5001}, "/item_ids"),
        (
            {
                "layout": {
                    "a4": {"columns": 2, "rows": 2},
                    "roll": {"width_mm": 50, "height_mm": 30},
                }
            },
            "/layout",
        ),
        ({"layout": {}}, "/layout"),
        ({"layout": {"a4": {"columns": 0}}}, "/layout/a4/columns"),
        ({"layout": {"roll": {"width_mm": 10, "height_mm": 30}}}, "/layout/roll/width_mm"),
        ({"layout": {"a4": {"columns": 12, "rows": 20}}}, "/layout"),  # labels under 15 mm
        ({"layout": {"a4": {"columns": 4, "rows": 2, "margin_mm": 50, "gap_mm": 20}}}, "/layout"),
        ({"layout": {"letter": {}}}, "/layout/letter"),
    ],
)
def test_bad_sheet_requests_are_refused(world: World, body: dict[str, Any], pointer: str) -> None:
    item = register(world.client, world.oem)
    request = {"item_ids": [item["id"]], **body}
    got = problem(
        world.client.post("/v1/labels/sheet", json=request, headers=world.oem.headers), 422
    )
    assert got["pointer"] == pointer, got


def test_openapi_documents_binary_and_problem_answers(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    for path, method, media in [
        ("/v1/items/{item_id}/label.png", "get", "image/png"),
        ("/v1/items/{item_id}/label.svg", "get", "image/svg+xml"),
        ("/v1/labels/sheet", "post", "application/pdf"),
    ]:
        responses = spec["paths"][path][method]["responses"]
        assert responses["200"]["content"][media]["schema"]["format"] == "binary"
        for status in ("401", "404", "422"):
            assert PROBLEM in responses[status]["content"], (path, status)


def test_cli_prints_a_sheet_and_pngs_from_the_database(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    ids = [register(world.client, world.oem)["id"] for _ in range(3)]
    register(world.client, world.oem2)  # registered by another org: not printed
    env = retrace_env(settings.database(), settings.log_key_file, RETRACE_PUBLIC_BASE_URL=BASE)
    pdf, png_dir = tmp_path / "labels.pdf", tmp_path / "png"
    done = run_cli(
        [
            "labels",
            str(pdf),
            "--all-registered-by",
            "oem org",
            "--layout",
            "roll",
            "--width-mm",
            "50",
            "--height-mm",
            "30",
            "--png-dir",
            str(png_dir),
        ],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "3 labels" in done.stdout
    pages = decode_pdf(pdf.read_bytes(), tmp_path, dpi=300)
    assert pages == [[f"{BASE}/p/{i}"] for i in ids]
    assert sorted(p.name for p in png_dir.iterdir()) == sorted(f"{i}.png" for i in ids)
    for item_id in ids:
        assert decode_png((png_dir / f"{item_id}.png").read_bytes()) == [f"{BASE}/p/{item_id}"]

    one = tmp_path / "one.pdf"
    done = run_cli(
        ["labels", str(one), "--item", ids[1], "--columns", "2", "--rows", "4"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert decode_pdf(one.read_bytes(), tmp_path) == [[f"{BASE}/p/{ids[1]}"]]


@pytest.mark.usefixtures("world")
def test_cli_refuses_unknown_items_and_orgs(settings: Settings, tmp_path: Path) -> None:
    env = retrace_env(settings.database(), settings.log_key_file)
    missing = "itm_01JD8Z3K5V7W9XQRSTABCDEFGH"
    done = run_cli(["labels", str(tmp_path / "x.pdf"), "--item", missing], env, tmp_path)
    assert done.returncode == 2
    assert missing in done.stdout + done.stderr
    done = run_cli(
        ["labels", str(tmp_path / "x.pdf"), "--all-registered-by", "nobody"], env, tmp_path
    )
    assert done.returncode == 2
    assert "nobody" in done.stdout + done.stderr
    assert not (tmp_path / "x.pdf").exists()
