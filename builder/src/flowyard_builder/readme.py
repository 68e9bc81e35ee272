"""A workflow's README, read for the portal's catalog: the first paragraph of prose, as a short excerpt (stdlib only).

The README is README.md, README.rst or README (any case), in the workflow's directory, else at the root of the git
repository holding it. Headings, badges and images, HTML comments and tags, code (fenced, indented, literal
blocks), front matter, lists, quotes, tables and reStructuredText directives are skipped; links keep their text
and inline markup its words. The excerpt has at most MAX_EXCERPT characters, cut between words with "…".
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from pathlib import Path

README_NAMES = ("README.md", "README.rst", "README")
MAX_EXCERPT = 500
ELLIPSIS = "…"
MAX_READ_BYTES = 256 * 1024  # the first paragraph is near the top; a huge README is not read whole

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^#{1,6}(\s|$)")
_SETEXT_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
_THEMATIC_BREAK = re.compile(r"^([-*_])(\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^([-*+]|\d{1,9}[.)])(\s|$)")
_LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s*\S")
_ONLY_TAGS = re.compile(r"^(\s*</?[A-Za-z][^>]*>)+\s*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_RST_ADORNMENT = re.compile(r"""^([=\-`:'"~^_*+#<>.])\1{2,}\s*$""")
_RST_FIELD = re.compile(r"^:[^:\s][^:]*:(\s|$)")

_MD_IMAGE = re.compile(r"!\[[^\]]*\](\([^)]*\)|\[[^\]]*\])")
_MD_EMPTY_LINK = re.compile(r"\[\s*\](\([^)]*\)|\[[^\]]*\])")
_MD_LINK = re.compile(r"\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])")
_MD_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")
_MD_CODE = re.compile(r"(`+)(.+?)\1")
_MD_EMPHASIS = (re.compile(r"\*\*(.+?)\*\*"), re.compile(r"(?<!\w)__(.+?)__(?!\w)"), re.compile(r"~~(.+?)~~"),
                re.compile(r"\*(?!\s)(.+?)(?<!\s)\*"), re.compile(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"))
_RST_SUBSTITUTION = re.compile(r"\|[^|\s][^|]*\|_{0,2}")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_{1,2}")
_RST_REFERENCE = re.compile(r"`([^`]+)`_{1,2}")
_RST_ROLE = re.compile(r":[\w.+-]+:`([^`]+)`")
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_WORD_REFERENCE = re.compile(r"\b(\w+)__?(?!\w)")
_RST_EMPHASIS = (re.compile(r"\*\*(.+?)\*\*"), re.compile(r"\*(?!\s)(.+?)(?<!\s)\*"), re.compile(r"`([^`]+)`"))
_LETTER = re.compile(r"[^\W\d_]")


def readme_excerpt(path: str | os.PathLike[str]) -> str | None:
    """The first paragraph of prose of the README of the workflow at `path` (its own, else its repository's),
    at most MAX_EXCERPT characters; None when there is no README or no prose in it."""
    for readme in find_readmes(path):
        try:
            with readme.open("rb") as file:
                text = file.read(MAX_READ_BYTES).decode("utf-8", errors="replace").removeprefix("\ufeff")
        except OSError:
            continue
        paragraph = first_paragraph(text, rst=readme.suffix.lower() == ".rst")
        if paragraph:
            return shorten(paragraph)
    return None


def find_readmes(path: str | os.PathLike[str]) -> list[Path]:
    """The README of the directory `path`, then the one at the root of the git repository holding it (if that is
    another directory); each only if it exists."""
    directory = Path(path).resolve()
    found = [readme for readme in (_readme_in(directory),) if readme is not None]
    root = repository_root(directory)
    if root is not None and root != directory:
        readme = _readme_in(root)
        if readme is not None:
            found.append(readme)
    return found


def repository_root(directory: Path) -> Path | None:
    """The nearest directory at or above `directory` holding `.git` (a directory, or a file for a worktree)."""
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _readme_in(directory: Path) -> Path | None:
    """README.md, README.rst or README in `directory`, in that order of preference, whatever their case."""
    try:
        files = {entry.name.lower(): Path(entry.path) for entry in os.scandir(directory) if entry.is_file()}
    except OSError:
        return None
    return next((files[name.lower()] for name in README_NAMES if name.lower() in files), None)


def shorten(text: str, limit: int = MAX_EXCERPT) -> str:
    """`text` if it has at most `limit` characters, else its longest run of whole words that fits with "…"."""
    if len(text) <= limit:
        return text
    cut = text[:limit - len(ELLIPSIS)]
    if not text[len(cut)].isspace():  # the cut falls inside a word: drop that word
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + ELLIPSIS


def first_paragraph(text: str, *, rst: bool = False) -> str | None:
    """The first paragraph of prose of a README's text (Markdown or plain text; reStructuredText with `rst`),
    its markup removed and its whitespace collapsed; None when there is none."""
    blocks = _rst_blocks(text) if rst else _markdown_blocks(text)
    clean = _clean_rst if rst else _clean_markdown
    for block in blocks:
        paragraph = clean(" ".join(block))
        if _LETTER.search(paragraph) and _is_prose(block, rst=rst):
            return paragraph
    return None


def _is_prose(block: list[str], *, rst: bool) -> bool:
    """False for a paragraph whose words are all links, images or tags (a row of badges or a navigation line)."""
    text = " ".join(block)
    if rst:
        text = _RST_SUBSTITUTION.sub(" ", _RST_LINK.sub(" ", _RST_REFERENCE.sub(" ", text)))
    else:
        text = _MD_LINK.sub(" ", _MD_EMPTY_LINK.sub(" ", _MD_IMAGE.sub(" ", text)))
        text = _MD_AUTOLINK.sub(" ", text)
    return bool(_LETTER.search(_HTML_TAG.sub(" ", text)))


def _markdown_blocks(text: str) -> Iterator[list[str]]:
    """Markdown's paragraphs, each as its lines, without headings, code, comments, HTML blocks, lists, quotes,
    tables, link definitions or front matter."""
    lines = _HTML_COMMENT.sub("", text).splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
        if end is not None:
            lines = lines[end + 1:]
    paragraph: list[str] = []
    fence = ""
    skipping = False  # inside a block that is not prose (a list, quote, table or HTML block) until a blank line
    for line in lines:
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = ""
            continue
        opening = _FENCE.match(stripped)
        if opening or _ATX_HEADING.match(stripped) or not stripped:
            if paragraph:
                yield paragraph
            paragraph, skipping = [], False
            fence = opening.group(1) if opening else ""
            continue
        if skipping:
            continue
        if paragraph and _SETEXT_UNDERLINE.match(stripped):
            paragraph = []  # the paragraph was a heading
            continue
        if not paragraph and (line.startswith(("    ", "\t")) or _THEMATIC_BREAK.match(stripped)):
            continue  # indented code, or a horizontal rule
        if _LINK_DEFINITION.match(stripped) or _ONLY_TAGS.match(stripped):
            if paragraph:
                yield paragraph
            paragraph = []
            continue
        if not paragraph and (_LIST_ITEM.match(stripped) or stripped.startswith((">", "|"))):
            skipping = True
            continue
        paragraph.append(stripped.removesuffix("\\").rstrip())
    if paragraph and not fence:
        yield paragraph


def _rst_blocks(text: str) -> Iterator[list[str]]:
    """reStructuredText's paragraphs, each as its lines, without titles, directives and comments (`..`), literal
    and indented blocks, field lists, lists or tables."""
    paragraph: list[str] = []
    explicit = False  # inside a directive or comment: its indented lines belong to it
    for line in text.splitlines():
        stripped = line.strip()
        indented = line[:1].isspace()
        if explicit and (indented or not stripped):
            continue
        explicit = False
        if not stripped:
            if paragraph:
                yield paragraph
            paragraph = []
            continue
        if _RST_ADORNMENT.match(stripped):
            paragraph = [] if len(paragraph) <= 1 else paragraph  # a title's overline or underline
            continue
        if stripped.startswith(".."):
            if paragraph:
                yield paragraph
            paragraph, explicit = [], True
            continue
        if not paragraph and (indented or _RST_FIELD.match(stripped) or _LIST_ITEM.match(stripped)
                              or stripped.startswith(("+-", "|"))):
            explicit = True  # a block quote, literal block, field list, list or table: skipped to a blank line
            continue
        paragraph.append(stripped)
    if paragraph:
        yield paragraph


def _substitute(text: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    """`text` with each pattern's matches, in turn, replaced by their first group."""
    for pattern in patterns:
        text = pattern.sub(r"\1", text)
    return text


def _clean_markdown(text: str) -> str:
    """Markdown inline markup reduced to its words: images dropped, links their text, code and emphasis bare."""
    text = _MD_EMPTY_LINK.sub("", _MD_IMAGE.sub("", text))
    text = _MD_AUTOLINK.sub(r"\1", _MD_LINK.sub(r"\1", text))
    code: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        code.append(match.group(2).strip())
        return f"\0{len(code) - 1}\0"

    text = _substitute(_HTML_TAG.sub("", _MD_CODE.sub(keep_code, text)), _MD_EMPHASIS)
    text = re.sub(r"\0(\d+)\0", lambda match: code[int(match.group(1))], text)
    return _collapse(html.unescape(text))


def _clean_rst(text: str) -> str:
    """reStructuredText inline markup reduced to its words: substitutions (badges) dropped, links their text."""
    text = _RST_SUBSTITUTION.sub("", text)
    text = _substitute(text, (_RST_LINK, _RST_ROLE, _RST_REFERENCE, _RST_LITERAL))
    text = _substitute(_RST_WORD_REFERENCE.sub(r"\1", text), _RST_EMPHASIS)
    text = text.rstrip()
    if text.endswith("::"):  # introduces a literal block: "Example::" reads "Example:", "Example ::" reads "Example"
        text = text[:-2].rstrip() if text[-3:-2].isspace() else text[:-1]
    return _collapse(text)


def _collapse(text: str) -> str:
    """`text` with each run of whitespace one space, and none at either end."""
    return " ".join(text.split())
