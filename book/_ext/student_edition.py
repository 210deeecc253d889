"""Sphinx extension: the student edition drops gated solutions whole (``hide_solutions``).

sphinx-exercise 1.2's ``hide_solutions = True`` removes ``{solution}`` directives, but of a gated
solution (``{solution-start}`` ... ``{solution-end}``, the form whose code cells execute in the
build) it removes only the opening directive: the code cells and text in between stay on the
page, and the closing node then fails the HTML writer ("unknown node type: solution_end_node").

With ``hide_solutions`` on, this extension replaces the two gated directives by markers and
removes everything from a start marker to its end marker (both included) before sphinx-exercise
sees the page. The notebook still executes every cell, so a solution's assertions still run.
With ``hide_solutions`` off (the book's default) it changes nothing.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective


class _solution_start(nodes.Element):
    """Marks where a hidden gated solution starts."""


class _solution_end(nodes.Element):
    """Marks where a hidden gated solution ends."""


class _HiddenSolutionStart(SphinxDirective):
    has_content = True
    required_arguments = 1
    option_spec = {"label": directives.unchanged_required, "class": directives.class_option,
                   "hidden": directives.flag}

    def run(self):
        return [_solution_start()]


class _HiddenSolutionEnd(SphinxDirective):
    def run(self):
        return [_solution_end()]


class _RemoveHiddenSolutions(SphinxTransform):
    """Remove each start marker, its end marker and every sibling between them."""

    default_priority = 100          # before sphinx-exercise's own transforms (priority 1000s)

    def apply(self, **kwargs) -> None:
        for start in list(self.document.findall(_solution_start)):
            parent = start.parent
            if parent is None:      # already removed with an earlier solution
                continue
            siblings = parent.children
            first = siblings.index(start)
            last = next((i for i in range(first + 1, len(siblings))
                         if isinstance(siblings[i], _solution_end)), None)
            if last is None:
                raise ExtensionError(f"{self.env.docname}: a solution-start has no solution-end "
                                     "at the same level (a heading between them?)")
            del parent[first:last + 1]
        for end in list(self.document.findall(_solution_end)):
            raise ExtensionError(f"{self.env.docname}: a solution-end without solution-start")


def _install(app, config) -> None:
    if config.hide_solutions:
        app.add_directive("solution-start", _HiddenSolutionStart, override=True)
        app.add_directive("solution-end", _HiddenSolutionEnd, override=True)
        app.add_transform(_RemoveHiddenSolutions)


def setup(app):
    app.setup_extension("sphinx_exercise")      # defines hide_solutions
    app.connect("config-inited", _install)
    for node in (_solution_start, _solution_end):
        app.add_node(node)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
