"""OpenAPI generation that follows our convention: input serializers in, output serializers out."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes


class FlowyardAutoSchema(AutoSchema):
    """Documents `input_serializers[action]` as the request body and `output_serializer` as the response."""

    def get_request_serializer(self):  # noqa: D102 - spectacular hook
        inputs = getattr(self.view, "input_serializers", {})
        action = getattr(self.view, "action", None)
        if action in inputs:
            return inputs[action]
        return super().get_request_serializer()

    def get_response_serializers(self):  # noqa: D102 - spectacular hook
        action = getattr(self.view, "action", None)
        if action == "destroy":
            return None
        if action == "create" and hasattr(self.view, "create_responses"):
            return self.view.create_responses
        if action in ("list", "retrieve", "create", "partial_update") and hasattr(self.view, "output_serializer"):
            return self.view.output_serializer
        return super().get_response_serializers()


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer fyp_…|fyc_…`."""

    target_class = "controlplane.tenancy.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):  # noqa: D102 - spectacular hook
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (fyp_…) or a project CI token (fyc_…).",
        }


class VisibleRelatedFieldType(OpenApiSerializerFieldExtension):
    """A VisibleRelatedField is a UUID reference."""

    target_class = "controlplane.api.fields.VisibleRelatedField"

    def map_serializer_field(self, auto_schema, direction):  # noqa: D102 - spectacular hook
        return build_basic_type(OpenApiTypes.UUID)


class VisibleSlugRelatedFieldType(OpenApiSerializerFieldExtension):
    """A VisibleSlugRelatedField is a slug string."""

    target_class = "controlplane.api.fields.VisibleSlugRelatedField"

    def map_serializer_field(self, auto_schema, direction):  # noqa: D102 - spectacular hook
        return build_basic_type(OpenApiTypes.STR)
