"""Registration API: CI registers pushed images at `/registrations/`; people and CI also at `/versions/` by id."""

from rest_framework import status

from controlplane.api.views import CreateMixin, ScopedViewSet
from controlplane.registration import services
from controlplane.registration.api import serializers
from controlplane.workflows import selectors
from controlplane.workflows.api.views import VersionViewSet
from flowyard_spec.states import Role


class VersionRegistrationViewSet(CreateMixin, VersionViewSet):
    """Registered versions: read as in workflows; POST records a build of an existing workflow (no deploy)."""

    input_serializers = {"create": serializers.VersionCreateSerializer}
    create_responses = {201: VersionViewSet.output_serializer, 200: VersionViewSet.output_serializer}
    action_roles = {**VersionViewSet.action_roles, "create": Role.DEVELOPER}
    ci_actions = frozenset({"create"})

    def create(self, request, *args, **kwargs):
        """Register a build of the workflow named by id: 201 when new, 200 when the digest was known."""
        data = self.validated_input()
        workflow = data.pop("workflow")
        result = services.version_register(
            actor=request.user, project=workflow.project, workflow_name=workflow.name, deploy_branch_build=False,
            **data,
        )
        return self.respond(result.version, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class RegistrationViewSet(CreateMixin, ScopedViewSet):
    """CI registers a pushed image here: the version is recorded and a branch build is deployed to `test`."""

    selector = staticmethod(selectors.version_list)
    output_serializer = serializers.RegistrationResultSerializer
    input_serializers = {"create": serializers.RegistrationSerializer}
    create_responses = {201: serializers.RegistrationResultSerializer, 200: serializers.RegistrationResultSerializer}
    action_roles = {"create": Role.DEVELOPER}
    ci_actions = frozenset({"create"})

    def create(self, request, *args, **kwargs):
        """Register a build by project slug and workflow name: 201 when new, 200 when the digest was known."""
        data = self.validated_input()
        project, workflow_name = data.pop("project"), data.pop("workflow")
        result = services.version_register(actor=request.user, project=project, workflow_name=workflow_name, **data)
        return self.respond(result, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
