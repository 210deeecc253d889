"""The two built editions: the book with collapsed solutions, the student edition without them.

``python3 tasks.py book --student`` (and ``tasks.py test``) builds the student edition into
``_build/student/_build/html`` with sphinx-exercise's ``hide_solutions`` (and
``book/_ext/student_edition.py``, which makes it remove gated solutions whole). Skips without
the built editions, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK_HTML = ROOT / "_build" / "html" / "book"
STUDENT_HTML = ROOT / "_build" / "student" / "_build" / "html" / "book"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))

_EXERCISE = re.compile(r'<div class="exercise\b[^"]*admonition"')
_SOLUTION = re.compile(r'<div class="solution\b([^"]*)admonition"')


def _page(folder: Path, name: str) -> str:
    path = folder / f"{name}.html"
    if not path.exists():
        why = f"{path} not built: run `python3 tasks.py book --student`"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return path.read_text()


@pytest.mark.parametrize("name", CHAPTERS)
def test_book_shows_every_exercise_with_its_solution_collapsed(name):
    page = _page(BOOK_HTML, name)
    exercises, solutions = _EXERCISE.findall(page), _SOLUTION.findall(page)
    assert len(exercises) >= 4
    assert len(solutions) == len(exercises)
    assert all("dropdown" in classes.split() for classes in solutions), \
        "a solution is shown open: give it ':class: dropdown'"


@pytest.mark.parametrize("name", CHAPTERS)
def test_student_edition_keeps_the_exercises_and_drops_the_solutions(name):
    book, student = _page(BOOK_HTML, name), _page(STUDENT_HTML, name)
    assert len(_EXERCISE.findall(student)) == len(_EXERCISE.findall(book)) >= 4
    assert not _SOLUTION.findall(student)
    assert "Solution to" not in student
    # the code of the executing solutions is gone too, not only their boxes
    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    inside, solution_code = False, []
    for cell in nb.cells:
        text = cell.source if cell.cell_type == "markdown" else ""
        inside = inside or "{solution-start}" in text
        if inside and cell.cell_type == "code" and cell.source.strip():
            solution_code.append(cell.source.strip())
        inside = inside and "{solution-end}" not in text
    assert solution_code, "no executing solution in the notebook"
    shown = html.unescape(re.sub(r"<[^>]+>", "", student))
    leaked = [code.splitlines()[0] for code in solution_code if code in shown]
    assert not leaked, f"solution code on the student page: {leaked}"


_LAUNCH = re.compile(r'href="https://(mybinder\.org|colab\.research\.google\.com)/')


@pytest.mark.parametrize("name", CHAPTERS)
def test_only_the_book_launches_the_repositorys_notebooks(name):
    """Binder and Colab open the repository's notebook, solutions included: the book has the
    two buttons, the student edition neither."""
    book, student = _page(BOOK_HTML, name), _page(STUDENT_HTML, name)
    assert len(_LAUNCH.findall(book)) == 2
    assert not _LAUNCH.findall(student)


@pytest.mark.parametrize("name", CHAPTERS)
def test_student_download_notebook_has_no_solutions(name):
    _page(STUDENT_HTML, name)
    path = STUDENT_HTML.parent / "_sources" / "book" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "{exercise}" in text
    assert "{solution" not in text
    assert sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code") > 0, \
        "served without outputs"
