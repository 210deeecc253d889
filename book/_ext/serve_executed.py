"""After a build, serve executed notebooks from the download button (run with the venv Python).

The book's download button serves ``_build/html/_sources/``, i.e. the notebooks as stored (the
repository keeps them without outputs). This copies, for every notebook under ``book/``, the
version with outputs from the execution cache (``_build/.jupyter_cache``) over its
``_sources`` copy. Notebooks missing from the cache are left alone.
"""

import sys
from pathlib import Path

import nbformat
from jupyter_cache import get_cache


def main(root: Path) -> int:
    cache = get_cache(root / "_build" / ".jupyter_cache")
    sources = root / "_build" / "html" / "_sources"
    copied = 0
    for path in sorted((root / "book").rglob("*.ipynb")):
        target = sources / path.relative_to(root)
        if not target.exists():
            continue
        try:
            _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        except KeyError:  # not (or no longer) cached
            continue
        nbformat.write(merged, target)
        copied += 1
    print(f"download button: {copied} executed notebooks in {sources}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
