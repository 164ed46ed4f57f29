"""Response models of item queries (``GET /v1/items``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas import ItemOut

__all__ = ["ItemPage"]


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page (a page "
        "before it may be short, even empty)"
    )
