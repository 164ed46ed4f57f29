"""The symbol encoder against the reference ``qrcode`` library and zbar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, cast

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode import constants, util

from labels import ERROR_CORRECTION, QUIET_ZONE, encode_qr
from labels.qr import MASK_PATTERN

# Byte-mode capacity at level Q of versions 1, 9, 10 and 40 (ISO/IEC 18004 table 7).
CAPACITY_Q = {1: 11, 9: 130, 10: 151, 40: 1663}


def reference_rows(text: str) -> tuple[bytes, ...]:
    """What qrcode makes for the same text, byte mode, level Q, mask 3."""
    code = qrcode.QRCode(
        error_correction=constants.ERROR_CORRECT_Q, border=0, mask_pattern=MASK_PATTERN
    )
    # The stubs type MODE_8BIT_BYTE as a plain int, QRData's mode as the literal codes.
    byte_mode = cast(Literal[4], util.MODE_8BIT_BYTE)
    code.add_data(util.QRData(text.encode("utf-8"), mode=byte_mode))
    code.make(fit=True)
    return tuple(bytes(map(bool, row)) for row in code.modules)


def test_parameters() -> None:
    assert ERROR_CORRECTION == "Q"
    assert QUIET_ZONE == 4


@pytest.mark.parametrize("length", [0, 1, 11, 12, 60, 61, 130, 131, 151, 152, 400, 1000, 1663])
def test_symbol_matches_qrcode_module_for_module(length: int) -> None:
    text = ("https://retrace.example.org/p/itm_" * 60)[:length]
    symbol = encode_qr(text)
    assert symbol.rows == reference_rows(text)
    assert symbol.size == 4 * symbol.version + 17


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_text_matches_qrcode(text: str) -> None:
    assert encode_qr(text).rows == reference_rows(text)


@pytest.mark.parametrize(("version", "capacity"), sorted(CAPACITY_Q.items()))
def test_smallest_version_that_holds_the_bytes(version: int, capacity: int) -> None:
    assert encode_qr("a" * capacity).version == version
    if version < 40:
        assert encode_qr("a" * (capacity + 1)).version == version + 1


def test_label_urls_fit_version_5() -> None:
    # Base URL of 27 characters + "/p/" + a 30-character id: 60 bytes.
    assert encode_qr("https://retrace.example.org/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH").version == 5


def test_text_too_long_for_any_symbol() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        encode_qr("a" * 1664)


def test_dark_runs_cover_exactly_the_dark_modules() -> None:
    symbol = encode_qr("https://retrace.example.org/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH")
    painted = [bytearray(symbol.size) for _ in range(symbol.size)]
    for row, column, length in symbol.dark_runs():
        assert length > 0
        assert not any(painted[row][column : column + length])
        painted[row][column : column + length] = b"\x01" * length
    assert tuple(bytes(row) for row in painted) == symbol.rows


@pytest.mark.parametrize(
    "text",
    [
        "https://retrace.example.org/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
        "https://a.example/p/x",
        "https://retrace.example.org/" + "r" * 200 + "/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
    ],
)
def test_zbar_reads_the_bare_symbol(text: str, decode: Callable[[Image.Image], list[str]]) -> None:
    symbol = encode_qr(text)
    modules = Image.frombytes("L", (symbol.size, symbol.size), symbol.grey_bytes)
    side = symbol.size_with_quiet_zone * 6
    image = Image.new("L", (side, side), 255)
    image.paste(modules.resize((symbol.size * 6,) * 2, Image.Resampling.NEAREST), (24, 24))
    assert decode(image) == [text]
