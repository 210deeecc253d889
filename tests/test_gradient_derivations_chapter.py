"""The Gradient Derivations chapter's sources: its shape, its glue names and its checks.

nbval executes the notebook (and so runs every assertion in it); these tests check, without
executing anything, what a build with warnings as errors and a reader rely on.
"""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "book" / "gradient_derivations.ipynb"

SECTIONS_IN_ORDER = [
    "The L2 penalty",
    "The L1 penalty",
    "The proximal operator of the L1 norm",
    "Ridge regression: the normal equations",
    "Softmax cross-entropy",
    "Dropout backward",
    "Batch-norm backward, in full",
    "References",
    "Exercises",        # the last section (tests/test_exercises.py), after the summary box
]


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(NOTEBOOK, as_version=4)


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_chapter_starts_with_its_label_and_title(nb):
    first = nb.cells[0].source.splitlines()
    assert first[0] == "(chapter-gradient-derivations)="
    assert first[1] == "# Gradient Derivations"


def test_sections_come_in_the_issue_order(nb):
    headings = re.findall(r"^## (.+)$", _markdown(nb), flags=re.MULTILINE)
    positions = [next(i for i, h in enumerate(headings) if h.startswith(s))
                 for s in SECTIONS_IN_ORDER]
    assert positions == sorted(positions), headings


def test_every_glue_name_used_in_the_prose_is_glued_in_code(nb):
    used = set(re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)", _markdown(nb)))
    glued = set(re.findall(r"""glue\(\s*f?["']([A-Za-z0-9_{}]+)["']""", _code(nb)))
    assert used, "the chapter should glue its numbers"
    assert used <= glued, f"used but never glued: {sorted(used - glued)}"


def test_every_derivation_section_is_followed_by_an_asserting_check_cell(nb):
    cells = nb.cells
    starts = [i for i, c in enumerate(cells)
              if c.cell_type == "markdown" and re.search(r"^## ", c.source, flags=re.MULTILINE)]
    for k, start in enumerate(starts):
        title = re.search(r"^## (.+)$", cells[start].source, flags=re.MULTILINE).group(1)
        if title in ("Summary", "Exercises", "References"):
            continue
        end = starts[k + 1] if k + 1 < len(starts) else len(cells)
        section_code = "\n".join(c.source for c in cells[start:end] if c.cell_type == "code")
        assert "assert " in section_code, f"section {title!r} has no check"


def test_checks_use_the_agreed_thresholds_and_float64(nb):
    code = _code(nb)
    assert "FD_TOL = 1e-7" in code
    assert "TORCH_TOL = 1e-10" in code
    assert "torch.set_default_dtype(torch.float64)" in code


def test_no_check_backpropagates_an_all_ones_gradient_except_the_demonstration(nb):
    # `ones` appears only in the cell that shows why an all-ones dout proves nothing.
    offenders = [c.id for c in nb.cells if c.cell_type == "code"
                 and ("np.ones_like" in c.source or ".sum().backward()" in c.source)
                 and "bn_backward_forgetting_variance" not in c.source]
    assert not offenders


def test_references_cite_the_required_sources(nb):
    refs = _markdown(nb).split("## References", 1)[1]
    for key in ("ioffe2015batchnorm", "srivastava2014dropout", "goodfellow2016deep", "cs231n"):
        assert f"`{key}`" in refs, key


def test_figures_have_captions_names_and_alt_text(nb):
    figures = [c for c in nb.cells if "mystnb" in c.metadata]
    assert figures
    for c in figures:
        meta = c.metadata["mystnb"]
        assert meta["figure"]["caption"] and meta["image"]["alt"]
        assert meta["figure"]["name"].startswith("fig-gradient-derivations-")


def test_references_do_not_credit_srivastava_with_inverted_dropout(nb):
    """Srivastava et al. scale at test time; the inverted form is the frameworks'."""
    refs = _markdown(nb).split("## References", 1)[1]
    assert not re.search(r"inverted dropout[^.;]*`srivastava2014dropout`", refs)
    assert "test time" in refs
