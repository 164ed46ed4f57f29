"""Fixtures for label tests: real QR decoders, rasterisers and sample items.

Every label is checked by decoding it with zbar (pyzbar on the image, or the
``zbarimg`` command on a file). The tools come from Debian packages
(``zbar-tools libzbar0 poppler-utils librsvg2-bin``). Without them the tests
that need them skip with the reason, except in CI (``CI`` set), where a
missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
from PIL import Image

from labels import LabelInfo

IN_CI = bool(os.environ.get("CI"))
BASE_URL = "https://retrace.example.org"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "labels"

KINDS = ["battery_pack", "battery_module", "battery_cell", "pv_module", "wind_blade"]
MAKERS = [
    "CATL",
    "Vestas Wind Systems A/S",
    "LONGi Green Energy Technology Co., Ltd.",
    "Siemens Gamesa Renewable Energy Innovation & Technology S.L. Unipersonal",
]


def unavailable(reason: str) -> NoReturn:
    """Skip locally; fail in CI, where every tool must be installed."""
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def make_info(n: int = 0, /, **overrides: Any) -> LabelInfo:
    """A label for the n-th sample item; kinds and makers cycle."""
    fields: dict[str, Any] = {
        "item_id": f"itm_01JD8Z3K5V7W9XQRSTAB{n:06d}",
        "code": f"03HPE1H0000010ZB1V{n:06d}",
        "kind": KINDS[n % len(KINDS)],
        "manufacturer": MAKERS[n % len(MAKERS)],
    }
    fields.update(overrides)
    return LabelInfo(**fields)


def url_of(info: LabelInfo) -> str:
    return f"{BASE_URL}/p/{info.item_id}"


def _decoder() -> Callable[[Image.Image], list[str]] | None:
    try:
        from pyzbar.pyzbar import ZBarSymbol, decode
    except ImportError:  # pyzbar missing, or libzbar0 not installed
        return None

    def decode_image(image: Image.Image) -> list[str]:
        return [s.data.decode("utf-8") for s in decode(image, symbols=[ZBarSymbol.QRCODE])]

    return decode_image


@pytest.fixture(scope="session")
def decode() -> Callable[[Image.Image], list[str]]:
    """Decode every QR symbol in a Pillow image with zbar; texts in scan order."""
    decoder = _decoder()
    if decoder is None:
        unavailable("pyzbar with libzbar0 is needed to decode QR symbols")
    return decoder


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (Debian package {package})")
    return path


@pytest.fixture(scope="session")
def zbarimg() -> Callable[[Path], list[str]]:
    """Decode the QR symbols in an image file with the ``zbarimg`` command."""
    exe = _tool("zbarimg", "zbar-tools")

    def run(path: Path) -> list[str]:
        done = subprocess.run(
            [exe, "--raw", "--quiet", "-Sdisable", "-Sqrcode.enable", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        # Exit status 4 means "no symbol found"; anything else is an error.
        assert done.returncode in (0, 4), done.stderr
        return done.stdout.splitlines()

    return run


@pytest.fixture(scope="session")
def pdftoppm() -> Callable[..., list[Path]]:
    """Rasterise the pages (all, or a first..last range) of a PDF to greyscale PNGs."""
    exe = _tool("pdftoppm", "poppler-utils")

    def run(pdf: Path, dpi: int = 300, pages: tuple[int, int] | None = None) -> list[Path]:
        prefix = pdf.with_suffix("")
        only = ["-f", str(pages[0]), "-l", str(pages[1])] if pages else []
        subprocess.run(
            [exe, "-r", str(dpi), "-gray", "-png", *only, str(pdf), str(prefix)],
            check=True,
            timeout=300,
        )
        pngs = sorted(
            pdf.parent.glob(f"{prefix.name}-*.png"),
            key=lambda p: int(p.stem.rsplit("-", 1)[1]),
        )
        assert pngs, f"pdftoppm wrote no pages for {pdf}"
        return pngs

    return run


@pytest.fixture(scope="session")
def rsvg_convert() -> Callable[..., Path]:
    """Rasterise an SVG file to PNG with librsvg."""
    exe = _tool("rsvg-convert", "librsvg2-bin")

    def run(svg: Path, dpi: int = 300) -> Path:
        out = svg.with_suffix(".png")
        subprocess.run(
            [exe, "--dpi-x", str(dpi), "--dpi-y", str(dpi), "--background-color", "white",
             "--output", str(out), str(svg)],
            check=True,
            timeout=60,
        )  # fmt: skip
        return out

    return run


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder (git-ignored) where tests leave example labels for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
