"""After a build, serve executed notebooks from the download button (run with the venv Python).

The book's download button serves ``_build/html/_sources/``, i.e. the notebooks as stored (the
repository keeps them without outputs). This copies, for every notebook under ``book/``, the
version with outputs from the execution cache (``_build/.jupyter_cache``) over its
``_sources`` copy. Notebooks missing from the cache are left alone.

``serve_executed.py ROOT --student`` does the same for the student edition
(``_build/student/_build/html``) and removes the solutions from the served notebooks: every
cell from a ``{solution-start}`` cell to its ``{solution-end}`` cell, and every ``{solution}``
directive inside a Markdown cell.
"""

import re
import sys
from pathlib import Path

import nbformat
from jupyter_cache import get_cache


_SOLUTION = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}.*?^(?P=fence)[ \t]*$\n?",
                       re.MULTILINE | re.DOTALL)


def without_solutions(nb):
    """``nb`` without its solutions (gated cells and ``{solution}`` directives), in place."""
    kept, inside = [], False
    for cell in nb.cells:
        text = cell.source if cell.cell_type == "markdown" else ""
        if "{solution-start}" in text:
            inside = True
        if not inside:
            if "{solution}" in text:
                cell.source = _SOLUTION.sub("", text)
            kept.append(cell)
        if "{solution-end}" in text:
            inside = False
    nb.cells = kept
    return nb


def main(root: Path, student: bool = False) -> int:
    cache = get_cache(root / "_build" / ".jupyter_cache")
    html = root / "_build" / ("student/_build/html" if student else "html")
    sources = html / "_sources"
    copied = 0
    for path in sorted((root / "book").rglob("*.ipynb")):
        target = sources / path.relative_to(root)
        if not target.exists():
            continue
        try:
            _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        except KeyError:  # not (or no longer) cached
            continue
        nbformat.write(without_solutions(merged) if student else merged, target)
        copied += 1
    print(f"download button: {copied} executed notebooks in {sources}")
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--student"]
    sys.exit(main(Path(args[0]) if args else Path.cwd(), student="--student" in sys.argv[1:]))
