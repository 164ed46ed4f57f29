"""QR labels that link a physical item to its passport page.

A label's QR symbol encodes ``<public base url>/p/<item id>``; under it (or
beside it, on wide labels) are the item's code, its kind in words and its
manufacturer. This package renders single labels as PNG or SVG and many
labels as a printable PDF sheet or roll. It knows nothing of the ledger, the
database or the web app: callers hand it ``LabelInfo`` values and a base URL.

Modules: ``urls`` (the URL scheme), ``model`` (``LabelInfo``), ``qr`` (symbol
encoding), ``fonts`` and ``layout`` (what goes where), ``png``, ``svg`` and
``sheet`` (the output formats).
"""

from labels.layout import MIN_LABEL_MM
from labels.model import KIND_NAMES, LabelInfo, kind_name
from labels.png import render_label_image, render_png
from labels.qr import ERROR_CORRECTION, QUIET_ZONE, QrSymbol, encode_qr
from labels.sheet import SheetLayout, render_sheet_pdf
from labels.svg import render_svg
from labels.urls import check_item_id, label_url, parse_label_url

__all__ = [
    "ERROR_CORRECTION",
    "KIND_NAMES",
    "MIN_LABEL_MM",
    "QUIET_ZONE",
    "LabelInfo",
    "QrSymbol",
    "SheetLayout",
    "check_item_id",
    "encode_qr",
    "kind_name",
    "label_url",
    "parse_label_url",
    "render_label_image",
    "render_png",
    "render_sheet_pdf",
    "render_svg",
]
