"""GET /metrics: the registry in the Prometheus text format, for a holder of the metrics token (or loopback)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from controlplane.operations.metrics.collector import registry


def _authorized(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the refusal (401 wrong token, 403 not loopback)."""
    token = settings.FLOWYARD.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = HttpResponse("A valid metrics token is needed: Authorization: Bearer <token>.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="flowyard-metrics"'
        return response
    try:
        loopback = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return HttpResponse("Metrics are served to loopback only; set FLOWYARD_METRICS_TOKEN to scrape from elsewhere.\n",
                        status=403, content_type="text/plain; charset=utf-8")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in the Prometheus text format, for a holder of the metrics token (or loopback, without one)."""
    refusal = _authorized(request)
    if refusal is not None:
        return refusal
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list = [path("metrics", metrics_view, name="metrics")]
