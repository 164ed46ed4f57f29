"""Item queries: ``GET /v1/items``, filtered and paged by an opaque cursor."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import presenters
from api.deps import CallerDep, LedgerDep
from api.problems import READ_PROBLEMS, in_query
from api.schemas_queries import ItemPage
from ledger import queries
from ledger.events import ItemKind
from ledger.lifecycle import State
from ledger.privacy import sees_personal

router = APIRouter(prefix="/v1", tags=["items"])
_Text = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get(
    "/items",
    response_model=ItemPage,
    responses=READ_PROBLEMS,
    summary="Query items: filters and a cursor; regulators see all, others their own",
    description="An OEM, operator or recycler sees the items it made, holds or held; a "
    "regulator or admin every item. `region` is the holder's region, `code_prefix` the "
    "start of the code, `since` and `until` (inclusive) bound the date of the last change. "
    "Items come in the order they were created; following `next_cursor` never repeats an "
    "item nor skips one that existed when paging began, whatever is written meanwhile. "
    f"A page reads at most the items created within {queries.SCAN:,} entries of the log "
    "from where it begins, so a filter that few items match may give short or empty pages "
    "before the last: the listing ends when `next_cursor` is null, not when a page is short.",
)
def list_items(
    caller: CallerDep,
    ledger: LedgerDep,
    kind: ItemKind | None = None,
    state: State | None = None,
    holder: _Text = None,
    manufacturer: _Text = None,
    region: _Text = None,
    code_prefix: _Text = None,
    since: date | None = None,
    until: date | None = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = queries.DEFAULT_LIMIT,
) -> dict[str, Any]:
    filters = queries.ItemFilters(
        kind=None if kind is None else kind.value,
        state=None if state is None else state.value,
        holder=holder,
        manufacturer=manufacturer,
        region=region,
        code_prefix=code_prefix,
        since=since,
        until=until,
    )
    with in_query():
        page = queries.query_items(ledger.store, caller, filters, cursor=cursor, limit=limit)
    return presenters.item_page(page, personal=sees_personal(caller.role))
