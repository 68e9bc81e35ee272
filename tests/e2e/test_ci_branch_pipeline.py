"""`flowyard ci` in GitLab branch, merge-request and default-branch pipelines, for real: the example workflow in a git repository checked out
detached (as GitLab checks out), the real Docker engine and registry on 127.0.0.1:5000, and a live control
plane. The pipeline validates, builds `<registry image>:<short sha>`, pushes, registers the version with the
pipeline's commit, branch and author, and `test` runs it; running the same pipeline again registers nothing new.
With --smoke (FLOWYARD_SMOKE=1) it starts a run in test on a real worker and Docker target, follows it, and
its exit code is the run's outcome.
"""

from __future__ import annotations

import pytest

from flowyard_testkit.docker_env import docker_client, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.pipelines import (
    example_checkout,
    flowyard_settings,
    gitlab_push,
    job_environment,
    own_image_repository,
    run_flowyard_ci,
)
from flowyard_testkit.platform import running_platform
from flowyard_testkit.tenants import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def versions_of_hello(project):
    from controlplane.workflows.models import WorkflowVersion

    return WorkflowVersion.objects.filter(workflow__project=project, workflow__name="hello")


def test_a_branch_pipeline_ships_the_commit_to_test_once(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client  # noqa: F811
):
    repo, sha = example_checkout(tmp_path)
    tenant = build_tenant("ci")
    image = own_image_repository(registry, "ci-hello")
    environ = job_environment(**gitlab_push(sha), **flowyard_settings(
        live_server, tenant.ci_token_value, tenant.project.slug, image))
    tag = f"{image}:{sha[:8]}"
    image_cleanup.append(tag)

    first = run_flowyard_ci(repo, environ)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "gitlab pipeline: a push to branch feature/greet at " + sha[:8] + " by ada" in first.stderr
    for number, step in enumerate(["validate", "build", "push", "register"], 1):
        assert f"step {number}/5: {step}" in first.stderr
    assert "; deployed to test" in first.stdout, "the environment by name, as the job log shows it"
    version = versions_of_hello(tenant.project).get()
    assert (version.git_commit_sha, version.git_branch, version.git_author) == (sha, "feature/greet", "ada"), \
        "the pipeline's commit and branch, though the checkout is detached"
    assert version.ci_pipeline_url == "https://gitlab.example.com/analytics/hello/-/pipelines/7"
    assert version.merge_request_iid is None, "a branch push belongs to no merge request"
    assert version.image_ref == tag
    assert docker_client.images.get(tag).labels["org.flowyard.commit"] == sha
    assert version.deployments.get().environment.name == "test"

    again = run_flowyard_ci(repo, environ)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already registered" in again.stdout
    assert versions_of_hello(tenant.project).count() == 1, "a re-run registers nothing"


def test_a_pipeline_without_its_token_names_the_variable_and_builds_nothing(tmp_path, live_server, registry):  # noqa: F811
    repo, sha = example_checkout(tmp_path)
    tenant = build_tenant("ci")
    environ = job_environment(**gitlab_push(sha), **flowyard_settings(
        live_server, "", tenant.project.slug, own_image_repository(registry)))
    result = run_flowyard_ci(repo, environ)
    assert result.returncode == 1
    assert "FLOWYARD_CI_TOKEN not set" in result.stderr
    assert "step 1" not in result.stderr and not (repo / ".flowyard").exists(), "nothing ran"
    assert not versions_of_hello(tenant.project).exists()


def test_a_ci_token_of_another_project_is_refused_and_nothing_is_registered(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    repo, sha = example_checkout(tmp_path)
    ours, theirs = build_tenant("ci"), build_tenant("other")
    image = own_image_repository(registry)
    image_cleanup.append(f"{image}:{sha[:8]}")
    environ = job_environment(**gitlab_push(sha), **flowyard_settings(
        live_server, theirs.ci_token_value, ours.project.slug, image))
    result = run_flowyard_ci(repo, environ)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the control plane refused the registration" in result.stderr
    assert not versions_of_hello(ours.project).exists() and not versions_of_hello(theirs.project).exists()


def merge_request(sha, iid):
    """GitLab's variables for a merge-request pipeline of merge request `iid` from feature/greet."""
    return gitlab_push(sha, CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID=str(iid),
                       CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature/greet", CI_MERGE_REQUEST_PROJECT_ID="42",
                       CI_MERGE_REQUEST_SOURCE_PROJECT_ID="42",
                       CI_MERGE_REQUEST_PROJECT_URL="https://gitlab.example.com/analytics/hello")


def test_a_merge_request_pipeline_ships_to_its_preview_within_the_limit_and_teardown_removes_it(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    from controlplane.deployments.models import Environment, ReleaseRules

    repo, sha = example_checkout(tmp_path)
    tenant = build_tenant("ci")  # has one live preview already: mr-7
    image = own_image_repository(registry)
    image_cleanup.append(f"{image}:{sha[:8]}")
    settings = flowyard_settings(live_server, tenant.ci_token_value, tenant.project.slug, image)
    environ = job_environment(**merge_request(sha, 12), **settings)

    shipped = run_flowyard_ci(repo, environ)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "deployed to mr-12" in shipped.stderr
    preview = Environment.objects.get(project=tenant.project, name="mr-12")
    assert (preview.kind, preview.source_branch, preview.author) == ("preview", "feature/greet", "ada")
    assert preview.merge_request_url == "https://gitlab.example.com/analytics/hello/-/merge_requests/12"
    assert preview.deployments.get().version.git_commit_sha == sha
    assert versions_of_hello(tenant.project).get().merge_request_iid == 12

    ReleaseRules.objects.filter(project=tenant.project).update(preview_limit=2)  # mr-7 and mr-12 are live
    refused = run_flowyard_ci(repo, job_environment(**merge_request(sha, 13), **settings))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "preview_limit of 2" in refused.stderr
    assert not Environment.objects.filter(project=tenant.project, name="mr-13").exists()

    torn_down = run_flowyard_ci(repo, environ, "teardown")
    assert torn_down.returncode == 0, torn_down.stdout + torn_down.stderr
    assert "preview environment mr-12 torn down" in torn_down.stderr
    preview.refresh_from_db()
    assert preview.torn_down_at is not None and preview.deployments.get().version is None


def test_a_branch_pipeline_with_smoke_runs_the_build_in_test_and_exits_with_its_outcome(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client  # noqa: F811
):
    from controlplane.runs.models import Run

    repo, sha = example_checkout(tmp_path)
    image = own_image_repository(registry, "ci-hello")
    image_cleanup.append(f"{image}:{sha[:8]}")
    with running_platform(live_server, None, docker_client, tmp_path) as platform:
        tenant = platform.tenant
        environ = job_environment(**gitlab_push(sha), **flowyard_settings(
            live_server, tenant.ci_token_value, tenant.project.slug, image, FLOWYARD_SMOKE="1"))
        result = run_flowyard_ci(repo, environ)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "step 6/6: smoke" in result.stderr
        assert "Hello Ada, today is" in result.stdout, "the smoke run's log is followed in the job log"
        run = Run.objects.get(deployment__workflow__name="hello", deployment__environment__name="test",
                              trigger="api")  # the example also runs every minute in test on its schedule
        assert run.state == "SUCCEEDED" and run.version.git_commit_sha == sha
        assert f"run {run.pk} SUCCEEDED" in result.stderr
        assert run.triggered_by_label.startswith("ci-token:")


def test_a_default_branch_pipeline_leaves_a_pending_promotion_of_exactly_that_digest(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    from controlplane.deployments.models import Promotion
    from flowyard_builder.images.results import LAST_PUSH, load_result

    repo, sha = example_checkout(tmp_path)
    tenant = build_tenant("ci")
    image = own_image_repository(registry)
    image_cleanup.append(f"{image}:{sha[:8]}")
    environ = job_environment(**gitlab_push(sha, CI_COMMIT_REF_NAME="main", CI_COMMIT_BRANCH="main"),
                              **flowyard_settings(live_server, tenant.ci_token_value, tenant.project.slug, image))
    result = run_flowyard_ci(repo, environ)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a push to the default branch main" in result.stderr and "step 6/6: request_promotion" in result.stderr
    promotion = Promotion.objects.get(workflow__project=tenant.project, workflow__name="hello")
    assert promotion.state == "PENDING" and promotion.target_environment.name == "production"
    assert promotion.version.image_digest == load_result(repo, LAST_PUSH)["image_digest"], "exactly what was pushed"
    assert (promotion.version.git_commit_sha, promotion.requested_for) == (sha, "ada")
    assert f"promotion {promotion.pk} of {sha[:8]} from test to production: PENDING" in result.stdout
    assert not promotion.workflow.deployments.filter(environment__name="production").exists(), "never deployed there"

    again = run_flowyard_ci(repo, environ)
    assert again.returncode == 0, again.stdout + again.stderr
    assert Promotion.objects.filter(workflow__project=tenant.project, workflow__name="hello").count() == 1
