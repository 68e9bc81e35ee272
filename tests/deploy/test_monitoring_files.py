"""deploy/: the Grafana dashboard and the Prometheus rules are well-formed and use only metrics /metrics exposes."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from controlplane.alerts import services as alert_services
from controlplane.alerts.models import Delivery, DeliveryState
from controlplane.operations.metrics import collector
from controlplane.runs.models import Run
from flowyard_spec.states import RunState, TriggerKind
from flowyard_testkit.tenants import build_tenant

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "flowyard-dashboard.json"
RULES = DEPLOY / "prometheus" / "flowyard-rules.yml"
_METRIC = re.compile(r"\bflowyard_[a-zA-Z0-9_]*[a-zA-Z0-9]")
_DURATION = re.compile(r"^\d+[smhd]$")



def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    board = dashboard()
    exprs = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    return exprs + [variable["definition"] for variable in board["templating"]["list"] if variable["type"] == "query"]


def metrics_in(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in _METRIC.findall(expr)}


def exposed_sample_names() -> set[str]:
    return {name for family in collector.families for name in family.sample_names}


def balanced(expr: str) -> bool:
    depth = {"(": 0, "{": 0, "[": 0}
    closing = {")": "(", "}": "{", "]": "["}
    for char in re.sub(r'"[^"]*"', '""', expr):
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                return False
    return not any(depth.values())


def test_the_dashboard_is_a_grafana_model_with_a_prometheus_input_and_queries_in_every_panel():
    board = dashboard()
    assert board["schemaVersion"] >= 36
    assert board["uid"] and board["title"]
    assert [(i["name"], i["type"], i["pluginId"]) for i in board["__inputs"]] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")]
    panels = [panel for panel in board["panels"] if panel["type"] != "row"]
    assert len(panels) >= 10
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["title"] and panel["gridPos"]["w"] > 0 and panel["gridPos"]["h"] > 0, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
        for target in panel["targets"]:
            assert target["expr"].strip() and balanced(target["expr"]), (panel["title"], target["expr"])
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
    titles = " ".join(panel["title"].lower() for panel in panels)
    for topic in ("started", "finished", "failure", "active", "duration", "launch", "lateness", "log lines",
                  "queue depth", "alert deliveries"):
        assert topic in titles, topic


def test_every_rule_is_an_alert_with_expr_for_severity_and_summary():
    seen = set()
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"].startswith("Flowyard") and rule["alert"] not in seen, rule["alert"]
        seen.add(rule["alert"])
        assert rule["expr"].strip() and balanced(rule["expr"]), rule["alert"]
        assert _DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
    assert {"FlowyardDown", "FlowyardHighFailureRatio", "FlowyardRunsStuckActive", "FlowyardQueueDepthGrowing",
            "FlowyardScheduleLate", "FlowyardAlertDeliveriesFailing", "FlowyardBrokerDown"} <= seen
    assert any('up{job="flowyard"} == 0' in rule["expr"] for rule in rules())


def test_every_metric_the_dashboard_and_the_rules_use_is_declared_by_the_collector():
    used = metrics_in(dashboard_expressions()) | metrics_in([rule["expr"] for rule in rules()])
    assert {"flowyard_runs_started_total", "flowyard_run_duration_seconds_bucket",
            "flowyard_celery_queue_depth"} <= used  # the extraction works
    undeclared = used - exposed_sample_names()
    assert not undeclared, f"not exposed by /metrics: {sorted(undeclared)}"


@pytest.mark.django_db
def test_every_metric_used_is_in_a_real_scrape_of_the_control_plane():
    tenant = build_tenant("deploy")
    began = timezone.now() - timedelta(minutes=5)
    run = Run.objects.filter(deployment__environment__project=tenant.project).first()
    Run.objects.filter(pk=run.pk).update(  # a scheduled run that ended: every histogram has a sample
        state=RunState.SUCCEEDED, trigger=TriggerKind.SCHEDULE, scheduled_for=began, created_at=began,
        started_at=began + timedelta(seconds=4), ended_at=began + timedelta(seconds=60))
    channel, _ = alert_services.channel_create(actor=tenant.admin, project=tenant.project, name="pager",
                                               kind="webhook", target="http://127.0.0.1:9/hook")
    Delivery.objects.create(channel=channel, state=DeliveryState.SENT)  # a digest that was sent
    response = Client().get("/metrics")
    assert response.status_code == 200
    exposed = {sample.name for family in text_string_to_metric_families(response.content.decode())
               for sample in family.samples}
    assert "flowyard_run_duration_seconds_bucket" in exposed and "flowyard_run_queue_seconds_bucket" in exposed
    families = {family.name: family.type for family in text_string_to_metric_families(response.content.decode())}
    used = metrics_in(dashboard_expressions()) | metrics_in([rule["expr"] for rule in rules()])
    for name in used:
        family = re.sub(r"(_total|_bucket|_count|_sum)$", "", name)
        assert family in families, f"{name} is not in GET /metrics"
        assert name in exposed or families[family] == "gauge", f"{name} has no sample in GET /metrics"
