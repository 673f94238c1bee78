"""The design notes the code points to exist: every ``docs/<file>.md`` named in the code, the
tests or the README is in the repository, and every section cited as ``docs/design.md,
Section`` is a heading there."""

from __future__ import annotations

import re

from tests.lockfile import ROOT

DOC = re.compile(r"docs/([a-z0-9-]+\.md)")
SECTION = re.compile(r'docs/design\.md(?:, "?| \()([A-Z][a-z]+(?: [a-z]+)*)')


def _sources() -> dict[str, str]:
    paths = [
        *ROOT.joinpath("connector").rglob("*.py"),
        *ROOT.joinpath("connector").rglob("*.md"),
        *ROOT.joinpath("tests").rglob("*.py"),
        ROOT / "README.md",
    ]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


def test_every_cited_doc_exists() -> None:
    missing = {
        (path, name)
        for path, text in _sources().items()
        for name in DOC.findall(text)
        if not (ROOT / "docs" / name).is_file()
    }
    assert not missing


def test_every_cited_section_is_a_heading() -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    headings = {line.lstrip("#").strip() for line in design.splitlines() if line.startswith("#")}
    cited = {(path, s) for path, text in _sources().items() for s in SECTION.findall(text)}
    assert cited, "no section citations found: the pattern is stale"
    assert {(path, s) for path, s in cited if s not in headings} == set()
