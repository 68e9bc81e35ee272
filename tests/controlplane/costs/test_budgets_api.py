"""Budgets per project (by the project's id): viewers read them with this month's spending, admins set them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from controlplane.core.models import AuditEvent
from controlplane.costs.models import ProjectBudget
from flowyard_spec.states import Role


class TestBudgets:
    def test_an_admin_sets_a_budget_and_a_viewer_reads_it_with_this_months_spending(self, tenant_a, client_for):
        url = f"/api/v1/budgets/{tenant_a.project.pk}/"
        response = client_for(tenant_a.admin).patch(url, {"monthly_amount": "250.5"}, format="json")
        assert response.status_code == 200, response.json()
        assert AuditEvent.objects.filter(action="budget.set", project=tenant_a.project).count() == 1
        shown = client_for(tenant_a.users[Role.VIEWER]).get(url).json()
        assert (shown["project_slug"], shown["monthly_amount"], shown["currency"]) == (tenant_a.project.slug, "250.50", "USD")
        assert shown["period"] == timezone.now().strftime("%Y-%m") and Decimal(shown["month_spent"]) == 0
        assert shown["thresholds"] == [80, 100]

    def test_null_removes_the_budget(self, tenant_a, client_for):
        ProjectBudget.objects.create(project=tenant_a.project, monthly_amount=Decimal(10))
        url = f"/api/v1/budgets/{tenant_a.project.pk}/"
        response = client_for(tenant_a.admin).patch(url, {"monthly_amount": None}, format="json")
        assert response.status_code == 200 and response.json()["monthly_amount"] is None
        assert not ProjectBudget.objects.exists()

    def test_the_list_shows_every_project_the_caller_sees_with_or_without_a_budget(self, tenant_a, tenant_b, client_for):
        ProjectBudget.objects.create(project=tenant_a.project, monthly_amount=Decimal(10))
        results = client_for(tenant_a.users[Role.VIEWER]).get("/api/v1/budgets/").json()["results"]
        assert {row["project_slug"]: row["monthly_amount"] for row in results} == {
            tenant_a.project.slug: "10.00", tenant_a.empty_project.slug: None}

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.APPROVER], ids=lambda role: role.value)
    def test_roles_below_admin_may_not_set_a_budget(self, tenant_a, client_for, role):
        response = client_for(tenant_a.users[role]).patch(
            f"/api/v1/budgets/{tenant_a.project.pk}/", {"monthly_amount": "1"}, format="json")
        assert response.status_code == 403 and response.json()["extra"]["required_role"] == "admin"
        assert not ProjectBudget.objects.exists()

    def test_another_teams_budget_answers_404(self, tenant_a, tenant_b, client_for):
        client = client_for(tenant_a.admin)
        url = f"/api/v1/budgets/{tenant_b.project.pk}/"
        assert client.get(url).status_code == 404
        response = client.patch(url, {"monthly_amount": "1"}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
        assert not ProjectBudget.objects.exists()
        assert client_for(tenant_a.spare_user).get(f"/api/v1/budgets/{tenant_a.project.pk}/").status_code == 404

    @pytest.mark.parametrize("amount", ["-1", "0", "lots", "1.234"])
    def test_an_invalid_amount_answers_400_naming_the_field(self, tenant_a, client_for, amount):
        response = client_for(tenant_a.admin).patch(
            f"/api/v1/budgets/{tenant_a.project.pk}/", {"monthly_amount": amount}, format="json")
        assert response.status_code == 400 and "monthly_amount" in response.json()["extra"]["fields"]
        assert not ProjectBudget.objects.exists()
