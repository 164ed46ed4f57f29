"""The API's documentation: every event's shape in the OpenAPI document, and the pages.

Owns the documented bodies of lifecycle events, made from the event registry
(``ledger.registry``: each type's payload model, label and example): one model per
event type, the union on ``type`` that ``POST /v1/items/{id}/events`` shows, one
named example per type for the docs to offer, and the lines of
``POST /v1/events/bulk``, whose route reads its own body (JSON or JSON Lines), so
their schemas are added to the document here. Also owns ``/docs`` and ``/redoc``:
their scripts and styles come from the ``fastapi-offline`` package, served by
this service, so the pages work with no internet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from ledger.registry import EVENTS, RECORDABLE

__all__ = [
    "EVENT_BODIES",
    "EVENT_EXAMPLES",
    "EVENT_LINES_BODY",
    "EXAMPLE_ITEM",
    "create_app",
    "event_example",
]

# An item id in the documentation's examples.
EXAMPLE_ITEM = "itm_01JD8Z3K5V7W9XQRSTABCDEFGH"
_COMPONENTS = "#/components/schemas/{model}"


def event_example(event_type: str, *, with_item: bool = False) -> dict[str, Any]:
    """The registry's example of ``event_type`` as a request body (or a bulk line)."""
    named: dict[str, Any] = {"item": EXAMPLE_ITEM} if with_item else {}
    return {**named, "type": event_type, "data": dict(EVENTS[event_type].example)}


def _event_body(event_type: str, *, with_item: bool) -> type[BaseModel]:
    """The documented body of one event type: its ``type`` and its ``data`` model
    (and, on a bulk line, the ``item`` it is about)."""
    spec = EVENTS[event_type]
    tag: Any = Literal[event_type]
    fields: dict[str, Any] = {"type": (tag, ...), "data": (spec.payload, ...)}
    if with_item:
        fields = {"item": (str, Field(max_length=64, description="the item's id")), **fields}
    name = "".join(word.title() for word in event_type.split("_")) + "Event"
    model: type[BaseModel] = create_model(
        name + "Line" if with_item else name,
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={"examples": [event_example(event_type, with_item=with_item)]},
        ),
        __doc__=f"{spec.label}.",
        **fields,
    )
    return model


def _union(*, with_item: bool) -> Any:
    """Every recordable event's body, a union on ``type``, in the registry's order."""
    bodies = tuple(_event_body(name, with_item=with_item) for name in RECORDABLE)
    return Annotated[Union[bodies], Field(discriminator="type")]  # noqa: UP007


EVENT_BODIES: TypeAdapter[Any] = TypeAdapter(_union(with_item=False))
"""The body of ``POST /v1/items/{id}/events`` as the document shows it."""

EVENT_EXAMPLES: dict[str, Any] = {
    name: {"summary": EVENTS[name].label, "value": event_example(name)} for name in RECORDABLE
}
"""One named example per event type, offered by the docs (``openapi_examples``)."""

_LINE = TypeAdapter(_union(with_item=True)).json_schema(ref_template=_COMPONENTS)
_LINE_SCHEMAS: dict[str, Any] = _LINE.pop("$defs")

EVENT_LINES_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": _LINE},
                "examples": {
                    name: {
                        "summary": EVENTS[name].label,
                        "value": [event_example(name, with_item=True)],
                    }
                    for name in RECORDABLE
                },
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one line per event, as JSON"},
                "example": (
                    f'{{"item": "{EXAMPLE_ITEM}", "type": "retired", '
                    '"data": {"reason": "capacity below 80%"}}\n'
                ),
            },
        },
    }
}
"""``openapi_extra`` of ``POST /v1/events/bulk``: a JSON array of lines, or JSON Lines."""


def _with_line_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in _LINE_SCHEMAS.items():
            schemas.setdefault(name, schema)
        return document

    return openapi


def create_app(**options: Any) -> FastAPI:
    """A FastAPI app whose ``/docs`` and ``/redoc`` need no CDN, and whose OpenAPI
    document holds the bulk event lines' schemas."""
    # No call to an online validator from the docs page either.
    options.setdefault("swagger_ui_parameters", {"validatorUrl": None})
    app = FastAPIOffline(**options)
    app.openapi = _with_line_schemas(app)  # type: ignore[method-assign]  # FastAPI's documented hook
    return app
