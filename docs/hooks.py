"""MkDocs hooks (mkdocs.yml `hooks:`): what the site shows of the program is made from the
program at build time, so it cannot drift from it.

- `<!-- generated: NAME -->` in a page becomes the table tui.cli.reference makes (the flags from
  the parsers and the settings' schema, the TOML keys, the keys from tui/keys.py), and
  `<!-- generated: trace-schema -->` the JSON trace's fields from its JSON Schema
  (tui/output/trace.schema.json). A flag or key without help, or an unknown marker, stops the
  build. The schema itself is published beside its page (reference/trace.schema.json).
- Every snapshot test's SVG (tests/app/__snapshots__) is rendered to a PNG with cairosvg as
  images/snapshots/MODULE/NAME.png: the screenshots the pages show are the screens the tests
  compare, never a copy that could go stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `mkdocs build` from a checkout that was not pip-installed
    sys.path.insert(0, str(ROOT))

from tui.cli.reference import TABLES  # noqa: E402
from tui.output.schema import SCHEMA, fields_table  # noqa: E402

SNAPSHOTS = ROOT / "tests" / "app" / "__snapshots__"
MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")
GENERATED = {**TABLES, "trace-schema": fields_table}


def _table(match: re.Match[str]) -> str:
    name = match[1]
    if name not in GENERATED:
        raise ValueError(f"<!-- generated: {name} -->: no such table (known: {', '.join(GENERATED)})")
    return GENERATED[name]()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(_table, markdown)


def site_path(svg: Path) -> str:
    """images/snapshots/MODULE/NAME.png, brackets out of the name (test_x[0] -> test_x-0)."""
    name = svg.stem.replace("[", "-").replace("]", "")
    return f"images/snapshots/{svg.parent.name}/{name}.png"


def png(svg: Path) -> bytes:
    import cairosvg

    data: bytes = cairosvg.svg2png(url=str(svg))
    return data


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for svg in sorted(SNAPSHOTS.glob("*/*.svg")):
        files.append(File.generated(config, site_path(svg), content=png(svg)))
    files.append(File.generated(config, "reference/trace.schema.json", abs_src_path=str(SCHEMA)))
    return files
