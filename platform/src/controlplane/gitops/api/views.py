"""GitOps API: repository links, their deliveries, forge identities, merge-request promotions, and the two
webhook receivers the forges POST to."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from typing_extensions import override

from controlplane.api.access import VISIBLE, PlatformStaff
from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.gitops import filtersets, selectors, services
from controlplane.gitops.api import drift as drift_serializers
from controlplane.gitops.api import serializers
from controlplane.gitops.models import Forge, RepositoryLink
from controlplane.gitops.sync import gitops_diff, gitops_sync
from controlplane.gitops.webhooks import check_body_size, delivery_receive
from flowyard_spec.states import Role


class RepositoryLinkViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Repositories linked to projects: project admins link, change, rotate the secret of and unlink them."""

    selector = staticmethod(selectors.repository_link_list)
    output_serializer = serializers.RepositoryLinkSerializer
    input_serializers = {"create": serializers.RepositoryLinkCreateSerializer,
                         "partial_update": serializers.RepositoryLinkUpdateSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "partial_update": Role.ADMIN,
                    "destroy": Role.ADMIN, "rotate": Role.ADMIN, "diff": Role.VIEWER, "sync": Role.ADMIN}
    filterset_class = filtersets.RepositoryLinkFilterSet

    @extend_schema(responses={201: serializers.RepositoryLinkWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        """Link a repository; the answer carries its webhook secret, shown this once."""
        link, secret = services.repository_link(actor=request.user, **self.validated_input())
        return self._with_secret(link, secret, status.HTTP_201_CREATED)

    @override
    def update_object(self, obj, data):
        return services.repository_link_update(actor=self.request.user, link=obj, **data)

    @override
    def destroy_object(self, obj):
        services.repository_unlink(actor=self.request.user, link=obj)

    @extend_schema(request=None, responses=serializers.RepositoryLinkWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate")
    def rotate(self, request, pk=None):
        """A new webhook secret, shown this once; the old one stops working at once."""
        link, secret = services.repository_secret_rotate(actor=request.user, link=self.get_object())
        return self._with_secret(link, secret, status.HTTP_200_OK)

    @extend_schema(responses=drift_serializers.DriftReportSerializer)
    @action(detail=True, methods=["get"], url_path="diff")
    def diff(self, request, pk=None):
        """How the deployments differ from the head of the link's default branch (read-only; fetches the repository)."""
        return Response(drift_serializers.DriftReportSerializer(gitops_diff(self.get_object()).as_dict()).data)

    @extend_schema(request=None, responses=drift_serializers.DriftReportSerializer)
    @action(detail=True, methods=["post"], url_path="sync")
    def sync(self, request, pk=None):
        """Apply what Git says (never to production); an unreadable repository sets the link's sync_error."""
        report = gitops_sync(actor=request.user, link=self.get_object())
        return Response(drift_serializers.DriftReportSerializer(report.as_dict()).data)

    def _with_secret(self, link: RepositoryLink, secret: str, status_code: int) -> Response:
        data = serializers.RepositoryLinkSerializer(link, context=self.get_serializer_context()).data
        return Response({**data, "webhook_secret": secret}, status=status_code)


class ForgeDeliveryViewSet(ListRetrieveMixin, ScopedViewSet):
    """Webhook deliveries each link accepted: headers (never the secret or signature) and outcome, for the
    project's admins."""

    selector = staticmethod(selectors.forge_delivery_list)
    output_serializer = serializers.ForgeDeliverySerializer
    action_roles = {"list": Role.ADMIN, "retrieve": Role.ADMIN}
    project_path = "link.project"
    filterset_class = filtersets.ForgeDeliveryFilterSet
    cursor_ordering = ("-received_at", "-id")


class ForgeIdentityViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """Forge logins matched to people: platform staff manage them; everyone sees their own."""

    selector = staticmethod(selectors.forge_identity_list)
    output_serializer = serializers.ForgeIdentitySerializer
    input_serializers = {"create": serializers.ForgeIdentityCreateSerializer}
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE, "create": PlatformStaff("match forge users to people"),
                    "destroy": PlatformStaff("match forge users to people")}

    @override
    def create_object(self, data):
        return services.forge_identity_set(actor=self.request.user, **data)

    @override
    def destroy_object(self, obj):
        services.forge_identity_delete(actor=self.request.user, identity=obj)


class MergeRequestPromotionViewSet(ListRetrieveMixin, ScopedViewSet):
    """Each merge request's promotion of each workflow: awaiting build, pending, promoted or rejected, and why."""

    selector = staticmethod(selectors.merge_request_promotion_list)
    output_serializer = serializers.MergeRequestPromotionSerializer
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER}
    project_path = "workflow.project"
    filterset_class = filtersets.MergeRequestPromotionFilterSet


class ForgeEventsView(APIView):
    """Where a forge POSTs a linked repository's webhook deliveries: the link's secret (GitLab's X-Gitlab-Token,
    GitHub's X-Hub-Signature-256) is the credential, never a session or a token of Flowyard."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    forge: Forge

    @extend_schema(
        auth=[], request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: OpenApiResponse(description="Applied; or a delivery id seen before, which changes nothing."),
            202: OpenApiResponse(description="An event Flowyard does not use: kept as ignored."),
            400: OpenApiResponse(description="No delivery id, or not a merge-request payload the forge sends."),
            401: OpenApiResponse(description="The token or signature is missing or wrong: nothing stored."),
            404: OpenApiResponse(description="No such link (or not for this forge)."),
            413: OpenApiResponse(description="The body is over 1 MiB."),
        },
    )
    def post(self, request, pk):
        """Verify, keep and apply a delivery."""
        link = RepositoryLink.objects.filter(pk=pk, forge=self.forge).select_related("project__team").first()
        if link is None:
            raise Http404
        check_body_size(request.META.get("CONTENT_LENGTH"))  # before the body is read
        receipt = delivery_receive(link=link, headers=request.headers, body=request.body)
        return Response({"delivery": receipt.delivery.delivery_id, "outcome": receipt.delivery.outcome,
                         "detail": receipt.delivery.detail, "replayed": receipt.replay}, status=receipt.status)


class GitlabEventsView(ForgeEventsView):
    """GitLab's webhook receiver."""

    forge = Forge.GITLAB


class GithubEventsView(ForgeEventsView):
    """GitHub's webhook receiver."""

    forge = Forge.GITHUB


