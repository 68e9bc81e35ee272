"""Who may start and read runs beyond the project's roles: a CI token's smoke runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controlplane.api.access import ProjectRole, follow_path
from controlplane.core.errors import PermissionDenied
from controlplane.tenancy.principals import is_ci
from flowyard_spec.states import Role


@dataclass(frozen=True)
class RoleOrCiSmoke(ProjectRole):
    """`role` on the project for people; for a CI token of the project, a smoke run: it may start runs in an
    environment that does not require approval (never production) and read only the runs it started itself.

    `environment_path` leads from the target (validated input or a Run) to its environment; `started_by_it`
    says the action reads an existing run, which must carry this token's label as `triggered_by_label`.
    """

    environment_path: str = "deployment.environment"
    started_by_it: bool = False

    def check(self, view: Any, action: str, target: Any) -> None:
        """People: the role. CI tokens: their own project, then the smoke-run rules."""
        super().check(view, action, target)
        token = view.request.user
        if not is_ci(token):
            return
        if self.started_by_it:
            if getattr(target, "triggered_by_label", None) != token.audit_label:
                raise PermissionDenied("A CI token may only read the runs it started itself.")
            return
        environment = follow_path(target, self.environment_path)
        if environment.requires_approval:
            raise PermissionDenied(
                f"A CI token may not start runs in {environment.name}: that environment requires approval. Smoke "
                "runs go to test or a preview environment; production runs start from its schedule or a person."
            )


DEVELOPER_OR_CI_SMOKE = RoleOrCiSmoke(Role.DEVELOPER)
VIEWER_OR_CI_OWN_RUN = RoleOrCiSmoke(Role.VIEWER, started_by_it=True)
