"""What a scanned or typed text names, and which stored item answers to it.

Owns the reading of the text a scanner or a keyboard produces at a loading
dock, before any lookup, and the choice among the items a lookup finds:

- a server id, ``itm_…`` (case is forgiven: ids are uppercase Crockford base32);
- a GB/T 34014 battery code typed by hand: spaces anywhere and lowercase are
  tolerated (``codes.normalize_code``), since a stored code never has either;
- a PV module or blade serial, matched as typed first, then uppercased;
- a GS1 Digital Link URI, ``https://<any host>/[prefix/]01/<GTIN>[/22/…][/10/…]/21/<serial>``
  (GS1 Digital Link standard 1.x, section 4), or the bracketed element string
  ``(01)<GTIN>(21)<serial>`` printed under GS1 barcodes: the serial (AI 21) is
  the item's code, and an item that records ``attributes.gtin`` must carry
  the GTIN of AI 01.

Label URLs (``<base>/p/<item id>``) are read by the caller with
``labels.parse_label_url`` (the ledger does not import the label package) and
passed in as ``label_item_id``. ``resolve_scan`` and ``resolve_scans`` do the
lookups on the reader they are given (one indexed query per kind of scan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ledger import codes
from ledger.errors import (
    AmbiguousScanError,
    InvalidCodeError,
    LedgerError,
    NotFoundError,
    ValidationError,
)
from ledger.events import ItemKind
from ledger.ids import ID_RE
from ledger.lifecycle import Item
from ledger.store.base import ProjectionReader

__all__ = [
    "ScanTarget",
    "normalize_gtin",
    "parse_scan",
    "pick_match",
    "resolve_scan",
    "resolve_scans",
]

_ALL_KINDS = tuple(k.value for k in ItemKind)
_SERIAL_KINDS = tuple(sorted(codes.SERIAL_KINDS))
_KIND_OF_PRODUCT_TYPE = {letter: kind for kind, letter in codes.BATTERY_KINDS.items()}
# Anything a stored code can be: GB/T 34014 codes are a subset of the serial alphabet.
_CODE_RE = re.compile(rf"[A-Za-z0-9\-_./]{{1,{codes.SERIAL_MAX_LENGTH}}}")
_GTIN_RE = re.compile(r"\d{8}|\d{12,14}")
# GS1 Digital Link path steps: the primary key AI 01 and its key qualifiers
# (22 consumer product variant, 10 batch/lot, 21 serial), with the short
# names that version 1.0 allowed.
_PRIMARY = {"01": "01", "gtin": "01"}
_QUALIFIERS = {"22": "22", "cpv": "22", "10": "10", "lot": "10", "21": "21", "ser": "21"}
_ELEMENT_RE = re.compile(r"\((\d{2,4})\)([^()]*)")
_SHOWN = 120


@dataclass(frozen=True)
class ScanTarget:
    """What a scan names, before any lookup.

    Attributes:
        text: the scanned text, stripped (quoted in refusals).
        via: how it was read: ``label``, ``id``, ``code``, ``serial`` or ``gs1``.
        item_id: a server id, or None when the scan names a code.
        codes: candidate codes, the preferred reading first.
        kinds: the item kinds those codes can belong to.
        gtin: for a GS1 link, AI 01 as 14 digits.
    """

    text: str
    via: str
    item_id: str | None = None
    codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    gtin: str | None = None

    @property
    def shown(self) -> str:
        """The scanned text, shortened for a message."""
        if len(self.text) <= _SHOWN:
            return self.text
        return self.text[: _SHOWN - 1] + "\N{HORIZONTAL ELLIPSIS}"


def normalize_gtin(value: Any) -> str | None:
    """A GTIN-8/12/13/14 as 14 digits (zero-padded on the left), or None if it is none."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if not _GTIN_RE.fullmatch(text):
        return None
    return text.zfill(14)


def _gtin_check_ok(gtin14: str) -> bool:
    # GS1 General Specifications 7.9.1: weights 3 and 1 alternate leftwards
    # from the digit next to the check digit.
    body = gtin14[:-1]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(gtin14[-1])


def _gs1_pairs(text: str) -> dict[str, str] | None:
    """The AI values of a GS1 Digital Link URI or element string, or None if neither."""
    if text.startswith("(01)"):
        return {ai: value.strip() for ai, value in _ELEMENT_RE.findall(text)}
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    steps = parts.path.split("/")
    if steps and steps[-1] == "":
        steps.pop()
    for index, step in enumerate(steps):
        if _PRIMARY.get(step) != "01" or index + 1 >= len(steps):
            continue
        rest = steps[index + 2 :]
        if len(rest) % 2:
            continue
        names = [_QUALIFIERS.get(name) for name in rest[::2]]
        if None in names:
            continue
        pairs = {"01": unquote(steps[index + 1])}
        pairs.update(
            (str(name), unquote(value)) for name, value in zip(names, rest[1::2], strict=True)
        )
        return pairs
    return None


def _gs1_target(text: str, pairs: dict[str, str]) -> ScanTarget:
    raw_gtin = pairs.get("01", "")
    gtin = normalize_gtin(raw_gtin)
    if gtin is None:
        raise ValidationError(
            f"GS1 link {text[:_SHOWN]!r}: AI 01 {raw_gtin!r} is not a GTIN of 8, 12, 13 or 14 "
            "digits",
            pointer="/payload",
        )
    if not _gtin_check_ok(gtin):
        raise ValidationError(
            f"GS1 link {text[:_SHOWN]!r}: GTIN {raw_gtin} fails its check digit (misread?)",
            pointer="/payload",
        )
    serial = pairs.get("21")
    if not serial:
        raise ValidationError(
            f"GS1 link {text[:_SHOWN]!r} names a product (GTIN {raw_gtin}), not one item: it "
            "has no serial (AI 21)",
            pointer="/payload",
        )
    return ScanTarget(text, "gs1", codes=_variants(serial), kinds=_ALL_KINDS, gtin=gtin)


def _variants(code: str) -> tuple[str, ...]:
    """The code as given, then uppercased; only forms a stored code can take."""
    forms = dict.fromkeys((code, codes.normalize_code(code)))
    return tuple(form for form in forms if _CODE_RE.fullmatch(form))


def parse_scan(text: str, *, label_item_id: str | None = None) -> ScanTarget:
    """Read a scanned or typed text (see the module docstring).

    Args:
        text: what the scanner or the person produced.
        label_item_id: the item id, when the caller read ``text`` as a label URL.

    Raises:
        ValidationError: empty text, or a GS1 link without a valid GTIN or serial.
    """
    stripped = text.strip()
    if not stripped:
        raise ValidationError("the scanned text is empty", pointer="/payload")
    if label_item_id is not None:
        return ScanTarget(stripped, "label", item_id=label_item_id)
    pairs = _gs1_pairs(stripped)
    if pairs is not None:
        return _gs1_target(stripped, pairs)
    compact = "".join(stripped.split())
    if compact[:4].lower() == "itm_":
        candidate = "itm_" + compact[4:].upper()
        if ID_RE.fullmatch(candidate):
            return ScanTarget(stripped, "id", item_id=candidate)
    upper = codes.normalize_code(compact)
    if len(upper) == codes.BATTERY_CODE_LENGTH:
        try:
            decoded = codes.parse_battery_code(upper)
        except InvalidCodeError:
            pass
        else:
            kind = _KIND_OF_PRODUCT_TYPE[decoded.product_type]
            return ScanTarget(
                stripped, "code", codes=_variants(compact), kinds=(kind, *_SERIAL_KINDS)
            )
    return ScanTarget(stripped, "serial", codes=_variants(compact), kinds=_SERIAL_KINDS)


def _rank(target: ScanTarget, item: Item) -> tuple[int, int]:
    # A GS1 link prefers the item that records its GTIN over one that records none.
    gtin = normalize_gtin(item.attributes.get("gtin"))
    gtin_rank = 0 if target.gtin is None or gtin == target.gtin else 1
    return gtin_rank, target.codes.index(item.code)


def pick_match(target: ScanTarget, candidates: Iterable[Item]) -> Item:
    """The one item among ``candidates`` (a lookup's rows) that ``target`` names.

    Raises:
        NotFoundError: none matches (the message quotes what was scanned).
        AmbiguousScanError: equally good matches of different kinds.
    """
    if target.item_id is not None:
        for item in candidates:
            if item.id == target.item_id:
                return item
        what = "label" if target.via == "label" else "id"
        raise NotFoundError(
            f"no item {target.item_id} (scanned {what} {target.shown!r})",
            pointer="/payload",
            scanned=target.text,
        )
    matches = [c for c in candidates if c.code in target.codes and c.kind.value in target.kinds]
    mismatched: list[Item] = []
    if target.gtin is not None:
        mismatched = [
            c
            for c in matches
            if "gtin" in c.attributes and normalize_gtin(c.attributes["gtin"]) != target.gtin
        ]
        matches = [c for c in matches if c not in mismatched]
    if not matches:
        if mismatched:
            other = mismatched[0]
            raise NotFoundError(
                f"serial {other.code!r} is item {other.id}, whose GTIN is "
                f"{other.attributes['gtin']}, not {target.gtin} (scanned {target.shown!r})",
                pointer="/payload",
                scanned=target.text,
            )
        what = {"gs1": "serial", "code": "code", "serial": "code or serial"}[target.via]
        raise NotFoundError(
            f"no item with {what} {target.shown!r}", pointer="/payload", scanned=target.text
        )
    matches.sort(key=lambda c: _rank(target, c))
    best = [c for c in matches if _rank(target, c) == _rank(target, matches[0])]
    if len(best) > 1:
        kinds = ", ".join(f"{c.kind.value} {c.id}" for c in best)
        raise AmbiguousScanError(
            f"{target.shown!r} is the code of more than one item ({kinds}); scan its QR label "
            "or give its id",
            pointer="/payload",
            scanned=target.text,
            candidates=[c.id for c in best],
        )
    return best[0]


def resolve_scan(r: ProjectionReader, target: ScanTarget) -> Item:
    """The item a scan names, in one indexed lookup.

    Raises:
        NotFoundError: nothing matches (the message quotes the scan).
        AmbiguousScanError: a code shared by items of different kinds.
    """
    if target.item_id is not None:
        item = r.item(target.item_id)
        return pick_match(target, [] if item is None else [item])
    found = r.items_by_codes(target.codes, target.kinds) if target.codes else []
    return pick_match(target, found)


def resolve_scans(
    r: ProjectionReader, targets: Sequence[ScanTarget | LedgerError]
) -> list[Item | LedgerError]:
    """Many scans in two queries (ids, then codes); a refusal per unmatched scan.

    An entry of ``targets`` that is already an error (a text that could not be
    read) is passed through.
    """
    readable = [t for t in targets if isinstance(t, ScanTarget)]
    by_id = r.items_by_ids([t.item_id for t in readable if t.item_id is not None])
    by_code: dict[str, list[Item]] = {}
    named = [t for t in readable if t.item_id is None]
    wanted = {code for t in named for code in t.codes}
    if wanted:
        kinds = {kind for t in named for kind in t.kinds}
        for item in r.items_by_codes(sorted(wanted), sorted(kinds)):
            by_code.setdefault(item.code, []).append(item)
    out: list[Item | LedgerError] = []
    for target in targets:
        if isinstance(target, LedgerError):
            out.append(target)
            continue
        if target.item_id is not None:
            found = [by_id[target.item_id]] if target.item_id in by_id else []
        else:
            found = [item for code in target.codes for item in by_code.get(code, [])]
        try:
            out.append(pick_match(target, found))
        except LedgerError as exc:
            out.append(exc)
    return out
