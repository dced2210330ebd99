"""The docs site's build is strict where CI builds it (.ci/run: mkdocs build --strict): a link to
a page or an anchor that does not exist fails it, and so does a generated table's marker that
names no table (docs/hooks.py). Skipped where the docs extra is not installed (pip install -e
'.[docs]'); .ci/run installs it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")

from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort

ROOT = Path(__file__).resolve().parent.parent


def site(tmp_path: Path, page: str) -> None:
    """Our mkdocs.yml's settings (strict, every link and anchor validated) over two pages, one
    of them `page`, without the plugins and hooks that need the whole docs."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(page)
    (docs / "other.md").write_text("# Other\n\n## A section\n")
    config = load_config(str(ROOT / "mkdocs.yml"), docs_dir=str(docs), site_dir=str(tmp_path / "site"),
                         nav=["index.md", "other.md"], plugins=[], hooks=[])
    build(config)


def test_a_site_whose_links_resolve_builds(tmp_path) -> None:
    site(tmp_path, "# Home\n\n[other](other.md), [its section](other.md#a-section)\n")
    assert (tmp_path / "site" / "other" / "index.html").is_file()


@pytest.mark.parametrize("link", ["missing.md", "other.md#no-such-section", "#nowhere"])
def test_a_broken_link_fails_the_build(tmp_path, link) -> None:
    with pytest.raises(Abort):
        site(tmp_path, f"# Home\n\n[broken]({link})\n")


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hook_fills_each_marker_and_refuses_an_unknown_one() -> None:
    filled = hooks().on_page_markdown("<!-- generated: keys -->", None, None, None)
    assert filled.startswith("| key | binding id | what it does |")
    with pytest.raises(ValueError, match="no such table"):
        hooks().on_page_markdown("<!-- generated: flagz -->", None, None, None)
