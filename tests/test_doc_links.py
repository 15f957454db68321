"""Every relative link between the documentation pages resolves: the README, CONTRIBUTING.md and
docs/*.md name files that exist, and each `#anchor` names a heading of its page (as GitHub makes
anchors from headings). A page moved or a heading renamed fails here until its links follow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import REPO

FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`[^`]*`")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def pages(root: Path = REPO) -> list[Path]:
    return [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a `# comment` in a bash block is not a heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without markup, lower case, punctuation dropped
    (letters, digits, `_`, `-` and spaces kept), spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " _-")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of a page; a repeated heading gets -1, -2, … as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` whose file is missing or whose #anchor is not a heading."""
    broken = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        for target in LINK.findall(CODE_SPAN.sub("", line)):
            if SCHEME.match(target):
                continue  # https:, mailto: — not ours to check offline
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{target}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{target}: no heading '#{anchor}' in {resolved.name}")
    return broken


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert page.exists()
    assert broken_links(page) == []


def test_the_pages_link_to_each_other() -> None:
    """The README reaches every page of docs/ (no page is an orphan)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    missing = [
        f"docs/{page.name}"
        for page in sorted((REPO / "docs").glob("*.md"))
        if f"docs/{page.name}" not in linked
    ]
    assert missing == [], f"the README links none of {missing}"
    assert "CONTRIBUTING.md" in linked


def test_a_broken_file_or_anchor_is_found(tmp_path: Path) -> None:
    other = "# Other page\n\n## Signing in `here`\n\n## Twice\n\n## Twice\n"
    (tmp_path / "other.md").write_text(other)
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#signing-in-here) [ok](other.md#twice-1) [ok](#page) [web](https://x.org/#y)\n"
        "`[code](missing.md)` is not a link\n"
        "```bash\n# not-a-heading\n[in code](gone.md)\n```\n"
        "[gone](gone.md) [bad](other.md#signing-in) [bad](#not-a-heading)\n"
    )
    assert broken_links(page) == [
        "gone.md: no such file",
        "other.md#signing-in: no heading '#signing-in' in other.md",
        "#not-a-heading: no heading '#not-a-heading' in page.md",
    ]
