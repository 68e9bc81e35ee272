"""A runtime target's price table: what one vCPU-hour and one GiB-hour of memory cost there."""

from django.core.validators import MinValueValidator
from django.db import models

from controlplane.core.models import UUIDModel

CURRENCIES = [("USD", "US dollar")]
PRICE_DIGITS, PRICE_PLACES = 14, 8  # up to 999,999 per hour, to a millionth of a cent


class PriceTable(UUIDModel):
    """The prices of one runtime target; a target without one is priced by its kind's defaults (data file)."""

    runtime_target = models.OneToOneField(
        "runtimes.RuntimeTarget", on_delete=models.CASCADE, related_name="price_table"
    )
    vcpu_hour = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES,
                                    validators=[MinValueValidator(0)], help_text="Price of one vCPU for one hour.")
    gib_hour = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES,
                                   validators=[MinValueValidator(0)], help_text="Price of one GiB of memory for one hour.")
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="USD")
    source = models.CharField(max_length=500, blank=True, help_text="Where the prices come from (a contract, a page).")

    class Meta:
        ordering = ["runtime_target__name"]

    def __str__(self) -> str:
        return f"prices of {self.runtime_target_id}"
