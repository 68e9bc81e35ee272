"""Portal pages: the trigger form generated from a workflow's parameters."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_http_methods

from controlplane.core.errors import FlowyardError, ValidationFailed
from controlplane.deployments.selectors import deployment_list
from controlplane.portal.forms import TriggerForm
from controlplane.portal.pages import visible_or_404
from controlplane.runs.services import declared_parameters, run_trigger
from controlplane.tenancy.roles import has_role, role_for
from flowyard_spec.states import Role, TriggerKind

# As the API decides it (runs.api.access.DEVELOPER_OR_CI_SMOKE): people need the developer role on the project,
# in protected environments too; the portal has no CI tokens.
TRIGGER_ROLE = Role.DEVELOPER


def run_page_url(run: Any) -> str:
    """The run's page, or home while the runs pages are not there."""
    try:
        return reverse("portal:run", args=[run.pk])
    except NoReverseMatch:
        return reverse("portal:home")


def _refusal(user: Any, deployment: Any) -> str:
    """Why the user may not trigger this deployment ("" when they may)."""
    if deployment.version is None:
        return f"Nothing is deployed to {deployment.environment.name}; deploy a version before triggering a run."
    if not has_role(user, deployment.environment.project, TRIGGER_ROLE):
        role = role_for(user, deployment.environment.project)
        return (f"Triggering a run needs the {TRIGGER_ROLE} role on project {deployment.environment.project.slug}; "
                f"you are {role or 'not a member'}.")
    return ""


def _show_service_refusal(form: TriggerForm, refusal: FlowyardError) -> None:
    """Put a service's refusal next to the field it names, else above the form."""
    fields = refusal.extra.get("fields", {}) if isinstance(refusal, ValidationFailed) else {}
    placed = False
    for name, problems in fields.items():
        if name in form.fields:
            form.add_error(name, problems)
            placed = True
    if not placed:
        form.add_error(None, refusal.message)


@login_required
@require_http_methods(["GET", "POST"])
def trigger(request: HttpRequest, pk: Any) -> HttpResponse:
    """A form of the deployed version's parameters; POST starts a run as the API's trigger does."""
    user = request.user
    deployment = visible_or_404(deployment_list(user=user).select_related("environment__base_environment"), pk=pk)
    refusal = _refusal(user, deployment)
    declared = declared_parameters(deployment) if deployment.version is not None else {}
    form = TriggerForm(request.POST if request.method == "POST" else None, declared=declared)
    status = 200
    if request.method == "POST":
        if refusal:
            status = 403
        elif form.is_valid():
            try:
                run = run_trigger(actor=user, deployment=deployment, parameters=form.parameters(),
                                  trigger=TriggerKind.MANUAL)
            except FlowyardError as service_refusal:
                _show_service_refusal(form, service_refusal)
                status = service_refusal.http_status
            else:
                return redirect(run_page_url(run))
        else:
            status = 400
    return render(request, "portal/trigger/trigger.html", {
        "title": f"Trigger {deployment.workflow.name} in {deployment.environment.name}", "deployment": deployment,
        "form": form, "refusal": refusal, "project": deployment.environment.project,
    }, status=status)


urlpatterns = [path("deployments/<uuid:pk>/trigger/", trigger, name="trigger")]
