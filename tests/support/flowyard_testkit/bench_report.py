"""Benchmark reports: the facts of the machine a benchmark ran on, the command that ran it, and its result block
written into docs/benchmarks.md between the markers `<!-- NAME:start -->` and `<!-- NAME:end -->` (the prose
around the block is never touched)."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs" / "benchmarks.md"


def machine_facts(docker) -> str:
    """Today's date, the Python version, the CPU count, the Docker engine's version and the database engine."""
    from django.db import connection

    return (f"{datetime.date.today().isoformat()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"Docker {docker.version()['Version']}, {connection.display_name}")


def _shown(name: str, value: str) -> str:
    """`NAME=value` for a command line, a URL's password left out."""
    if "://" in value:
        url = urllib.parse.urlsplit(value)
        if url.password:
            value = url._replace(netloc=url.netloc.replace(f":{url.password}@", ":***@")).geturl()
    return f"{name}={shlex.quote(value)}"


def bench_command(test_file: str, *variables: str) -> str:
    """The command that ran the benchmark: those of `variables` that are set, then `.venv/bin/pytest FILE -q -s`."""
    settings = [_shown(name, os.environ[name]) for name in variables if os.environ.get(name)]
    return " ".join([*settings, ".venv/bin/pytest", test_file, "-q", "-s"])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table's lines."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def write_docs_block(name: str, lines: Sequence[str], docs: Path = DOCS) -> None:
    """Put `lines` between `<!-- NAME:start -->` and `<!-- NAME:end -->` in docs/benchmarks.md; fail without them."""
    begin, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = docs.read_text()
    block = "\n".join([begin, *lines, end])
    replaced, count = re.subn(f"{re.escape(begin)}.*?{re.escape(end)}", lambda _: block, text, flags=re.S)
    assert count == 1, f"{docs} needs exactly one {begin} … {end} block (found {count})"
    docs.write_text(replaced)
