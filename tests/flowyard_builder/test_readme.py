"""The README's first paragraph of prose, which `flowyard register` sends when flowyard.json has no description."""

from __future__ import annotations

import json

import pytest
from flowyard_testkit.docker_env import SAMPLE_CONFIG, git, make_workflow_repo

from flowyard_builder.commands.register import build_payload
from flowyard_builder.images.results import save_result
from flowyard_builder.readme import MAX_EXCERPT, find_readmes, first_paragraph, readme_excerpt, shorten

DIGEST = "sha256:" + "ab" * 32

MARKDOWN = """\
---
title: front matter is not prose
---
<!-- a comment
   over two lines -->
<p align="center">
  <img src="docs/logo.png" alt="Sales ETL logo">
</p>

# Sales ETL

[![pipeline](https://gitlab.example.com/badge.svg)](https://gitlab.example.com/pipelines) ![coverage](cov.svg)

[Docs](https://docs.example.com) | [Issues](https://gitlab.example.com/issues)

Table of contents
=================

```bash
pip install sales-etl
```

    an indented code block

- a list is not prose
- nor is its second item

> **Note** a quote is not the description either

| a | table |
|---|-------|

Loads the **day's sales** from the [shop database](https://db.example.com) into the `warehouse`,
*then* tells [finance][slack] &amp; the on-call.<br>
Runs after the shop closes.

The second paragraph is never read.

[slack]: https://slack.example.com
"""

RST = """\
.. image:: https://ci.example.com/badge.svg
   :target: https://ci.example.com

|build| |coverage|

=========
Sales ETL
=========

:Author: Ada Lovelace
:Version: 2

Overview
--------

.. code-block:: python

   print("not prose")

..
   A comment, indented under its marker.

Loads the **day's sales** from the `shop database <https://db.example.com>`_ into the ``warehouse``
(see :doc:`usage` and Finance_). For example::

    flowyard run --local .

The second paragraph is never read.
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_markdown_readme_gives_its_first_paragraph_of_prose_without_markup():
    assert first_paragraph(MARKDOWN) == (
        "Loads the day's sales from the shop database into the warehouse, then tells finance & the on-call. "
        "Runs after the shop closes.")


def test_a_restructuredtext_readme_gives_its_first_paragraph_of_prose_without_markup():
    assert first_paragraph(RST, rst=True) == (
        "Loads the day's sales from the shop database into the warehouse (see usage and Finance). For example:")


def test_a_plain_readme_gives_its_first_paragraph_after_an_underlined_title():
    assert first_paragraph("SALES ETL\n---------\n\nLoads the sales\ninto the warehouse.\n\nMore.\n") == (
        "Loads the sales into the warehouse.")


@pytest.mark.parametrize("text", [
    "", "# Only a title\n", "# Title\n\n```\ncode only\n```\n", "[![b](b.svg)](https://ci)\n\n<!-- nothing -->\n",
    "# Title\n\n```\nan unclosed fence\nholds code to the end\n", "- only\n- a list\n",
])
def test_a_readme_without_prose_gives_nothing(text):
    assert first_paragraph(text) is None


def test_a_short_paragraph_is_kept_whole():
    assert shorten("Loads the sales.") == "Loads the sales."
    assert shorten("x" * MAX_EXCERPT) == "x" * MAX_EXCERPT


def test_a_long_paragraph_is_cut_between_words_to_at_most_500_characters_with_an_ellipsis():
    words = " ".join(f"word{index}," for index in range(200))
    excerpt = shorten(words)
    assert len(excerpt) <= MAX_EXCERPT and excerpt.endswith("…")
    kept = excerpt.removesuffix("…").split(" ")
    assert kept == [f"word{index}," for index in range(len(kept))][:-1] + [f"word{len(kept) - 1}"]  # whole words
    assert len(excerpt) > MAX_EXCERPT - 12  # nothing more than the last word was dropped
    assert shorten("y" * 600) == "y" * (MAX_EXCERPT - 1) + "…"  # one endless word is cut where it must be


def test_the_workflows_own_readme_is_read_before_the_repositorys(tmp_path):
    git(tmp_path, "init", "-q")
    write(tmp_path / "README.md", "# Monorepo\n\nEvery workflow of the sales team.\n")
    workflow = tmp_path / "workflows" / "etl"
    write(workflow / "readme.rst", "ETL\n===\n\nLoads the sales.\n")  # any case
    assert readme_excerpt(workflow) == "Loads the sales."
    (workflow / "readme.rst").unlink()
    assert readme_excerpt(workflow) == "Every workflow of the sales team."  # the repository's, from the root
    write(workflow / "README", "```\ncode only\n```\n")
    assert readme_excerpt(workflow) == "Every workflow of the sales team."  # no prose in its own: the root's


def test_readme_md_is_preferred_to_readme_rst_and_readme(tmp_path):
    write(tmp_path / "README", "The plain one.\n")
    write(tmp_path / "README.rst", "The rst one.\n")
    assert readme_excerpt(tmp_path) == "The rst one."
    write(tmp_path / "README.md", "The markdown one.\n")
    assert readme_excerpt(tmp_path) == "The markdown one."
    assert [path.name for path in find_readmes(tmp_path)] == ["README.md"]


def test_without_a_readme_there_is_no_excerpt(tmp_path):
    assert readme_excerpt(tmp_path) is None
    assert readme_excerpt(tmp_path / "missing") is None


def test_a_readme_that_is_not_utf8_is_read_anyway(tmp_path):
    (tmp_path / "README").write_bytes("Caf\xe9 sales, loaded nightly.\n".encode("latin-1"))
    assert readme_excerpt(tmp_path) == "Caf\ufffd sales, loaded nightly."


@pytest.fixture
def repo(tmp_path):
    return make_workflow_repo(tmp_path / "wf")


def payload(repo):
    save_result(repo, "last-push.json", {"image_ref": "127.0.0.1:5000/sample-etl:1", "image_digest": DIGEST})
    return build_payload(str(repo), project="analytics")


def test_the_registration_sends_the_readmes_excerpt_when_the_config_has_no_description(repo):
    assert "readme_excerpt" not in payload(repo)  # no README: the key is left out
    write(repo / "README.md", "# Sample ETL\n\n[![ci](ci.svg)](https://ci)\n\nLoads the sample data.\n")
    assert payload(repo)["readme_excerpt"] == "Loads the sample data."


def test_a_description_in_the_config_is_sent_instead_of_the_readme(repo):
    write(repo / "README.md", "Loads the sample data.\n")
    write(repo / "flowyard.json", json.dumps({**SAMPLE_CONFIG, "description": "The config's own words."}))
    body = payload(repo)
    assert "readme_excerpt" not in body and body["config"]["description"] == "The config's own words."
    write(repo / "flowyard.json", json.dumps({**SAMPLE_CONFIG, "description": "  "}))  # blank: as if unset
    assert payload(repo)["readme_excerpt"] == "Loads the sample data."
