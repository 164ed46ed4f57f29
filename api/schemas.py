"""Request and response schemas of the HTTP API (with OpenAPI examples).

Owns the wire shapes DESIGN.md fixes for clients. Table models live in
``ledger/store/tables.py``; event types, their payload models and examples in
the event registry (``ledger/registry.py``), documented by ``api.docs``: a
request is checked here for shape, then by the ledger for meaning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from api.docs import EVENT_BODIES
from ledger.events import ItemKind
from ledger.lifecycle import Role
from ledger.makers import MAKER_CODE_PATTERN
from ledger.registry import ORG_ID, PACK_CODE, RECORDABLE

if TYPE_CHECKING:
    EventType = str
else:
    # The event types recorded on an item, from the registry, in its order
    # (a refusal lists them in that order).
    EventType = Literal[RECORDABLE]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgCreate(_Request):
    # No control characters: PostgreSQL text cannot hold U+0000, and names are printed.
    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        examples=["Shenzhen Green Recycling"],
    )
    role: Role = Field(examples=["recycler"])
    region: str = Field(
        min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["CN-GD"]
    )


class OrgOut(BaseModel):
    id: str
    name: str
    role: Role
    region: str


class KeyListed(BaseModel):
    id: str
    issued_seq: int = Field(description="the log entry that issued it")
    revoked_seq: int | None = Field(description="the log entry that revoked it, or null")


class OrgListed(OrgOut):
    keys: list[KeyListed] | None = Field(
        None, description="admins and regulators only: the org's API keys (never a secret)"
    )


class OrgCreated(BaseModel):
    org: OrgOut
    api_key: str = Field(description="shown once; store it now")
    key_id: str


class KeyIssued(BaseModel):
    key_id: str
    org: str
    api_key: str = Field(description="shown once; store it now")


class KeyRevoked(BaseModel):
    key_id: str
    revoked: bool


class EntryOut(BaseModel):
    v: int
    seq: int
    ts: str
    actor: str
    item: str | None
    type: str
    data: dict[str, Any] = Field(
        description="the event's data, as its type's body shows it (`RetiredEvent`, "
        "`RepurposedEvent`, …), plus what the ledger adds: `new_item` on `repurposed`, "
        "each part's `item` on `dismantled`, each recovered line's `element` and "
        "`element_mass_kg` on `recycled` when its material is a known compound"
    )
    prev: str
    item_prev: str | None
    sig: dict[str, str] | None
    hash: str = Field(description="hex leaf hash SHA-256(0x00 ‖ canonical bytes)")


class HistoryEntryOut(EntryOut):
    redacted: list[str] | None = Field(
        None,
        description="only when personal values (a VIN, an owner's name) were masked for a "
        "reader who is not a regulator: the JSON pointers of the masked values, now null. "
        "`hash` is still the signed entry's leaf hash, proved by its inclusion proof, but "
        "it cannot be recomputed from the masked fields; a regulator's answer is whole",
    )


class ItemOut(BaseModel):
    id: str
    kind: ItemKind
    code: str
    state: str
    holder: str
    manufacturer: str
    parent: str | None
    origin: str | None
    children: list[str]
    attributes: dict[str, Any]
    redacted: list[str] = Field(
        default_factory=list,
        description="JSON pointers of personal attributes (an owner's name, a VIN) "
        "masked as null: every reader but a regulator",
    )
    decoded: dict[str, str] | None = Field(
        description="the GB/T 34014 code decoded (batteries), else null"
    )
    terminal: bool
    head: str
    head_seq: int


class ItemCreate(_Request):
    kind: ItemKind
    code: str = Field(min_length=1, max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict)
    parent: str | None = None
    origin: str | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "battery_pack",
                    "code": PACK_CODE,
                    "attributes": {
                        "chemistry": "LFP",
                        "rated_capacity_kwh": "60",
                        "mass_kg": "412.5",
                    },
                }
            ]
        },
    )


class Written(BaseModel):
    item: ItemOut = Field(description="the item the write was about, as it is now")
    entry: EntryOut
    entries: list[EntryOut] = Field(description="every entry the write appended")
    created: list[ItemOut] = Field(
        default_factory=list,
        description="the items the write created besides: the second life of a `repurposed` "
        "item, the parts of a `dismantled` one (empty otherwise)",
    )


class EventCreate(_Request):
    """Checked here for shape only: ``type`` one of the registry's, ``data`` an object.

    The ledger checks ``data`` against the type's payload model, so that a bad
    field is refused with its pointer under ``/data`` (``ledger.registry``).
    """

    type: EventType
    data: dict[str, Any]

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(EVENT_BODIES.core_schema)


_LINE = "the line's number, from 1: its line in a JSON Lines body, its position in a JSON array"
_LINE_ERROR = "problem object for this line; its `pointer` points inside the line"


class BulkLine(BaseModel):
    line: int = Field(description=_LINE)
    ok: bool
    id: str | None = Field(None, description="the new item id")
    code: str | None = None
    seq: int | None = Field(None, description="seq of its registered entry")
    hash: str | None = None
    error: dict[str, Any] | None = Field(None, description=_LINE_ERROR)


class BulkResult(BaseModel):
    accepted: int
    refused: int
    results: list[BulkLine]


class EventBulkLine(BaseModel):
    line: int = Field(description=_LINE)
    ok: bool
    item: str | None = Field(description="the item the line names")
    seq: int | None = Field(None, description="seq of the event's entry")
    hash: str | None = None
    created: list[str] | None = Field(
        None, description="ids of the items the event created (`repurposed`, `dismantled`)"
    )
    error: dict[str, Any] | None = Field(None, description=_LINE_ERROR)


class EventBulkResult(BaseModel):
    accepted: int
    refused: int
    results: list[EventBulkLine]


class ScanRequest(_Request):
    payload: str = Field(
        min_length=1,
        max_length=2048,
        examples=["http://127.0.0.1:8000/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH"],
    )
    site: str | None = Field(  # kept, outside the log, for the cloned-label check
        None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["Dock 3"]
    )


class ScanResult(BaseModel):
    item: ItemOut
    holder: OrgOut | None
    allowed_events: list[str]
    via: str | None = Field(
        None, description="how the scan was read: label, id, code, serial or gs1"
    )


class CheckpointOut(BaseModel):
    size: int
    root: str = Field(description="hex root hash of the tree of that size")
    note: str = Field(description="the signed checkpoint (C2SP tlog-checkpoint)")


class EntryProof(BaseModel):
    seq: int
    proof: list[str] | None = Field(
        description="inclusion proof (hex, bottom-up) against `checkpoint`; null for an "
        "entry newer than the checkpoint"
    )


class History(BaseModel):
    item: str
    entries: list[HistoryEntryOut]
    checkpoint: CheckpointOut
    proofs: list[EntryProof] = Field(description="one per entry, in the same order")


class EntriesPage(BaseModel):
    entries: list[EntryOut]
    next: int | None = Field(description="start of the next page, or null at the end")
    size: int


class BadEntryOut(BaseModel):
    seq: int
    reason: str


class VerifyOut(BaseModel):
    ok: bool
    size: int
    first_bad: BadEntryOut | None
    head: str


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class Problem(BaseModel):
    """RFC 9457 problem details, with ``code`` and, for bad values, ``pointer``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    pointer: str | None = None


# -- labels -------------------------------------------------------------------------------

MAX_SHEET_LABELS = 5000
MAX_INTAKE_LINES = 2000


class A4Grid(_Request):
    """An A4 sheet of ``columns`` x ``rows`` equal labels."""

    columns: int = Field(3, ge=1, le=12)
    rows: int = Field(8, ge=1, le=20)
    margin_mm: float = Field(8.0, ge=0, le=50, description="page margin on every side")
    gap_mm: float = Field(2.0, ge=0, le=20, description="space between labels")


class RollSize(_Request):
    """Roll stock for a label printer: one label per page."""

    width_mm: float = Field(ge=15, le=300)
    height_mm: float = Field(ge=15, le=300)


class SheetLayoutIn(_Request):
    """Exactly one of ``a4`` or ``roll``."""

    a4: A4Grid | None = None
    roll: RollSize | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SheetLayoutIn:
        if (self.a4 is None) == (self.roll is None):
            raise ValueError('give exactly one of "a4" or "roll"')
        return self


class LabelSheetRequest(_Request):
    item_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_SHEET_LABELS,
        description="the items to print, in order (an id twice prints two labels)",
    )
    layout: SheetLayoutIn = Field(default_factory=lambda: SheetLayoutIn(a4=A4Grid()))

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_ids": ["itm_01JD8Z3K5V7W9XQRSTABCDEFGH"],
                    "layout": {"a4": {"columns": 3, "rows": 8}},
                },
                {
                    "item_ids": ["itm_01JD8Z3K5V7W9XQRSTABCDEFGH"],
                    "layout": {"roll": {"width_mm": 50, "height_mm": 30}},
                },
            ]
        },
    )


# -- intake -------------------------------------------------------------------------------


class DeliveryLine(_Request):
    payload: str = Field(
        min_length=1,
        max_length=2048,
        description="the scanned text: label URL, id, code, serial or GS1 link",
    )
    mass_kg: str | int = Field(
        description="mass weighed at intake, an exact decimal string", examples=["410.2"]
    )


class IntakeRequest(_Request):
    site: str = Field(min_length=1, max_length=200, examples=["Dock 3, Foshan"])
    deliveries: list[DeliveryLine] = Field(min_length=1, max_length=MAX_INTAKE_LINES)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "site": "Dock 3, Foshan",
                    "deliveries": [
                        {
                            "payload": "https://retrace.example.org/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
                            "mass_kg": "410.2",
                        },
                        {"payload": PACK_CODE, "mass_kg": "398.0"},
                    ],
                }
            ]
        },
    )


class IntakeLineOut(BaseModel):
    line: int = Field(description="0-based index of the line in `deliveries`")
    ok: bool
    item: str | None = Field(description="the item the scan matched, or null")
    state: str | None = Field(description="the item's state after this delivery")
    holder: str | None = Field(description="the org that holds the item")
    seq: int | None = Field(None, description="seq of the `collected` entry")
    hash: str | None = None
    error: dict[str, Any] | None = Field(None, description="problem object for this line")


class IntakeOut(BaseModel):
    site: str
    accepted: int
    refused: int
    results: list[IntakeLineOut]


class MakerCreate(_Request):
    code: str = Field(
        pattern=MAKER_CODE_PATTERN,
        description="a GB/T 34014 manufacturer code: the first three characters of the "
        "maker's battery codes",
        examples=["CAT"],
    )
    org: str = Field(
        min_length=1, max_length=40, description="the OEM org it belongs to", examples=[ORG_ID]
    )


class MakerBindingOut(BaseModel):
    code: str
    org: str
    seq: int = Field(description="seq of the `maker_bound` entry that bound it")


class MakerBound(BaseModel):
    code: str
    org: str
    entry: EntryOut


class MakerList(BaseModel):
    makers: list[MakerBindingOut]
