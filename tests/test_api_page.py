"""The API page's vocabulary tables list what regbook.backends lists, so the page cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regbook import backends

PAGE = Path(__file__).resolve().parents[1] / "book" / "api.md"
SECTION = "## One vocabulary, three backends"
ROLE = re.compile(r"\{py:(\w+)\}`~?([\w.]+)`")


def _section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert SECTION in text, f"{PAGE.name} has no section {SECTION!r}"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def _tables() -> list[list[list[str]]]:
    """The section's Markdown tables: rows of cells, header first, separator row dropped."""
    tables, current = [], None
    for line in _section().splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if current is None:
                current = []
                tables.append(current)
            if not set("".join(cells)) <= set("-:"):
                current.append(cells)
        else:
            current = None
    return tables


def _table(first_header: str) -> list[list[str]]:
    matches = [t for t in _tables() if t[0][0] == first_header]
    assert len(matches) == 1, f"expected one table whose first column is {first_header!r}"
    return matches[0]


def _references(cell: str) -> dict[str, str]:
    """Dotted name -> role of every ``{py:role}`name``` in a cell."""
    return {name: role for role, name in ROLE.findall(cell)}


def _role(name: str) -> str:
    return "class" if name[0].isupper() else "func"  # the project's names follow PEP 8


def test_the_vocabulary_table_has_one_column_per_backend():
    header = _table("idea")[0]
    assert header == ["idea"] + [f"`regbook.{b}`" for b in backends.BACKENDS]


@pytest.mark.parametrize("idea, name", sorted(backends.SHARED.items()))
def test_every_shared_name_is_in_the_row_of_its_idea(idea, name):
    rows = [r for r in _table("idea")[1:] if r[0] == idea]
    assert len(rows) == 1, f"the vocabulary table has {len(rows)} rows for {idea!r}"
    for b, cell in zip(backends.BACKENDS, rows[0][1:], strict=True):
        refs = _references(cell)
        assert refs == {f"regbook.{b}.{name}": _role(name)}, (
            f"row {idea!r}, column regbook.{b}: expected {{py:{_role(name)}}}`regbook.{b}."
            f"{name}`, got {cell!r}")


def test_the_vocabulary_table_has_no_idea_the_code_does_not_share():
    assert [r[0] for r in _table("idea")[1:]] == list(backends.SHARED)


@pytest.mark.parametrize("name, backend, parameter", sorted(
    (name, b, p) for (name, b), extras in backends.EXTRAS.items() for p in extras))
def test_every_allow_listed_extra_parameter_is_listed(name, backend, parameter):
    spelled = f"`**{parameter}`" if parameter == "kwargs" else f"`{parameter}`"
    rows = [r for r in _table("name")[1:]
            if f"regbook.{backend}.{name}" in _references(r[0]) and r[1] == spelled]
    assert len(rows) == 1, f"the extras table lacks regbook.{backend}.{name}({spelled})"


def test_the_extras_table_lists_nothing_else():
    listed = {(ref, r[1]) for r in _table("name")[1:] for ref in _references(r[0])}
    expected = {(f"regbook.{b}.{name}", f"`**{p}`" if p == "kwargs" else f"`{p}`")
                for (name, b), extras in backends.EXTRAS.items() for p in extras}
    assert listed == expected


@pytest.mark.parametrize("backend, name", sorted(
    (b, name) for b, names in backends.ONLY.items() for name in names))
def test_every_backend_only_name_is_listed_under_its_backend(backend, name):
    refs = {}
    for r in _table("backend")[1:]:
        if r[0] == f"`regbook.{backend}`":
            refs.update(_references(r[1]))
    assert refs.get(f"regbook.{backend}.{name}") == _role(name), (
        f"the backend-only table lacks {{py:{_role(name)}}}`regbook.{backend}.{name}`")


def test_the_backend_only_table_lists_nothing_else():
    listed = {ref for r in _table("backend")[1:] for ref in _references(r[1])}
    assert listed == {f"regbook.{b}.{n}" for b, names in backends.ONLY.items() for n in names}


def test_every_role_in_the_section_is_well_formed():
    # a broken role (missing backtick, unknown role) would render as text or fail the -W build
    section = _section()
    assert section.count("{py:") == len(ROLE.findall(section))
    assert {role for role, _ in ROLE.findall(section)} <= {"func", "class", "mod", "data"}


@pytest.mark.parametrize("module", ["regbook.ablation", "regbook.backends", "regbook.history",
                                    "regbook.objectives"])
def test_the_page_documents_the_framework_agnostic_modules(module):
    assert f".. automodule:: {module}\n" in PAGE.read_text(encoding="utf-8")
