"""Masses that add up: item masses, material content and recovered elements.

Owns the mass rules of the plausibility checks (a recycling input within the
item's weighed or registered mass and the tolerance; recovered mass within the
input; a dismantled item's parts within its mass; declared content within the
item's mass), each refusal naming its ``rule`` and the figures; and the five
elements Retrace accounts for in batteries (lithium, cobalt, nickel,
manganese, copper: ``li co ni mn cu``), the compounds a recycler commonly
recovers them as, and the mass of the element in a mass of compound, computed
in exact ``Decimal`` arithmetic from standard atomic weights.

Atomic weights: IUPAC/CIAAW, "Standard atomic weights of the elements 2021",
Pure Appl. Chem. 94 (2022) 573-600, table of abridged/conventional values. For
the elements whose standard weight is an interval (H, Li, C, O, S) the
conventional value is used; Mn, Co, Ni and Cu are the single standard values.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from ledger.chain import EntryContent
from ledger.errors import ImplausibleError, MassBalanceError, ValidationError
from ledger.events import Child, Recovered, Recycled

__all__ = [
    "ATOMIC_WEIGHT",
    "COMPOUNDS",
    "ELEMENTS",
    "Compound",
    "ItemMass",
    "check_children_mass",
    "check_content",
    "check_input_mass",
    "check_mass_balance",
    "check_recovered",
    "compound",
    "effective_data",
    "element_mass",
    "item_mass",
    "molar_mass",
]

ELEMENTS: Mapping[str, str] = {
    "li": "lithium",
    "co": "cobalt",
    "ni": "nickel",
    "mn": "manganese",
    "cu": "copper",
}

# IUPAC/CIAAW 2021 (see the module docstring), g/mol.
ATOMIC_WEIGHT: Mapping[str, Decimal] = {
    "H": Decimal("1.008"),  # conventional value of [1.00784, 1.00811]
    "Li": Decimal("6.94"),  # conventional value of [6.938, 6.997]
    "C": Decimal("12.011"),  # conventional value of [12.0096, 12.0116]
    "O": Decimal("15.999"),  # conventional value of [15.99903, 15.99977]
    "S": Decimal("32.06"),  # conventional value of [32.059, 32.076]
    "Mn": Decimal("54.938043"),
    "Co": Decimal("58.933194"),
    "Ni": Decimal("58.6934"),
    "Cu": Decimal("63.546"),
}

_SYMBOL = {"li": "Li", "co": "Co", "ni": "Ni", "mn": "Mn", "cu": "Cu"}
# Six decimal places: the precision of a mass in a signed entry (``ledger.events``).
_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class Compound:
    """A recovered compound: its formula as atom counts and the element it carries."""

    name: str
    formula: str
    atoms: Mapping[str, int]
    element: str  # one of ``ELEMENTS``


def _hydrate(base: Mapping[str, int], water: int) -> dict[str, int]:
    atoms = dict(base)
    atoms["H"] = atoms.get("H", 0) + 2 * water
    atoms["O"] = atoms.get("O", 0) + water
    return atoms


_KNOWN = (
    Compound("lithium carbonate", "Li2CO3", {"Li": 2, "C": 1, "O": 3}, "li"),
    Compound(
        "lithium hydroxide monohydrate", "LiOH·H2O", _hydrate({"Li": 1, "O": 1, "H": 1}, 1), "li"
    ),
    Compound(
        "nickel sulfate hexahydrate", "NiSO4·6H2O", _hydrate({"Ni": 1, "S": 1, "O": 4}, 6), "ni"
    ),
    Compound(
        "cobalt sulfate heptahydrate", "CoSO4·7H2O", _hydrate({"Co": 1, "S": 1, "O": 4}, 7), "co"
    ),
    Compound(
        "manganese sulfate monohydrate", "MnSO4·H2O", _hydrate({"Mn": 1, "S": 1, "O": 4}, 1), "mn"
    ),
    # The elements themselves, recovered as metal (copper foil, above all).
    *(Compound(name, _SYMBOL[el], {_SYMBOL[el]: 1}, el) for el, name in ELEMENTS.items()),
)
COMPOUNDS: Mapping[str, Compound] = {c.name: c for c in _KNOWN}
_BY_FORMULA = {c.formula.lower().replace(".", "·"): c for c in _KNOWN}


def compound(material: str) -> Compound | None:
    """The known compound a recovered ``material`` names (by name or formula), or None."""
    key = " ".join(material.lower().split())
    return COMPOUNDS.get(key) or _BY_FORMULA.get(key.replace(".", "·").replace(" ", ""))


def molar_mass(atoms: Mapping[str, int]) -> Decimal:
    """The molar mass of a formula, g/mol, exact from ``ATOMIC_WEIGHT``."""
    return sum((ATOMIC_WEIGHT[symbol] * count for symbol, count in atoms.items()), Decimal(0))


def element_mass(found: Compound, mass_kg: Decimal) -> Decimal:
    """The mass of ``found``'s element in ``mass_kg`` of it, to six decimal places.

    Products and sums are exact; the one division is carried to 60 digits and
    the result rounded once, half to even.
    """
    symbol = _SYMBOL[found.element]
    with localcontext() as ctx:
        ctx.prec = 60
        carried = mass_kg * ATOMIC_WEIGHT[symbol] * found.atoms[symbol]
        return (carried / molar_mass(found.atoms)).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


# -- the item's mass, as its entries (and their corrections) say -------------------

CORRECTED = "corrected"


def effective_data(entries: Sequence[EntryContent]) -> dict[int, dict[str, Any]]:
    """Each entry's ``data`` by seq, with the corrections among ``entries`` applied in order."""
    out: dict[int, dict[str, Any]] = {}
    for entry in entries:
        if entry.type == CORRECTED and entry.data.get("seq") in out:
            out[entry.data["seq"]] = {**out[entry.data["seq"]], **entry.data.get("fields", {})}
        else:
            out[entry.seq] = dict(entry.data)
    return out


@dataclass(frozen=True)
class ItemMass:
    """An item's mass as the rules take it: weighed at collection, else registered."""

    kg: Decimal
    source: str  # "collected" or "registered"
    seq: int


def item_mass(history: Sequence[EntryContent]) -> ItemMass | None:
    """The mass weighed at the item's latest collection, else its registered
    ``attributes.mass_kg``, corrections applied; None when neither is known."""
    data = effective_data(history)
    for entry in reversed(history):
        if entry.type == "collected" and "mass_kg" in data.get(entry.seq, {}):
            return ItemMass(Decimal(data[entry.seq]["mass_kg"]), "collected", entry.seq)
    for entry in history:
        if entry.type == "registered":
            mass = data.get(entry.seq, {}).get("attributes", {}).get("mass_kg")
            if isinstance(mass, str):
                return ItemMass(Decimal(mass), "registered", entry.seq)
    return None


def _pct(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}"


def check_input_mass(input_kg: Decimal, mass: ItemMass | None, tolerance: Decimal) -> None:
    """A recycling input is at most the item's mass plus the tolerance.

    Raises:
        ImplausibleError: rule ``input-within-item-mass``, with the figures.
    """
    if mass is None:
        return
    allowed = mass.kg * (1 + tolerance)
    if input_kg > allowed:
        raise ImplausibleError(
            f"input of {input_kg} kg exceeds the item's {mass.source} mass of {mass.kg} kg "
            f"by more than the {_pct(tolerance)}% tolerance (at most {allowed.normalize():f} kg)",
            pointer="/data/input_mass_kg",
            rule="input-within-item-mass",
            input_mass_kg=str(input_kg),
            item_mass_kg=str(mass.kg),
            mass_from=mass.source,
            mass_seq=mass.seq,
            tolerance_pct=_pct(tolerance),
            allowed_kg=f"{allowed.normalize():f}",
        )


def check_mass_balance(payload: Recycled) -> None:
    """Recovered mass never exceeds input mass.

    Raises:
        MassBalanceError: rule ``recovered-within-input``, with both totals, exact.
    """
    recovered = sum((Decimal(r.mass_kg) for r in payload.recovered), Decimal(0))
    total = Decimal(payload.input_mass_kg)
    if recovered > total:
        raise MassBalanceError(
            f"recovered {recovered} kg exceeds the input of {total} kg",
            pointer="/data/recovered",
            rule="recovered-within-input",
            recovered_kg=str(recovered),
            input_mass_kg=str(total),
        )


def check_recovered(payload: Recycled, data: dict[str, Any]) -> None:
    """Recovered mass stays within the input, and each line's element adds up;
    the element and its mass of a known compound are written into ``data``.

    Raises:
        MassBalanceError: rule ``recovered-within-input``.
        ImplausibleError: an element that is not the compound's, or an element
            mass above the line's mass or unlike the compound's stoichiometry.
        ValidationError: an element mass without its element, or an element
            of an unknown material without its mass.
    """
    check_mass_balance(payload)
    for index, line in enumerate(payload.recovered):
        data["recovered"][index].update(_element_of(index, line.material, line))


def _element_of(index: int, material: str, line: Recovered) -> dict[str, str]:
    where = f"/data/recovered/{index}"
    mass = Decimal(line.mass_kg)
    found = compound(material)
    given = None if line.element_mass_kg is None else Decimal(line.element_mass_kg)
    if found is None:
        if line.element is None:
            if given is not None:
                raise ValidationError(
                    f"{where}: element_mass_kg needs its element", pointer=f"{where}/element"
                )
            return {}
        if given is None:
            known = ", ".join(sorted(COMPOUNDS))
            raise ValidationError(
                f"{material!r} is not a compound whose {line.element} content is known "
                f"({known}); give element_mass_kg",
                pointer=f"{where}/element_mass_kg",
            )
        _within(where, given, mass)
        return {}
    if line.element is not None and line.element != found.element:
        raise ImplausibleError(
            f"{found.name} ({found.formula}) carries {found.element}, not {line.element}",
            pointer=f"{where}/element",
            rule="element-of-compound",
            material=found.name,
            element=found.element,
        )
    computed = element_mass(found, mass)
    if given is not None and given != computed:
        raise ImplausibleError(
            f"{mass} kg of {found.name} ({found.formula}) holds {computed} kg of "
            f"{found.element}, not {given} kg",
            pointer=f"{where}/element_mass_kg",
            rule="element-mass-stoichiometry",
            material=found.name,
            mass_kg=str(mass),
            element_mass_kg=str(computed),
            given_kg=str(given),
        )
    return {"element": found.element, "element_mass_kg": f"{computed.normalize():f}"}


def _within(where: str, given: Decimal, mass: Decimal) -> None:
    if given > mass:
        raise ImplausibleError(
            f"an element mass of {given} kg exceeds the line's {mass} kg",
            pointer=f"{where}/element_mass_kg",
            rule="element-within-material",
            element_mass_kg=str(given),
            mass_kg=str(mass),
        )


def check_children_mass(children: Sequence[Child], mass: ItemMass | None) -> None:
    """The parts of a dismantled item weigh no more, together, than the item.

    Raises:
        ImplausibleError: rule ``parts-within-item-mass``, with the figures.
    """
    if mass is None:
        return
    parts = sum(
        (Decimal(c.attributes["mass_kg"]) for c in children if "mass_kg" in c.attributes),
        Decimal(0),
    )
    if parts > mass.kg:
        raise ImplausibleError(
            f"the parts weigh {parts} kg together, more than the item's {mass.source} "
            f"mass of {mass.kg} kg",
            pointer="/data/children",
            rule="parts-within-item-mass",
            parts_kg=str(parts),
            item_mass_kg=str(mass.kg),
            mass_from=mass.source,
            mass_seq=mass.seq,
        )


def check_content(attributes: Mapping[str, Any], pointer: str) -> None:
    """Declared material content weighs no more than the item (when both are given).

    Raises:
        ImplausibleError: rule ``content-within-mass``, with the figures.
    """
    materials, mass = attributes.get("materials"), attributes.get("mass_kg")
    if not isinstance(materials, dict) or not isinstance(mass, str):
        return
    content = sum((Decimal(v) for v in materials.values()), Decimal(0))
    if content > Decimal(mass):
        raise ImplausibleError(
            f"declared materials of {content} kg exceed the item's mass of {mass} kg",
            pointer=f"{pointer}/materials",
            rule="content-within-mass",
            content_kg=str(content),
            mass_kg=mass,
        )
