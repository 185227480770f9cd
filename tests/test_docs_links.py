"""Every relative link in README.md and docs/*.md names a file that exists, and every #anchor a
heading of that file (GitHub's anchor rules), so moving text between pages cannot leave a link
pointing at nothing."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> list[str]:
    """Lines outside fenced code blocks, with inline code blanked (links there are examples)."""
    out, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            out.append(re.sub(r"`[^`]*`", "``", line))
    return out


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: rendered text, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link's text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fence = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        m = None if fence else re.match(r"^#{1,6} +(.*?)#*\s*$", line)
        if m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    problems = []
    for lineno, line in enumerate(_prose(page.read_text()), 1):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):       # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            dest = (page.parent / path_part).resolve() if path_part else page
            if not dest.exists():
                problems.append(f"{page.name}: {target}: no file {dest}")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{page.name}: {target}: no heading #{anchor} in {dest.name}")
    return problems


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_relative_link_and_anchor_in_readme_and_docs_resolves():
    problems = [p for page in pages() for p in broken_links(page)]
    assert not problems, "\n".join(problems)


def test_the_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "A.md").write_text("# Title\n\n## The catalogue (`design_space/catalogue.py`)\n\n## Tests\n\n## Tests\n")
    (tmp_path / "B.md").write_text(
        "[ok](A.md#the-catalogue-design_spacecataloguepy) [dup](A.md#tests-1) [self](#b)\n"
        "# B\n"
        "[gone](C.md) [bad anchor](A.md#metrics) `[in code](D.md)`\n"
        "```\n[in a fence](E.md)\n```\n")
    problems = broken_links(tmp_path / "B.md")
    assert len(problems) == 2, problems
    assert "C.md" in problems[0] and "#metrics" in problems[1]
