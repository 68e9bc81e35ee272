"""`flowyard build` against the real Docker engine: a git repository with a requirements.txt becomes an
image FROM flowyard/runtime:dev with labels, the dependency installed without network, running as uid 10001."""

from __future__ import annotations

import io
import json
import re

import pytest
from flowyard_testkit.docker_env import (  # noqa: F401
    SAMPLE_CONFIG,
    docker_client,
    git,
    image_cleanup,
    make_workflow_repo,
    run_python,
    runtime_image,
    unique_ref,
    wheel_cache,
)

from flowyard_builder.cli import main
from flowyard_builder.images.build import build_image
from flowyard_builder.images.results import load_result
from flowyard_builder.images.workflow import config_hash


@pytest.fixture(scope="module")
def built(tmp_path_factory, docker_client, runtime_image, wheel_cache, image_cleanup):  # noqa: F811
    """One sample repository built once for the module: (repo, result, build log, image)."""
    repo = make_workflow_repo(tmp_path_factory.mktemp("build") / "wf")
    git(repo, "remote", "add", "origin", "https://ci-user:s3cret@gitlab.example.com/team/sample-etl.git")
    ref = unique_ref("sample-etl", registry=None)
    image_cleanup.append(ref)
    log = io.StringIO()
    result = build_image(repo, tag=ref, base=runtime_image, out=log, client=docker_client)
    return repo, result, log.getvalue(), docker_client.images.get(ref)


def test_the_image_carries_the_flowyard_labels(built):
    repo, result, _, image = built
    labels = image.labels
    assert labels["org.flowyard.workflow"] == "sample-etl"
    assert labels["org.flowyard.commit"] == git(repo, "rev-parse", "HEAD")
    assert labels["org.flowyard.branch"] == "feature/etl"
    assert labels["org.flowyard.repository"] == "https://gitlab.example.com/team/sample-etl.git"
    assert labels["org.flowyard.config-hash"] == config_hash(SAMPLE_CONFIG)
    assert result.labels.items() <= labels.items()
    assert result.image_id == image.id


def test_the_image_runs_as_the_flowyard_user_with_the_runner_as_entrypoint(built, docker_client):  # noqa: F811
    *_, image = built
    assert image.attrs["Config"]["User"] == "flowyard"
    assert image.attrs["Config"]["Entrypoint"] == ["python", "-m", "flowyard", "run"]
    assert image.attrs["Config"]["WorkingDir"] == "/workflow"
    assert run_python(docker_client, image.id, "import os; print(os.getuid(), os.getgid())") == "10001 10001"


def test_the_dependency_and_the_sdk_import_inside_the_image(built, docker_client):  # noqa: F811
    *_, image = built
    code = "import six, flowyard, sys; print(six.__name__, flowyard.__name__, sys.prefix)"
    assert run_python(docker_client, image.id, code) == "six flowyard /opt/flowyard/venv"


def test_the_code_is_in_the_workdir_without_git_state(built, docker_client):  # noqa: F811
    *_, image = built
    listing = run_python(docker_client, image.id, "import os; print(sorted(os.listdir('.')))")
    assert listing == str(sorted([".gitignore", "flowyard.json", "requirements.txt", "workflow.py"]))


def test_dependencies_install_from_wheels_with_no_index(built):
    _, _, log, _ = built
    install_step = next(line for line in log.splitlines() if line.startswith("Step ") and "pip install" in line)
    assert "--no-index" in install_step and "--find-links" in install_step


def test_a_rebuild_with_unchanged_requirements_reuses_the_dependency_layer(built, docker_client, runtime_image, image_cleanup):  # noqa: F811
    repo, first, _, image = built
    (repo / "workflow.py").write_text((repo / "workflow.py").read_text() + "\n# a code change\n")
    git(repo, "commit", "-qam", "Change the code only")
    ref = unique_ref("sample-etl-rebuild", registry=None)
    image_cleanup.append(ref)
    log = io.StringIO()
    second = build_image(repo, tag=ref, base=runtime_image, out=log, client=docker_client)
    text = log.getvalue()
    install_at = text.index("pip install --no-index")
    assert text[install_at:].split("Step ", 1)[0].count("Using cache") == 1, text
    assert "reusing the wheels" in text
    assert second.image_id != first.image_id
    history_first = [layer["Id"] for layer in image.history()]
    history_second = [layer["Id"] for layer in docker_client.images.get(ref).history()]
    shared = [layer for layer in history_second if layer in history_first and layer != "<missing>"]
    assert len(shared) >= 3  # runtime base, dependency COPY and the pip install layer


def test_cli_build_prints_json_and_remembers_the_build(tmp_path, capsys, runtime_image, wheel_cache, image_cleanup):  # noqa: F811
    repo = make_workflow_repo(tmp_path / "wf", requirements=None)
    ref = unique_ref("cli-build", registry=None)
    image_cleanup.append(ref)
    assert main(["build", str(repo), "--tag", ref, "--base", runtime_image, "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert set(out) == {"image_id", "tag", "labels"} and out["tag"] == ref
    assert out["labels"]["org.flowyard.workflow"] == "sample-etl"
    assert "Step 1/" in captured.err  # the build log streams to stderr
    assert load_result(repo, "last-build.json")["tag"] == ref


def test_a_failing_step_exits_2_and_names_the_step(tmp_path, capsys, docker_client, wheel_cache):  # noqa: F811
    repo = make_workflow_repo(tmp_path / "wf")
    # The Debian-built base has python3 but neither `python` nor the venv: the install step fails.
    code = main(["build", str(repo), "--tag", unique_ref("broken", registry=None), "--base", "flowyard/base:bookworm"])
    err = capsys.readouterr().err
    intermediate = re.findall(r"---> ([0-9a-f]{12})$", err, re.MULTILINE)[1:]  # not the base
    if intermediate:  # removing the last step's image removes its untagged parents too
        docker_client.images.remove(intermediate[-1])
    assert code == 2
    assert "failing step: Step 4/" in err and "pip install" in err
    assert "returned a non-zero code" in err


def test_a_missing_base_image_exits_2_without_pulling(tmp_path, capsys, docker_client):  # noqa: F811
    repo = make_workflow_repo(tmp_path / "wf", requirements=None)
    assert main(["build", str(repo), "--base", "flowyard/runtime:no-such-version"]) == 2
    assert "scripts/provision" in capsys.readouterr().err


def test_a_repository_without_flowyard_json_exits_1(tmp_path, capsys):
    assert main(["build", str(tmp_path)]) == 1
    assert "flowyard.json" in capsys.readouterr().err
