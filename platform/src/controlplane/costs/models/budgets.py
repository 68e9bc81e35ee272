"""A project's monthly budget, and each time its spending crossed 80 % or 100 % of it in a month."""

from django.core.validators import MinValueValidator
from django.db import models

from controlplane.core.models import TimestampedModel
from controlplane.costs.models.prices import CURRENCIES
from controlplane.costs.models.run_costs import AMOUNT_DIGITS, AMOUNT_PLACES

THRESHOLDS = (80, 100)  # percent of the monthly budget that alert (budget_80, budget_100)


class ProjectBudget(TimestampedModel):
    """How much a project means to spend per calendar month (UTC)."""

    project = models.OneToOneField("tenancy.Project", on_delete=models.CASCADE, primary_key=True, related_name="budget")
    monthly_amount = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="USD")

    def __str__(self) -> str:
        return f"budget of {self.project_id}: {self.monthly_amount} {self.currency} a month"


class BudgetCrossing(models.Model):
    """A project's spending reached `threshold` % of its budget in `period`: recorded (and alerted) once."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=7, help_text='The UTC month, "YYYY-MM".')
    threshold = models.PositiveSmallIntegerField(choices=[(value, f"{value} %") for value in THRESHOLDS])
    spent = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    budget = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "period", "threshold"], name="one_crossing_per_project_month_threshold")
        ]

    def __str__(self) -> str:
        return f"{self.project_id} crossed {self.threshold} % in {self.period}"
