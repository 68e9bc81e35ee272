"""Price tables API: every signed-in person reads them; platform staff set (POST, create or replace) and remove them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from typing_extensions import override

from controlplane.api.access import VISIBLE, PlatformStaff
from controlplane.api.views import DestroyMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.costs import price_tables as services
from controlplane.costs import selectors
from controlplane.costs.models import PriceTable

MANAGE_PRICES = PlatformStaff("set or remove price tables")


class PriceTableSerializer(serializers.ModelSerializer):
    """A runtime target's prices per vCPU-hour and GiB-hour."""

    runtime_target_name = serializers.CharField(source="runtime_target.name", read_only=True)
    runtime_kind = serializers.CharField(source="runtime_target.kind", read_only=True)

    class Meta:
        model = PriceTable
        fields = ["id", "runtime_target", "runtime_target_name", "runtime_kind", "vcpu_hour", "gib_hour", "currency",
                  "source", "created_at", "updated_at"]


class RuntimeTargetField(serializers.SlugRelatedField):
    """A runtime target by name."""

    default_error_messages = {"does_not_exist": "There is no runtime target named {value} (see the admin's Runtime "
                                                "targets)."}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("slug_field", "name")
        super().__init__(**kwargs)

    @override
    def get_queryset(self):
        return selectors.runtime_target_list(user=self.context["request"].user)


class PriceTableSetSerializer(serializers.ModelSerializer):
    """Input to give a runtime target its prices (replacing the ones it has)."""

    runtime_target = RuntimeTargetField(help_text="The runtime target's name.")

    class Meta:
        model = PriceTable
        fields = ["runtime_target", "vcpu_hour", "gib_hour", "currency", "source"]
        extra_kwargs = {"currency": {"help_text": "USD, the only currency so far."}}


class PriceTableViewSet(ListRetrieveMixin, DestroyMixin, ScopedViewSet):
    """Price tables of runtime targets; a target without one is priced by its kind's defaults (docs/costs.md)."""

    selector = staticmethod(selectors.price_table_list)
    output_serializer = PriceTableSerializer
    input_serializers = {"create": PriceTableSetSerializer}
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE, "create": MANAGE_PRICES, "destroy": MANAGE_PRICES}
    cursor_ordering = ("-created_at", "-id")
    filterset_fields = ["runtime_target"]

    @extend_schema(request=PriceTableSetSerializer, responses={201: PriceTableSerializer, 200: PriceTableSerializer})
    def create(self, request, *args, **kwargs):
        """Set a runtime target's prices: 201 with a new table, 200 when it replaced the target's table."""
        table, created = services.price_table_set(actor=request.user, **self.validated_input())
        return self.respond(table, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def destroy(self, request, *args, **kwargs):
        """Remove the table: runs that end from now on are priced by the target kind's defaults."""
        return super().destroy(request, *args, **kwargs)

    @override
    def destroy_object(self, obj):
        services.price_table_delete(actor=self.request.user, table=obj)


ROUTES: list = [("price-tables", PriceTableViewSet, "price-table")]
URLS: list = []
