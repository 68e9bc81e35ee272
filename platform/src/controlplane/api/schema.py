"""OpenAPI generation that follows our convention: input serializers in, output serializers out."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from typing_extensions import override


class FlowyardAutoSchema(AutoSchema):
    """Documents `input_serializers[action]` as the request body and `output_serializer` as the response."""

    @override
    def get_request_serializer(self):
        inputs = getattr(self.view, "input_serializers", {})
        action = getattr(self.view, "action", None)
        if action in inputs:
            return inputs[action]
        return super().get_request_serializer()

    @override
    def get_response_serializers(self):
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

    @override
    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (fyp_…) or a project CI token (fyc_…).",
        }


class VisibleRelatedFieldType(OpenApiSerializerFieldExtension):
    """A VisibleRelatedField is a UUID reference."""

    target_class = "controlplane.api.fields.VisibleRelatedField"

    @override
    def map_serializer_field(self, auto_schema, direction):
        return build_basic_type(OpenApiTypes.UUID)


class VisibleSlugRelatedFieldType(OpenApiSerializerFieldExtension):
    """A VisibleSlugRelatedField is a slug string."""

    target_class = "controlplane.api.fields.VisibleSlugRelatedField"

    @override
    def map_serializer_field(self, auto_schema, direction):
        return build_basic_type(OpenApiTypes.STR)


class RunTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer fyr_…` on the runner endpoints, the only ones a run token may call.

    Every other endpoint authenticates a run token too, to answer 403 "run tokens may only report on their own
    run" rather than 401, so the scheme is listed only where it is the view's one authenticator."""

    target_class = "controlplane.runs.authentication.RunTokenAuthentication"
    name = "runToken"

    @override
    def get_security_requirement(self, auto_schema):
        if [type(authenticator) for authenticator in auto_schema.view.get_authenticators()] == [self.target_class]:
            return {self.name: []}
        return None

    @override
    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A run's token (fyr_…), given to its runner in FLOWYARD_RUN_TOKEN; it ends with the run.",
        }
