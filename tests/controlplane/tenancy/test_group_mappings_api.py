"""The group mapping API: platform staff manage mappings; a team's members read their team's; others see nothing."""

from __future__ import annotations

from controlplane.core.models import AuditEvent
from controlplane.tenancy.models import GroupMapping


def test_staff_map_a_group_and_the_change_is_audited(tenant_a, staff_user, client_for):
    client = client_for(staff_user)
    response = client.post("/api/v1/group-mappings/", {"group": "alpha-approvers", "team": str(tenant_a.team.pk),
                                                       "role": "approver"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["team_slug"] == tenant_a.team.slug
    mapping = GroupMapping.objects.get(pk=response.json()["id"])
    assert AuditEvent.objects.filter(action="group_mapping.created", object_id=str(mapping.pk)).exists()
    patched = client.patch(f"/api/v1/group-mappings/{mapping.pk}/", {"role": "admin"}, format="json")
    assert patched.json()["role"] == "admin"
    assert AuditEvent.objects.filter(action="group_mapping.updated", object_id=str(mapping.pk)).exists()


def test_mapping_a_group_twice_to_one_team_names_the_mapping_to_change(tenant_a, staff_user, client_for):
    existing = tenant_a.extra["group_mapping"]
    response = client_for(staff_user).post("/api/v1/group-mappings/", {
        "group": existing.group, "team": str(tenant_a.team.pk), "role": "admin"}, format="json")
    assert response.status_code == 400
    assert str(existing.pk) in response.json()["extra"]["fields"]["group"][0]


def test_team_members_read_their_teams_mappings_but_may_not_change_them(tenant_a, tenant_b, client_for):
    client = client_for(tenant_a.admin)
    listed = client.get("/api/v1/group-mappings/").json()["results"]
    assert [m["group"] for m in listed] == [tenant_a.extra["group_mapping"].group]
    refused = client.patch(f"/api/v1/group-mappings/{tenant_a.extra['group_mapping'].pk}/", {"role": "admin"},
                           format="json")
    assert refused.status_code == 403
    assert "platform staff" in refused.json()["message"]
    assert client.get(f"/api/v1/group-mappings/{tenant_b.extra['group_mapping'].pk}/").status_code == 404


def test_nobody_signed_in_sees_any_mapping(tenant_a, client_for):
    assert client_for(None).get("/api/v1/group-mappings/").status_code in (401, 403)
