"""GET /api/v1/costs/ sums run costs per day, workflow, project or team; GET /api/v1/run-costs/{run}/ shows one."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from flowyard_spec.states import Role

DAY1 = datetime.datetime(2026, 3, 10, 8, 0, tzinfo=datetime.UTC)
DAY2 = datetime.datetime(2026, 3, 11, 8, 0, tzinfo=datetime.UTC)
WINDOW = {"since": "2026-03-01", "until": "2026-03-31"}


@pytest.fixture
def priced(tenant_a, tenant_b, fargate, finish_run):
    """Tenant A: etl ran 1 h on 10 March and 2 h on 11 March, report 1 h on 11 March (1 vCPU, 2 GiB: 0.04937 an
    hour); tenant B spent too."""
    runs = [
        finish_run(tenant_a, fargate, seconds=3600, started_at=DAY1),
        finish_run(tenant_a, fargate, seconds=7200, started_at=DAY2),
        finish_run(tenant_a, fargate, seconds=3600, started_at=DAY2, deployment=tenant_a.report_test_deployment),
    ]
    finish_run(tenant_b, fargate, seconds=36000, started_at=DAY1)
    return runs


class TestCostRollups:
    def test_a_viewer_reads_costs_per_day_to_the_cent(self, tenant_a, priced, client_for):
        response = client_for(tenant_a.users[Role.VIEWER]).get(
            "/api/v1/costs/", {"project": tenant_a.project.slug, **WINDOW})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["since"], body["until"], body["group_by"], body["currency"]) == (
            "2026-03-01", "2026-03-31", ["day"], "USD")
        assert [(row["day"], row["runs"], Decimal(row["amount"])) for row in body["rows"]] == [
            ("2026-03-10", 1, Decimal("0.04937")), ("2026-03-11", 2, Decimal("0.14811"))]
        assert Decimal(body["total"]) == Decimal("0.19748") and body["runs"] == 3
        assert [project["slug"] for project in body["projects"]] == [tenant_a.project.slug]

    def test_costs_group_per_workflow_project_and_team_and_combine_with_days(self, tenant_a, priced, client_for):
        client = client_for(tenant_a.admin)
        by_workflow = client.get("/api/v1/costs/", {**WINDOW, "group_by": "workflow"}).json()["rows"]
        assert [(row["workflow_name"], row["project_slug"], row["amount"]) for row in by_workflow] == [
            ("etl", "alpha-main", "0.148110"), ("report", "alpha-main", "0.049370")]
        by_project = client.get("/api/v1/costs/", {**WINDOW, "group_by": "project"}).json()["rows"]
        assert [(row["project"], row["amount"]) for row in by_project] == [(str(tenant_a.project.pk), "0.197480")]
        by_team = client.get("/api/v1/costs/", {**WINDOW, "group_by": "team"}).json()["rows"]
        assert [(row["team_slug"], row["runs"]) for row in by_team] == [("alpha", 3)]
        combined = client.get("/api/v1/costs/", {**WINDOW, "group_by": "workflow,day"}).json()["rows"]
        assert [(row["workflow_name"], row["day"], row["amount"]) for row in combined] == [
            ("etl", "2026-03-10", "0.049370"), ("etl", "2026-03-11", "0.098740"), ("report", "2026-03-11", "0.049370")]

    def test_the_window_selects_days_and_since_takes_a_number_of_days(self, tenant_a, priced, client_for):
        client = client_for(tenant_a.admin)
        one_day = client.get("/api/v1/costs/", {"since": "2026-03-11", "until": "2026-03-11"}).json()
        assert one_day["runs"] == 2
        recent = client.get("/api/v1/costs/", {"since": "30d"}).json()
        today = timezone.now().astimezone(datetime.UTC).date()
        assert recent["until"] == today.isoformat()
        assert recent["since"] == (today - datetime.timedelta(days=29)).isoformat()

    def test_projects_show_their_budget_and_this_months_spending(self, tenant_a, priced, client_for):
        from controlplane.costs.models import ProjectBudget

        ProjectBudget.objects.create(project=tenant_a.project, monthly_amount=Decimal("50"))
        body = client_for(tenant_a.admin).get("/api/v1/costs/", {"team": tenant_a.team.slug}).json()
        budgets = {project["slug"]: project["monthly_budget"] for project in body["projects"]}
        assert budgets == {tenant_a.project.slug: "50.00", tenant_a.empty_project.slug: None}

    @pytest.mark.parametrize(("query", "field"), [
        ({"since": "last-month"}, "since"), ({"since": "0d"}, "since"), ({"group_by": "region"}, "group_by"),
        ({"group_by": "day,day"}, "group_by"), ({"until": "31/03/2026"}, "until"),
        ({"since": "2026-04-01", "until": "2026-03-01"}, "since"),
    ])
    def test_an_invalid_window_or_grouping_answers_400_naming_the_field_and_the_fix(self, tenant_a, client_for, query,
                                                                                    field):
        response = client_for(tenant_a.admin).get("/api/v1/costs/", query)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid" and field in body["extra"]["fields"]

    def test_another_teams_project_or_team_answers_404_and_is_never_summed(self, tenant_a, tenant_b, priced, client_for):
        client = client_for(tenant_a.admin)
        for query in ({"project": tenant_b.project.slug}, {"project": str(tenant_b.project.pk)},
                      {"team": tenant_b.team.slug}):
            response = client.get("/api/v1/costs/", query)
            assert response.status_code == 404 and response.json()["code"] == "not_found"
            assert tenant_b.prefix not in response.content.decode().replace(query.get("project", query.get("team")), "")
        everything = client.get("/api/v1/costs/", WINDOW).json()
        assert Decimal(everything["total"]) == Decimal("0.19748"), "team B's costs are not in A's totals"

    def test_a_person_without_a_role_sees_no_costs(self, tenant_a, priced, client_for):
        client = client_for(tenant_a.spare_user)
        assert client.get("/api/v1/costs/", {"project": tenant_a.project.slug}).status_code == 404
        body = client.get("/api/v1/costs/", WINDOW).json()
        assert (body["rows"], body["projects"], body["total"]) == ([], [], "0.000000")
        assert client_for(None).get("/api/v1/costs/").status_code in (401, 403)


class TestRunCost:
    def test_a_viewer_reads_a_runs_cost_with_the_prices_used(self, tenant_a, priced, client_for):
        response = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/run-costs/{priced[1].pk}/")
        assert response.status_code == 200
        cost = response.json()
        assert Decimal(cost["amount"]) == Decimal("0.09874") and cost["currency"] == "USD"
        assert (Decimal(cost["vcpu"]), Decimal(cost["gib"]), Decimal(cost["wall_seconds"])) == (1, 2, 7200)
        assert (Decimal(cost["vcpu_hour"]), Decimal(cost["gib_hour"])) == (Decimal("0.04048"), Decimal("0.004445"))
        assert (cost["workflow_name"], cost["environment_name"], cost["runtime_target_name"], cost["day"]) == (
            "etl", "test", "fargate", "2026-03-11")

    def test_a_run_that_has_not_ended_has_no_cost_yet(self, tenant_a, client_for):
        response = client_for(tenant_a.admin).get(f"/api/v1/run-costs/{tenant_a.run.pk}/")
        assert response.status_code == 404 and response.json()["code"] == "run_not_priced"

    def test_another_teams_run_and_a_person_without_a_role_answer_404(self, tenant_a, tenant_b, priced, client_for):
        foreign = tenant_b.run
        response = client_for(tenant_a.admin).get(f"/api/v1/run-costs/{foreign.pk}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
        assert client_for(tenant_a.spare_user).get(f"/api/v1/run-costs/{priced[0].pk}/").status_code == 404
