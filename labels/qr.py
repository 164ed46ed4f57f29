"""QR symbols for label URLs, as a plain module matrix the renderers draw from.

This module owns the choice of symbol parameters and the encoding itself:
error correction level Q (about a quarter of the codewords may be lost to
scuffs and dirt), byte mode, the smallest version that holds the URL, and one
fixed mask pattern. Drawing the symbol (pixels, SVG paths, PDF rectangles) and
the quiet zone around it are the renderers' business; ``QUIET_ZONE`` says how
wide it must be.

A fixed mask keeps the symbol valid (ISO/IEC 18004 lets the encoder pick any
of the eight masks; decoders read the choice from the format information) and
saves the trial encoding of all eight masks, which is most of the cost of
making a symbol. Mask 3, ``(row + column) mod 3 == 0``, had the lowest
average and worst-case penalty score over random label URLs, so it is the
one used.

With the mask fixed, everything but the data is the same for all symbols of
a version: the function patterns (drawn once by ``qrcode``), the placement
order of the data modules and the mask bits are cached per version, and a
symbol costs one Reed-Solomon pass and a few whole-integer operations. The
result is module-for-module what ``qrcode`` makes with ``mask_pattern=3``
(the tests compare the two).
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final

import qrcode
from qrcode import constants, util

__all__ = ["ERROR_CORRECTION", "MASK_PATTERN", "QUIET_ZONE", "QrSymbol", "encode_qr"]

#: Error correction level: Q restores up to ~25 % of damaged codewords.
ERROR_CORRECTION: Final = "Q"
#: Light margin around the symbol, in modules (ISO/IEC 18004 section 6.3.8).
QUIET_ZONE: Final = 4
#: Mask pattern reference used for every symbol (see the module docstring).
MASK_PATTERN: Final = 3

_EC_LEVEL: Final = constants.ERROR_CORRECT_Q
_MAX_VERSION: Final = 40
# Module value (0 light, 1 dark) to 8-bit grey (255 white, 0 black).
_TO_GREY: Final = bytes([255, 0] + [0] * 254)


@dataclass(frozen=True)
class QrSymbol:
    """A QR symbol's modules, without the quiet zone.

    ``rows[r][c]`` is 1 for a dark module and 0 for a light one.
    """

    version: int
    rows: tuple[bytes, ...]

    @property
    def size(self) -> int:
        """Modules per side (``4 * version + 17``)."""
        return len(self.rows)

    @property
    def size_with_quiet_zone(self) -> int:
        """Modules per side including the quiet zone on both sides."""
        return len(self.rows) + 2 * QUIET_ZONE

    def dark_runs(self) -> Iterator[tuple[int, int, int]]:
        """``(row, column, length)`` for each horizontal run of dark modules.

        Renderers draw one rectangle per run rather than one per module,
        which roughly halves the shapes in an SVG or PDF.
        """
        for r, row in enumerate(self.rows):
            column = 0
            for run in row.split(b"\x00"):
                if run:
                    yield r, column, len(run)
                column += len(run) + 1

    @property
    def grey_bytes(self) -> bytes:
        """Row-major 8-bit greyscale pixels, one per module (0 dark, 255 light)."""
        return b"".join(self.rows).translate(_TO_GREY)


def _version_for(byte_count: int) -> int:
    # Bits needed in byte mode: 4-bit mode indicator, the character count
    # (8 bits up to version 9, 16 from version 10) and 8 bits per byte.
    limits = util.BIT_LIMIT_TABLE[_EC_LEVEL]
    version = bisect_left(limits, 4 + 8 + 8 * byte_count, 1)
    if version > 9:
        version = max(10, bisect_left(limits, 4 + 16 + 8 * byte_count, 1))
    if version > _MAX_VERSION:
        raise ValueError(
            f"{byte_count} bytes do not fit in a QR symbol at error correction level "
            f"{ERROR_CORRECTION}"
        )
    return version


def _gf_tables() -> tuple[list[int], list[int]]:
    # GF(256) with the QR field polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D).
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _gf_tables()


@cache
def _generator_products(degree: int) -> tuple[int, ...]:
    """For each byte f, f times the generator polynomial prod(x - a^i), i < degree.

    The leading coefficient (1) is left out; the other ``degree`` products
    are packed big-endian into one integer, so one division step below is a
    shift and an XOR.
    """
    poly = [1]
    for i in range(degree):
        # Multiply by (x + a^i); addition and subtraction are both XOR.
        poly = [
            a ^ (_EXP[_LOG[b] + i] if b else 0) for a, b in zip([*poly, 0], [0, *poly], strict=True)
        ]
    logs = [_LOG[c] for c in poly[1:]]
    products = [0]
    for factor in range(1, 256):
        shift = _LOG[factor]
        products.append(int.from_bytes(bytes(_EXP[shift + g] for g in logs), "big"))
    return tuple(products)


def _ec_codewords(data: bytes, degree: int) -> bytes:
    """Reed-Solomon remainder of ``data`` (ISO/IEC 18004 section 7.5.2)."""
    products = _generator_products(degree)
    top_shift = 8 * (degree - 1)
    keep = (1 << top_shift) - 1
    remainder = 0
    for byte in data:
        factor = byte ^ (remainder >> top_shift)
        remainder = ((remainder & keep) << 8) ^ products[factor]
    return remainder.to_bytes(degree, "big")


@dataclass(frozen=True)
class _Template:
    """What every symbol of one version shares, with mask 3 at level Q."""

    functions: int  # function modules (finders, timing, format...) as a row-major bit string
    size: int
    blocks: tuple[tuple[int, int], ...]  # (data codewords, EC codewords) per block
    data_capacity: int
    mask: int  # mask bits in placement order, as one integer
    placed_bits: int  # data modules in the symbol
    gather: Callable[[bytes], tuple[int, ...]]  # placement-order bits to row-major


@cache
def _template(version: int) -> _Template:
    # qrcode draws the function patterns and format information; every
    # module it leaves as None carries data.
    code = qrcode.QRCode(
        version=version, error_correction=_EC_LEVEL, border=0, mask_pattern=MASK_PATTERN
    )
    size = code.modules_count = 4 * version + 17
    code.modules = [[None] * size for _ in range(size)]
    for row, col in ((0, 0), (size - 7, 0), (0, size - 7)):
        code.setup_position_probe_pattern(row, col)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    code.setup_type_info(False, MASK_PATTERN)
    if version >= 7:
        code.setup_type_number(False)
    grid = code.modules

    # Data placement (section 7.7.3): two-module-wide columns from the right,
    # alternately upwards and downwards, skipping the vertical timing column.
    order: list[int] = []
    upward = True
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for r in rows:
            order.extend(r * size + c for c in (right, right - 1) if grid[r][c] is None)
        upward = not upward

    mask = 0
    for index in order:
        r, c = divmod(index, size)
        mask = (mask << 1) | ((r + c) % 3 == 0)
    source = [len(order)] * (size * size)  # function modules read the trailing 0
    for position, index in enumerate(order):
        source[index] = position
    functions = bytes(bool(cell) for row in grid for cell in row)
    blocks = tuple(
        (block.data_count, block.total_count - block.data_count)
        for block in qrcode.base.rs_blocks(version, _EC_LEVEL)
    )
    return _Template(
        functions=int.from_bytes(functions, "big"),
        size=size,
        blocks=blocks,
        data_capacity=sum(data for data, _ in blocks),
        mask=mask,
        placed_bits=len(order),
        gather=operator.itemgetter(*source),
    )


def _codewords(data: bytes, version: int, template: _Template) -> bytes:
    """Data and EC codewords, interleaved (sections 7.4 and 7.6)."""
    count_bits = 8 if version <= 9 else 16
    value = ((0b0100 << count_bits) | len(data)) << (8 * len(data)) | int.from_bytes(data, "big")
    used = 4 + count_bits + 8 * len(data)
    capacity = 8 * template.data_capacity
    terminator = min(4, capacity - used)  # up to four zero bits, then to a byte boundary
    used += terminator
    value <<= terminator + (-used % 8)
    used += -used % 8
    pad = bytes((0xEC, 0x11)) * template.data_capacity
    stream = value.to_bytes(used // 8, "big") + pad[: template.data_capacity - used // 8]

    data_blocks, ec_blocks = [], []
    offset = 0
    for data_count, ec_count in template.blocks:
        block = stream[offset : offset + data_count]
        offset += data_count
        data_blocks.append(block)
        ec_blocks.append(_ec_codewords(block, ec_count))
    out = bytearray()
    for i in range(max(len(b) for b in data_blocks)):
        out.extend(b[i] for b in data_blocks if i < len(b))
    for i in range(len(ec_blocks[0])):
        out.extend(b[i] for b in ec_blocks)
    return bytes(out)


_BIT_DIGITS: Final = bytes.maketrans(b"01", b"\x00\x01")


def encode_qr(text: str) -> QrSymbol:
    """Encode ``text`` (UTF-8, byte mode) as a level-Q symbol with mask 3.

    Raises:
        ValueError: the text is too long for any QR version at level Q.
    """
    data = text.encode("utf-8")
    version = _version_for(len(data))
    template = _template(version)
    codewords = _codewords(data, version, template)
    # Remainder bits after the last codeword are 0 before masking (7.7.3).
    bits = int.from_bytes(codewords, "big") << (template.placed_bits - 8 * len(codewords))
    placed = format(bits ^ template.mask, f"0{template.placed_bits}b").encode()
    modules = bytes(template.gather(placed.translate(_BIT_DIGITS) + b"\x00"))
    size = template.size
    grid = (int.from_bytes(modules, "big") | template.functions).to_bytes(size * size, "big")
    return QrSymbol(
        version=version, rows=tuple(grid[r * size : (r + 1) * size] for r in range(size))
    )
