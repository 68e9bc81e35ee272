"""Budgets API: one monthly budget per project, addressed by the project's id; viewers read it, admins set it."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from typing_extensions import override

from controlplane.api.views import ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.costs import budgets as services
from controlplane.costs import selectors
from controlplane.costs.budgets import current_period
from controlplane.costs.models.budgets import THRESHOLDS
from controlplane.costs.models.prices import CURRENCIES
from controlplane.tenancy.models import Project
from flowyard_spec.states import Role


class BudgetSerializer(serializers.Serializer):
    """A project's monthly budget (null: none) and what the project spent this UTC month."""

    project = serializers.UUIDField(source="pk", read_only=True)
    project_slug = serializers.CharField(source="slug", read_only=True)
    monthly_amount = serializers.SerializerMethodField(help_text="The budget per UTC month; null when it has none.")
    currency = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField(help_text='This UTC month, "YYYY-MM".')
    month_spent = serializers.DecimalField(max_digits=24, decimal_places=6, read_only=True)
    thresholds = serializers.SerializerMethodField(help_text="The percentages of the budget that alert.")

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True))
    def get_monthly_amount(self, project: Project) -> str | None:
        """The budget, or None."""
        budget = getattr(project, "budget", None)
        return None if budget is None else f"{budget.monthly_amount:.2f}"

    def get_currency(self, project: Project) -> str:
        """The budget's currency (USD)."""
        budget = getattr(project, "budget", None)
        return budget.currency if budget is not None else "USD"

    def get_period(self, project: Project) -> str:
        """The month month_spent covers."""
        return current_period()

    def get_thresholds(self, project: Project) -> list[int]:
        """80 and 100."""
        return list(THRESHOLDS)


class BudgetSetSerializer(serializers.Serializer):
    """Input to set a project's monthly budget."""

    monthly_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), allow_null=True,
        help_text="The budget per UTC month, more than 0; null removes it.")
    currency = serializers.ChoiceField(choices=CURRENCIES, default="USD", help_text="USD, the only currency so far.")


class BudgetViewSet(ListRetrieveMixin, UpdateMixin, ScopedViewSet):
    """Project budgets: alerts fire when a month's costs reach 80 % and 100 % (once each per month)."""

    selector = staticmethod(selectors.budget_project_list)
    output_serializer = BudgetSerializer
    input_serializers = {"partial_update": BudgetSetSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "partial_update": Role.ADMIN}
    project_path = ""
    cursor_ordering = "slug"
    filterset_fields = ["slug"]

    def partial_update(self, request, *args, **kwargs):
        """Set (or with null remove) the project's monthly budget."""
        return super().partial_update(request, *args, **kwargs)

    @override
    def update_object(self, obj: Model, data):
        services.budget_set(actor=self.request.user, project=obj, **data)
        return self.get_queryset().get(pk=obj.pk)


ROUTES: list = [("budgets", BudgetViewSet, "budget")]
URLS: list = []
