"""`flowyard validate`: real workflow repositories on disk, checked for config, entrypoint and parameters."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from flowyard_builder import exit_codes
from flowyard_builder.cli import main

TEAM_CONFIG = {
    "name": "my-workflow", "schedule-enabled": True, "schedule": "cron(0 14 * * ? *)",
    "parameters": {"env": "prod", "account": "12345678910"}, "cloud-execution-environment": "fargate",
    "memory": 4096, "cpu": 1024,
}
ETL_WORKFLOW = """
    from flowyard import flow, task

    @task
    def extract(account: str) -> list[int]:
        return [1, 2, 3]

    @flow(name="etl")
    def etl(env: str, account: str, day: str = "2026-01-01"):
        return extract(account)
"""


def make_repo(root: Path, config: dict | str | None, files: dict[str, str] | None = None) -> Path:
    """A workflow repository: flowyard.json (a dict, raw text, or none) and the given files."""
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "flowyard.json").write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
    for name, source in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def validate(capsys, repo: Path, *flags: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `flowyard validate REPO FLAGS`."""
    code = main(["validate", str(repo), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def validate_json(capsys, repo: Path) -> tuple[int, dict]:
    """Exit code and parsed output of `flowyard validate REPO --json`."""
    code, out, _ = validate(capsys, repo, "--json")
    return code, json.loads(out)


def fields_of(report: dict) -> dict[str, str]:
    """The errors of a --json report as {field: message}."""
    return {error["field"]: error["message"] for error in report["errors"]}


@pytest.fixture(scope="module", autouse=True)
def the_sdk_is_installed():
    """These tests need the SDK's Flow class (the validate command checks isinstance(obj, flowyard.Flow))."""
    import flowyard

    assert hasattr(flowyard, "Flow"), "flowyard.Flow is missing from the SDK"


def test_the_teams_repository_with_one_flow_in_workflow_py_is_valid(tmp_path, capsys):
    repo = make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": ETL_WORKFLOW})
    code, out, err = validate(capsys, repo)
    assert code == exit_codes.OK, err
    assert "is valid" in out and "'etl'" in out and err == ""


def test_the_json_report_has_ok_errors_and_the_config_by_alias(tmp_path, capsys):
    repo = make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": ETL_WORKFLOW})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.OK
    assert report["ok"] is True and report["errors"] == []
    assert report["config"]["schedule-enabled"] is True
    assert report["config"]["cloud-execution-environment"] == "fargate"
    assert report["config"]["timezone"] == "UTC"


def test_the_path_defaults_to_the_current_directory(tmp_path, capsys, monkeypatch):
    repo = make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": ETL_WORKFLOW})
    monkeypatch.chdir(repo)
    assert main(["validate"]) == exit_codes.OK


def test_every_config_problem_is_reported_with_the_file_and_the_field(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "colour": "blue", "memory": 3000, "retries": 20},
                     {"workflow.py": ETL_WORKFLOW})
    code, out, err = validate(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert "flowyard.json: colour: unknown key 'colour'" in err
    assert "flowyard.json: retries: Input should be less than or equal to 10" in err
    code, report = validate_json(capsys, repo)
    assert report["ok"] is False and report["config"] is None
    assert {error["file"] for error in report["errors"]} == {"flowyard.json"}
    assert set(fields_of(report)) == {"colour", "retries"}


def test_a_fargate_size_problem_lists_what_is_allowed(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "memory": 3000}, {"workflow.py": ETL_WORKFLOW})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert "2048, 3072, 4096, 5120, 6144, 7168, 8192" in fields_of(report)["memory"]


def test_a_missing_config_file_says_how_to_create_it(tmp_path, capsys):
    code, _, err = validate(capsys, make_repo(tmp_path, None, {"workflow.py": ETL_WORKFLOW}))
    assert code == exit_codes.INVALID_INPUT
    assert "flowyard.json: not found" in err and '"name"' in err


def test_invalid_json_names_the_line_and_column(tmp_path, capsys):
    code, _, err = validate(capsys, make_repo(tmp_path, '{\n  "name": "etl",\n}\n'))
    assert code == exit_codes.INVALID_INPUT
    assert "flowyard.json: is not valid JSON" in err and "line 3" in err


def test_a_json_document_that_is_not_an_object_is_refused(tmp_path, capsys):
    code, _, err = validate(capsys, make_repo(tmp_path, '["etl"]'))
    assert code == exit_codes.INVALID_INPUT and "must hold a JSON object" in err


def test_a_path_that_is_not_a_directory_is_refused(tmp_path, capsys):
    code, _, err = validate(capsys, tmp_path / "missing")
    assert code == exit_codes.INVALID_INPUT and "is not a directory" in err


def test_an_explicit_module_function_entrypoint_is_checked(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": "pipelines.daily:etl"},
                     {"pipelines/__init__.py": "", "pipelines/daily.py": ETL_WORKFLOW})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.OK, report


def test_an_entrypoint_that_is_not_a_flow_is_an_error_naming_it(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": "workflow:extract"}, {"workflow.py": ETL_WORKFLOW})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert report["errors"] == [{"file": "workflow.py", "field": "entrypoint", "message": report["errors"][0]["message"]}]
    assert "workflow:extract is a Task, not a flow" in report["errors"][0]["message"]
    assert "@flow" in report["errors"][0]["message"]


def test_an_entrypoint_naming_a_missing_function_is_an_error(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": "workflow:load"}, {"workflow.py": ETL_WORKFLOW})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert "has no 'load'" in fields_of(report)["entrypoint"]


def test_an_entrypoint_module_that_does_not_exist_is_an_error_in_the_config(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": "nowhere:etl"})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert report["errors"][0]["file"] == "flowyard.json"
    assert "No module named 'nowhere'" in report["errors"][0]["message"]


def test_a_workflow_that_raises_on_import_is_reported_and_the_cli_survives(tmp_path, capsys):
    repo = make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": "import json\nraise RuntimeError('database is down')\n"})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert "RuntimeError: database is down" in fields_of(report)["entrypoint"]


@pytest.mark.parametrize("source", ["import sys\nsys.exit(3)\n", "import os\nos._exit(9)\n"])
def test_a_workflow_that_exits_on_import_cannot_end_the_cli(tmp_path, capsys, source):
    code, report = validate_json(capsys, make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": source}))
    assert code == exit_codes.INVALID_INPUT
    assert "entrypoint" in fields_of(report)


def test_a_missing_dependency_suggests_installing_the_requirements(tmp_path, capsys):
    repo = make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": "import no_such_dependency_xyz\n" + textwrap.dedent(ETL_WORKFLOW)})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    message = fields_of(report)["entrypoint"]
    assert "no_such_dependency_xyz" in message and "requirements.txt" in message


def test_without_entrypoint_and_without_workflow_py_it_says_what_to_add(tmp_path, capsys):
    code, report = validate_json(capsys, make_repo(tmp_path, TEAM_CONFIG))
    assert code == exit_codes.INVALID_INPUT
    assert "no workflow.py" in fields_of(report)["entrypoint"]


def test_a_workflow_py_with_two_flows_needs_an_entrypoint_choosing_one(tmp_path, capsys):
    source = ETL_WORKFLOW + "\n    @flow\n    def backfill(env: str, account: str):\n        return None\n"
    code, report = validate_json(capsys, make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": source}))
    assert code == exit_codes.INVALID_INPUT
    message = fields_of(report)["entrypoint"]
    assert "2 flows (backfill, etl)" in message and '"entrypoint"' in message


def test_a_workflow_py_without_any_flow_says_to_decorate_one(tmp_path, capsys):
    code, report = validate_json(capsys, make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": "def etl(env, account):\n  pass\n"}))
    assert code == exit_codes.INVALID_INPUT
    assert "has no @flow" in fields_of(report)["entrypoint"]


def test_a_flow_imported_under_two_names_counts_once(tmp_path, capsys):
    source = ETL_WORKFLOW + "\n    main = etl\n"
    assert validate_json(capsys, make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": source}))[0] == exit_codes.OK


def test_a_declared_parameter_the_flow_does_not_take_is_named(tmp_path, capsys):
    config = {**TEAM_CONFIG, "parameters": {"env": "prod", "account": "1", "region": "eu-west-1"}}
    code, report = validate_json(capsys, make_repo(tmp_path, config, {"workflow.py": ETL_WORKFLOW}))
    assert code == exit_codes.INVALID_INPUT
    assert "etl() has no parameter 'region' (it takes: env, account, day)" in fields_of(report)["parameters.region"]


def test_a_flow_parameter_without_default_must_be_declared(tmp_path, capsys):
    config = {**TEAM_CONFIG, "parameters": {"env": "prod"}}
    code, report = validate_json(capsys, make_repo(tmp_path, config, {"workflow.py": ETL_WORKFLOW}))
    assert code == exit_codes.INVALID_INPUT
    assert "etl() needs parameter 'account', which has no default" in fields_of(report)["parameters"]


def test_a_parameter_with_a_default_need_not_be_declared_but_may_be(tmp_path, capsys):
    config = {**TEAM_CONFIG, "parameters": {"env": "prod", "account": "1", "day": "2026-02-01"}}
    assert validate_json(capsys, make_repo(tmp_path, config, {"workflow.py": ETL_WORKFLOW}))[0] == exit_codes.OK


def test_a_flow_taking_keyword_arguments_accepts_any_declared_parameter(tmp_path, capsys):
    source = "from flowyard import flow\n\n@flow\ndef etl(**options):\n    return options\n"
    assert validate_json(capsys, make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": source}))[0] == exit_codes.OK


def test_parameters_of_each_environment_are_checked_against_the_flow(tmp_path, capsys):
    config = {**TEAM_CONFIG, "environments": {"production": {"parameters": {"regoin": "eu"}}}}
    code, report = validate_json(capsys, make_repo(tmp_path, config, {"workflow.py": ETL_WORKFLOW}))
    assert code == exit_codes.INVALID_INPUT
    assert list(fields_of(report)) == ["environments.production.parameters.regoin"]


def test_an_environment_with_its_own_entrypoint_is_checked_against_that_flow(tmp_path, capsys):
    config = {**TEAM_CONFIG, "environments": {"test": {"entrypoint": "smoke:check", "parameters": {"env": "t"}}}}
    smoke = "from flowyard import flow\n\n@flow\ndef check(env: str, account: str, dry_run: bool):\n    pass\n"
    code, report = validate_json(capsys, make_repo(tmp_path, config, {"workflow.py": ETL_WORKFLOW, "smoke.py": smoke}))
    assert code == exit_codes.INVALID_INPUT
    assert "check() needs parameter 'dry_run'" in fields_of(report)["environments.test.parameters"]


def test_a_command_entrypoint_with_a_script_of_the_repository_is_valid(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": ["bash", "run.sh"]}, {"run.sh": "echo hello\n"})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.OK and report["warnings"] == []


def test_a_command_running_a_repository_file_directly_warns_when_it_is_not_executable(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": ["./run.sh"]}, {"run.sh": "#!/bin/sh\necho hi\n"})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.OK
    assert "chmod +x" in report["warnings"][0]["message"]
    (repo / "run.sh").chmod(0o755)
    assert validate_json(capsys, repo)[1]["warnings"] == []


def test_a_command_whose_program_is_not_found_here_is_only_a_warning(tmp_path, capsys):
    repo = make_repo(tmp_path, {**TEAM_CONFIG, "entrypoint": ["spark-submit-not-here", "job.py"]})
    code, out, err = validate(capsys, repo)
    assert code == exit_codes.OK
    assert "warning: flowyard.json: entrypoint.0: 'spark-submit-not-here'" in err and "is valid" in out


def test_when_the_sdk_cannot_be_imported_it_says_so(tmp_path, capsys):
    """A repository folder called `flowyard` hides the SDK from the child process, as a broken install would."""
    repo = make_repo(tmp_path, TEAM_CONFIG, {"workflow.py": ETL_WORKFLOW,
                                             "flowyard/__init__.py": "raise ImportError('no SDK here')\n"})
    code, report = validate_json(capsys, repo)
    assert code == exit_codes.INVALID_INPUT
    assert "the flowyard SDK cannot be imported" in report["errors"][0]["message"]
    assert "no SDK here" in report["errors"][0]["message"]
