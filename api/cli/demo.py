"""The demo world: a realistic ledger to explore, written through the ledger service.

Owns ``build_demo``, which ``retrace serve --demo`` runs on a new database: the
orgs of a small recycling economy (battery, PV and blade makers, a bus fleet,
a collection point, a second-life operator, a material recoverer and a
regulator), each with an API key, and a few hundred items at every stage of
life. Every write goes through ``Ledger`` with the same rules as the API, in a
handful of transactions. All names are fictional. Here: which items there are and
their first steps, and running the plan; their end of life is ``api.cli.demo_life``'s,
the fixed numbers and names ``api.cli.demo_data``'s.

The world: an LFP bus-pack maker (newer packs registered with their modules),
a European NMC pack maker, a PV module maker and a blade maker supply a bus
fleet, a solar farm and a wind farm. Retired packs go through the collection
point, which weighs and assesses them and passes them on: to the second-life
operator, which repurposes them into depot storage packs with new codes, or to
the material recoverer, which dismantles them into modules (some of which go on
into depot storage, one later into cells) or recycles them with recovered
masses that balance. PV modules and blades go to the recoverer directly;
blades end in cement co-processing or fibre recovery. Two earlier entries are
corrected by the orgs that wrote them.

For the oversight reports: packs declare their element content, and the
recoverer's rates land just above or below each recovery target; half the ends
of life are dated back to 2024 and 2025, so items left waiting are overdue; and
one pack in service is scanned at the depot and, minutes later, at the
collection point (``ledger.site_scans``, as ``POST /v1/scan`` with a ``site``
keeps scans), a cloned label for the anomalies report.

For a given seed the world is the same every time (codes, attributes, fates,
masses); ids, keys and timestamps are fresh. Each item's life is a queue of
steps; one transaction runs the next step of every item, so the whole world
takes about fifteen writes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.bootstrap import create_admin
from api.cli.demo_data import (
    BLADE_RECOVERY,
    DEPOT_SITE,
    INTAKE_SITE,
    LFP_CONTENT,
    LFP_RECOVERY,
    MODULES_PER_CN_PACK,
    MODULES_PER_EU_PACK,
    NMC_CONTENT,
    NMC_RECOVERY,
    ORGS,
    PV_RECOVERY,
    DataFn,
    Track,
)
from api.cli.demo_life import LifeBuilder
from ledger import reads
from ledger.commit import Tx
from ledger.errors import ConflictError
from ledger.events import ItemKind
from ledger.items import record_event, register
from ledger.lifecycle import Role
from ledger.makers import bind_maker
from ledger.orgs import create_org
from ledger.service import Ledger
from ledger.site_scans import record_site_scan

__all__ = ["DemoWorld", "build_demo", "is_fresh"]


@dataclass(frozen=True)
class DemoWorld:
    """What ``build_demo`` made: counts, and an API key per org name (shown once)."""

    items: int
    entries: int
    keys: dict[str, str]


def is_fresh(ledger: Ledger) -> bool:
    """True when the ledger holds no items and no org but an admin (the demo's precondition)."""
    items = sum(reads.overview(ledger.store, recent=0).counts.values())
    return items == 0 and all(o.role == Role.ADMIN for o in reads.list_orgs(ledger.store))


def build_demo(
    ledger: Ledger, progress: Callable[[int, int], None] | None = None, seed: int = 7
) -> DemoWorld:
    """Fill a fresh ledger with the demo world.

    An existing admin org is reused (its key is not repeated); otherwise one is
    created and its key returned with the others.

    Raises:
        ConflictError: the ledger already holds items or orgs besides an admin.
    """
    if not is_fresh(ledger):
        raise ConflictError(
            "the demo world is only added to a ledger with no items and no orgs besides the admin"
        )
    size_before = reads.log_size(ledger.store)
    # Not for secrets: a seeded generator makes the same world every time.
    builder = _Builder(ledger, random.Random(seed))  # noqa: S311
    builder.create_orgs()
    builder.plan()
    builder.run(progress)
    builder.scan_sites()
    seen = reads.overview(ledger.store, recent=0)
    return DemoWorld(
        items=sum(seen.counts.values()), entries=seen.size - size_before, keys=builder.keys
    )


class _Builder(LifeBuilder):
    """The demo's orgs, the first steps of every item, and the writes that run them."""

    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        super().__init__(rng)
        self.ledger = ledger
        self.cloned: Track | None = None  # the pack whose label was copied

    # -- orgs -----------------------------------------------------------------

    def create_orgs(self) -> None:
        orgs = reads.list_orgs(self.ledger.store)
        admin = next((o for o in orgs if o.role == Role.ADMIN), None)
        if admin is None:
            created = create_admin(self.ledger)
            admin = created.org
            self.keys[admin.name] = created.api_key

        def make(tx: Tx) -> None:
            for handle, name, role, region in ORGS:
                made = create_org(tx, admin, name, role, region)
                self.orgs[handle] = made.org
                self.keys[name] = made.api_key
            # The battery makers' GB/T 34014 manufacturer codes, bound before they register.
            for code, handle in (("NHY", "cn_oem"), ("ECS", "eu_oem")):
                bind_maker(tx, admin, {"code": code, "org": self.orgs[handle].id})

        self.ledger.write(make)

    # -- the plan -------------------------------------------------------------

    def plan(self) -> None:
        for fate in self.fates("cn_pack"):
            self.plan_cn_pack(fate)
        for fate in self.fates("eu_pack"):
            self.plan_eu_pack(fate)
        for fate in self.fates("pv_module"):
            self.plan_pv_module(fate)
        for fate in self.fates("wind_blade"):
            self.plan_blade(fate)

    def plan_cn_pack(self, fate: str) -> None:
        old = fate not in {"stock", "in_service"}
        made = self.made(2015, 2017) if old else self.made(2021, 2024)
        trace = self.trace("NDL")
        code = self.battery_code("NHY", "P", "B", "A6", trace, made)
        t = self.track(ItemKind.BATTERY_PACK)
        t.content = LFP_CONTENT
        if fate == "in_service" and self.cloned is None:
            self.cloned = t
        self.register(
            t,
            "cn_oem",
            {
                "kind": "battery_pack",
                "code": code,
                "attributes": {
                    "chemistry": "LFP",
                    "rated_capacity_kwh": "140.9",
                    "mass_kg": "1050.0",
                    "nominal_voltage_v": "537.6",
                    "application": "12 m city bus",
                    "materials": dict(LFP_CONTENT),
                },
            },
        )
        if not old:
            # Newer packs are registered down to module level.
            for _ in range(MODULES_PER_CN_PACK):
                module = self.battery_code("NHY", "M", "B", "M4", trace, made)
                self.register(
                    self.track(ItemKind.BATTERY_MODULE), "cn_oem", self.module_in(t, module)
                )
        if fate == "stock":
            return
        self.step(t, "cn_oem", "installed", {"vin": self.vin("LGH")})
        self.step(t, "cn_oem", "transferred", lambda: {"to_org": self.orgs["fleet"].id})
        self.end_of_life(
            t, "fleet", fate, mass="1050.0", recovery=LFP_RECOVERY, collector="collect"
        )

    @staticmethod
    def module_in(pack: Track, code: str) -> DataFn:
        """A module registered inside ``pack`` (its id is known once the pack is written)."""

        def body() -> dict[str, Any]:
            return {
                "kind": "battery_module",
                "code": code,
                "parent": pack.id,
                "attributes": {
                    "chemistry": "LFP",
                    "rated_capacity_kwh": "35.2",
                    "mass_kg": "230.0",
                    "cells": 48,
                },
            }

        return body

    def plan_eu_pack(self, fate: str) -> None:
        made = (
            self.made(2016, 2018) if fate not in {"stock", "in_service"} else self.made(2022, 2024)
        )
        trace = self.trace("DRS")
        code = self.battery_code("ECS", "P", "E", "N8", trace, made)
        t = self.track(ItemKind.BATTERY_PACK)
        t.content = NMC_CONTENT
        self.register(
            t,
            "eu_oem",
            {
                "kind": "battery_pack",
                "code": code,
                "attributes": {
                    "chemistry": "NMC811",
                    "rated_capacity_kwh": "98.0",
                    "mass_kg": "610.0",
                    "carbon_footprint_kg_co2e_per_kwh": "61.5",
                    "passport": "Regulation (EU) 2023/1542, Annex XIII",
                    "materials": dict(NMC_CONTENT),
                },
            },
        )
        if fate == "stock":
            return
        self.step(t, "eu_oem", "transferred", lambda: {"to_org": self.orgs["fleet"].id})
        self.step(t, "fleet", "installed", {"vin": self.vin("WMA")})
        if fate == "dismantled":
            modules = [
                self.battery_code("ECS", "M", "E", "N8", trace, made)
                for _ in range(MODULES_PER_EU_PACK)
            ]
            self.end_of_life(
                t,
                "fleet",
                fate,
                mass="610.0",
                recovery=NMC_RECOVERY,
                collector="collect",
                parts=modules,
            )
        else:
            self.end_of_life(
                t, "fleet", fate, mass="610.0", recovery=NMC_RECOVERY, collector="collect"
            )

    def plan_pv_module(self, fate: str) -> None:
        made = (
            self.made(2012, 2015) if fate not in {"stock", "in_service"} else self.made(2019, 2023)
        )
        code = f"TGS{made:%Y%m}M72H{self._serial('TGS', 'PV'):06d}"
        t = self.track(ItemKind.PV_MODULE)
        self.register(
            t,
            "pv_oem",
            {
                "kind": "pv_module",
                "code": code,
                "attributes": {
                    "technology": "mono PERC",
                    "power_w": 410 if made.year > 2018 else 320,
                    "mass_kg": "22.5",
                    "dimensions_mm": "1722x1134x30",
                },
            },
        )
        if fate == "stock":
            return
        block = self.rng.randint(1, 12)
        self.step(t, "pv_oem", "installed", {"site": f"Zhongwei desert solar farm, block {block}"})
        self.end_of_life(
            t,
            "pv_oem",
            fate,
            mass="22.5",
            recovery=PV_RECOVERY,
            collector="recover",
            reasons=("hail damage, cracked glass", "repowering with higher-output modules"),
        )

    def plan_blade(self, fate: str) -> None:
        made = (
            self.made(2008, 2011) if fate not in {"stock", "in_service"} else self.made(2019, 2023)
        )
        code = f"FRB-B587-{made.year}-{self._serial('FRB', 'BL'):05d}"
        t = self.track(ItemKind.WIND_BLADE)
        self.register(
            t,
            "blade_oem",
            {
                "kind": "wind_blade",
                "code": code,
                "attributes": {
                    "length_m": "58.7",
                    "mass_kg": "11600",
                    "material": "glass fibre / epoxy, balsa core",
                    "turbine_mw": "2.5",
                },
            },
        )
        if fate == "stock":
            return
        turbine = self.rng.randint(1, 40)
        self.step(
            t, "blade_oem", "installed", {"site": f"Rudong onshore wind farm, WTG-{turbine:02d}"}
        )
        self.end_of_life(
            t,
            "blade_oem",
            fate,
            mass="11600",
            recovery=BLADE_RECOVERY,
            collector="recover",
            reasons=("repowering after 20 years", "leading-edge erosion beyond repair"),
        )

    # -- scans that name a site ---------------------------------------------------

    def scan_sites(self) -> None:
        """The collection point scans what it took in at its dock (one site: nothing
        to find); the cloned pack is scanned at the depot, then four minutes later
        at that dock: a finding."""
        now, store = self.ledger.clock(), self.ledger.store
        intake = [t for t in self.tracks if t.seqs.get("collected") is not None][:3]
        for n, t in enumerate(intake):
            at = now - timedelta(hours=2, minutes=-n)
            record_site_scan(store, t.id, INTAKE_SITE, self.orgs["collect"].id, at)
        if self.cloned is not None:
            pack = self.cloned.id
            record_site_scan(
                store, pack, DEPOT_SITE, self.orgs["fleet"].id, now - timedelta(minutes=7)
            )
            record_site_scan(
                store, pack, INTAKE_SITE, self.orgs["collect"].id, now - timedelta(minutes=3)
            )

    # -- running --------------------------------------------------------------

    def run(self, progress: Callable[[int, int], None] | None) -> None:
        """Run one step of every track per transaction until no steps are left."""
        done = 0
        while True:
            active = [t for t in self.tracks if t.steps]
            if not active:
                break
            if progress is not None:
                progress(done, done + max(len(t.steps) for t in active))

            def one_round(tx: Tx, ready: list[Track] = active) -> None:
                for t in ready:
                    self.run_step(tx, t)

            self.ledger.write(one_round)
            done += 1
        if progress is not None:
            progress(done, done)

    def run_step(self, tx: Tx, t: Track) -> None:
        step = t.steps.popleft()
        actor = self.orgs[step.who]
        data = step.data() if callable(step.data) else step.data
        if step.type == "register":
            written = register(tx, actor, data)
            t.id = written.item.id
        else:
            written = record_event(tx, actor, t.id, step.type, data)
        if step.then is not None:
            step.then(written)
