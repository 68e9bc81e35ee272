"""The build context `flowyard build` generates, without an engine: Dockerfile, code copy, wheels, labels."""

from __future__ import annotations

import io
import json

import pytest
from flowyard_testkit.docker_env import SAMPLE_CONFIG, make_workflow_repo, wheel_cache  # noqa: F401

from flowyard_builder.images import context, dependencies
from flowyard_builder.images.errors import InvalidWorkflow
from flowyard_builder.images.git_metadata import GitMetadata
from flowyard_builder.images.workflow import config_hash, default_tag, image_labels, load_raw_config


def test_dockerfile_installs_wheels_without_an_index_before_copying_the_code():
    dockerfile = context.render_dockerfile("flowyard/runtime:dev", True, {"org.flowyard.workflow": "etl"})
    lines = dockerfile.splitlines()
    assert lines[1] == "FROM flowyard/runtime:dev"
    install = next(i for i, line in enumerate(lines) if "pip install" in line)
    code = next(i for i, line in enumerate(lines) if line.startswith("COPY --chown=10001:10001 workflow/"))
    deps = next(i for i, line in enumerate(lines) if line.startswith("COPY deps/"))
    assert deps < install < code
    assert "--no-index" in lines[install] and "--find-links /tmp/flowyard-deps/wheels" in lines[install]
    assert lines[-1] == "USER flowyard"


def test_dockerfile_without_dependencies_has_no_install_step():
    dockerfile = context.render_dockerfile("base:1", False)
    assert "pip" not in dockerfile and "LABEL" not in dockerfile


def test_label_values_are_quoted_and_not_expanded():
    dockerfile = context.render_dockerfile("b", False, {"org.flowyard.repository": 'x $HOME "q" é'})
    assert 'org.flowyard.repository="x \\$HOME \\"q\\" é"' in dockerfile


def test_the_copy_skips_git_state_and_what_dockerignore_excludes(tmp_path):
    repo = make_workflow_repo(tmp_path / "wf")
    (repo / ".dockerignore").write_text("# local data\ndata/\n*.log\n!keep.log\n")
    (repo / "data").mkdir()
    (repo / "data" / "big.csv").write_text("1,2\n")
    (repo / "debug.log").write_text("x")
    (repo / "keep.log").write_text("x")
    (repo / ".flowyard").mkdir()
    (repo / ".flowyard" / "last-build.json").write_text("{}")
    (repo / "pkg" / "__pycache__").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    copied = context.copy_workflow(repo, tmp_path / "ctx")
    assert set(copied) == {".dockerignore", ".gitignore", "flowyard.json", "workflow.py", "requirements.txt",
                           "keep.log", "pkg/__init__.py"}
    assert not (tmp_path / "ctx" / ".git").exists()


def test_config_hash_ignores_key_order_whitespace_and_spelled_out_defaults():
    assert config_hash({"name": "etl", "retries": 1}) == config_hash(json.loads('{ "retries": 1,  "name": "etl" }'))
    assert config_hash({"name": "etl"}) == config_hash({"name": "etl", "timezone": "UTC", "retries": 0})
    assert config_hash({"name": "etl", "retries": 1}) != config_hash({"name": "etl", "retries": 2})


def test_labels_and_default_tag():
    git = GitMetadata(repository="https://x.example/t/etl.git", commit_sha="a" * 40, branch="main")
    labels = image_labels(SAMPLE_CONFIG, git)
    assert labels == {
        "org.flowyard.workflow": "sample-etl",
        "org.flowyard.config-hash": config_hash(SAMPLE_CONFIG),
        "org.flowyard.repository": "https://x.example/t/etl.git",
        "org.flowyard.commit": "a" * 40,
        "org.flowyard.branch": "main",
    }
    assert default_tag({"name": "My_ETL"}, git, registry="127.0.0.1:5000") == "127.0.0.1:5000/flowyard/my_etl:aaaaaaaaaaaa"
    dirty = GitMetadata(commit_sha="b" * 40, dirty=True)
    assert default_tag({"name": "etl"}, dirty, registry="") == "flowyard/etl:bbbbbbbbbbbb-dirty"
    assert image_labels({"name": "etl"}, GitMetadata()).keys() == {"org.flowyard.workflow", "org.flowyard.config-hash"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "not found"), ("{nope", "not readable JSON"), ("[1]", "JSON object"), ('{"schedule": "x"}', "'name'")],
)
def test_unusable_config_files_name_the_problem(tmp_path, content, problem):
    if content is not None:
        (tmp_path / "flowyard.json").write_text(content)
    with pytest.raises(InvalidWorkflow, match=problem):
        load_raw_config(tmp_path)


def test_requirements_come_from_requirements_txt_then_pyproject(tmp_path):
    assert dependencies.read_requirements(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "etl"\ndependencies = ["six>=1.16", "attrs"]\n')
    assert dependencies.read_requirements(tmp_path).text == "six>=1.16\nattrs\n"
    (tmp_path / "requirements.txt").write_text("# pinned\nsix==1.17.0\n")
    assert dependencies.read_requirements(tmp_path).text == "# pinned\nsix==1.17.0\n"
    (tmp_path / "requirements.txt").write_text("# nothing yet\n\n")
    assert dependencies.read_requirements(tmp_path) is None


def test_a_foreign_target_downloads_binary_wheels_for_the_image_platform(tmp_path):
    command = dependencies._pip_command(dependencies.Target("3.12", "x86_64"), tmp_path / "r.txt", tmp_path / "w")
    assert command[3] == "download" and "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "manylinux_2_36_x86_64" in command


def test_wheels_are_resolved_once_and_reused_byte_for_byte(tmp_path, wheel_cache):  # noqa: F811
    (tmp_path / "requirements.txt").write_text("six\n")
    first_log, second_log = io.StringIO(), io.StringIO()
    pins = dependencies.prepare_wheels(tmp_path, tmp_path / "ctx1", out=first_log)
    again = dependencies.prepare_wheels(tmp_path, tmp_path / "ctx2", out=second_log)
    assert pins == again and len(pins) == 1 and pins[0].startswith("six==")
    assert "downloading wheels" in first_log.getvalue()
    assert "unchanged; reusing" in second_log.getvalue() and "pip:" not in second_log.getvalue()
    wheel = next((tmp_path / "ctx1" / "wheels").glob("six-*.whl"))
    assert (tmp_path / "ctx2" / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    assert (tmp_path / "ctx1" / "requirements.txt").read_text() == pins[0] + "\n"


def test_an_unresolvable_dependency_fails_with_pips_words(tmp_path, wheel_cache):  # noqa: F811
    (tmp_path / "requirements.txt").write_text("six==0.0.0.999\n")
    with pytest.raises(dependencies.DependencyError, match="No matching distribution"):
        dependencies.prepare_wheels(tmp_path, tmp_path / "ctx", out=io.StringIO())
