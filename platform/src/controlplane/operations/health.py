"""Liveness (`GET /healthz`: the process answers) and readiness (`GET /readyz`: the checks of `checks.readiness`).

Both are unauthenticated (they show no tenant data) and cache nothing; /readyz answers 200 when every check
passes and 503 when any fails, with each check's outcome (docs/operations.md, "Health checks").
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from controlplane.operations.checks import readiness


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive: touches neither the database nor the broker."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the broker and every runtime target answer, else 503; each check's outcome."""
    result = readiness()
    return JsonResponse(result.as_json(), status=200 if result.ok else 503)


urlpatterns = [path("healthz", healthz, name="healthz"), path("readyz", readyz, name="readyz")]
