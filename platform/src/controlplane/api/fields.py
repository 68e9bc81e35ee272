"""Serializer fields shared by every app's API."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from typing_extensions import override

from controlplane.api.access import caller_sees_project, follow_path


class _ObjectByIdField(serializers.PrimaryKeyRelatedField):
    """A reference by id that resolves to the whole object; an id that is not even valid 'does not exist'."""

    @override
    def use_pk_only_optimization(self) -> bool:
        return False

    @override
    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except DjangoValidationError:  # e.g. not a UUID at all
            self.fail("does_not_exist", pk_value=data)


class VisibleRelatedField(_ObjectByIdField):
    """A reference by id to an object the caller can see; anything else 'does not exist'."""

    def __init__(self, selector: Callable, **kwargs) -> None:
        self.selector = selector
        super().__init__(**kwargs)

    @override
    def get_queryset(self):
        return self.selector(user=self.context["request"].user)


class ProjectObjectField(_ObjectByIdField):
    """A reference by id to an object in a project the caller can see; anything else 'does not exist'.

    The object is read by id from `queryset`, then its project (at `project_path`) is checked with the caller's
    role, which the action's own access check then reuses: one query by primary key where `VisibleRelatedField`
    compiles and runs guardian's permission subqueries. For the hot creates (a run's trigger); it answers exactly
    as `VisibleRelatedField` with the matching selector does.
    """

    def __init__(self, *, project_path: str, **kwargs) -> None:
        self.project_path = project_path
        super().__init__(**kwargs)

    @override
    def to_internal_value(self, data):
        found = super().to_internal_value(data)
        if not caller_sees_project(self.context["request"], follow_path(found, self.project_path)):
            self.fail("does_not_exist", pk_value=data)
        return found


class UsernameField(serializers.SlugRelatedField):
    """A reference to an active user by username."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", get_user_model().objects.filter(is_active=True))
        super().__init__(**kwargs)


class VisibleSlugRelatedField(serializers.SlugRelatedField):
    """A reference by slug to an object the caller can see; anything else 'does not exist'."""

    default_error_messages = {"does_not_exist": "There is no such object that you can see."}

    def __init__(self, selector: Callable, **kwargs) -> None:
        self.selector = selector
        kwargs.setdefault("slug_field", "slug")
        super().__init__(**kwargs)

    @override
    def get_queryset(self):
        return self.selector(user=self.context["request"].user)
