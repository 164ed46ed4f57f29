"""The demo world's fixed data: its orgs, how many items end where, recovery yields,
declared element contents and the recovery rates reached against them.

Owns the numbers and names ``api.cli.demo`` builds the world from, and the small values
a plan is made of (``Step``, ``Track``). All names are fictional.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ledger.events import ItemKind
from ledger.items import Written
from ledger.lifecycle import Role

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

# Element content (kg) declared at registration (``attributes.materials``), as an
# EU battery passport declares it: an LFP bus pack, an NMC811 pack and one of its modules.
LFP_CONTENT = {"li": "11.2", "cu": "68.0"}
NMC_CONTENT = {"li": "8.5", "co": "5.6", "ni": "44.0", "mn": "5.2", "cu": "38.0"}
NMC_MODULE_CONTENT = {"li": "1.2", "co": "0.8", "ni": "6.3", "mn": "0.75", "cu": "5.4"}
# The element each recovered material carries. The ledger computes the element mass
# of a compound it knows (lithium carbonate, copper); for the others the recoverer
# states it, from the hydrate's share of the element.
CARRIES = {
    "lithium carbonate": "li",
    "copper": "cu",
    "nickel sulphate": "ni",
    "cobalt sulphate": "co",
    "manganese sulphate": "mn",
}
STATED_SHARE = {
    "nickel sulphate": Decimal("0.223305"),  # NiSO4·6H2O
    "cobalt sulphate": Decimal("0.209656"),  # CoSO4·7H2O
    "manganese sulphate": Decimal("0.325060"),  # MnSO4·H2O
}
# Recovery rates (% of the declared content) the recoverer reaches, by the year of
# the recycling (2025 for the ends of life on record from back then, else the year
# it is recorded). Each lands just above or just below a target (China 2024: Li 90;
# Ni, Co, Mn 98; EU 2023/1542: Li 50 then 80; Co, Ni, Cu 90 then 95), so the
# recovery report shows targets met and missed: lithium below target earlier and
# above it now, nickel and manganese the other way.
RATES_EARLIER = {"li": "89.4", "ni": "98.2", "co": "97.8", "mn": "98.1", "cu": "94.7"}
RATES_NOW = {"li": "90.6", "ni": "97.7", "co": "98.3", "mn": "97.6", "cu": "95.4"}
# Scans that named a site: a pack in service scanned at the depot, then, minutes
# later, at the collection point 80 km away: two labels carry its code.
DEPOT_SITE = "Longgang bus depot, bay 4"
INTAKE_SITE = "Dongguan Huanxin intake dock 2"

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
DataFn = Callable[[], dict[str, Any]]


@dataclass
class Step:
    """One write of an item's life: who, what, with which data, and what follows it."""

    who: str
    type: str  # "register" or an event type
    data: dict[str, Any] | DataFn
    then: Callable[[Written], None] | None = None


@dataclass
class Track:
    """One item's planned life: its steps run one per transaction, in order."""

    kind: ItemKind
    steps: deque[Step] = field(default_factory=deque)
    id: str = ""
    mass: Decimal = Decimal(0)
    seqs: dict[str, int] = field(default_factory=dict)
    content: dict[str, str] | None = None  # declared element content, kg


def kg(value: Decimal, places: str = "0.1") -> str:
    """A mass as a decimal string, rounded down to ``places``."""
    return str(value.quantize(Decimal(places), rounding=ROUND_DOWN))
