"""The documentation stands alone and says what the code does.

- No file of the project sends the reader to a document it does not ship.
- Every registered discrepancy type has its section in docs/rules.md, with its severity and money
  flag as the registry has them.
- Every source and column of the contract is in docs/contract.md, with its kind, whether it is
  required, its enum values and its minimum, as `recon.contract` declares them.
- Every relative link of the README and of docs/ leads to a file that exists (and, into a Markdown
  page, to a heading that exists).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from recon.contract import SOURCES, Kind
from recon.discrepancy_types import types

PROJECT = Path(__file__).resolve().parents[1]
DOCS = PROJECT / "docs"
TEXT_SUFFIXES = {".py", ".sql", ".md", ".yaml", ".yml", ".toml", ".cfg"}
SKIPPED_DIRS = {".venv", ".git", "node_modules", "__pycache__"}
# Written in two pieces so that this file does not match itself.
FOREIGN_REFERENCES = ("DESIGN" + ".md", "../" + "shared")


def _project_text_files() -> list[Path]:
    """The files a clone of the project holds (tracked, or new and not ignored), else a walk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=PROJECT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        paths = [PROJECT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for root, dirs, files in os.walk(PROJECT):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
            paths += [Path(root) / name for name in files]
    return sorted(
        path
        for path in paths
        if path.suffix in TEXT_SUFFIXES
        and path.is_file()
        and not any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in path.parts)
    )


def test_no_file_points_outside_the_project():
    files = _project_text_files()
    assert any(path.name == "README.md" for path in files), "found no project files to check"
    offenders = [
        f"{path.relative_to(PROJECT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if any(reference in line for reference in FOREIGN_REFERENCES)
    ]
    assert not offenders, "references to documents this project does not ship:\n" + "\n".join(
        offenders
    )


# -- Markdown helpers -----------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def _sections(path: Path, level: int) -> dict[str, str]:
    """Each heading of `level` (its text, backticks dropped) → the text up to the next heading of
    that level or above."""
    found: dict[str, list[str]] = {}
    current = None
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) <= level:
            current = heading.group(2).replace("`", "") if len(heading.group(1)) == level else None
            if current is not None:
                found[current] = []
            continue
        if current is not None:
            found[current].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def _table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in `text`, separator rows left out."""
    rows = [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in text.splitlines()
        if line.strip().startswith("|")
    ]
    return [cells for cells in rows if not all(re.fullmatch(r":?-+:?", c) for c in cells)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if not heading:
            continue
        slug = _slug(heading.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# -- docs/rules.md --------------------------------------------------------------------------------


def test_rules_document_every_registered_type():
    sections = _sections(DOCS / "rules.md", level=3)
    registry = types()
    documented = {name for name in sections if re.fullmatch(r"[a-z_]+", name)}
    assert documented == set(registry), (
        f"types without a section: {sorted(set(registry) - documented)}; "
        f"sections of no registered type: {sorted(documented - set(registry))}"
    )
    for name, kind in registry.items():
        section = sections[name]
        assert f"**Severity:** {kind.severity}." in section, f"{name}: severity {kind.severity}"
        money = "yes" if kind.money else "no"
        assert f"**Money:** {money}." in section, f"{name}: money {money}"


def test_rules_overview_table_matches_the_registry():
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    rows = {
        re.search(r"`([a-z_]+)`", cells[0]).group(1): cells
        for cells in _table_rows(text)
        if cells and re.search(r"^\[?`[a-z_]+`", cells[0]) and len(cells) >= 3
    }
    for name, kind in types().items():
        assert name in rows, f"{name} is missing from the overview table"
        assert rows[name][1] == kind.severity, f"{name}: table says {rows[name][1]}"
        assert rows[name][2] == ("yes" if kind.money else "no"), f"{name}: money column"


# -- docs/contract.md -----------------------------------------------------------------------------


def test_contract_documents_every_source_and_column():
    sections = _sections(DOCS / "contract.md", level=3)
    for source in SOURCES.values():
        assert source.name in sections, f"no section for source {source.name}"
        section = sections[source.name]
        assert f"Key: `{source.key}`" in section, f"{source.name}: its key {source.key}"
        assert f"Landing time: `{source.landing_time}`" in section or (
            f"Landing time:\n`{source.landing_time}`" in section
        ), f"{source.name}: its landing time {source.landing_time}"
        rows = {cells[0].strip("`"): cells for cells in _table_rows(section) if len(cells) == 4}
        for column in source.columns:
            assert column.name in rows, f"{source.name}.{column.name} is not documented"
            _, kind, required, rule = rows[column.name]
            where = f"{source.name}.{column.name}"
            assert kind == column.kind.value, f"{where}: documented as {kind}"
            if column.required:
                assert required.startswith("yes"), f"{where}: required, documented {required!r}"
            elif column.required_when:
                assert required not in ("yes", "no"), f"{where}: say when it is required"
            else:
                assert required == "no", f"{where}: optional, documented {required!r}"
            if column.name == source.key:
                assert required == "yes (key)", f"{where}: the key"
            if column.kind is Kind.ENUM:
                for value in column.values:
                    assert f"`{value}`" in rule, f"{where}: enum value {value}"
            if column.minimum is not None:
                assert f"≥ {column.minimum}" in rule, f"{where}: minimum {column.minimum}"
        extra = set(rows) - set(source.column_names) - {"column"}
        assert not extra, f"{source.name}: documented columns the contract lacks: {extra}"


# -- links ----------------------------------------------------------------------------------------

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _pages() -> list[Path]:
    return [PROJECT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(PROJECT)))
def test_relative_links_resolve(page: Path):
    broken = []
    for line in _prose_lines(page.read_text(encoding="utf-8")):
        for target in _LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            path_part, _, anchor = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            if not resolved.exists():
                broken.append(f"{target}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(PROJECT)}:\n" + "\n".join(broken)


def test_docs_index_lists_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"
