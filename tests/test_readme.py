"""The README stays an operator's page: short, its links to docs/ pages resolve, and every page
gives the ops commands in one form, the one that works (`.venv/bin/python -m ops.X`)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_LINES = 320
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)  # no headings in code
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def test_readme_is_at_most_320_lines():
    n = len(README.read_text().splitlines())
    assert n <= MAX_LINES, f"README.md has {n} lines: move deeper material to a docs/ page and link it"


def test_readme_links_to_docs_pages_that_exist():
    links = re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#([^)\s]+))?\)", README.read_text())
    assert links, "the README links no docs/ page"
    broken = [f"{page}#{anchor}" if anchor else page for page, anchor in links
              if not (ROOT / page).is_file() or (anchor and anchor not in anchors(ROOT / page))]
    assert broken == [], "README.md links to pages or sections that do not exist"


def test_readme_links_to_its_own_sections_that_exist():
    own = re.findall(r"\]\(#([^)\s]+)\)", README.read_text())
    assert [a for a in own if a not in anchors(README)] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_ops_commands_have_one_form(page):
    # a bare `python -m ops.X` fails outside the venv (ModuleNotFoundError: ruamel)
    bare = [line for line in page.read_text().splitlines() if re.search(r"(?<!\.venv/bin/)\bpython3? -m ops\.[a-z_]", line)]
    assert bare == [], f"{page.name}: write `.venv/bin/python -m ops.X`"
