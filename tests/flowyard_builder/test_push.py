"""`flowyard push` to the real registry on 127.0.0.1:5000: the printed digest is the one the registry serves."""

from __future__ import annotations

import io
import json

import pytest
from flowyard_testkit.docker_env import (  # noqa: F401
    MANIFEST_V2,
    docker_client,
    image_cleanup,
    make_workflow_repo,
    registry,
    registry_manifest,
    runtime_image,
    unique_ref,
    wheel_cache,
)

from flowyard_builder.cli import main
from flowyard_builder.images.build import build_image
from flowyard_builder.images.errors import InvalidWorkflow
from flowyard_builder.images.reference import Reference, parse_reference
from flowyard_builder.images.registry import push_image
from flowyard_builder.images.results import load_result


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory, docker_client, runtime_image, registry, wheel_cache, image_cleanup):  # noqa: F811
    """A sample workflow built once, tagged for the test registry: (repo, ref)."""
    repo = make_workflow_repo(tmp_path_factory.mktemp("push") / "wf", requirements=None)
    ref = unique_ref("sample-push", registry=registry)
    image_cleanup.append(ref)
    build_image(repo, tag=ref, base=runtime_image, out=io.StringIO(), client=docker_client)
    return repo, ref


def test_push_returns_the_digest_the_registry_reports(built_repo, docker_client):  # noqa: F811
    _, ref = built_repo
    log = io.StringIO()
    result = push_image(ref, docker_client, out=log)
    reference = parse_reference(ref)
    served_digest, manifest = registry_manifest(reference.repository, reference.tag)
    assert result.image_digest == served_digest
    assert result.image_digest.startswith("sha256:") and len(result.image_digest) == 71
    assert manifest["mediaType"] == MANIFEST_V2
    assert result.pinned_ref == f"{reference.name}@{served_digest}"
    assert any(word in log.getvalue() for word in ("Pushed", "Layer already exists", "Mounted from"))


def test_cli_push_uses_the_last_build_and_saves_the_push(built_repo, capsys):
    repo, ref = built_repo
    main(["build", str(repo), "--tag", ref, "--json"])  # records .flowyard/last-build.json
    capsys.readouterr()
    assert main(["push", str(repo), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["image_ref"] == ref
    reference = parse_reference(ref)
    assert out["image_digest"] == registry_manifest(reference.repository, reference.tag)[0]
    assert load_result(repo, "last-push.json") == out
    assert main(["push", str(repo)]) == 0
    assert capsys.readouterr().out.strip() == out["image_digest"]  # plain mode prints just the digest


def test_pushing_twice_gives_the_same_digest(built_repo, docker_client):  # noqa: F811
    _, ref = built_repo
    assert push_image(ref, docker_client, out=io.StringIO()) == push_image(ref, docker_client, out=io.StringIO())


def test_an_unreachable_registry_exits_2(built_repo, docker_client, capsys):  # noqa: F811
    _, ref = built_repo
    elsewhere = ref.replace("127.0.0.1:5000", "127.0.0.1:5999")
    docker_client.images.get(ref).tag(elsewhere)
    try:
        assert main(["push", "--tag", elsewhere]) == 2
        assert "127.0.0.1:5999" in capsys.readouterr().err
    finally:
        docker_client.images.remove(elsewhere)


def test_an_image_that_was_never_built_exits_2(tmp_path, capsys, docker_client):  # noqa: F811
    assert main(["push", str(tmp_path), "--tag", unique_ref("never-built")]) == 2
    assert "flowyard build" in capsys.readouterr().err


def test_a_reference_without_a_registry_host_is_refused(built_repo, docker_client):  # noqa: F811
    with pytest.raises(InvalidWorkflow, match="no registry host"):
        push_image("flowyard/sample:t1", docker_client, out=io.StringIO())


def test_nothing_to_push_exits_1(tmp_path, capsys):
    assert main(["push", str(tmp_path)]) == 1
    assert "--tag" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("127.0.0.1:5000/team/etl:abc", Reference("127.0.0.1:5000", "team/etl", "abc")),
        ("127.0.0.1:5000/etl", Reference("127.0.0.1:5000", "etl", "latest")),
        ("registry.example.com/a/b/c:1.0", Reference("registry.example.com", "a/b/c", "1.0")),
        ("localhost/etl:x", Reference("localhost", "etl", "x")),
        ("team/etl:1", Reference(None, "team/etl", "1")),
        ("etl", Reference(None, "etl", "latest")),
    ],
)
def test_parse_reference(ref, expected):
    assert parse_reference(ref) == expected
    assert str(parse_reference(ref)).endswith(":" + expected.tag)


@pytest.mark.parametrize("ref", ["127.0.0.1:5000/etl@sha256:" + "a" * 64, "Team/ETL:1", "etl:"])
def test_parse_reference_refuses_digests_and_invalid_names(ref):
    with pytest.raises(InvalidWorkflow):
        parse_reference(ref)
