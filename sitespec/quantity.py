"""Kubernetes resource quantities ("500m", "6", "12Gi", "100G", "1e3"), parsed in one place.

The program writes them, the policy pack reads them from what the engine sends, and the commands
read them from the cluster's API: all three go through `parse`. Standard library only (the policy
pack imports it).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)$")
GIB = 2**30


class QuantityError(ValueError):
    """Not a Kubernetes quantity; the message quotes it."""


def parse(q: Any) -> float:
    """The quantity's plain value: cores for a CPU quantity, bytes for memory and storage.
    None or "" is 0 (an unset request)."""
    if q is None or q == "":
        return 0.0
    if isinstance(q, (int, float)) and not isinstance(q, bool):
        return float(q)
    m = _QUANTITY.match(str(q).strip())
    if not m:
        raise QuantityError(f"{q!r} is not a Kubernetes quantity (e.g. 500m, 2, 12Gi, 100G)")
    try:
        return float(Decimal(m.group(1)) * _SUFFIXES[m.group(2)])
    except InvalidOperation as e:  # pragma: no cover - the pattern admits only numbers
        raise QuantityError(f"{q!r} is not a Kubernetes quantity") from e


def cores(q: Any) -> float:
    """A CPU quantity in cores ("1500m" is 1.5)."""
    return parse(q)


def gib(q: Any) -> float:
    """A memory or storage quantity in GiB, the unit of the sizing table and of o3:*.storageGb."""
    return parse(q) / GIB
