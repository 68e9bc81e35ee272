"""Registration API: CI registers pushed images at `/registrations/`; people and CI also at `/versions/` by id."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action

from controlplane.api.views import CreateMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.core.errors import NotFound
from controlplane.deployments.api.serializers import EnvironmentSerializer
from controlplane.deployments.models import EnvironmentKind
from controlplane.deployments.filtersets import EnvironmentFilterSet
from controlplane.deployments.selectors import environment_list
from controlplane.registration import previews, services
from controlplane.registration.api import serializers
from controlplane.workflows import selectors
from controlplane.workflows.api.views import VersionViewSet
from flowyard_spec.pipelines import preview_environment_name
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
            actor=request.user, project=workflow.project, workflow_name=workflow.name, deploy=False,
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


def preview_list(*, user: object):
    """Preview environments of the projects the user can see, live and torn down."""
    return environment_list(user=user).filter(kind=EnvironmentKind.PREVIEW)


class PreviewViewSet(ListRetrieveMixin, ScopedViewSet):
    """Merge requests' preview environments: CI makes them; CI (on merge-request close) or a developer tears one
    down, which cancels its runs and undeploys it (history kept); a TTL task tears down forgotten ones."""

    selector = staticmethod(preview_list)
    output_serializer = EnvironmentSerializer
    input_serializers = {"teardown": serializers.PreviewTeardownSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "teardown": Role.DEVELOPER}
    ci_actions = frozenset({"teardown"})
    filterset_class = EnvironmentFilterSet

    @extend_schema(request=serializers.PreviewTeardownSerializer, responses=EnvironmentSerializer)
    @action(detail=False, methods=["post"])
    def teardown(self, request):
        """Tear down merge request `merge_request_iid`'s preview; tearing down a torn-down one changes nothing."""
        data = self.validated_input()
        preview = previews.preview_of(data["project"], data["merge_request_iid"])
        if preview is None:
            raise NotFound(f"Project {data['project'].slug} has no preview environment "
                           f"{preview_environment_name(data['merge_request_iid'])}.")
        return self.respond(previews.preview_teardown(actor=request.user, environment=preview,
                                                      why="its merge request's pipeline or a developer asked"))
