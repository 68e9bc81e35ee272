"""The workflow catalog and a workflow's page: what I may see, filters, schedules in words, bounded queries."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from controlplane.deployments import services as deployments
from controlplane.portal.schedule_words import schedule_in_words
from controlplane.workflows import services as workflows
from flowyard_spec.states import Role
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(user, url: str, **query) -> str:
    response = client_of(user).get(url, query)
    assert response.status_code == 200
    return response.content.decode()


def listed(html: str) -> set[str]:
    return set(re.findall(r'data-testid="workflow-([a-z0-9-]+)"', html))


def scheduled_report(tenant, *, schedule="cron(0 14 * * ? *)", timezone="Europe/Paris"):
    """Deploy to production a version of `report` whose schedule is on there (protected: on by default)."""
    version = register_version(
        actor=tenant.users[Role.DEVELOPER], workflow=tenant.report, image_digest=digest(tenant.prefix + "sched"),
        image_ref="127.0.0.1:5000/report:sched", git_commit_sha=hashlib.sha1(b"sched").hexdigest(), git_branch="main",
        config={"name": "report", "schedule": schedule, "schedule-enabled": True, "timezone": timezone})
    deployments.deployment_set(actor=tenant.admin, workflow=tenant.report, environment=tenant.production_env,
                               version=version)
    return version


def test_the_catalog_lists_my_workflows_with_owners_and_deployed_versions_never_another_teams(tenant_a, tenant_b):
    html = page(tenant_a.users[Role.VIEWER], "/workflows/")
    main = tenant_a.project.slug
    assert listed(html) == {f"{main}-etl", f"{main}-report", f"{main}-ingest", f"{main}-empty"}
    assert tenant_b.prefix not in html
    assert f"owners: {tenant_a.admin.username}" in html
    assert tenant_a.v2.image_digest in html and tenant_a.v2.git_commit_sha[:12] in html
    assert "by alpha-developer" in html  # who deployed test


def test_a_viewer_gets_no_trigger_button_a_developer_does(tenant_a):
    trigger_url = f"/deployments/{tenant_a.test_deployment.pk}/trigger/"
    assert trigger_url not in page(tenant_a.users[Role.VIEWER], "/workflows/")
    assert trigger_url in page(tenant_a.users[Role.DEVELOPER], "/workflows/")


def test_search_and_filters_narrow_the_catalog(tenant_a, tenant_b):
    viewer, main = tenant_a.users[Role.VIEWER], tenant_a.project.slug
    tenant_a.report.description = "Monthly revenue numbers"
    tenant_a.report.save()
    assert listed(page(viewer, "/workflows/", q="revenue")) == {f"{main}-report"}
    assert listed(page(viewer, "/workflows/", q="ET")) == {f"{main}-etl"}
    assert listed(page(viewer, "/workflows/", project=tenant_a.empty_project.slug)) == set()
    assert len(listed(page(viewer, "/workflows/", team=tenant_a.team.slug))) == 4
    assert len(listed(page(viewer, "/workflows/", owner=tenant_a.admin.username))) == 4
    assert listed(page(viewer, "/workflows/", state="QUEUED")) == {f"{main}-etl"}
    assert f"{main}-etl" not in listed(page(viewer, "/workflows/", state="NONE"))
    # Another team's slug is not a choice: the form says so and lists none of that team's workflows.
    refused = page(viewer, "/workflows/", team=tenant_b.team.slug)
    assert "bravo is not one of the available choices" in refused
    assert not any(name.startswith(tenant_b.prefix) for name in listed(refused))


def test_the_schedule_reads_in_words_with_the_next_five_ticks_in_the_projects_timezone(tenant_a):
    from controlplane.tenancy.models import Project

    Project.objects.filter(pk=tenant_a.project.pk).update(timezone="Europe/Paris")  # the schedule's own zone too
    scheduled_report(tenant_a)
    html = page(tenant_a.users[Role.VIEWER], "/workflows/", schedule="scheduled")
    assert listed(html) == {f"{tenant_a.project.slug}-report"}
    assert "every day at 14:00" in html and "(Europe/Paris)" in html
    assert len(re.findall(r'<li><time datetime="[^"]+">\d{4}-\d\d-\d\d 14:00</time></li>', html)) == 5
    unscheduled = listed(page(tenant_a.users[Role.VIEWER], "/workflows/", schedule="unscheduled"))
    assert f"{tenant_a.project.slug}-report" not in unscheduled and f"{tenant_a.project.slug}-etl" in unscheduled


def test_the_workflow_page_shows_details_and_recent_runs(tenant_a):
    html = page(tenant_a.users[Role.VIEWER], f"/workflows/{tenant_a.workflow.pk}/")
    assert f"<h1>{tenant_a.project.slug}/etl</h1>" in html
    assert 'data-testid="recent-runs"' in html and "QUEUED" in html and "alpha-developer" in html
    assert 'data-testid="my-role">viewer<' in html
    assert "<title>alpha-main/etl · Flowyard</title>" in html


def test_another_teams_workflow_is_a_404_like_a_missing_one(tenant_a, tenant_b):
    client = client_of(tenant_a.users[Role.ADMIN])
    assert client.get(f"/workflows/{tenant_b.workflow.pk}/").status_code == 404
    assert client.get("/workflows/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_nobody_signed_in_is_sent_to_sign_in():
    assert Client().get("/workflows/").status_code == 302


def add_workflows(tenant, count: int) -> None:
    for index in range(count):
        workflow = workflows.workflow_create(actor=tenant.users[Role.DEVELOPER], project=tenant.project,
                                             name=f"extra-{index}")
        version = register_version(
            actor=tenant.users[Role.DEVELOPER], workflow=workflow, image_digest=digest(f"extra-{index}"),
            image_ref=f"127.0.0.1:5000/extra-{index}:1", git_commit_sha=hashlib.sha1(str(index).encode()).hexdigest(),
            config={"name": workflow.name, "schedule": "rate(1 hour)", "schedule-enabled": True,
                    **({"description": f"Extra workflow {index}."} if index % 2 else {})},
            readme_excerpt=f"The README of extra-{index}.")
        for environment in (tenant.test_env, tenant.production_env):
            deployments.deployment_set(actor=tenant.admin, workflow=workflow, environment=environment, version=version)


@pytest.mark.parametrize("extra", [0, 12])
def test_the_catalog_makes_a_bounded_number_of_queries_however_many_workflows(
        tenant_a, extra, django_assert_max_num_queries):
    add_workflows(tenant_a, extra)
    scheduled_report(tenant_a)
    client = client_of(tenant_a.users[Role.DEVELOPER])
    with django_assert_max_num_queries(15):
        response = client.get("/workflows/")
    assert response.status_code == 200
    assert len(listed(response.content.decode())) == 4 + extra


def description_of(html: str, workflow) -> tuple[str, str]:
    """(source, text) of the description a page shows for `workflow`."""
    match = re.search(rf'data-testid="description-{workflow.pk}" data-source="([a-z]+)">(.*?)</p>', html, re.DOTALL)
    assert match, f"no description of {workflow.name}"
    return match.group(1), match.group(2)


def described_version(tenant, workflow, seed: str, *, description: str | None = None, readme: str = ""):
    """Register a version of `workflow` whose flowyard.json has `description` (unless None) and its README `readme`."""
    config = {"name": workflow.name} | ({"description": description} if description is not None else {})
    return register_version(
        actor=tenant.users[Role.DEVELOPER], workflow=workflow, image_digest=digest(tenant.prefix + seed),
        image_ref=f"127.0.0.1:5000/{workflow.name}:{seed}", config=config, readme_excerpt=readme)


def test_each_workflow_says_what_it_does_from_its_config_else_its_readme_else_its_own_description(tenant_a):
    from controlplane.workflows.models import WorkflowVersion

    viewer = tenant_a.users[Role.VIEWER]
    # etl: production runs a version described in flowyard.json; test runs one with only a README excerpt.
    production = described_version(tenant_a, tenant_a.workflow, "etl-3", description="Loads the day's sales.",
                                   readme="The README says something else.")
    deployments.deployment_set(actor=tenant_a.admin, workflow=tenant_a.workflow, environment=tenant_a.production_env,
                               version=production)
    WorkflowVersion.objects.filter(pk=tenant_a.v2.pk).update(readme_excerpt="What test runs, per its README.")
    # report: its deployed version has a README excerpt (with markup, which is shown as text) and no description.
    WorkflowVersion.objects.filter(pk=tenant_a.report_v1.pk).update(readme_excerpt="Monthly <b>revenue</b> report.")
    tenant_a.report.description = "Ignored: the version's README comes first."
    tenant_a.report.save()
    # ingest: nothing deployed, so its latest version speaks, not the older one.
    WorkflowVersion.objects.filter(pk=tenant_a.ingest_v1.pk).update(readme_excerpt="An older README.")
    described_version(tenant_a, tenant_a.ingest, "ingest-2", description="Pulls the shop's orders.")
    # empty: no version at all, only what was typed into Flowyard.
    tenant_a.empty_workflow.description = "Typed into Flowyard."
    tenant_a.empty_workflow.save()

    html = page(viewer, "/workflows/")
    from_config = "<small>(from flowyard.json)</small>"
    assert description_of(html, tenant_a.workflow) == ("config", f"Loads the day&#x27;s sales. {from_config}")
    assert description_of(html, tenant_a.report) == (
        "readme", "Monthly &lt;b&gt;revenue&lt;/b&gt; report. <small>(from the README)</small>")
    assert description_of(html, tenant_a.ingest) == ("config", f"Pulls the shop&#x27;s orders. {from_config}")
    assert description_of(html, tenant_a.empty_workflow) == ("workflow", "Typed into Flowyard.")
    # The workflow's page says the same.
    assert description_of(page(viewer, f"/workflows/{tenant_a.workflow.pk}/"), tenant_a.workflow)[0] == "config"
    assert description_of(page(viewer, f"/workflows/{tenant_a.report.pk}/"), tenant_a.report)[0] == "readme"
    # Search finds a workflow by the description it shows, wherever that came from.
    main = tenant_a.project.slug
    assert listed(page(viewer, "/workflows/", q="revenue")) == {f"{main}-report"}
    assert listed(page(viewer, "/workflows/", q="SHOP'S ORDERS")) == {f"{main}-ingest"}
    assert listed(page(viewer, "/workflows/", q="typed into")) == {f"{main}-empty"}


def test_a_blank_description_falls_through_and_nothing_at_all_reads_no_description(tenant_a):
    viewer = tenant_a.users[Role.VIEWER]
    described_version(tenant_a, tenant_a.ingest, "ingest-blank", description="  ", readme="From the README.")
    html = page(viewer, "/workflows/")
    assert description_of(html, tenant_a.ingest) == ("readme", "From the README. <small>(from the README)</small>")
    assert description_of(html, tenant_a.empty_workflow) == ("none", "No description.")
    assert description_of(page(viewer, f"/workflows/{tenant_a.empty_workflow.pk}/"), tenant_a.empty_workflow) == (
        "none", "No description.")


def test_schedules_in_words_cover_the_common_forms_and_say_nothing_of_the_rest():
    assert schedule_in_words("cron(0 14 * * ? *)") == "every day at 14:00"
    assert schedule_in_words("cron(30 8 ? * MON-FRI *)") == "every Monday to Friday at 08:30"
    assert schedule_in_words("0 9 * * 1-5") == "every Monday to Friday at 09:00"
    assert schedule_in_words("*/15 9-17 * * 1-5") == "every 15 minutes from 09:00 to 17:59, Monday to Friday"
    assert schedule_in_words("rate(5 minutes)") == "every 5 minutes"
    assert schedule_in_words("rate(1 day)") == "every day"
    assert schedule_in_words("0 0 1 * *") == "on day 1 of every month at 00:00"
    assert schedule_in_words("cron(0 * * * ? *)") == "every hour at minute 0"
    assert schedule_in_words("cron(0 10 ? * 6#3 *)") == ""  # shown as the expression and its ticks
    assert schedule_in_words(None) == ""
