"""Setting and removing a runtime target's price table (platform staff); every write is audited."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from controlplane.core.audit import audit_record, snapshot
from controlplane.costs.models import PriceTable


@transaction.atomic
def price_table_set(
    *, actor: Any, runtime_target: Any, vcpu_hour: Decimal, gib_hour: Decimal, currency: str = "USD", source: str = ""
) -> tuple[PriceTable, bool]:
    """Create or replace the target's price table; (table, True when it is new). Costs already recorded keep
    the prices they were computed with."""
    table = PriceTable.objects.select_for_update().filter(runtime_target=runtime_target).first()
    before = snapshot(table)
    created = table is None
    table = table or PriceTable(runtime_target=runtime_target)
    table.vcpu_hour, table.gib_hour, table.currency, table.source = vcpu_hour, gib_hour, currency, source
    table.save()
    audit_record(actor=actor, action="price_table.created" if created else "price_table.changed", obj=table,
                 before=before, after=snapshot(table))
    return table, created


@transaction.atomic
def price_table_delete(*, actor: Any, table: PriceTable) -> None:
    """Remove the target's price table: its kind's defaults apply to runs that end from now on."""
    audit_record(actor=actor, action="price_table.deleted", obj=table, before=snapshot(table))
    table.delete()
