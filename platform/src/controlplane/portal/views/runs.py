"""Portal pages: the runs list and a run's detail (header, task graph, timeline, task table, log viewer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlplane.api.access import as_requirement
from controlplane.core.errors import FlowyardError
from controlplane.deployments.selectors import environment_list
from controlplane.portal.graph import task_graph
from controlplane.portal.logs import TAIL_LIMIT, first_error_seq, log_window, tail_page, text_lines
from controlplane.portal.pages import visible_or_404
from controlplane.portal.run_forms import LOG_LEVELS, LogQueryForm, RerunForm, RunCursor, RunFilterForm
from controlplane.portal.timeline import timeline
from controlplane.runs.api.views import RunViewSet
from controlplane.runs.selectors import run_list, task_run_list
from controlplane.runs.services import run_cancel, run_trigger
from controlplane.tenancy.roles import role_for
from controlplane.workflows.selectors import workflow_list
from flowyard_spec.states import Role, TriggerKind

PAGE_SIZE = 50
# The roles the API's RunViewSet declares for people: cancelling, and starting a run (a retry or a re-run is one).
CANCEL_ROLE: Role = as_requirement(RunViewSet.action_roles["cancel"]).role
TRIGGER_ROLE: Role = as_requirement(RunViewSet.action_roles["create"]).role
LIST_ONLY_FIELDS = ("parameters", "message", "late_reason", "version__config", "deployment__workflow__description")


@dataclass(frozen=True)
class RunActions:
    """What the signed-in person may do to a run, and why not when they may not."""

    cancel: bool
    trigger: bool
    refusal: str


def _role_refusal(user: Any, run: Any, role: Role, doing: str, actual: Role | None = None) -> str:
    """Why `user` may not do `doing` on the run's project ("" when their role allows it), as the API decides.

    `actual` is the user's role there when the caller has read it already."""
    project = run.deployment.environment.project
    actual = actual or role_for(user, project)
    if actual is not None and actual.includes(role):
        return ""
    return f"{doing} needs the {role} role on project {project.slug}; you are {actual or 'not a member'}."


def run_actions(user: Any, run: Any) -> RunActions:
    """The buttons the run page shows to `user` (their role read once)."""
    actual = role_for(user, run.deployment.environment.project)
    cancel_refusal = _role_refusal(user, run, CANCEL_ROLE, "Cancelling", actual)
    trigger_refusal = _role_refusal(user, run, TRIGGER_ROLE, "Cancelling or running it again", actual)
    return RunActions(cancel=not cancel_refusal and not run.is_terminal, trigger=not trigger_refusal,
                      refusal=trigger_refusal or cancel_refusal)


def _refused(request: HttpRequest, run: Any, message: str, status: int) -> HttpResponse:
    return render(request, "portal/runs/refused.html", {
        "title": "Not done", "run": run, "message": message, "project": run.deployment.environment.project,
    }, status=status)


def _filter_choices(user: Any) -> tuple[list[str], list[tuple[str, str]]]:
    names = environment_list(user=user).order_by("name").values_list("name", flat=True).distinct()
    workflows = workflow_list(user=user).order_by("project__slug", "name").values_list("pk", "project__slug", "name")
    return list(names), [(str(pk), f"{project}/{name}") for pk, project, name in workflows]


@login_required
@require_GET
def runs(request: HttpRequest) -> HttpResponse:
    """Runs of my projects, newest first, filtered and paged by a (created_at, id) cursor; never counted."""
    user = request.user
    environment_names, workflows = _filter_choices(user)
    form = RunFilterForm(request.GET, environment_names=environment_names, workflows=workflows)
    valid = form.is_valid()  # invalid filters are shown with their error; the valid ones still apply
    page = list(form.filtered(run_list(user=user)).defer(*LIST_ONLY_FIELDS)[:PAGE_SIZE + 1])
    next_url = ""
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        next_url = "?" + urlencode({**form.query_without_cursor(), "cursor": RunCursor.after(page[-1]).encode()})
    first_url = "?" + urlencode(form.query_without_cursor()) if form.data.get("cursor") else ""
    return render(request, "portal/runs/list.html", {
        "title": "Runs", "form": form, "runs": page, "next_url": next_url, "first_url": first_url, "now": timezone.now(),
    }, status=200 if valid else 400)


@login_required
@require_GET
def run(request: HttpRequest, pk: Any) -> HttpResponse:
    """One run: its header, task graph, timeline, task table and log (the last lines, then a live tail)."""
    user = request.user
    run = visible_or_404(run_list(user=user), pk=pk)
    query = LogQueryForm(request.GET)
    start = query.cleaned_data.get("log_from") if query.is_valid() else None
    task_runs = list(task_run_list(run=run))
    now = timezone.now()
    return render(request, "portal/runs/run.html", {
        "title": f"Run of {run.deployment.workflow.name} in {run.deployment.environment.name}",
        "run": run, "project": run.deployment.environment.project, "task_runs": task_runs, "now": now,
        "graph": task_graph(task_runs), "timeline": timeline(run, task_runs, now),
        "log": log_window(run, start), "first_error": first_error_seq(run), "log_levels": LOG_LEVELS,
        "task_keys": sorted({task.task_key for task in task_runs}), "actions": run_actions(user, run),
        "states_live": not run.is_terminal,
    })


@never_cache
@login_required
@require_GET
def log_json(request: HttpRequest, pk: Any) -> HttpResponse:
    """The live tail: the run's lines after `after` (at most `limit`), the next cursor, and whether it is done."""
    run = visible_or_404(run_list(user=request.user), pk=pk)
    query = LogQueryForm(request.GET)
    if not query.is_valid():
        return JsonResponse({"errors": query.errors.get_json_data()}, status=400)
    return JsonResponse(tail_page(run, after=query.cleaned_data["after"] or 0,
                                  limit=query.cleaned_data["limit"] or TAIL_LIMIT))


@login_required
@require_GET
def log_text(request: HttpRequest, pk: Any) -> HttpResponse:
    """The whole log as text, streamed; `task`, `level` and `q` (case-insensitive text) narrow it."""
    run = visible_or_404(run_list(user=request.user), pk=pk)
    query = LogQueryForm(request.GET)
    if not query.is_valid():
        return HttpResponse(query.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    wanted = query.cleaned_data
    response = StreamingHttpResponse(
        text_lines(run, task=wanted["task"], level=wanted["level"], query=wanted["q"]),
        content_type="text/plain; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}.log.txt"'
    return response


@login_required
@require_POST
def cancel(request: HttpRequest, pk: Any) -> HttpResponse:
    """Cancel the run as the API's cancel does (developers); others get a 403 page and nothing changes."""
    user = request.user
    run = visible_or_404(run_list(user=user), pk=pk)
    refusal = _role_refusal(user, run, CANCEL_ROLE, "Cancelling a run")
    if refusal:
        return _refused(request, run, refusal, 403)
    try:
        run = run_cancel(actor=user, run=run)
    except FlowyardError as service_refusal:
        return _refused(request, run, service_refusal.message, service_refusal.http_status)
    messages.success(request, f"Cancel requested: the run is {run.state}.")
    return redirect("portal:run", pk=run.pk)


@login_required
@require_POST
def retry(request: HttpRequest, pk: Any) -> HttpResponse:
    """Start the run's deployment again with the same parameters (developers; an ended run only)."""
    user = request.user
    run = visible_or_404(run_list(user=user), pk=pk)
    refusal = _role_refusal(user, run, TRIGGER_ROLE, "Retrying a run")
    if refusal:
        return _refused(request, run, refusal, 403)
    if not run.is_terminal:
        return _refused(request, run, f"This run is {run.state}; only an ended run can be retried.", 409)
    try:
        again = run_trigger(actor=user, deployment=run.deployment, parameters=run.parameters,
                            trigger=TriggerKind.MANUAL)
    except FlowyardError as service_refusal:
        return _refused(request, run, service_refusal.message, service_refusal.http_status)
    messages.success(request, "Started again with the same parameters.")
    return redirect("portal:run", pk=again.pk)


@login_required
@require_http_methods(["GET", "POST"])
def rerun(request: HttpRequest, pk: Any) -> HttpResponse:
    """The run's parameters in a form; POST starts its deployment again with them (developers)."""
    user = request.user
    run = visible_or_404(run_list(user=user), pk=pk)
    refusal = _role_refusal(user, run, TRIGGER_ROLE, "Re-running a run")
    if refusal:
        return _refused(request, run, refusal, 403)
    form = RerunForm(request.POST) if request.method == "POST" else RerunForm.prefilled(run.parameters)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                again = run_trigger(actor=user, deployment=run.deployment, parameters=form.cleaned_data["parameters"],
                                    trigger=TriggerKind.MANUAL)
            except FlowyardError as service_refusal:
                form.add_error(None, service_refusal.message)
                status = service_refusal.http_status
            else:
                messages.success(request, "Started again with the parameters you gave.")
                return redirect("portal:run", pk=again.pk)
        else:
            status = 400
    return render(request, "portal/runs/rerun.html", {
        "title": f"Re-run {run.deployment.workflow.name} in {run.deployment.environment.name}", "run": run,
        "form": form, "project": run.deployment.environment.project, "deployed": run.deployment.version,
    }, status=status)


urlpatterns = [
    path("runs/", runs, name="runs"),
    path("runs/<uuid:pk>/", run, name="run"),
    path("runs/<uuid:pk>/log.json", log_json, name="run-log-json"),
    path("runs/<uuid:pk>/log.txt", log_text, name="run-log-text"),
    path("runs/<uuid:pk>/cancel/", cancel, name="run-cancel"),
    path("runs/<uuid:pk>/retry/", retry, name="run-retry"),
    path("runs/<uuid:pk>/rerun/", rerun, name="run-rerun"),
]
