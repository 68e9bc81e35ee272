"""The prices a runtime target charges: its own price table, else its kind's defaults from data/default_prices.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from controlplane.costs.models import PriceTable

DEFAULTS_FILE = Path(__file__).parent / "data" / "default_prices.json"
NOT_LAUNCHED_SOURCE = "the run was never launched on a runtime target: nothing to charge"


@dataclass(frozen=True)
class Prices:
    """What one vCPU-hour and one GiB-hour cost, in `currency`, and where that comes from."""

    vcpu_hour: Decimal
    gib_hour: Decimal
    currency: str
    source: str
    is_default: bool


@cache
def default_prices() -> dict[str, Prices]:
    """The defaults per runtime target kind (docker, ecs, local), read once from the data file."""
    data = json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return {
        kind: Prices(Decimal(entry["vcpu_hour"]), Decimal(entry["gib_hour"]), entry["currency"],
                     f"default for {kind}: {entry['source']}", True)
        for kind, entry in data["kinds"].items()
    }


ZERO = Prices(Decimal(0), Decimal(0), "USD", NOT_LAUNCHED_SOURCE, True)


def prices_for_target(target: Any) -> Prices:
    """The prices of a runtime target (None: a run never launched, which costs nothing)."""
    if target is None:
        return ZERO
    table = PriceTable.objects.filter(runtime_target=target).first()
    if table is not None:
        source = table.source or f"price table of runtime target {target.name}"
        return Prices(table.vcpu_hour, table.gib_hour, table.currency, source, False)
    return default_prices().get(target.kind, Prices(Decimal(0), Decimal(0), "USD", f"no default for {target.kind}", True))
