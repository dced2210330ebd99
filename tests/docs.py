"""The documentation as the tests read it: README.md and every page of docs/, with the reference
tables the site's build makes (tui.cli.reference, tui.output.schema), so that a test checks a
claim, a command or a code block where a reader finds it.

A helper module, not a test module: the tests that check the docs' examples import it (test
modules do not import each other).
"""

from __future__ import annotations

import re
import textwrap
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")


def pages() -> list[Path]:
    """README.md, then docs/**/*.md in order of their paths."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _generated(match: re.Match[str]) -> str:
    from tui.cli.reference import TABLES
    from tui.output.schema import fields_table

    return {**TABLES, "trace-schema": fields_table}[match[1]]()


@cache
def text() -> str:
    """Every page's text, its generated tables filled in as the site's build fills them."""
    return "\n".join(MARKER.sub(_generated, page.read_text(encoding="utf-8")) for page in pages())


@cache
def prose() -> str:
    """The pages' words, line breaks as spaces (a claim may wrap anywhere)."""
    return " ".join(text().split())


def page_of(words: str) -> str:
    """Which page says `words` (for a failing test's message)."""
    said = [p.relative_to(ROOT).as_posix() for p in pages() if " ".join(words.split()) in
            " ".join(MARKER.sub(_generated, p.read_text(encoding="utf-8")).split())]
    return ", ".join(said) or "no page"


def claim(words: str) -> str:
    """`words` as the docs say them (line breaks aside): a test of a claim the docs no longer
    make must fail rather than pass on its own."""
    assert " ".join(words.split()) in prose(), f"the docs no longer say {words!r}"
    return words


def line_starting(start: str) -> str:
    """The first line of the docs that begins `start`."""
    found = next((line for line in text().splitlines() if line.startswith(start)), None)
    assert found is not None, f"no line of the docs begins {start!r}"
    return found


def block_after(words: str) -> list[str]:
    """The lines of the first fenced block after `words` (a marker such as
    `<!-- quiet-example -->`, or a sentence)."""
    assert words in text(), f"the docs no longer say {words!r}"
    rest = text().split(words, 1)[1]
    opening = re.search(r"^ *```[a-z]*\n", rest, re.M)
    assert opening is not None, f"no code block after {words!r}"
    body = rest[opening.end():]
    return body[:body.index("```")].splitlines()


def assert_printed(expected: list[str], out: str) -> None:
    """Each line of a docs block is a line of the output, in order; "…" stands for text left
    out of a line, and a line of "..." or "…" for lines left out."""
    lines, at = out.splitlines(), 0
    for want in expected:
        if want.strip() in ("", "...", "…"):
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("…")) + "$")
        at = next((i for i in range(at, len(lines)) if pattern.match(lines[i])), -1) + 1
        assert at, f"not printed (in the docs' order): {want!r}"


def code_blocks(language: str) -> list[str]:
    """The code of every ```LANGUAGE block, in the pages' order."""
    return [block[:block.index("```")] for block in text().split(f"```{language}\n")[1:]]


def python_blocks() -> list[str]:
    return code_blocks("python")


def fenced_blocks() -> list[tuple[str, str, list[str]]]:
    """Every fenced block of every page: (page, its language, its lines), with the page's path
    for a message."""
    found = []
    for page in pages():
        lines = page.read_text(encoding="utf-8").splitlines()
        inside: list[str] | None = None
        language = ""
        for line in lines:
            if line.lstrip().startswith("```"):
                if inside is None:
                    inside, language = [], line.strip().removeprefix("```")
                else:  # a block in a list item is indented with it
                    lines_of = textwrap.dedent("\n".join(inside)).splitlines()
                    found.append((page.relative_to(ROOT).as_posix(), language, lines_of))
                    inside = None
            elif inside is not None:
                inside.append(line)
    return found
