"""`flowyard register` against a tiny HTTP server on 127.0.0.1 that answers like the control plane would."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flowyard_testkit.docker_env import SAMPLE_CONFIG, git, make_workflow_repo

from flowyard_builder.cli import main
from flowyard_builder.images.results import save_result

DIGEST = "sha256:" + "ab" * 32
IMAGE_REF = "127.0.0.1:5000/flowyard/sample-etl:abc123"


class FakeControlPlane:
    """Records each request; answers with the (status, body) queued in `answers` (default 201)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []
        plane = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                plane.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": json.loads(self.rfile.read(length))})
                status, body = plane.answers.pop(0) if plane.answers else (201, created_answer())
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def created_answer(created: bool = True) -> dict:
    return {"version": {"id": 7, "image_digest": DIGEST, "git_branch": "feature/etl"}, "created": created,
            "deployment": {"id": 3, "environment": "5b1e…", "environment_name": "test"} if created else None}


@pytest.fixture
def plane():
    server = FakeControlPlane()
    yield server
    server.close()


@pytest.fixture
def repo(tmp_path):
    repo = make_workflow_repo(tmp_path / "wf")
    git(repo, "remote", "add", "origin", "https://gitlab-ci-token:s3cret@gitlab.example.com/team/sample-etl.git")
    save_result(repo, "last-push.json", {"image_ref": IMAGE_REF, "image_digest": DIGEST, "pinned_ref": "x"})
    return repo


def register(plane, repo, *extra):
    return main(["register", "--api", plane.url + "/", "--token", "ci-token-123", "--project", "analytics", str(repo), *extra])


def test_register_posts_the_build_with_the_ci_token(plane, repo, capsys):
    assert register(plane, repo) == 0
    [request] = plane.requests
    assert request["path"] == "/api/v1/registrations/"
    assert request["headers"]["Authorization"] == "Bearer ci-token-123"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert body == {
        "project": "analytics",
        "workflow": "sample-etl",
        "image_ref": IMAGE_REF,
        "image_digest": DIGEST,
        "git_repository": "https://gitlab.example.com/team/sample-etl.git",
        "git_commit_sha": git(repo, "rev-parse", "HEAD"),
        "git_branch": "feature/etl",
        "git_author": "Ada Lovelace <ada@example.com>",
        "git_message": "Add the sample ETL workflow",
        "config": SAMPLE_CONFIG,
    }
    out = capsys.readouterr().out
    assert "registered version 7" in out and "deployed to test" in out


def test_options_override_the_last_push_and_env_supplies_the_project(plane, repo, monkeypatch):
    monkeypatch.setenv("FLOWYARD_PROJECT", "from-env")
    other = "sha256:" + "cd" * 32
    code = main(["register", "--api", plane.url, "--token", "t", str(repo), "--image-ref", "r:1", "--digest", other])
    assert code == 0
    body = plane.requests[0]["body"]
    assert (body["project"], body["image_ref"], body["image_digest"]) == ("from-env", "r:1", other)


def test_an_already_registered_digest_is_success(plane, repo, capsys):
    plane.answers.append((200, created_answer(created=False)))
    assert register(plane, repo, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == 200 and out["created"] is False


def test_an_invalid_config_exits_1_and_names_the_fields(plane, repo, capsys):
    plane.answers.append((400, {"code": "invalid", "message": "Invalid input.",
                                "extra": {"fields": {"config.schedule": ["Not a cron expression: 'cron(bad)'."]}}}))
    assert register(plane, repo) == 1
    err = capsys.readouterr().err
    assert "HTTP 400" in err and "config.schedule: Not a cron expression: 'cron(bad)'." in err


@pytest.mark.parametrize("status", [401, 403, 404, 409, 500, 503])
def test_refusals_exit_3(plane, repo, capsys, status):
    plane.answers.append((status, {"code": "refused", "message": "No."}))
    assert register(plane, repo) == 3
    err = capsys.readouterr().err
    assert f"HTTP {status}" in err and "ci-token-123" not in err


def test_an_unreachable_control_plane_exits_3(repo, capsys):
    code = main(["register", "--api", "http://127.0.0.1:9", "--token", "t", "--project", "p", str(repo)])
    assert code == 3
    assert "unreachable" in capsys.readouterr().err


def test_without_a_push_or_options_nothing_is_sent(plane, tmp_path, capsys):
    repo = make_workflow_repo(tmp_path / "fresh")
    assert register(plane, repo) == 1
    assert "flowyard push" in capsys.readouterr().err
    assert plane.requests == []


def test_missing_api_token_or_project_exit_1(repo, capsys, monkeypatch):
    for name in ("FLOWYARD_API_URL", "FLOWYARD_CI_TOKEN", "FLOWYARD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["register", str(repo)]) == 1
    assert "--api, --token, --project" in capsys.readouterr().err


def test_a_malformed_digest_exits_1(plane, repo, capsys):
    assert register(plane, repo, "--digest", "sha256:nothex") == 1
    assert plane.requests == []
