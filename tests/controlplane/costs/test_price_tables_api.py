"""Price tables: every signed-in person reads them; only platform staff set (create or replace) and remove them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controlplane.core.models import AuditEvent
from controlplane.costs.models import PriceTable, RunCost
from flowyard_spec.states import Role
from flowyard_testkit.writes import STAFF_WRITES, send


def body(target, **changes):
    return {"runtime_target": target.name, "vcpu_hour": "0.05", "gib_hour": "0.005", "source": "our contract",
            **changes}


class TestPriceTables:
    def test_staff_set_a_targets_prices_and_setting_them_again_replaces_them(self, staff_user, fargate, client_for):
        client = client_for(staff_user)
        created = client.post("/api/v1/price-tables/", body(fargate), format="json")
        assert created.status_code == 201, created.json()
        assert (created.json()["runtime_target_name"], created.json()["vcpu_hour"]) == ("fargate", "0.05000000")
        replaced = client.post("/api/v1/price-tables/", body(fargate, vcpu_hour="0.06"), format="json")
        assert replaced.status_code == 200 and replaced.json()["id"] == created.json()["id"]
        assert PriceTable.objects.get().vcpu_hour == Decimal("0.06")
        actions = list(AuditEvent.objects.filter(object_type="costs.pricetable").values_list("action", flat=True))
        assert sorted(actions) == ["price_table.changed", "price_table.created"]

    def test_the_next_run_on_the_target_is_priced_by_the_new_table(self, tenant_a, staff_user, fargate, finish_run,
                                                                    client_for):
        client_for(staff_user).post("/api/v1/price-tables/", body(fargate, vcpu_hour="1", gib_hour="0.5"), format="json")
        run = finish_run(tenant_a, fargate, cpu=1024, memory=2048, seconds=1800)
        cost = RunCost.objects.get(run=run)
        assert cost.amount == Decimal("1.00") and cost.price_source == "our contract"  # (1 + 2 × 0.5) × 0.5 h

    def test_everyone_signed_in_reads_price_tables(self, tenant_a, fargate, client_for):
        PriceTable.objects.create(runtime_target=fargate, vcpu_hour=Decimal("0.05"), gib_hour=Decimal("0.005"))
        response = client_for(tenant_a.users[Role.VIEWER]).get("/api/v1/price-tables/")
        assert response.status_code == 200
        assert [table["runtime_kind"] for table in response.json()["results"]] == ["ecs"]
        assert client_for(None).get("/api/v1/price-tables/").status_code in (401, 403)

    @pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
    def test_no_project_role_may_set_or_remove_prices(self, tenant_a, fargate, client_for, role):
        table = PriceTable.objects.create(runtime_target=fargate, vcpu_hour=Decimal("0.05"), gib_hour=Decimal("0.005"))
        client = client_for(tenant_a.users[role])
        refused = client.post("/api/v1/price-tables/", body(fargate, vcpu_hour="0"), format="json")
        assert refused.status_code == 403 and "Only platform staff" in refused.json()["message"]
        assert client.delete(f"/api/v1/price-tables/{table.pk}/").status_code == 403
        assert PriceTable.objects.get().vcpu_hour == Decimal("0.05")

    def test_staff_remove_a_table_and_the_kinds_defaults_apply_again(self, tenant_a, staff_user, fargate, finish_run,
                                                                     client_for):
        table = PriceTable.objects.create(runtime_target=fargate, vcpu_hour=Decimal(1), gib_hour=Decimal(1))
        assert client_for(staff_user).delete(f"/api/v1/price-tables/{table.pk}/").status_code == 204
        assert AuditEvent.objects.filter(action="price_table.deleted").count() == 1
        run = finish_run(tenant_a, fargate, seconds=3600)
        assert RunCost.objects.get(run=run).amount == Decimal("0.04937")

    @pytest.mark.parametrize(("changes", "field"), [
        ({"runtime_target": "no-such-target"}, "runtime_target"), ({"vcpu_hour": "-0.01"}, "vcpu_hour"),
        ({"gib_hour": "cheap"}, "gib_hour"), ({"currency": "EUR"}, "currency"),
    ])
    def test_invalid_prices_answer_400_naming_the_field(self, staff_user, fargate, client_for, changes, field):
        response = client_for(staff_user).post("/api/v1/price-tables/", body(fargate, **changes), format="json")
        assert response.status_code == 400 and field in response.json()["extra"]["fields"]
        assert not PriceTable.objects.exists()

    def test_an_id_that_is_no_price_table_answers_404(self, tenant_b, staff_user, client_for):
        response = client_for(staff_user).delete(f"/api/v1/price-tables/{tenant_b.project.pk}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


PRICE_WRITES = [write for write in STAFF_WRITES if write.route.startswith("price-table")]


@pytest.fixture
def priced_world(tenant_a, fargate, docker_target):
    """Tenant A, a target to price (docker) and a price table to remove (fargate's), as the write table expects."""
    tenant_a.extra["runtime_target"] = docker_target
    tenant_a.extra["price_table"] = PriceTable.objects.create(
        runtime_target=fargate, vcpu_hour=Decimal("0.05"), gib_hour=Decimal("0.005"))
    return tenant_a


@pytest.mark.parametrize("write", PRICE_WRITES, ids=lambda write: write.id)
def test_the_write_table_price_writes_are_staffs_alone_and_audited(write, priced_world, staff_user, client_for):
    before = list(PriceTable.objects.values_list())
    for role in Role:
        assert send(client_for(priced_world.users[role]), write, priced_world).status_code == 403, role
    assert list(PriceTable.objects.values_list()) == before
    events = AuditEvent.objects.count()
    assert send(client_for(staff_user), write, priced_world).status_code == write.success
    assert AuditEvent.objects.count() == events + 1
