"""The reads the routes make: ``ledger.reads`` through the read-through cache.

Owns which cached values a scan, an item view and a passport are made of, and
how they are written to and read from Redis (orjson in, ledger values out); how
they stay right is ``api.cache``'s. Without Redis each read is the
``ledger.reads`` function it stands for. What depends on the caller (the events
it may record next, the passport's access tier) is worked out on every request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from api.cache import KeyCache, Lookup, RedisCache
from api.handoff import handoff
from api.metrics import record_cache
from api.ratelimit import RateLimits
from api.scans import scan_target
from ledger import reads, site_scans
from ledger.chain import Entry
from ledger.errors import NotFoundError
from ledger.events import ItemKind
from ledger.items import ItemView
from ledger.lifecycle import Item, Org, Role, State
from ledger.passport import HistoryCheck
from ledger.reads import Found, PassportSource, ScanView
from ledger.records import OrgRecord
from ledger.scan import ScanTarget, pick_match
from ledger.service import Ledger
from ledger.transparency import Transparency

__all__ = ["Reads"]

T = TypeVar("T")
_NAMED_SIZE = 100_000


class Reads:
    """The reads the routes make, through the cache when there is one.

    Async: a cached answer is read on the event loop, and only the database is
    read on a worker thread (``api.handoff``).
    """

    def __init__(
        self,
        ledger: Ledger,
        tlog: Transparency,
        cache: RedisCache | None,
        keys: KeyCache,
        limits: RateLimits | None = None,
    ) -> None:
        self.ledger = ledger
        self.tlog = tlog
        self.cache = cache
        self.keys = keys
        self.limits = limits
        # The item id each scanned code named last, by the scan's digest: a guess.
        self._named: dict[str, str] = {}

    async def caller(self, api_key: str) -> OrgRecord:
        """The org of an API key.

        Raises:
            AuthError: unknown or revoked key.
            RateLimited: the key is over its rate limit.
        """
        found = self.keys.remembered(api_key)
        if found is None:
            found = await handoff.run(self.keys.caller, self.ledger, api_key)
        if self.limits is not None:
            await self.limits.key(api_key, found.role.value)
        return found

    async def item(self, item_id: str) -> ItemView:
        """An item with its children and decoded code.

        Raises:
            NotFoundError: unknown item.
        """
        if self.cache is None:
            return await handoff.run(reads.item_view, self.ledger.store, item_id)
        found = (await self._found([item_id])).get(item_id)
        if found is None:
            raise NotFoundError(f"no item {item_id}")
        return found.view

    async def scan(self, api_key: str, text: str, site: str | None = None) -> ScanView:
        """Resolve a scanned ``text`` for the holder of ``api_key``; a scan that names
        its ``site`` is kept, durably, for the cloned-label check before the answer
        (``ledger.site_scans``: its own short transaction, not a log entry).

        Raises:
            AuthError: unknown or revoked key (checked first).
            ValidationError: empty text, a malformed GS1 link, or a site that is not one.
            NotFoundError, AmbiguousScanError: the scan names no one item.
        """
        caller = await self.caller(api_key)
        target = scan_target(text)
        site = None if site is None else site_scans.check_site(site)
        if self.cache is None:
            store, orgs = self.ledger.store, self.ledger.orgs
            view = await handoff.run(reads.scan, store, orgs, caller, target)
        else:
            view = reads.scan_view(await self._find(target), caller, target.via)
        if site is not None:
            item_id, now = view.item.item.id, self.ledger.clock()
            await handoff.run(
                site_scans.record_site_scan, self.ledger.store, item_id, site, caller.id, now
            )
        return view

    async def passport(self, item_id: str, reader: Org | None) -> dict[str, Any] | None:
        """The passport of an item as ``reader`` (None: the public) may see it; None for
        an unknown item."""
        store, cache = self.ledger.store, self.cache
        if cache is None or len(item_id) > reads.MAX_ID_LENGTH:
            return await handoff.run(reads.passport, store, self.tlog, item_id, reader)
        key = cache.key("passport", item_id)
        got = await cache.get(key, [cache.item_version(item_id)])
        source = _decoded(_source, got.value) if got is not None else None
        # Checkpoints are signed and cosigned apart from the commits, by any process or
        # tool: a cached history check counts only against the latest one.
        if source is not None and source.note != await handoff.run(self.tlog.latest_note):
            source = None
        if got is not None:
            record_cache("passport", source is not None)
        if source is not None:
            found = await self._found(source.linked_ids)
            return reads.passport_view(source, reader, {i: f.view.item for i, f in found.items()})
        source = await handoff.run(reads.passport_source, store, self.tlog, item_id)
        if source is None:
            return None
        if got is not None:
            await cache.put(key, got.tag, _dumps_source(source))
        return reads.passport_view(source, reader)

    async def _find(self, target: ScanTarget) -> Found:
        """The item a scan names, by the cached id of its code when there is one.

        A code scan is two cached values: the code's item id, then the item. The id
        a code named last time in this process is only a guess, but it lets both be
        asked for in one round trip; the answer counts only if Redis agrees.
        """
        if target.item_id is not None:
            by_id = await self._found([target.item_id])
            # The scan's own refusal when there is no such item.
            return by_id[pick_match(target, [f.view.item for f in by_id.values()]).id]
        cache, store, orgs = self.cache, self.ledger.store, self.ledger.orgs
        if cache is None:
            return await handoff.run(reads.find, store, orgs, target)
        digest = _digest([target.codes, target.kinds, target.gtin])
        key, guess = cache.key("scan", digest), self._named.get(digest)
        wanted = [(key, [cache.code_version(code) for code in target.codes])]
        if guess is not None:
            wanted.append((cache.key("item", guess), [cache.item_version(guess)]))
        got = await cache.get_many(wanted)
        if got is None:
            return await handoff.run(reads.find, store, orgs, target)
        record_cache("scan", got[0].value is not None)
        if got[0].value is not None:
            item_id = got[0].value.decode()
            self._remember(digest, item_id)
            known = got[1:] if item_id == guess else None
            cached = (await self._found([item_id], known)).get(item_id)
            if cached is not None:
                return cached
        found = await handoff.run(reads.find, store, orgs, target)
        await cache.put(key, got[0].tag, found.view.item.id.encode())
        self._remember(digest, found.view.item.id)
        return found

    def _remember(self, digest: str, item_id: str) -> None:
        if len(self._named) >= _NAMED_SIZE:
            self._named.clear()
        self._named[digest] = item_id

    async def _found(
        self, item_ids: Sequence[str], known: Sequence[Lookup] | None = None
    ) -> dict[str, Found]:
        """The items of ``item_ids`` that exist: cached, or read and then cached.

        Args:
            known: the items' lookups, when they were made already.
        """
        ids = [i for i in dict.fromkeys(item_ids) if len(i) <= reads.MAX_ID_LENGTH]
        if not ids:
            return {}
        store, orgs, cache = self.ledger.store, self.ledger.orgs, self.cache
        if cache is None:
            return await handoff.run(reads.find_many, store, orgs, ids)
        keys = [cache.key("item", i) for i in ids]
        got = known
        if got is None or len(got) != len(ids):
            got = await cache.get_many(
                [(k, [cache.item_version(i)]) for k, i in zip(keys, ids, strict=True)]
            )
        if got is None:
            return await handoff.run(reads.find_many, store, orgs, ids)
        out: dict[str, Found] = {}
        for item_id, lookup in zip(ids, got, strict=True):
            value = _decoded(_found_value, lookup.value)
            record_cache("item", value is not None)
            if value is not None:
                out[item_id] = value
        missing = [i for i in ids if i not in out]
        if missing:
            fresh = await handoff.run(reads.find_many, store, orgs, missing)
            await cache.put_many(
                [
                    (key, lookup.tag, orjson.dumps(fresh[item_id]))
                    for key, item_id, lookup in zip(keys, ids, got, strict=True)
                    if item_id in fresh
                ]
            )
            out |= fresh
        return out


# -- cached values: orjson in, ledger values out -------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value)).hexdigest()[:32]


def _decoded(decode: Callable[[Any], T], value: bytes | None) -> T | None:
    """A cached value read back, or None if there is none or it no longer reads."""
    if value is None:
        return None
    try:
        return decode(orjson.loads(value))
    except (ValueError, TypeError, KeyError):
        return None


def _item(raw: dict[str, Any]) -> Item:
    return Item(**{**raw, "kind": ItemKind(raw["kind"]), "state": State(raw["state"])})


def _org_record(raw: dict[str, Any] | None) -> OrgRecord | None:
    return None if raw is None else OrgRecord(**{**raw, "role": Role(raw["role"])})


def _found_value(raw: dict[str, Any]) -> Found:
    view = raw["view"]
    item_view = ItemView(_item(view["item"]), list(view["children"]), view["decoded"])
    return Found(item_view, _org_record(raw["holder"]))


def _bytes_as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(f"{type(value).__name__} is not cached")


def _dumps_source(source: PassportSource) -> bytes:
    # Without ``linked``: those items are read from their own cached values.
    fields = {
        "item": source.item,
        "entries": source.entries,
        "children": source.children,
        "orgs": source.orgs,
        "check": source.check,
        "note": source.note,
    }
    return orjson.dumps(fields, default=_bytes_as_text)


def _source(raw: dict[str, Any]) -> PassportSource:
    entries = [Entry(**{**e, "body": e["body"].encode()}) for e in raw["entries"]]
    orgs = {k: Org(o["id"], Role(o["role"]), o["name"]) for k, o in raw["orgs"].items()}
    return PassportSource(
        _item(raw["item"]),
        entries,
        list(raw["children"]),
        orgs,
        HistoryCheck(**raw["check"]),
        raw["note"],
        {},
    )
