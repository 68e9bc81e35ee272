"""The portal's home page: my projects with their last runs, and the promotions waiting for me."""

from __future__ import annotations

from django.test import Client

from flowyard_spec.states import Role


def page_of(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_nobody_signed_in_is_sent_to_the_sign_in_page():
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"] == "/auth/login/?next=/"


def test_a_person_sees_their_projects_runs_and_never_another_teams(tenant_a, tenant_b):
    page = page_of(tenant_a.users[Role.VIEWER])
    assert f'data-testid="project-{tenant_a.project.slug}"' in page
    assert tenant_a.run.deployment.workflow.name in page
    assert tenant_b.project.slug not in page and tenant_b.prefix not in page


def test_state_is_written_out_not_shown_by_colour_alone(tenant_a):
    page = page_of(tenant_a.users[Role.VIEWER])
    assert f"</span> {tenant_a.run.state}</span>" in page


def test_an_approver_sees_the_promotion_waiting_for_them_but_its_requester_does_not(tenant_a):
    approver_page = page_of(tenant_a.users[Role.APPROVER])
    assert 'data-testid="waiting-promotions"' in approver_page
    assert f"{tenant_a.project.slug}/{tenant_a.workflow.name}" in approver_page
    assert 'data-testid="waiting-promotions"' not in page_of(tenant_a.users[Role.DEVELOPER])


def test_the_project_switcher_narrows_home_to_one_project_and_shows_my_role_there(tenant_a):
    client = Client()
    client.force_login(tenant_a.users[Role.APPROVER])
    page = client.get("/", {"project": tenant_a.project.slug}).content.decode()
    assert f'data-testid="project-{tenant_a.empty_project.slug}"' not in page
    assert 'data-testid="my-role">approver<' in page
    assert '<label for="project-switcher">Project</label>' in page
    everything = client.get("/", {"project": ""}).content.decode()
    assert f'data-testid="project-{tenant_a.empty_project.slug}"' in everything
