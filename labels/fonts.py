"""Fonts for the printed lines of a label: finding them and measuring text.

This module owns which typeface each line uses (``FontRole``), where the
TrueType files are looked for, and the fallback when none is installed
(Pillow's bundled default font, scaled). It measures text for the layout and
hands Pillow fonts to the PNG renderer; the PDF renderer registers the same
files with reportlab itself.

The code is set in a monospaced bold face so that 0/O and 1/I/l are told
apart when someone types it in by hand.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import Final, Literal

from PIL import ImageFont

__all__ = [
    "FONT_DIRS",
    "FONT_FILES",
    "FontRole",
    "PilFont",
    "font_path",
    "measure_mm",
    "pil_font",
]

FontRole = Literal["code", "kind", "maker"]
PilFont = ImageFont.FreeTypeFont | ImageFont.ImageFont

#: Directories searched, in order, for the files in ``FONT_FILES``
#: (Debian/Ubuntu, Fedora, Arch, Alpine, macOS with DejaVu installed).
FONT_DIRS: Final[tuple[Path, ...]] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu-sans-mono-fonts"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)

#: TrueType file for each role (Debian package fonts-dejavu-core).
FONT_FILES: Final[dict[FontRole, str]] = {
    "code": "DejaVuSansMono-Bold.ttf",
    "kind": "DejaVuSans-Bold.ttf",
    "maker": "DejaVuSans.ttf",
}

# Measuring at a large reference size and scaling keeps one font object per
# role for the layout, whatever size a line is finally set in.
_REFERENCE_PX: Final = 200


@cache
def font_path(role: FontRole) -> Path | None:
    """The TrueType file for ``role``, or ``None`` when it is not installed."""
    name = FONT_FILES[role]
    for directory in FONT_DIRS:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=256)
def pil_font(role: FontRole, size_px: int) -> PilFont:
    """A Pillow font for ``role`` whose em is ``size_px`` pixels.

    Falls back to Pillow's default font at that size when the TrueType file
    is missing (scalable when Pillow has FreeType, a small bitmap otherwise).
    """
    path = font_path(role)
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size_px)
        except OSError:
            pass  # unreadable or not a font: use the default below
    return ImageFont.load_default(size=size_px)


@lru_cache(maxsize=4096)
def _reference_width(text: str, role: FontRole) -> float:
    # Kind names and manufacturers repeat from label to label: measure once.
    return float(pil_font(role, _REFERENCE_PX).getlength(text)) / _REFERENCE_PX


def measure_mm(text: str, role: FontRole, size_mm: float) -> float:
    """Advance width of ``text`` set in ``role``'s font at an em of ``size_mm``."""
    return _reference_width(text, role) * size_mm
