"""Every chapter's exercises and summary box (issue 19), checked on the stored notebooks.

Each chapter notebook ends its text with one "What to remember" box, followed by a last
section ``## Exercises`` of at least four ``{exercise}`` directives (sphinx-exercise), each
labelled and each with exactly one solution collapsed by default (``:class: dropdown``). At
least two solutions are *gated* (``{solution-start}`` ... ``{solution-end}``): their code cells
execute in the build and under nbval, and assert the answer they state.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.ipynb"))
MIN_EXERCISES = 4
MIN_EXECUTING = 2

_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise|solution|solution-start)\}"
                        r"[ \t]*(?P<arg>\S*)[^\n]*\n(?P<body>(?:[ \t]*:[\w-]+:.*\n)*)",
                        re.MULTILINE)
_LABEL = re.compile(r"^[ \t]*:label:[ \t]*(\S+)", re.MULTILINE)
_CLASS = re.compile(r"^[ \t]*:class:[ \t]*(.+)$", re.MULTILINE)


def _directives(nb):
    """(cell index, name, argument, options text) of every exercise/solution directive."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for m in _DIRECTIVE.finditer(cell.source):
                yield i, m["name"], m["arg"], m["body"]


def _gated_cells(nb):
    """{exercise label: [cells from its solution-start to its solution-end]}."""
    gated, current = {}, None
    for cell in nb.cells:
        text = cell.source if cell.cell_type == "markdown" else ""
        start = re.search(r"\{solution-start\}[ \t]*(\S+)", text)
        if start:
            assert current is None, f"solution-start {start[1]} inside another solution"
            current = start[1]
            gated[current] = []
        if current is not None:
            gated[current].append(cell)
        if "{solution-end}" in text:
            assert current is not None, "solution-end without solution-start"
            current = None
    assert current is None, f"solution-start {current} has no solution-end"
    return gated


@pytest.fixture(params=CHAPTERS, ids=lambda p: p.stem)
def nb(request):
    return nbformat.read(request.param, as_version=4)


def test_there_are_chapters():
    assert len(CHAPTERS) >= 16


def test_chapter_has_at_least_four_labelled_exercises_each_with_one_solution(nb):
    found = list(_directives(nb))
    exercises = [_LABEL.search(body) for _, name, _, body in found if name == "exercise"]
    assert len(exercises) >= MIN_EXERCISES, f"{len(exercises)} exercises"
    assert all(exercises), "every exercise needs a :label: for its solution to refer to"
    labels = [m[1] for m in exercises]
    assert len(set(labels)) == len(labels), f"duplicate exercise labels {labels}"
    solved = [arg for _, name, arg, _ in found if name != "exercise"]
    assert sorted(solved) == sorted(labels), \
        f"exercises without a solution: {set(labels) - set(solved)}; solutions of unknown " \
        f"or repeated exercises: {[s for s in solved if solved.count(s) > 1 or s not in labels]}"


def test_no_backticks_in_a_backtick_fenced_directive_title(nb):
    # CommonMark ends a backtick fence's info string at a backtick: the directive is then
    # parsed as a code block and the exercise silently disappears from the page
    for i, cell in enumerate(nb.cells):
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else []:
            m = re.match(r"^`{3,}\{[\w-]+\}(.*)$", line)
            assert not (m and "`" in m[1]), f"cell {i}: {line!r} (write the title without `)"


def test_every_solution_is_collapsed_by_default(nb):
    for i, name, arg, body in _directives(nb):
        if name != "exercise":
            classes = _CLASS.search(body)
            assert classes and "dropdown" in classes[1].split(), \
                f"cell {i}: solution to {arg} lacks ':class: dropdown'"


def test_at_least_two_solutions_execute_and_assert_their_answer(nb):
    executing = []
    for label, cells in _gated_cells(nb).items():
        code = [c for c in cells if c.cell_type == "code"]
        for c in code:
            tags = set(c.get("metadata", {}).get("tags", []))
            assert not {"remove-cell", "remove-input"} & tags, \
                f"solution {label}: its code is the solution, keep it visible"
        if any(re.search(r"^\s*assert\b", c.source, re.MULTILINE) for c in code):
            executing.append(label)
    assert len(executing) >= MIN_EXECUTING, \
        f"gated solutions whose code asserts its answer: {executing}"


def test_chapter_text_ends_with_one_summary_box_then_the_exercises(nb):
    headings = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                and re.search(r"^## ", c.source, re.MULTILINE)]
    last_i, last_text = headings[-1]
    assert re.search(r"^## Exercises\s*$", last_text, re.MULTILINE), \
        "the last section must be '## Exercises'"
    boxes = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
             and "{admonition} What to remember" in c.source]
    assert len(boxes) == 1, f"{len(boxes)} 'What to remember' boxes"
    before = [i for i, c in enumerate(nb.cells[:last_i]) if c.cell_type == "markdown"
              or "remove-cell" not in c.get("metadata", {}).get("tags", [])]
    assert boxes[0] == before[-1] or (boxes[0] == last_i and last_text.index(
        "{admonition} What to remember") < last_text.index("## Exercises")), \
        "the summary box must be the last thing before '## Exercises'"
