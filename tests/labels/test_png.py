"""PNG labels decode to exactly their URL, also after wear and tear."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

from labels import QUIET_ZONE, encode_qr, label_url, render_label_image, render_png
from tests.labels.conftest import BASE_URL, make_info, url_of

Decode = Callable[[Image.Image], list[str]]
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("L")


def symbol_box(image: Image.Image, info_url: str) -> tuple[int, int, int, int]:
    """Pixel box of the symbol (without quiet zone): the extent of its dark modules."""
    size = encode_qr(info_url).size
    grey = image.point(lambda v: 255 if v < 128 else 0)
    # The symbol is the largest dark area; the text is below or beside it.
    left, top, right, bottom = grey.getbbox() or (0, 0, 0, 0)
    module = None
    # Finder pattern: the first dark run in the top-left corner is 7 modules wide.
    for y in range(top, bottom):
        row = [grey.getpixel((x, y)) for x in range(left, right)]
        if any(row):
            start = row.index(255)
            end = start
            while end < len(row) and row[end]:
                end += 1
            module = (end - start) / 7
            top = y
            left += start
            break
    assert module is not None
    side = round(size * module)
    return left, top, left + side, top + side


def test_png_decodes_to_exactly_the_url(decode: Decode, artifacts: Path) -> None:
    info = make_info(0)
    data = render_png(info, BASE_URL)
    (artifacts / "battery-pack-50mm.png").write_bytes(data)
    image = open_png(data)
    assert decode(image) == [url_of(info)]


@pytest.mark.parametrize("n", range(5))
def test_every_kind_decodes(n: int, decode: Decode, artifacts: Path) -> None:
    info = make_info(n)
    data = render_png(info, BASE_URL, size_mm=40.0)
    (artifacts / f"{info.kind}-40mm.png").write_bytes(data)
    assert decode(open_png(data)) == [url_of(info)]


def test_png_is_print_sized_with_dpi_metadata() -> None:
    data = render_png(make_info(), BASE_URL, dpi=300, size_mm=50.0)
    image = Image.open(io.BytesIO(data))
    assert image.size == (591, 591)  # 50 mm at 300 dpi
    assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)
    wide = Image.open(
        io.BytesIO(render_png(make_info(), BASE_URL, dpi=600, size_mm=60, height_mm=30))
    )
    assert wide.size == (1417, 709)
    assert tuple(round(v) for v in wide.info["dpi"]) == (600, 600)


def test_png_is_greyscale_with_black_modules_on_white() -> None:
    image = open_png(render_png(make_info(), BASE_URL))
    assert image.getextrema() == (0, 255)
    assert image.getpixel((0, 0)) == 255


def test_quiet_zone_of_four_modules_is_blank() -> None:
    info = make_info(3)
    image = open_png(render_png(info, BASE_URL))
    left, top, right, bottom = symbol_box(image, url_of(info))
    module = (right - left) / encode_qr(url_of(info)).size
    margin = round(QUIET_ZONE * module)
    zone = image.crop((left - margin, top - margin, right + margin, bottom + margin))
    inner = Image.new("L", (right - left, bottom - top), 255)
    zone.paste(inner, (margin, margin))
    assert zone.getextrema() == (255, 255)


def test_text_is_printed_under_the_symbol() -> None:
    info = make_info(0)
    image = open_png(render_png(info, BASE_URL))
    _, _, _, bottom = symbol_box(image, url_of(info))
    below = image.crop((0, bottom + 40, image.width, image.height))
    darkest, _ = below.getextrema()  # one band ("L"): (min, max)
    assert isinstance(darkest, int | float)
    assert darkest < 64  # dark ink of the text lines


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    item_id=st.text(alphabet=ID_CHARS, min_size=1, max_size=64),
    base=st.sampled_from(
        [BASE_URL, BASE_URL + "/", "http://localhost:8000", "https://example.org/retrace/"]
    ),
)
def test_random_item_ids_decode_to_the_url(item_id: str, base: str, decode: Decode) -> None:
    info = make_info(0, item_id=item_id)
    assert decode(open_png(render_png(info, base))) == [label_url(base, item_id)]


# -- wear and tear -------------------------------------------------------------


@pytest.fixture(scope="module")
def worn() -> tuple[Image.Image, str]:
    info = make_info(2, item_id="itm_01JD8Z3K5V7W9XQRSTABCDEFGH")
    return open_png(render_png(info, BASE_URL)), url_of(info)


def test_decodes_after_gaussian_blur(worn: tuple[Image.Image, str], decode: Decode) -> None:
    image, url = worn
    # Modules are 9 pixels wide at 300 dpi: a blur of a third of a module.
    blurred = image.filter(ImageFilter.GaussianBlur(radius=3))
    assert decode(blurred) == [url]


@pytest.mark.parametrize("angle", [15, -15, 90, 180])
def test_decodes_when_rotated(
    angle: int, worn: tuple[Image.Image, str], decode: Decode, artifacts: Path
) -> None:
    image, url = worn
    turned = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    if angle == 15:
        turned.save(artifacts / "rotated-15.png")
    assert decode(turned) == [url]


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_decodes_at_lower_resolution(
    factor: int, worn: tuple[Image.Image, str], decode: Decode
) -> None:
    image, url = worn
    small = image.resize((image.width // factor, image.height // factor), Image.Resampling.LANCZOS)
    assert decode(small) == [url]


def test_decodes_at_72_dpi(decode: Decode) -> None:
    info = make_info(1)
    assert decode(open_png(render_png(info, BASE_URL, dpi=72, size_mm=60))) == [url_of(info)]


@pytest.mark.parametrize("fill", [0, 255], ids=["dirt", "scuffed-off"])
def test_decodes_with_a_corner_covered(
    fill: int, worn: tuple[Image.Image, str], decode: Decode, artifacts: Path
) -> None:
    """Dirt or a scuff over the corner that has no finder pattern.

    12 x 12 of the 37 x 37 modules (about 10 % of the symbol, within what
    level Q restores) are covered, alignment pattern included.
    """
    image, url = worn
    left, _, right, bottom = symbol_box(image, url)
    module = (right - left) / encode_qr(url).size
    covered = image.copy()
    ImageDraw.Draw(covered).rectangle(
        (right - 12 * module, bottom - 12 * module, right + 2 * module, bottom + 2 * module),
        fill=fill,
    )
    if fill == 0:
        covered.save(artifacts / "corner-covered.png")
    assert decode(covered) == [url]


def test_decodes_after_blur_rotation_and_downscale_together(
    worn: tuple[Image.Image, str], decode: Decode
) -> None:
    image, url = worn
    image = image.rotate(12, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(radius=2))
    image = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    assert decode(image) == [url]


# -- errors and fallbacks ------------------------------------------------------


@pytest.mark.parametrize("dpi", [0, 71, 2401, True, 300.0])
def test_dpi_out_of_range_is_refused(dpi: object) -> None:
    with pytest.raises(ValueError, match="dpi"):
        render_png(make_info(), BASE_URL, dpi=dpi)  # type: ignore[arg-type]


def test_too_few_pixels_per_module_is_refused() -> None:
    with pytest.raises(ValueError, match="pixel"):
        render_png(make_info(), BASE_URL, dpi=72, size_mm=30)


def test_module_below_a_quarter_millimetre_is_refused() -> None:
    with pytest.raises(ValueError, match="per module"):
        render_png(make_info(), BASE_URL, dpi=1200, size_mm=20)


def test_bad_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="base URL"):
        render_label_image(make_info(), "not a url")


def test_renders_without_dejavu_installed(tmp_path: Path, decode: Decode) -> None:
    """With no TrueType files found, Pillow's own font sets the text."""
    out = tmp_path / "fallback.png"
    script = (
        "import sys, labels.fonts as f\n"
        "f.FONT_DIRS = ()\n"
        "from labels import render_png\n"
        "from tests.labels.conftest import make_info, BASE_URL\n"
        "open(sys.argv[1], 'wb').write(render_png(make_info(4), BASE_URL))\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, cwd=root, timeout=120)
    image = open_png(out.read_bytes())
    assert decode(image) == [url_of(make_info(4))]


@pytest.mark.parametrize(
    "maker",
    [
        "宁德时代新能源科技股份有限公司",
        "Ørsted A/S",
        "\u041e\u041e\u041e \u00ab\u042d\u043d\u0435\u0440\u0433\u0438\u044f\u00bb",
    ],
    ids=["cjk", "nordic", "cyrillic"],
)
def test_non_latin_manufacturers_render_and_decode(maker: str, decode: Decode) -> None:
    info = make_info(1, manufacturer=maker)
    assert decode(open_png(render_png(info, BASE_URL))) == [url_of(info)]
