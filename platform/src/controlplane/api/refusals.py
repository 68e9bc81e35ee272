"""Refusals worth keeping on record: every 403 a CI token gets (deploying by hand, a run in production, reading
another's run, …) leaves an audit event in its project, so an admin sees a pipeline that tries. Written by the
API's error handler, outside any transaction of the refused request."""

from __future__ import annotations

from typing import Any

from controlplane.core.audit import audit_record
from controlplane.tenancy.models import Project


def record_ci_refusal(request: Any, why: str) -> None:
    """Audit `ci.refused` in the CI token's project: the method, path and why it was refused."""
    principal = request.user
    project = Project.objects.filter(pk=principal.project_id).select_related("team").first()
    if project is None:
        return
    audit_record(actor=principal, action="ci.refused", obj=project, project=project,
                 after={"method": request.method, "path": request.path, "why": why})
