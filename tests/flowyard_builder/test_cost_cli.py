"""`flowyard cost --project P --since ... [--group-by ...] [--format table|csv|json]` against a live control plane."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest

from flowyard_builder.cli import main
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db(transaction=True)

DAY1 = datetime.datetime(2026, 3, 10, 8, 0, tzinfo=datetime.UTC)
DAY2 = datetime.datetime(2026, 3, 11, 8, 0, tzinfo=datetime.UTC)
WINDOW = ("--since", "2026-03-01", "--until", "2026-03-31")


@pytest.fixture
def tenant():
    """A team whose etl ran on Fargate for 1 h on 10 March and 2 h on 11 March, and report 1 h on 11 March
    (1 vCPU and 2 GiB each: $0.04937 an hour); another team spent too."""
    from controlplane.costs.models import ProjectBudget
    from controlplane.costs.pricing import run_cost_record
    from controlplane.runs.models import Run
    from controlplane.runtimes.models import RuntimeTarget
    from flowyard_testkit.tenants import build_tenant

    tenant, other = build_tenant("cli-cost"), build_tenant("cli-other")
    fargate = RuntimeTarget.objects.create(name="fargate", kind="ecs")
    for owner, deployment, start, hours in ((tenant, tenant.test_deployment, DAY1, 1),
                                            (tenant, tenant.test_deployment, DAY2, 2),
                                            (tenant, tenant.report_test_deployment, DAY2, 1),
                                            (other, other.test_deployment, DAY1, 10)):
        run = Run.objects.create(deployment=deployment, version=deployment.version, state="SUCCEEDED",
                                 runtime_target=fargate, started_at=start,
                                 ended_at=start + datetime.timedelta(hours=hours))
        run_cost_record(run_id=run.pk)
    ProjectBudget.objects.create(project=tenant.project, monthly_amount=Decimal("10"))
    return tenant


@pytest.fixture
def cli(live_server, tenant, monkeypatch, capsys):
    """`cli(*args, role=...)`: (exit code, stdout, stderr) of main() with a personal token of that role."""
    from controlplane.tenancy.services import personal_token_create

    monkeypatch.setenv("FLOWYARD_API_URL", live_server.url)

    def call(*args: str, role: Role = Role.VIEWER, user=None) -> tuple[int, str, str]:
        owner = user or tenant.users[role]
        monkeypatch.setenv("FLOWYARD_TOKEN", personal_token_create(actor=owner, name="cost")[1])
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_the_table_shows_each_days_cost_to_the_cent_and_the_total(cli):
    code, out, err = cli("cost", "--project", "cli-cost-main", *WINDOW)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["DAY", "RUNS", "HOURS", "COST"]
    assert lines[1].split() == ["2026-03-10", "1", "1.0", "$0.05"]
    assert lines[2].split() == ["2026-03-11", "2", "3.0", "$0.15"]
    assert "total $0.20 USD for 3 runs, 2026-03-01 to 2026-03-31 (UTC)" in out
    assert "budget of cli-cost-main in" in out and "of $10.00" in out
    assert "cli-other" not in out


def test_csv_per_workflow_keeps_the_exact_amounts(cli):
    code, out, _ = cli("cost", "--project", "cli-cost-main", *WINDOW, "--group-by", "workflow", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["workflow_name"], row["runs"], Decimal(row["amount"]), row["currency"]) for row in rows] == [
        ("etl", "2", Decimal("0.14811"), "USD"), ("report", "1", Decimal("0.04937"), "USD")]


def test_json_per_project_and_day_is_the_apis_answer(cli):
    code, out, _ = cli("cost", "--project", "cli-cost-main", *WINDOW, "--group-by", "project,day", "--format", "json")
    assert code == 0
    body = json.loads(out)
    assert body["group_by"] == ["project", "day"] and Decimal(body["total"]) == Decimal("0.19748")
    assert [(row["project_slug"], row["day"]) for row in body["rows"]] == [
        ("cli-cost-main", "2026-03-10"), ("cli-cost-main", "2026-03-11")]


def test_since_in_days_is_passed_through_and_an_empty_window_says_so(cli):
    code, out, _ = cli("cost", "--project", "cli-cost-main", "--since", "1d")
    assert code == 0 and "no finished runs in this window" in out and "total $0.00 USD for 0 runs" in out


def test_a_bad_grouping_is_refused_before_asking_and_a_bad_since_names_the_field(cli):
    code, _, err = cli("cost", "--group-by", "region")
    assert code == 1 and "--group-by 'region'" in err
    code, _, err = cli("cost", "--since", "last-month")
    assert code == 1 and "since:" in err and "30d" in err


def test_another_teams_project_is_not_found(cli, tenant):
    code, _, err = cli("cost", "--project", "cli-other-main")
    assert code == 3 and "HTTP 404" in err and "not found" in err
    code, _, err = cli("cost", "--project", "cli-cost-main", user=tenant.spare_user)
    assert code == 3 and "HTTP 404" in err
