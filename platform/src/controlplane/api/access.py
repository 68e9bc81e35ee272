"""What each API action needs, declared per viewset in `action_roles` and checked once, in `ScopedViewSet`.

A declaration is a `Role` (that role on the target's project, the common case) or one of the requirements
below. The base viewset checks it where the target becomes known — `get_object()` for actions on an object,
`validated_input()` for creates — so a view never has to remember to call it; an action that answers
without having been checked is refused (`ScopedViewSet.finalize_response`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.core.errors import PermissionDenied
from controlplane.tenancy.principals import is_ci, is_runner
from controlplane.tenancy.roles import is_platform_staff, role_for, team_role_for
from flowyard_spec.states import Role

_ROLES_ATTRIBUTE = "_flowyard_project_roles"  # on the request: {project pk: the caller's role}, for one request


def follow_path(target: Any, path: str) -> Any:
    """Walk a dotted path through dict keys (validated input) or attributes (model instances); "" is the target."""
    for part in filter(None, path.split(".")):
        target = target[part] if isinstance(target, Mapping) else getattr(target, part)
    return target


def caller_role(request: Any, project: Any) -> Role | None:
    """The caller's role on `project`, asked of guardian once per request: an input's visibility check and the
    action's own check ask about the same project (each asking costs two permission queries)."""
    roles = getattr(request, _ROLES_ATTRIBUTE, None)
    if roles is None:
        roles = {}
        setattr(request, _ROLES_ATTRIBUTE, roles)
    if project.pk not in roles:
        roles[project.pk] = role_for(request.user, project)
    return roles[project.pk]


def caller_sees_project(request: Any, project: Any) -> bool:
    """Whether the caller can see `project`: the one-project twin of `tenancy.selectors.project_list` (a role on
    it, a CI token of it; never a run token)."""
    user = request.user
    if is_runner(user):
        return False
    if is_ci(user):
        return project.pk == user.project_id
    return caller_role(request, project) is not None


class Requirement:
    """A declared need that the caller must meet on an action's target (a model instance or validated input)."""

    def check(self, view: Any, action: str, target: Any) -> None:
        """Raise PermissionDenied unless the caller meets it."""
        raise NotImplementedError


@dataclass(frozen=True)
class ProjectRole(Requirement):
    """At least `role` on the target's project (or, for a CI token, that the project is the token's own)."""

    role: Role

    def check(self, view: Any, action: str, target: Any) -> None:
        """Compare the caller's role on the target's project with the one needed."""
        project = view.project_of(target)
        user = view.request.user
        if is_ci(user):
            if project.pk != user.project_id:
                raise PermissionDenied("This CI token belongs to another project.")
            return
        needed = view.role_needed(action, target, self.role)
        actual = caller_role(view.request, project)
        if actual is None or not actual.includes(needed):
            raise PermissionDenied(
                f"This needs the {needed} role on project {project.slug}; you are {actual or 'not a member'}.",
                extra={"required_role": needed.value, "your_role": actual.value if actual else None},
            )


@dataclass(frozen=True)
class Visible(Requirement):
    """Seeing the object is all it needs: the selector already returns only what the caller may act on
    (reads of the tenancy directory and the audit log, the caller's own personal tokens)."""

    def check(self, view: Any, action: str, target: Any) -> None:
        """Nothing beyond the selector."""


@dataclass(frozen=True)
class PlatformStaff(Requirement):
    """Platform staff only; `what` completes "Only platform staff may …"."""

    what: str

    def check(self, view: Any, action: str, target: Any) -> None:
        """Refuse anyone who is not staff."""
        if not is_platform_staff(view.request.user):
            raise PermissionDenied(f"Only platform staff may {self.what}.")


@dataclass(frozen=True)
class StaffOr(Requirement):
    """Platform staff, or whoever meets `otherwise`."""

    otherwise: Role | Requirement

    def check(self, view: Any, action: str, target: Any) -> None:
        """Staff pass; anyone else is checked against `otherwise`."""
        if not is_platform_staff(view.request.user):
            as_requirement(self.otherwise).check(view, action, target)


@dataclass(frozen=True)
class TeamRole(Requirement):
    """At least `role` on the team at `team_path` of the target (validated input of a create)."""

    role: Role
    team_path: str = "team"
    what: str = "do this"

    def check(self, view: Any, action: str, target: Any) -> None:
        """Compare the caller's team role with the one needed."""
        team = follow_path(target, self.team_path)
        actual = team_role_for(view.request.user, team)
        if actual is None or not actual.includes(self.role):
            raise PermissionDenied(f"Only platform staff or {self.role}s of team {team.slug} may {self.what}.",
                                   extra={"required_role": self.role.value, "your_role": actual.value if actual else None})


VISIBLE = Visible()


def as_requirement(declared: Role | Requirement) -> Requirement:
    """A bare Role in `action_roles` means that role on the target's project."""
    return ProjectRole(declared) if isinstance(declared, Role) else declared
