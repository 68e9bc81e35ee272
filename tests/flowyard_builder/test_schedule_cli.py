"""`flowyard schedule next`: the next fire times, one per line in ISO 8601 UTC; bad input exits 1."""

from __future__ import annotations

from datetime import datetime, timezone

from flowyard_builder import exit_codes
from flowyard_builder.cli import main


def run(capsys, *argv: str) -> tuple[int, list[str], str]:
    """Exit code, stdout lines and stderr of `flowyard schedule next ARGV`."""
    code = main(["schedule", "next", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_it_prints_the_next_fire_times_in_iso_8601_utc(capsys):
    code, lines, err = run(capsys, "cron(0 14 * * ? *)", "--after", "2026-01-01T00:00:00Z", "--count", "3")
    assert code == exit_codes.OK and err == ""
    assert lines == ["2026-01-01T14:00:00Z", "2026-01-02T14:00:00Z", "2026-01-03T14:00:00Z"]


def test_the_default_count_is_five(capsys):
    code, lines, _ = run(capsys, "rate(5 minutes)", "--after", "2026-01-01T00:00:00Z")
    assert code == exit_codes.OK
    assert lines == ["2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:20:00Z",
                     "2026-01-01T00:25:00Z"]


def test_the_timezone_moves_wall_times_across_the_spring_change(capsys):
    code, lines, _ = run(capsys, "cron(0 2 * * ? *)", "--timezone", "Europe/Paris", "--after", "2026-03-27T12:00:00Z",
                         "--count", "3")
    assert code == exit_codes.OK
    assert lines == ["2026-03-28T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]


def test_an_after_without_an_offset_is_read_in_the_timezone(capsys):
    _, lines, _ = run(capsys, "0 9 * * *", "--timezone", "America/New_York", "--after", "2026-01-05T09:00", "--count", "1")
    assert lines == ["2026-01-06T14:00:00Z"]


def test_a_five_field_expression_may_be_given_as_separate_words(capsys):
    code, lines, _ = run(capsys, "*/15", "9-17", "*", "*", "1-5", "--after", "2026-01-02T17:40:00Z", "--count", "2")
    assert code == exit_codes.OK
    assert lines == ["2026-01-02T17:45:00Z", "2026-01-05T09:00:00Z"]


def test_without_after_it_starts_from_now(capsys):
    before = datetime.now(timezone.utc)
    _, lines, _ = run(capsys, "rate(1 minute)", "--count", "1")
    fired = datetime.fromisoformat(lines[0])
    assert before < fired and (fired - before).total_seconds() <= 61


def test_a_bad_expression_is_explained_on_stderr_with_exit_code_1(capsys):
    code, lines, err = run(capsys, "cron(0 0 31 2 ? *)")
    assert code == exit_codes.INVALID_INPUT and lines == []
    assert "cron(0 0 31 2 ? *)" in err and "no date ever matches" in err


def test_a_malformed_expression_says_what_is_allowed(capsys):
    code, _, err = run(capsys, "rate(5 minute)")
    assert code == exit_codes.INVALID_INPUT and "rate(5 minutes)" in err


def test_an_unknown_timezone_exits_1(capsys):
    code, _, err = run(capsys, "rate(1 hour)", "--timezone", "Mars/Olympus")
    assert code == exit_codes.INVALID_INPUT and "unknown timezone 'Mars/Olympus'" in err


def test_a_bad_after_or_count_exits_1(capsys):
    assert run(capsys, "rate(1 hour)", "--after", "yesterday")[0] == exit_codes.INVALID_INPUT
    code, _, err = run(capsys, "rate(1 hour)", "--count", "0")
    assert code == exit_codes.INVALID_INPUT and "--count" in err


def test_a_schedule_that_never_fires_again_prints_nothing_and_says_so(capsys):
    code, lines, err = run(capsys, "cron(0 0 1 1 ? 2020)", "--after", "2026-01-01T00:00:00Z")
    assert code == exit_codes.OK and lines == [] and "never fires" in err


def test_the_schedule_group_without_a_subcommand_shows_its_usage_and_exits_1(capsys):
    assert main(["schedule"]) == exit_codes.INVALID_INPUT
    assert "next" in capsys.readouterr().err
