"""The demo world: a realistic ledger to explore, written through the ledger service.

Owns ``build_demo``, which ``retrace serve --demo`` runs on a new database: the
orgs of a small recycling economy (battery, PV and blade makers, a bus fleet,
a collection point, a second-life operator, a material recoverer and a
regulator), each with an API key, and a few hundred items at every stage of
life. Every write goes through ``Ledger`` with the same rules as the API, in a
handful of transactions. All names are fictional.

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

For a given seed the world is the same every time (codes, attributes, fates,
masses); ids, keys and timestamps are fresh. Each item's life is a queue of
steps; one transaction runs the next step of every item, so the whole world
takes about fifteen writes.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from api.bootstrap import create_admin
from ledger.codes import make_battery_code
from ledger.domain import Role
from ledger.errors import ConflictError
from ledger.events import ItemKind
from ledger.service import Ledger, Written
from ledger.store.sql import OrgRecord

# handle, name, role, region
ORGS: tuple[tuple[str, str, Role, str], ...] = (
    ("cn_oem", "Ningde Hengyuan Power Battery Co., Ltd.", Role.OEM, "CN-FJ"),
    ("eu_oem", "Elbe Cell Systems GmbH", Role.OEM, "DE"),
    ("pv_oem", "Jiangsu Tianguang Solar Co., Ltd.", Role.OEM, "CN-JS"),
    ("blade_oem", "Lianyungang Fengrui Composite Blades Co., Ltd.", Role.OEM, "CN-JS"),
    ("fleet", "Shenzhen Greenline Bus Company", Role.OPERATOR, "CN-GD"),
    ("collect", "Dongguan Huanxin Battery Collection Point", Role.RECYCLER, "CN-GD"),
    ("second", "Foshan Erci Energy Storage Co., Ltd.", Role.RECYCLER, "CN-GD"),
    ("recover", "Ganzhou Xinyuan Materials Recovery Co., Ltd.", Role.RECYCLER, "CN-JX"),
    ("regulator", "Guangdong Battery Recycling Supervision Office", Role.REGULATOR, "CN-GD"),
)

# How many items of each group end at each stage: a fate names the last step taken.
FATES = (
    "stock",
    "in_service",
    "retired",
    "collected",
    "assessed",
    "repurposed",
    "dismantled",
    "disposed",
    "recycled",
)
PLAN: dict[str, tuple[int, ...]] = {
    "cn_pack": (4, 16, 6, 6, 4, 8, 0, 0, 12),
    "eu_pack": (3, 8, 2, 2, 2, 0, 8, 0, 3),
    "pv_module": (8, 50, 8, 4, 4, 2, 0, 0, 14),
    "wind_blade": (2, 8, 2, 1, 1, 0, 0, 4, 2),
}
MODULES_PER_CN_PACK = 4
MODULES_PER_EU_PACK = 6
CELLS_PER_MODULE = 12

# Recovered share of the input mass per material (before a small random spread).
# Shares stay well under 1, so recovered mass never exceeds input mass.
LFP_RECOVERY = (
    ("lithium carbonate", "0.027"),
    ("iron phosphate", "0.14"),
    ("copper", "0.07"),
    ("aluminium", "0.16"),
    ("steel", "0.09"),
    ("graphite", "0.08"),
)
NMC_RECOVERY = (
    ("nickel sulphate", "0.30"),
    ("cobalt sulphate", "0.04"),
    ("manganese sulphate", "0.03"),
    ("lithium carbonate", "0.05"),
    ("copper", "0.07"),
    ("aluminium", "0.15"),
)
PV_RECOVERY = (
    ("glass", "0.70"),
    ("aluminium", "0.10"),
    ("silicon", "0.03"),
    ("copper", "0.009"),
    ("silver", "0.0005"),
)
BLADE_RECOVERY = (
    ("glass fibre", "0.55"),
    ("epoxy resin char", "0.12"),
    ("balsa wood", "0.04"),
    ("steel", "0.03"),
)

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
DataFn = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class DemoWorld:
    """What ``build_demo`` made: counts, and an API key per org name (shown once)."""

    items: int
    entries: int
    keys: dict[str, str]


@dataclass
class _Step:
    who: str
    type: str  # "register" or an event type
    data: dict[str, Any] | DataFn
    then: Callable[[Written], None] | None = None


@dataclass
class _Track:
    """One item's planned life: its steps run one per transaction, in order."""

    kind: ItemKind
    steps: deque[_Step] = field(default_factory=deque)
    id: str = ""
    mass: Decimal = Decimal(0)
    seqs: dict[str, int] = field(default_factory=dict)


def is_fresh(ledger: Ledger) -> bool:
    """True when the ledger holds no items and no org but an admin (the demo's precondition)."""
    with ledger.store.reader() as r:
        return r.count_items() == 0 and all(o.role == Role.ADMIN for o in r.orgs())


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
    with ledger.store.reader() as r:
        size_before = r.size()
    # Not for secrets: a seeded generator makes the same world every time.
    builder = _Builder(ledger, random.Random(seed))  # noqa: S311
    builder.create_orgs()
    builder.plan()
    builder.run(progress)
    with ledger.store.reader() as r:
        return DemoWorld(items=r.count_items(), entries=r.size() - size_before, keys=builder.keys)


def _kg(value: Decimal, places: str = "0.1") -> str:
    return str(value.quantize(Decimal(places), rounding=ROUND_DOWN))


class _Builder:
    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        self.ledger = ledger
        self.rng = rng
        self.orgs: dict[str, OrgRecord] = {}
        self.keys: dict[str, str] = {}
        self.tracks: list[_Track] = []
        self.serials: dict[tuple[str, str], int] = {}
        self.pending_corrections = ["collected", "retired"]
        # How the first parts put into depot storage end (the rest stay in service).
        self.part_ends = ["dismantled", "recycled", "retired"]

    # -- orgs -----------------------------------------------------------------

    def create_orgs(self) -> None:
        with self.ledger.store.reader() as r:
            admin = next((o for o in r.orgs() if o.role == Role.ADMIN), None)
        if admin is None:
            created = create_admin(self.ledger)
            admin = created.org
            self.keys[admin.name] = created.api_key

        def make(tx: Any) -> None:  # the ledger's write transaction
            for handle, name, role, region in ORGS:
                made = self.ledger.create_org(tx, admin, name, role, region)
                self.orgs[handle] = made.org
                self.keys[name] = made.api_key

        self.ledger.write(make)

    # -- codes and values -----------------------------------------------------

    def _serial(self, maker: str, product: str) -> int:
        key = (maker, product)
        if key not in self.serials:
            self.serials[key] = self.rng.randint(1000, 40000)
        self.serials[key] += self.rng.randint(1, 9)
        return self.serials[key]

    def battery_code(
        self, maker: str, product: str, chemistry: str, spec: str, trace: str, made: date
    ) -> str:
        return make_battery_code(
            maker, product, chemistry, spec, trace, made, self._serial(maker, product)
        )

    def made(self, first_year: int, last_year: int) -> date:
        return date(
            self.rng.randint(first_year, last_year),
            self.rng.randint(1, 12),
            self.rng.randint(1, 28),
        )

    def trace(self, plant: str) -> str:
        return (
            f"{plant}{self.rng.randint(1, 9)}{self.rng.choice('ABCDEF')}{self.rng.randint(10, 99)}"
        )

    def vin(self, wmi: str) -> str:
        return wmi + "".join(self.rng.choice(_VIN_CHARS) for _ in range(14))

    def spread(self, value: str, low: float = 0.97, high: float = 1.03) -> Decimal:
        factor = Decimal(self.rng.randint(int(low * 1000), int(high * 1000))) / 1000
        return Decimal(value) * factor

    def recovered(self, mass: Decimal, shares: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
        return [
            {"material": material, "mass_kg": _kg(mass * self.spread(share), "0.001")}
            for material, share in shares
        ]

    def fates(self, group: str) -> list[str]:
        out = [fate for fate, count in zip(FATES, PLAN[group], strict=True) for _ in range(count)]
        self.rng.shuffle(out)
        return out

    # -- the plan -------------------------------------------------------------

    def track(self, kind: ItemKind, item_id: str = "") -> _Track:
        t = _Track(kind, id=item_id)
        self.tracks.append(t)
        return t

    def register(self, t: _Track, who: str, body: dict[str, Any] | DataFn) -> None:
        t.steps.append(_Step(who, "register", body))

    def step(
        self,
        t: _Track,
        who: str,
        event: str,
        data: dict[str, Any] | DataFn,
        then: Callable[[Written], None] | None = None,
    ) -> None:
        t.steps.append(_Step(who, event, data, then))

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
    def module_in(pack: _Track, code: str) -> DataFn:
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

    def end_of_life(
        self,
        t: _Track,
        holder: str,
        fate: str,
        *,
        mass: str,
        recovery: tuple[tuple[str, str], ...],
        collector: str,
        reasons: tuple[str, ...] = ("capacity below 80% of rated", "vehicle decommissioned"),
        parts: list[str] | None = None,
    ) -> None:
        """Retire, hand over, collect, assess, then the fate's last step."""
        if fate == "in_service":
            return
        retired_on = self.made(2024, 2024).isoformat()
        self.step(
            t,
            holder,
            "retired",
            {"reason": self.rng.choice(reasons), "date": retired_on},
            lambda w: t.seqs.update(retired=w.entries[0].seq),
        )
        if holder == "fleet" and "retired" in self.pending_corrections:
            self.pending_corrections.remove("retired")
            self.step(
                t,
                "fleet",
                "corrected",
                lambda: {
                    "seq": t.seqs["retired"],
                    "fields": {"reason": "battery management system fault after flooding"},
                },
            )
        if fate == "retired" and self.rng.random() < 0.5:
            return
        self.step(t, holder, "transferred", lambda: {"to_org": self.orgs[collector].id})
        if fate == "retired":
            return
        t.mass = self.spread(mass, 0.98, 1.01)
        self.step(
            t,
            collector,
            "collected",
            {"site": "intake dock 2", "mass_kg": _kg(t.mass)},
            lambda w: t.seqs.update(collected=w.entries[0].seq),
        )
        if (
            collector == "collect"
            and "collected" in self.pending_corrections
            and fate == "recycled"
        ):
            self.pending_corrections.remove("collected")
            # The first weighing was misread; the collector corrects its own entry.
            t.mass += Decimal("10")
            self.step(
                t,
                collector,
                "corrected",
                lambda: {"seq": t.seqs["collected"], "fields": {"mass_kg": _kg(t.mass)}},
            )
        if fate == "collected":
            return
        grade = {
            "repurposed": "repurpose",
            "recycled": "recycle",
            "dismantled": "recycle",
            "disposed": "recycle",
        }.get(fate, self.rng.choice(["reuse", "repurpose"]))
        soh = {"repurpose": (72, 82), "reuse": (84, 92)}.get(grade, (45, 66))
        soh_pct = f"{self.rng.randint(*soh)}.{self.rng.randint(0, 9)}"
        self.step(t, collector, "assessed", {"soh_pct": soh_pct, "grade": grade})
        if fate == "assessed":
            return
        if fate == "repurposed":
            self.step(t, collector, "transferred", lambda: {"to_org": self.orgs["second"].id})
            self.step(
                t, "second", "repurposed", self.second_life(t, soh_pct), self.follow_second_life
            )
            return
        if collector != "recover":
            self.step(t, collector, "transferred", lambda: {"to_org": self.orgs["recover"].id})
        if fate == "dismantled":
            assert parts is not None  # noqa: S101 - only EU packs are dismantled
            self.step(
                t,
                "recover",
                "dismantled",
                {
                    "children": [
                        {
                            "kind": "battery_module",
                            "code": code,
                            "attributes": {
                                "chemistry": "NMC811",
                                "rated_capacity_kwh": "16.3",
                                "mass_kg": "88.0",
                            },
                        }
                        for code in parts
                    ]
                },
                self.follow_dismantled,
            )
        elif fate == "disposed":
            self.step(
                t,
                "recover",
                "disposed",
                {"method": "cement co-processing (clinker raw material and fuel)"},
            )
        else:
            process = {
                "glass": "thermal delamination and sieving",
                "glass fibre": "mechanical grinding and pyrolysis",
            }.get(recovery[0][0], "mechanical pre-treatment and hydrometallurgy")
            self.step(
                t,
                "recover",
                "recycled",
                lambda: {
                    "input_mass_kg": _kg(t.mass),
                    "process": process,
                    "recovered": self.recovered(t.mass, recovery),
                },
            )

    # -- follow-on items (second lives, parts) ---------------------------------

    def second_life(self, t: _Track, soh_pct: str) -> DataFn:
        def data() -> dict[str, Any]:
            if t.kind == ItemKind.PV_MODULE:
                code = f"FER-{self._serial('FER', 'PV'):06d}"
                return {
                    "new_code": code,
                    "application": "refurbished module for rooftop resale",
                    "attributes": {"mass_kg": "22.5", "power_w": 290},
                }
            capacity = Decimal("140.9") * Decimal(soh_pct) / 100
            code = self.battery_code(
                "FEC", "P", "B", "S2", self.trace("FSR"), self.made(2024, 2024)
            )
            return {
                "new_code": code,
                "application": "bus depot buffer storage",
                "attributes": {
                    "chemistry": "LFP",
                    "rated_capacity_kwh": _kg(capacity),
                    "mass_kg": "1100.0",
                    "second_life": True,
                },
            }

        return data

    def follow_second_life(self, w: Written) -> None:
        """A second-life pack mostly goes to the fleet's depot storage."""
        new = self.track(w.item.kind, w.entries[1].item or "")
        if new.kind == ItemKind.BATTERY_PACK and self.rng.random() < 0.7:
            self.step(new, "second", "transferred", lambda: {"to_org": self.orgs["fleet"].id})
            self.step(new, "fleet", "installed", {"site": "Longgang bus depot, buffer storage"})

    def follow_dismantled(self, w: Written) -> None:
        """Parts of a dismantled pack: the first, and a few more, go into depot storage."""
        for index, entry in enumerate(w.entries[1:]):
            part = self.track(ItemKind.BATTERY_MODULE, entry.item or "")
            part.mass = self.spread("88.0", 0.99, 1.01)
            if index > 0 and self.rng.random() >= 0.15:
                continue  # stays with the recoverer, registered
            self.step(part, "recover", "transferred", lambda: {"to_org": self.orgs["fleet"].id})
            self.step(part, "fleet", "installed", {"site": "Longgang bus depot, buffer storage"})
            if self.part_ends:
                self.retire_part(part, self.part_ends.pop(0))

    def retire_part(self, part: _Track, end: str) -> None:
        self.step(part, "fleet", "retired", {"reason": "cell imbalance"})
        if end == "retired":
            return
        self.step(part, "fleet", "transferred", lambda: {"to_org": self.orgs["recover"].id})
        self.step(part, "recover", "collected", {"site": "module line", "mass_kg": _kg(part.mass)})
        if end == "recycled":
            self.step(
                part,
                "recover",
                "recycled",
                {
                    "input_mass_kg": _kg(part.mass),
                    "process": "hydrometallurgy",
                    "recovered": self.recovered(part.mass, NMC_RECOVERY),
                },
            )
            return
        trace = self.trace("DRS")
        cells = [
            self.battery_code("ECS", "C", "E", "N8", trace, self.made(2017, 2017))
            for _ in range(CELLS_PER_MODULE)
        ]
        self.step(
            part,
            "recover",
            "dismantled",
            {
                "children": [
                    {
                        "kind": "battery_cell",
                        "code": c,
                        "attributes": {
                            "chemistry": "NMC811",
                            "format": "prismatic",
                            "mass_kg": "6.9",
                        },
                    }
                    for c in cells
                ]
            },
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

            def one_round(tx: Any, ready: list[_Track] = active) -> None:
                for t in ready:
                    self.run_step(tx, t)

            self.ledger.write(one_round)
            done += 1
        if progress is not None:
            progress(done, done)

    def run_step(self, tx: Any, t: _Track) -> None:
        step = t.steps.popleft()
        actor = self.orgs[step.who]
        data = step.data() if callable(step.data) else step.data
        if step.type == "register":
            written = self.ledger.register(tx, actor, data)
            t.id = written.item.id
        else:
            written = self.ledger.record_event(tx, actor, t.id, step.type, data)
        if step.then is not None:
            step.then(written)
