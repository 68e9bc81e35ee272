"""`flowyard promotions list|show|request|approve|reject` against a live control plane (pytest-django's live_server).

Team alpha's `etl` has v2 in test, v1 in production and a pending promotion test → production requested by
alpha-developer; `report` is deployed to test only.
"""

from __future__ import annotations

import json
import uuid

import pytest

from flowyard_spec.states import Role
from flowyard_testkit.live import cli, tenant, tokens  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(cli, capsys):  # noqa: F811
    """`run(*args, role=...)`: (exit code, stdout, stderr) of `flowyard promotions ARGS`."""

    def call(*args: str, role: Role = Role.DEVELOPER) -> tuple[int, str, str]:
        code = cli("promotions", *args, role=role)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def request_report(tenant, actor_role: Role = Role.DEVELOPER, **fields):  # noqa: F811
    """A pending promotion of `report` test → production, made through the service."""
    from controlplane.deployments import services

    return services.promotion_request(actor=tenant.users[actor_role], workflow=tenant.report,
                                      source_environment=tenant.test_env, target_environment=tenant.production_env,
                                      **fields)


def production_version(tenant, workflow):  # noqa: F811
    """The version id of `workflow` deployed to production, or None."""
    from controlplane.deployments.models import Deployment

    deployment = Deployment.objects.filter(workflow=workflow, environment=tenant.production_env).first()
    return deployment.version_id if deployment else None


def field(out: str, name: str) -> str:
    """The value of the `name  value` line of `show`'s output."""
    for line in out.splitlines():
        if line.startswith(name + "  "):
            return line[len(name):].strip()
    raise AssertionError(f"no {name!r} line in:\n{out}")


def state_of(promotion) -> str:
    """The promotion's state as stored now."""
    promotion.refresh_from_db()
    return promotion.state


def test_list_is_a_table_and_filters_by_workflow_and_state(tenant, run):  # noqa: F811
    from controlplane.deployments import services

    rejected = services.promotion_reject(actor=tenant.users[Role.APPROVER], promotion=request_report(tenant))
    code, out, _ = run("list", "alpha-main", role=Role.VIEWER)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "WORKFLOW", "FROM", "→", "TO", "VERSION", "STATE", "REQUESTED", "BY", "AGE"]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == [str(rejected.pk)[:8], str(tenant.promotion.pk)[:8]]
    assert rows[1][1:7] == ["etl", "test", "→", "production", tenant.v2.image_digest[7:19], "PENDING"]
    assert "alpha-developer" in rows[1] and rows[1][-1].endswith("s")  # requested seconds ago
    assert rows[0][1] == "report" and "REJECTED" in rows[0]

    assert [line.split()[0] for line in run("list", "alpha-main", "--state", "rejected")[1].splitlines()[1:]] == [
        str(rejected.pk)[:8]]
    assert [line.split()[0] for line in run("list", "alpha-main", "--state", "PENDING")[1].splitlines()[1:]] == [
        str(tenant.promotion.pk)[:8]]
    code, out, _ = run("list", "alpha-main", "--workflow", "etl", "--json")
    assert code == 0 and [p["id"] for p in json.loads(out)] == [str(tenant.promotion.pk)]
    code, _, err = run("list", "alpha-main/ingest", "--state", "approved")
    assert code == 0 and "no approved promotions in alpha-main for ingest" in err
    code, _, err = run("list", "alpha-main", "--workflow", "nope")
    assert code == 1 and "workflow 'nope' not found in project 'alpha-main'" in err


def test_show_by_short_id_gives_the_comment_merge_request_and_decision(tenant, run):  # noqa: F811
    from controlplane.deployments import services

    promotion = request_report(tenant, requested_for="ada", comment="nightly numbers",
                               merge_request_url="https://git.example.invalid/data/etl/-/merge_requests/9")
    code, out, _ = run("show", str(promotion.pk)[:8], role=Role.VIEWER)
    assert code == 0
    assert field(out, "promotion") == str(promotion.pk) and field(out, "workflow") == "alpha-main/report"
    assert field(out, "from → to") == "test → production"
    assert field(out, "version").startswith(tenant.report_v1.image_digest + " (commit ")
    assert field(out, "image") == tenant.report_v1.image_ref
    assert field(out, "requested").endswith(" by alpha-developer for ada")
    assert field(out, "comment") == "nightly numbers" and field(out, "merge request").endswith("merge_requests/9")
    assert field(out, "decided") == "- (pending)" and "an approver other than alpha-developer and ada" in out

    services.promotion_reject(actor=tenant.users[Role.APPROVER], promotion=promotion, comment="not this week")
    code, out, _ = run("show", str(promotion.pk), role=Role.VIEWER)
    assert code == 0 and field(out, "state") == "REJECTED" and field(out, "comment") == "not this week"
    assert field(out, "decided").startswith("REJECTED by alpha-approver at ")


def test_request_prints_the_new_promotion_and_a_second_one_is_refused_naming_the_pending_one(tenant, run):  # noqa: F811
    from controlplane.deployments.models import Promotion

    code, out, _ = run("request", "alpha-main/report", "--for", "ada", "--comment", "ship it")
    assert code == 0
    promotion = Promotion.objects.get(workflow=tenant.report)
    assert out.startswith(f"promotion {promotion.pk}: report test → production, version "
                          f"{tenant.report_v1.image_digest[7:19]}: PENDING (requested by alpha-developer for ada)")
    assert "from approvers of the project other than alpha-developer and ada: `flowyard promotions approve " \
           f"{str(promotion.pk)[:8]}`" in out
    assert (promotion.requested_for, promotion.comment) == ("ada", "ship it")

    code, _, err = run("request", "alpha-main/report", "--from", "test", "--to", "production")
    assert code == 3
    assert f"a promotion of report to production is already pending: {promotion.pk}, requested by " \
           "alpha-developer for ada" in err
    assert "an approver approves or rejects it first" in err
    assert Promotion.objects.filter(workflow=tenant.report).count() == 1

    code, _, err = run("request", "alpha-main/report", "--to", "staging")
    assert code == 1 and "--to 'staging': project 'alpha-main' has no such environment (it has: test" in err
    code, _, err = run("request", "alpha-main/ingest")
    assert code == 1 and "source_environment: Nothing of ingest is deployed to test" in err


def test_another_approver_approves_and_the_version_is_deployed_to_production(tenant, run):  # noqa: F811
    assert production_version(tenant, tenant.workflow) == tenant.v1.pk
    code, out, _ = run("approve", str(tenant.promotion.pk)[:8], "--comment", "looks good", role=Role.APPROVER)
    assert code == 0
    assert f"promotion {tenant.promotion.pk} (etl test → production): APPROVED; version " \
           f"{tenant.v2.image_digest[7:19]} is deployed to production" in out
    assert state_of(tenant.promotion) == "APPROVED" and production_version(tenant, tenant.workflow) == tenant.v2.pk

    code, _, err = run("approve", str(tenant.promotion.pk), role=Role.ADMIN)
    assert code == 3 and "already approved" in err and "only pending promotions are approved or rejected" in err


def test_approving_your_own_change_is_refused_with_the_four_eyes_rule_and_nothing_changes(tenant, run):  # noqa: F811
    mine = request_report(tenant, actor_role=Role.APPROVER)
    code, out, err = run("approve", str(mine.pk), role=Role.APPROVER)
    assert code == 3 and out == ""
    assert "refused: you made this change (requested by you); another approver of project alpha-main must " \
           "approve it" in err
    assert state_of(mine) == "PENDING" and production_version(tenant, tenant.report) is None

    type(tenant.promotion).objects.filter(pk=tenant.promotion.pk).update(requested_for="alpha-approver")
    code, _, err = run("approve", str(tenant.promotion.pk), role=Role.APPROVER)
    assert code == 3 and "you made this change (requested for you, its author)" in err
    assert state_of(tenant.promotion) == "PENDING" and production_version(tenant, tenant.workflow) == tenant.v1.pk


def test_a_viewer_may_not_approve_and_is_told_the_role_needed(tenant, run):  # noqa: F811
    code, _, err = run("approve", str(tenant.promotion.pk), role=Role.VIEWER)
    assert code == 3 and "needs role approver; yours: viewer" in err
    assert state_of(tenant.promotion) == "PENDING"


def test_reject_records_the_comment_and_deploys_nothing(tenant, run):  # noqa: F811
    code, out, _ = run("reject", str(tenant.promotion.pk), "--comment", "breaks the dashboard", role=Role.APPROVER)
    assert code == 0 and "REJECTED; nothing is deployed" in out
    assert state_of(tenant.promotion) == "REJECTED" and tenant.promotion.comment == "breaks the dashboard"
    assert production_version(tenant, tenant.workflow) == tenant.v1.pk


def test_unknown_or_malformed_ids_are_named_clearly(tenant, run):  # noqa: F811
    unknown = str(uuid.uuid4())
    code, _, err = run("show", unknown, role=Role.APPROVER)
    assert code == 3 and f"no promotion {unknown} that you can see" in err
    code, _, err = run("approve", "0000ffff", role=Role.APPROVER)
    assert code == 1 and "no promotion that you can see has an id starting with '0000ffff'" in err
    code, _, err = run("reject", "latest", role=Role.APPROVER)
    assert code == 1 and "'latest' is not a promotion id" in err


def test_a_ci_token_requests_with_ids_and_is_told_to_when_it_gives_names(tenant, cli, capsys, monkeypatch):  # noqa: F811
    from controlplane.deployments.models import Promotion
    from flowyard_builder.cli import main

    assert cli("promotions", "request", "alpha-main/report", "--token", tenant.ci_token_value) == 1
    assert "a CI token cannot look up names (report, test, production)" in capsys.readouterr().err

    monkeypatch.delenv("FLOWYARD_TOKEN")  # in CI the pipeline's $FLOWYARD_CI_TOKEN is used
    monkeypatch.setenv("FLOWYARD_CI_TOKEN", tenant.ci_token_value)
    code = main(["promotions", "request", f"alpha-main/{tenant.report.pk}", "--from", str(tenant.test_env.pk),
                 "--to", str(tenant.production_env.pk), "--for", "ada", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["state"] == "PENDING"
    promotion = Promotion.objects.get(workflow=tenant.report)
    assert (promotion.requested_by_label, promotion.requested_for) == ("ci-token:gitlab@alpha-main", "ada")


def test_fields_the_api_may_add_are_shown_when_present_and_never_required():
    from flowyard_builder.commands.promotions import PromotionNames, describe_promotion, describe_state

    class Client:
        """Answers the look-ups of an API that sends only the original promotion fields."""

        def get(self, path: str) -> dict:
            return {"/workflows/w/": {"name": "etl", "project": "p"}, "/projects/p/": {"slug": "data"},
                    "/environments/t/": {"name": "test"}, "/environments/prod/": {"name": "production"},
                    "/versions/v/": {"image_digest": "sha256:" + "ab" * 32}}[path]

    bare = {"id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "workflow": "w", "version": "v", "source_environment": "t",
            "target_environment": "prod", "state": "PENDING", "requested_by_label": "bob", "requested_for": "",
            "decided_at": None, "comment": "", "merge_request_url": "", "created_at": "2026-03-01T10:00:00+00:00"}
    text = describe_promotion(bare, PromotionNames(Client()))
    assert "data/etl" in text and "test → production" in text and "sha256:" + "ab" * 32 in text
    assert describe_state(bare) == "PENDING" and "approved by" not in text

    richer = {**bare, "approvals": [{"user": "carol", "at": "2026-03-01T11:00:00+00:00", "comment": "ok"}],
              "required_approvals": 2, "merge_request_iid": 9, "condition": "after 18:00", "risk": "low"}
    text = describe_promotion(richer, PromotionNames(Client()))
    assert describe_state(richer) == "PENDING (1 of 2 approvals)" and describe_state(richer, compact=True) == "PENDING 1/2"
    assert "approved by" in text and "carol at " in text and ": ok" in text and "(!9)" in text
    assert "after 18:00" in text and "risk" in text and "low" in text
