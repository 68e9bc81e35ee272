"""The base viewset fails closed: an action that answers without checking its declared access is refused (500)."""

from __future__ import annotations

import pytest
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from controlplane.api.tenancy.serializers import ProjectSerializer
from controlplane.api.views import ListRetrieveMixin, ScopedViewSet
from controlplane.tenancy.models import Project
from controlplane.tenancy.selectors import project_list
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db


class ForgetfulProjectViewSet(ListRetrieveMixin, ScopedViewSet):
    """A resource written carelessly: `peek` reads an object without get_object(), `unlisted` has no role."""

    selector = staticmethod(project_list)
    output_serializer = ProjectSerializer
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "peek": Role.VIEWER}
    project_path = ""

    @action(detail=True, methods=["get"])
    def peek(self, request, pk=None):
        """Answers from the database directly, skipping get_object() and so the access check."""
        return Response({"name": Project.objects.get(pk=pk).name})

    @action(detail=True, methods=["get"])
    def unlisted(self, request, pk=None):
        """Not in action_roles."""
        return Response({"name": "never"})


def call(user, action_name: str, pk) -> Response:
    view = ForgetfulProjectViewSet.as_view({"get": action_name})
    request = APIRequestFactory().get(f"/x/{pk}/")
    force_authenticate(request, user=user)
    return view(request, pk=pk)


def test_an_action_that_skips_the_access_check_answers_500_instead_of_the_data(tenant_a, tenant_b):
    response = call(tenant_a.users[Role.ADMIN], "peek", tenant_b.project.pk)
    response.render()
    assert response.status_code == 500
    assert response.data["code"] == "access_not_checked"
    assert tenant_b.project.name not in response.content.decode(), "another team's data never leaves"


def test_the_same_object_through_get_object_is_served_to_its_team_and_hidden_from_others(tenant_a, tenant_b):
    assert call(tenant_a.users[Role.VIEWER], "retrieve", tenant_a.project.pk).status_code == 200
    assert call(tenant_a.users[Role.VIEWER], "retrieve", tenant_b.project.pk).status_code == 404


def test_an_action_without_a_declared_role_is_refused_before_it_runs(tenant_a):
    response = call(tenant_a.users[Role.ADMIN], "unlisted", tenant_a.project.pk)
    assert response.status_code == 403
    assert "has no role assigned" in response.data["message"]
