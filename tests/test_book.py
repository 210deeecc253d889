"""The book's sources: every notebook is in the table of contents, stored without outputs,
and the Overfitting chapter prints the same numbers when run twice."""

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {toc["root"]}

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.add(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part["chapters"])
    walk(toc.get("chapters", []))
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under book/"


def test_every_notebook_is_in_the_toc():
    listed = _toc_files()
    missing = [str(p.relative_to(ROOT)) for p in NOTEBOOKS
               if str(p.relative_to(ROOT).with_suffix("")) not in listed]
    assert not missing, f"notebooks not in _toc.yml: {missing}"


def test_every_toc_entry_exists():
    for entry in _toc_files():
        candidates = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(c.exists() for c in candidates), f"_toc.yml lists missing file {entry}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has stored outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


def _printed_and_glued(nb) -> list[str]:
    """Text a reader sees: printed streams and glued values (figures excluded)."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout":
                texts.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                if "scrapbook" in out.get("metadata", {}) or "text/plain" in out.data:
                    if "image/png" not in out.data:
                        texts.append(out.data.get("text/plain", ""))
    return texts


def test_overfitting_chapter_prints_identical_numbers_twice():
    from nbclient import NotebookClient

    runs = []
    for _ in range(2):
        nb = nbformat.read(BOOK / "overfitting.ipynb", as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(BOOK)}}).execute()
        runs.append(_printed_and_glued(nb))
    numbers = [re.findall(r"-?\d+\.\d+", "".join(run)) for run in runs]
    assert len(numbers[0]) > 20, "expected the chapter to print and glue many numbers"
    assert runs[0] == runs[1]


def _repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_hidden_colab_install_cell(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in first_code.source, f"{path.name}: first code cell is not the Colab cell"
    assert f"git+{_repository_url()}" in first_code.source, \
        f"{path.name}: Colab cell does not install from _config.yml's repository.url"
    assert "remove-cell" in first_code.metadata.get("tags", []), f"{path.name}: Colab cell visible"


CHAPTERS = [p for p in NOTEBOOKS if p.stem != "conventions"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_cites_its_sources_from_the_bibliography(path):
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    text = "".join(c.source for c in nbformat.read(path, as_version=4).cells
                   if c.cell_type == "markdown")
    cited = set(re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text))
    cited = {k.strip() for group in cited for k in group.split(",")}
    assert cited, f"{path.name} cites nothing with {{cite}}"
    assert cited <= keys, f"{path.name} cites unknown keys {cited - keys}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_and_alt_text(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "plot.subplots(" not in cell.source:
            continue
        meta = cell.metadata.get("mystnb", {})
        assert meta.get("figure", {}).get("caption", "").strip(), f"{path.name} cell {i}: no caption"
        assert meta.get("figure", {}).get("name", "").startswith("fig-"), f"{path.name} cell {i}: no name"
        assert meta.get("image", {}).get("alt", "").strip(), f"{path.name} cell {i}: no alt text"


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.md")) + NOTEBOOKS, ids=lambda p: p.name)
def test_cross_references_use_labels_not_urls(path):
    if path.suffix == ".md":
        text = path.read_text()
    else:
        text = "".join(c.source for c in nbformat.read(path, as_version=4).cells
                       if c.cell_type == "markdown")
    links = re.findall(r"\]\(([^)]+)\)", text)
    internal = [l for l in links if l.endswith(".html") or ".html#" in l or l.endswith(".ipynb")
                or l.startswith(_repository_url())]
    assert not internal, f"{path.name} links chapters by URL: {internal} (use {{ref}} labels)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_figure_cell_outputs_only_its_figure(path):
    """A figure cell whose last line is a bare expression (say ``ax.legend(...)``) also
    outputs that value's text; myst-nb then gives the figure's label to two outputs and the
    -W build fails with "Duplicate explicit target name". End such lines with ``;`` or
    assign them (``_ = ax.legend(...)``)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    bad = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "figure" not in cell.metadata.get("mystnb", {}):
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        last = ast.parse(source).body[-1]
        if not isinstance(last, ast.Expr):
            continue
        text = ast.get_source_segment(source, last)
        finish = (isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Attribute)
                  and last.value.func.attr == "finish")
        rest = source.split("\n")[last.end_lineno - 1][last.end_col_offset:]
        if not finish and not rest.strip().startswith(";"):
            bad.append(f"{cell.metadata['mystnb']['figure'].get('name')}: {text[:60]}")
    assert not bad, f"figure cells that also output their last value: {bad}"


def _visible_code_lines(nb):
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and not {"remove-cell", "remove-input"} & set(tags):
            for line in cell.source.splitlines():
                yield i, line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_visible_code_lines_fit_the_page(path):
    # the book's code column shows about 78 characters at 1280 px: longer lines scroll
    nb = nbformat.read(path, as_version=4)
    long = [(i, line) for i, line in _visible_code_lines(nb) if len(line) > 79]
    assert not long, f"{path.name}: {len(long)} visible code lines over 79 characters, " \
                     f"e.g. cell {long[0][0]}: {long[0][1]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_display_math_starts_a_block(path):
    # a `$$` line right after a text line is parsed inside the paragraph, and the page then
    # shows the rest of the paragraph as one long formula
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        lines, opened = cell.source.splitlines(), False
        for k, line in enumerate(lines):
            if line.strip() == "$$":
                if not opened:
                    assert k == 0 or not lines[k - 1].strip() or lines[k - 1].startswith(
                        ("(", ":", "```")), f"{path.name} cell {i}: no blank line before $$"
                opened = not opened


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glue_bookkeeping_stays_off_the_page(path):
    # issue 19: `glue(...)` calls are plumbing; they live in remove-cell cells
    nb = nbformat.read(path, as_version=4)
    shown = sorted({i for i, line in _visible_code_lines(nb) if re.match(r"\s*glue\(", line)})
    assert not shown, f"{path.name}: visible cells calling glue(): {shown}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_line_inside_inline_math_starts_a_list(path):
    # a line that starts with "- " or "+ " inside a wrapped $...$ becomes a list item: the
    # formula is cut in two and the page shows its TeX source
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", cell.source):
            dollars = 0
            for k, line in enumerate(paragraph.split("\n")):
                assert not (k and dollars % 2 and re.match(r"\s*([-+*]|\d+\.)\s", line)), \
                    f"{path.name} cell {i}: {line[:60]!r} starts a list inside $...$"
                dollars += len(re.findall(r"(?<![\\$])\$(?!\$)", line))
