"""What the reports should say, worked out by the tests from what they themselves wrote.

``Model`` records every entry a test writes through the API (from the API's own
answers: seq, actor, timestamp) and computes each report's rows from that record
alone, without the ledger's report code: the figures ``GET /v1/reports/{name}``
must match. Working days are counted here day by day on ``chinese_calendar``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import chinese_calendar

from tests.factories import Org

ELEMENTS = ("li", "co", "ni", "mn", "cu")
BATTERIES = ("battery_pack", "battery_module", "battery_cell")
# Recovery targets (percent) by element: China's 2024 conditions, EU 2023/1542 (2027, 2031).
TARGETS = {
    "li": [90, 50, 80],
    "co": [98, 90, 95],
    "ni": [98, 90, 95],
    "mn": [98],
    "cu": [90, 95],
}
Row = dict[str, Any]


def china_day(ts: str) -> date:
    return (datetime.fromisoformat(ts.replace("Z", "+00:00")) + timedelta(hours=8)).date()


def workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package does not know yet
        return day.weekday() < 5


def working_days(start: date, end: date) -> int:
    days = (end - start).days
    return sum(workday(start + timedelta(days=n)) for n in range(1, days + 1))


@dataclass
class Written:
    seq: int
    type: str
    actor: str
    day: date  # when it happened: its date, else the day recorded (China)
    recorded: date
    data: dict[str, Any]


@dataclass
class Tracked:
    id: str
    kind: str
    maker: str
    holder: str
    state: str
    head: int
    mass: Decimal
    entries: list[Written] = field(default_factory=list)
    materials: dict[str, Decimal] | None = None
    origin: str | None = None

    def chain(self) -> set[str]:
        orgs = {self.maker, self.holder}
        for e in self.entries:
            orgs.add(e.actor)
            if "to_org" in e.data:
                orgs.add(e.data["to_org"])
        return orgs

    def of(self, event_type: str) -> list[Written]:
        return [e for e in self.entries if e.type == event_type]


@dataclass
class Model:
    orgs: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (role, region)
    items: dict[str, Tracked] = field(default_factory=dict)
    bound: dict[str, tuple[str, int]] = field(default_factory=dict)  # maker code -> (org, seq)

    def add_org(self, org: Org, region: str) -> None:
        self.orgs[org.id] = (org.role, region)

    def record(self, item: Tracked, entry: dict[str, Any]) -> Written:
        data = entry["data"]
        recorded = china_day(entry["ts"])
        day = date.fromisoformat(data["date"]) if "date" in data else recorded
        written = Written(entry["seq"], entry["type"], entry["actor"], day, recorded, data)
        item.entries.append(written)
        item.head = entry["seq"]
        return written

    def visible(self, org_id: str) -> list[Tracked]:
        if self.orgs.get(org_id, ("", ""))[0] == "regulator":
            return list(self.items.values())
        return [i for i in self.items.values() if org_id in i.chain()]

    def region(self, org_id: str) -> str:
        return self.orgs[org_id][1]

    # -- the reports -----------------------------------------------------------

    def inventory(self, org_id: str) -> tuple[list[Row], list[Row]]:
        groups: dict[tuple[str, str, str], list[int]] = {}
        months: dict[str, dict[str, list[int]]] = {}
        for item in self.visible(org_id):
            groups.setdefault((item.kind, item.state, self.region(item.holder)), []).append(
                item.head
            )
            for e in item.entries:
                if e.type in ("registered", "retired", "collected", "recycled"):
                    month = f"{e.day.year:04d}-{e.day.month:02d}"
                    got = months.setdefault(month, {})
                    got.setdefault(e.type, []).append(e.seq)
        rows = [
            {"kind": k, "state": s, "region": r, "count": len(v), "entries": sorted(v)}
            for (k, s, r), v in groups.items()
        ]
        monthly = [
            {
                "month": month,
                **{
                    t: len(got.get(t, []))
                    for t in ("registered", "retired", "collected", "recycled")
                },
                "entries": sorted(seq for seqs in got.values() for seq in seqs),
            }
            for month, got in months.items()
        ]
        return rows, monthly

    def recovery(self, org_id: str) -> list[Row]:
        acc: dict[tuple[str, int], dict[str, Any]] = {}
        for item in self.visible(org_id):
            for e in item.of("recycled"):
                a = acc.setdefault(
                    (e.actor, e.day.year),
                    {"total": Decimal(0), "declared": Decimal(0), "entries": set(), "el": {}},
                )
                a["entries"].add(e.seq)
                a["total"] += Decimal(e.data["input_mass_kg"])
                got: dict[str, Decimal] = {}
                for line in e.data["recovered"]:
                    if "element" in line:
                        got[line["element"]] = got.get(line["element"], Decimal(0)) + Decimal(
                            line["element_mass_kg"]
                        )
                if item.materials is not None:
                    a["declared"] += Decimal(e.data["input_mass_kg"])
                    a["entries"].add(item.of("registered")[0].seq)
                for el in ELEMENTS:
                    c, r, u = a["el"].get(el, (Decimal(0), Decimal(0), Decimal(0)))
                    if item.materials is not None:
                        c += item.materials.get(el, Decimal(0))
                        r += got.get(el, Decimal(0))
                    else:
                        u += got.get(el, Decimal(0))
                    a["el"][el] = (c, r, u)
        rows = []
        for (recycler, year), a in acc.items():
            for el in ELEMENTS:
                c, r, u = a["el"][el]
                if c == 0 and r == 0 and u == 0:
                    continue
                rate = None if c == 0 else (r * 100 / c).quantize(Decimal("0.01"))
                share = (a["declared"] / a["total"]).quantize(Decimal("0.0001"))
                rows.append(
                    {
                        "recycler": recycler,
                        "period": str(year),
                        "element": el,
                        "input_kg": c,
                        "recovered_kg": r,
                        "recovered_undeclared_kg": u,
                        "rate": rate,
                        "declared_share": share,
                        "met": [None if rate is None else rate >= t for t in TARGETS[el]],
                        "entries": sorted(a["entries"]),
                    }
                )
        return rows

    def deadlines(
        self, org_id: str, today: date, collect: int, process: int, report: int
    ) -> list[Row]:
        rows: list[tuple[Any, ...]] = []
        for item in self.visible(org_id):
            holder_role = self.orgs[item.holder][0]
            steps: list[Written] = []
            if item.state == "retired" and holder_role == "recycler":
                rule, limit = "collect", collect
                moves = [e for e in item.of("transferred") if e.data["to_org"] == item.holder]
                steps = [item.of("retired")[-1], *moves[-1:]]
            elif item.state in ("collected", "assessed"):
                rule, limit = "process", process
                steps = item.of("collected")[-1:]
            if steps:
                since = max(e.day for e in steps)
                over = working_days(since, today) - limit
                if over > 0:
                    seqs = sorted(e.seq for e in steps)
                    rows.append((rule, item.id, item.holder, since.isoformat(), over, seqs))
            for e in item.entries:
                late = working_days(e.day, e.recorded) - report
                if late > 0:
                    rows.append(("late_report", item.id, e.actor, e.day.isoformat(), late, [e.seq]))
        keys = ("rule", "item", "org", "since", "working_days_overdue", "entries")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def second_life(self, org_id: str) -> list[Row]:
        groups: dict[tuple[str, str], dict[str, list[int]]] = {}
        for item in self.visible(org_id):
            assessed = item.of("assessed")
            if not assessed:
                continue
            soh = Decimal(assessed[-1].data["soh_pct"])
            low = min(int(soh) // 10 * 10, 90)
            g = groups.setdefault((item.kind, f"{low}-{low + 10}"), {"a": [], "p": [], "r": []})
            g["a"].append(assessed[-1].seq)
            g["p"].extend(e.seq for e in item.of("repurposed"))
            g["r"].extend(e.seq for e in item.of("recycled"))
        return [
            {
                "kind": kind,
                "soh_band": band,
                "assessed": len(g["a"]),
                "repurposed": len(g["p"]),
                "recycled": len(g["r"]),
                "entries": sorted(g["a"] + g["p"] + g["r"]),
            }
            for (kind, band), g in groups.items()
        ]

    def flows(self, org_id: str) -> list[Row]:
        acc: dict[tuple[str, str], dict[str, Any]] = {}
        for item in self.visible(org_id):
            for e in item.of("transferred"):
                a = acc.setdefault(
                    (e.actor, e.data["to_org"]), {"items": set(), "mass": Decimal(0), "entries": []}
                )
                a["items"].add(item.id)
                a["mass"] += item.mass  # weighed at collection as registered, here
                a["entries"].append(e.seq)
        return [
            {
                "from_org": f,
                "to_org": t,
                "from_region": self.region(f),
                "to_region": self.region(t),
                "items": len(a["items"]),
                "mass_kg": a["mass"],
                "entries": sorted(a["entries"]),
            }
            for (f, t), a in acc.items()
        ]


def key_of(row: Row, *fields: str) -> tuple[Any, ...]:
    return tuple(json.dumps(row[f], sort_keys=True) for f in fields)


def decimals(row: Row, *fields: str) -> Row:
    """``row`` with ``fields`` read as exact decimals (the API sends strings)."""
    return {k: (None if v is None else Decimal(v)) if k in fields else v for k, v in row.items()}


def flat(value: Any) -> str:
    """A JSON value as the CSV cell it should become."""
    if value is None:
        return ""
    if value is True or value is False:
        return str(value).lower()
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return " ".join(map(str, value))
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))
