"""How an item of the demo world lives and ends: the steps after it is in service.

Owns ``LifeBuilder``, the part of the demo builder that plans an item's end of life
(retire, hand over, collect, assess, then repurpose, dismantle, dispose of or recycle it)
and the items that follow (second-life packs, parts of a dismantled pack), with the codes
and values they carry. Half the ends of life are on record from 2024 and 2025 (each
event's ``date``): those still waiting for collection or processing are overdue in the
deadlines report. Items that declared their element content are recycled at the rates
of ``demo_data`` (just above or below each recovery target). Which items there are
is ``api.cli.demo``'s; running the plan through the ledger too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from api.cli.demo_data import (
    CARRIES,
    CELLS_PER_MODULE,
    FATES,
    NMC_MODULE_CONTENT,
    NMC_RECOVERY,
    PLAN,
    RATES_EARLIER,
    RATES_NOW,
    STATED_SHARE,
    VIN_CHARS,
    DataFn,
    Step,
    Track,
    kg,
)
from ledger.codes import make_battery_code
from ledger.events import ItemKind
from ledger.items import Written
from ledger.materials import compound, element_mass
from ledger.records import OrgRecord

__all__ = ["LifeBuilder"]


class LifeBuilder:
    """The plan's state, its codes and values, and every item's life after service."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.orgs: dict[str, OrgRecord] = {}
        self.keys: dict[str, str] = {}
        self.tracks: list[Track] = []
        self.serials: dict[tuple[str, str], int] = {}
        self.pending_corrections = ["collected", "retired"]
        # How the first parts put into depot storage end (the rest stay in service).
        self.part_ends = ["dismantled", "recycled", "retired"]

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
        return wmi + "".join(self.rng.choice(VIN_CHARS) for _ in range(14))

    def spread(self, value: str, low: float = 0.97, high: float = 1.03) -> Decimal:
        factor = Decimal(self.rng.randint(int(low * 1000), int(high * 1000))) / 1000
        return Decimal(value) * factor

    def recovered(
        self,
        mass: Decimal,
        shares: tuple[tuple[str, str], ...],
        content: dict[str, str] | None = None,
        rates: dict[str, str] = RATES_NOW,
    ) -> list[dict[str, str]]:
        """The recovered lines of ``mass`` kg: a share of it per material or, for a
        material carrying an element of the declared ``content``, ``rates`` of that."""
        lines = []
        for material, share in shares:
            element = CARRIES.get(material)
            if content is None or element not in content:
                lines.append(
                    {"material": material, "mass_kg": kg(mass * self.spread(share), "0.001")}
                )
                continue
            target = Decimal(content[element]) * Decimal(rates[element]) / 100
            lines.append(_element_line(material, element, target))
        return lines

    def fates(self, group: str) -> list[str]:
        out = [fate for fate, count in zip(FATES, PLAN[group], strict=True) for _ in range(count)]
        self.rng.shuffle(out)
        return out

    # -- the plan -------------------------------------------------------------

    def track(self, kind: ItemKind, item_id: str = "") -> Track:
        t = Track(kind, id=item_id)
        self.tracks.append(t)
        return t

    def register(self, t: Track, who: str, body: dict[str, Any] | DataFn) -> None:
        t.steps.append(Step(who, "register", body))

    def step(
        self,
        t: Track,
        who: str,
        event: str,
        data: dict[str, Any] | DataFn,
        then: Callable[[Written], None] | None = None,
    ) -> None:
        t.steps.append(Step(who, event, data, then))

    def end_of_life(
        self,
        t: Track,
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
        retired_on = self.made(2024, 2024)
        # Half the ends of life are on record from back then, each step dated days after
        # the retirement; the others happen on the day they are recorded.
        dated = self.rng.random() < 0.5

        def on(days: int) -> dict[str, str]:
            return {"date": (retired_on + timedelta(days=days)).isoformat()} if dated else {}

        self.step(
            t,
            holder,
            "retired",
            {"reason": self.rng.choice(reasons), "date": retired_on.isoformat()},
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
        self.step(t, holder, "transferred", lambda: {"to_org": self.orgs[collector].id, **on(3)})
        if fate == "retired":
            return
        t.mass = self.spread(mass, 0.98, 1.01)
        self.step(
            t,
            collector,
            "collected",
            {"site": "intake dock 2", "mass_kg": kg(t.mass), **on(12)},
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
                lambda: {"seq": t.seqs["collected"], "fields": {"mass_kg": kg(t.mass)}},
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
        self.step(t, collector, "assessed", {"soh_pct": soh_pct, "grade": grade, **on(20)})
        if fate == "assessed":
            return
        if fate == "repurposed":
            self.step(
                t, collector, "transferred", lambda: {"to_org": self.orgs["second"].id, **on(25)}
            )
            new_life = self.second_life(t, soh_pct)
            self.step(
                t, "second", "repurposed", lambda: {**new_life(), **on(40)}, self.follow_second_life
            )
            return
        if collector != "recover":
            self.step(
                t, collector, "transferred", lambda: {"to_org": self.orgs["recover"].id, **on(25)}
            )
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
                                "materials": dict(NMC_MODULE_CONTENT),
                            },
                        }
                        for code in parts
                    ],
                    **on(40),
                },
                self.follow_dismantled,
            )
        elif fate == "disposed":
            self.step(
                t,
                "recover",
                "disposed",
                {"method": "cement co-processing (clinker raw material and fuel)", **on(40)},
            )
        else:
            process = {
                "glass": "thermal delamination and sieving",
                "glass fibre": "mechanical grinding and pyrolysis",
            }.get(recovery[0][0], "mechanical pre-treatment and hydrometallurgy")
            # Recycled in 2025 when on record from back then, else today.
            when = {"date": date(2025, self.rng.randint(3, 11), self.rng.randint(1, 28))}
            rates = RATES_EARLIER if dated else RATES_NOW
            self.step(
                t,
                "recover",
                "recycled",
                lambda: {
                    "input_mass_kg": kg(t.mass),
                    "process": process,
                    "recovered": self.recovered(t.mass, recovery, t.content, rates),
                    **({"date": when["date"].isoformat()} if dated else {}),
                },
            )

    # -- follow-on items (second lives, parts) ---------------------------------

    def second_life(self, t: Track, soh_pct: str) -> DataFn:
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
                    "rated_capacity_kwh": kg(capacity),
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
            part.content = NMC_MODULE_CONTENT
            if index > 0 and self.rng.random() >= 0.15:
                continue  # stays with the recoverer, registered
            self.step(part, "recover", "transferred", lambda: {"to_org": self.orgs["fleet"].id})
            self.step(part, "fleet", "installed", {"site": "Longgang bus depot, buffer storage"})
            if self.part_ends:
                self.retire_part(part, self.part_ends.pop(0))

    def retire_part(self, part: Track, end: str) -> None:
        self.step(part, "fleet", "retired", {"reason": "cell imbalance"})
        if end == "retired":
            return
        self.step(part, "fleet", "transferred", lambda: {"to_org": self.orgs["recover"].id})
        self.step(part, "recover", "collected", {"site": "module line", "mass_kg": kg(part.mass)})
        if end == "recycled":
            self.step(
                part,
                "recover",
                "recycled",
                {
                    "input_mass_kg": kg(part.mass),
                    "process": "hydrometallurgy",
                    "recovered": self.recovered(part.mass, NMC_RECOVERY, part.content),
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


def _element_line(material: str, element: str, target: Decimal) -> dict[str, str]:
    """A recovered line holding ``target`` kg of ``element`` (to the gram, rounded down).

    The ledger computes a known compound's element mass itself, so its mass is what
    holds the target; other materials state their element mass.
    """
    grams = Decimal("0.001")
    known = compound(material)
    if known is not None:
        share = element_mass(known, Decimal(1))
        return {"material": material, "mass_kg": str((target / share).quantize(grams, ROUND_DOWN))}
    stated = target.quantize(grams, ROUND_DOWN)
    return {
        "material": material,
        "mass_kg": str((stated / STATED_SHARE[material]).quantize(grams, ROUND_DOWN)),
        "element": element,
        "element_mass_kg": str(stated),
    }
