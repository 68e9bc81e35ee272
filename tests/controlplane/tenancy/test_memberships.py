"""Team and project memberships decide each person's role on each project."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from guardian.models import GroupObjectPermission, UserObjectPermission

from controlplane.tenancy import services as tenancy
from controlplane.tenancy.models import ProjectGroupObjectPermission, ProjectUserObjectPermission, TeamMembership
from flowyard_spec.states import Role


def my_role(client, project) -> str | None:
    """The caller's role on `project` as the API reports it (None when the project answers 404)."""
    response = client.get(f"/api/v1/projects/{project.pk}/")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.json()
    return response.json()["my_role"]


def test_a_team_membership_grants_its_role_on_every_project_of_the_team(tenant_a, staff_user, client_for):
    newcomer = get_user_model().objects.create_user("newcomer", password="pw")
    client = client_for(newcomer)
    assert my_role(client, tenant_a.project) is None
    staff = client_for(staff_user)
    added = staff.post(
        "/api/v1/team-members/", {"team": str(tenant_a.team.pk), "user": "newcomer", "role": "developer"}, format="json"
    )
    assert added.status_code == 201, added.json()
    assert my_role(client, tenant_a.project) == "developer"
    assert my_role(client, tenant_a.empty_project) == "developer"
    created = staff.post(
        "/api/v1/projects/", {"team": str(tenant_a.team.pk), "slug": "alpha-later", "name": "Later"}, format="json"
    )
    assert created.status_code == 201, created.json()
    later = client.get(f"/api/v1/projects/{created.json()['id']}/")
    assert later.status_code == 200 and later.json()["my_role"] == "developer"


def test_changing_the_team_role_changes_the_role_on_every_project(tenant_a, staff_user, client_for):
    viewer = tenant_a.users[Role.VIEWER]
    membership = TeamMembership.objects.get(team=tenant_a.team, user=viewer)
    client = client_for(viewer)
    assert my_role(client, tenant_a.project) == "viewer"
    response = client_for(staff_user).patch(f"/api/v1/team-members/{membership.pk}/", {"role": "approver"}, format="json")
    assert response.status_code == 200, response.json()
    assert my_role(client, tenant_a.project) == "approver"
    assert my_role(client, tenant_a.empty_project) == "approver"
    client_for(staff_user).patch(f"/api/v1/team-members/{membership.pk}/", {"role": "viewer"}, format="json")
    assert my_role(client, tenant_a.project) == "viewer", "a lower role must replace the higher one, not add to it"


def test_removing_the_team_membership_hides_the_teams_projects(tenant_a, staff_user, client_for):
    developer = tenant_a.users[Role.DEVELOPER]
    membership = TeamMembership.objects.get(team=tenant_a.team, user=developer)
    client = client_for(developer)
    assert my_role(client, tenant_a.project) == "developer"
    assert client_for(staff_user).delete(f"/api/v1/team-members/{membership.pk}/").status_code == 204
    for project in (tenant_a.project, tenant_a.empty_project):
        response = client.get(f"/api/v1/projects/{project.pk}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client.get("/api/v1/projects/").json()["results"] == []
    assert client.get(f"/api/v1/runs/{tenant_a.run.pk}/").status_code == 404
    assert client.get("/api/v1/me/").json()["roles"] == {}


def test_a_direct_project_membership_grants_a_role_on_that_project_only(tenant_a, client_for):
    spare = tenant_a.spare_user
    response = client_for(tenant_a.admin).post(
        "/api/v1/project-members/",
        {"project": str(tenant_a.project.pk), "user": spare.username, "role": "developer"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    client = client_for(spare)
    assert my_role(client, tenant_a.project) == "developer"
    assert my_role(client, tenant_a.empty_project) is None
    assert [project["slug"] for project in client.get("/api/v1/projects/").json()["results"]] == [tenant_a.project.slug]


def test_the_effective_role_is_the_highest_of_team_and_project_roles(tenant_a, client_for):
    admin_client = client_for(tenant_a.admin)

    def give(user, role: str) -> str:
        response = admin_client.post(
            "/api/v1/project-members/", {"project": str(tenant_a.project.pk), "user": user.username, "role": role},
            format="json",
        )
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    viewer = client_for(tenant_a.users[Role.VIEWER])
    direct = give(tenant_a.users[Role.VIEWER], "approver")  # team viewer, project approver
    assert my_role(viewer, tenant_a.project) == "approver"
    assert my_role(viewer, tenant_a.empty_project) == "viewer"

    give(tenant_a.users[Role.APPROVER], "viewer")  # team approver, project viewer
    assert my_role(client_for(tenant_a.users[Role.APPROVER]), tenant_a.project) == "approver"

    assert admin_client.delete(f"/api/v1/project-members/{direct}/").status_code == 204
    assert my_role(viewer, tenant_a.project) == "viewer", "without the project role, the team role still applies"


def test_me_lists_the_role_on_each_project_by_slug(tenant_a, tenant_b, client_for):
    assert client_for(tenant_a.direct_member).get("/api/v1/me/").json()["roles"] == {tenant_a.project.slug: "viewer"}
    developer = tenant_a.users[Role.DEVELOPER]
    tenancy.project_member_set(actor=tenant_b.admin, project=tenant_b.project, user=developer, role=Role.APPROVER)
    me = client_for(developer).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == developer.username
    assert me.json()["roles"] == {
        tenant_a.project.slug: "developer",
        tenant_a.empty_project.slug: "developer",
        tenant_b.project.slug: "approver",
    }


def test_deleting_a_project_deletes_its_permission_rows(tenant_a, client_for):
    project = tenant_a.empty_project
    tenancy.project_member_set(actor=tenant_a.admin, project=project, user=tenant_a.spare_user, role=Role.DEVELOPER)
    assert ProjectUserObjectPermission.objects.filter(content_object=project).count() == 2  # view + operate
    assert ProjectGroupObjectPermission.objects.filter(content_object=project).count() == 10  # 1+2+3+4 per role group
    kept_user_rows = ProjectUserObjectPermission.objects.exclude(content_object=project).count()
    kept_group_rows = ProjectGroupObjectPermission.objects.exclude(content_object=project).count()
    response = client_for(tenant_a.admin).delete(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 204
    assert ProjectUserObjectPermission.objects.filter(content_object_id=project.pk).count() == 0
    assert ProjectGroupObjectPermission.objects.filter(content_object_id=project.pk).count() == 0
    assert UserObjectPermission.objects.filter(object_pk=str(project.pk)).count() == 0
    assert GroupObjectPermission.objects.filter(object_pk=str(project.pk)).count() == 0
    assert ProjectUserObjectPermission.objects.count() == kept_user_rows, "other projects' rows must stay"
    assert ProjectGroupObjectPermission.objects.count() == kept_group_rows
    assert client_for(tenant_a.spare_user).get("/api/v1/me/").json()["roles"] == {}
