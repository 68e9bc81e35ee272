"""`GET /api/v1/`: the API root, listing every resource's list URL and where the docs are."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

NAMESPACE = "api"


def resource_url_names() -> list[str]:
    """The URL names of the API's collections: every `<basename>-list` route, plus `me`."""
    namespace = get_resolver().namespace_dict[NAMESPACE][1]
    names: set[str] = set()
    pending: list[URLPattern | URLResolver] = list(namespace.url_patterns)
    while pending:
        pattern = pending.pop()
        if isinstance(pattern, URLResolver):
            pending.extend(pattern.url_patterns)
        elif pattern.name and (pattern.name.endswith("-list") or pattern.name == "me"):
            names.add(pattern.name)
    return sorted(names)


class ApiRootView(APIView):
    """What the API offers: resource name → absolute URL of its list; the schema and interactive docs.

    Public like the OpenAPI schema: it names endpoints, never an object.
    """

    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("ApiRoot", {
        "resources": serializers.DictField(child=serializers.URLField()),
        "schema": serializers.URLField(), "docs": serializers.URLField(),
    }))
    def get(self, request: Request) -> Response:
        """List the resources."""
        resources = {}
        for name in resource_url_names():
            path = reverse(f"{NAMESPACE}:{name}")
            resources[path.rstrip("/").rsplit("/", 1)[-1]] = request.build_absolute_uri(path)
        return Response({
            "resources": dict(sorted(resources.items())),
            "schema": request.build_absolute_uri(reverse("schema")),
            "docs": request.build_absolute_uri(reverse("api-docs")),
        })
