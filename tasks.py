#!/usr/bin/env python3
"""The project's two commands, each doing its own set-up (needs only Python 3 and git).

    python3 tasks.py book   # build the HTML book into _build/html
    python3 tasks.py book --student   # also the student edition (exercises without
                                      # solutions) into _build/student/_build/html
    python3 tasks.py test   # build the book, then run the unit tests, every notebook (nbval)
                            # and the browser test of every built page
    python3 tasks.py setup  # only the set-up both of them start with

Both create ``.venv`` (override with REGBOOK_VENV) and ``pip install -e ".[all]"`` into it
when it is missing or ``pyproject.toml`` changed since the last install; the browser test needs
Chromium, which set-up installs with apt-get when it runs as root on Debian. Extra arguments
after ``test`` go to pytest, e.g. ``python3 tasks.py test tests/test_data.py -x``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("REGBOOK_VENV", ROOT / ".venv"))
BUILD = ROOT / "_build"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _digest(paths) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ log out of outputs
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def _run(*cmd: str) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=_env(), check=True)


def setup() -> None:
    """Create the virtual environment and install the project with all extras, if needed."""
    stamp = VENV / ".regbook-installed"
    want = _digest([ROOT / "pyproject.toml"])
    if stamp.exists() and stamp.read_text() == want:
        return
    if not (BIN / "python").exists():
        print(f"+ creating virtual environment {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    _run(str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", ".[all]")
    stamp.write_text(want)


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser test if it is missing and we may."""
    if any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    else:
        print("note: no Chromium found and cannot install it; browser tests will skip",
              flush=True)


def _static_digest() -> str:
    """Digest of what reaches every page without being a page: _static/ and book/_ext/."""
    return _digest([p for p in [*(ROOT / "_static").rglob("*"),
                                *(ROOT / "book" / "_ext").glob("*.py")] if p.is_file()])


def book() -> None:
    """Build the book; re-execute notebooks whose code or whose regbook changed."""
    setup()
    # jupyter-cache keys on code cells only: a change in regbook must clear it, and Sphinx
    # must re-read every page (--all, a fresh environment), or it re-executes only the
    # notebooks whose text changed and keeps the others' stale outputs.
    stamp = BUILD / ".regbook-package-digest"
    want = _digest(list((ROOT / "regbook").rglob("*.py")))
    fresh = []
    if not stamp.exists() or stamp.read_text() != want:
        shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
        fresh = ["--all"]
    # Sphinx skips writing (and copying _static) when no page is out of date: a changed
    # stylesheet or local extension must still reach the HTML, so rebuild every page then
    # (the execution cache stays valid).
    look, look_want = BUILD / ".regbook-static-digest", _static_digest()
    if not look.exists() or look.read_text() != look_want:
        fresh = ["--all"]
    _run(str(BIN / "jupyter-book"), "build", ".", "--builder", "html", "-W", "-n", "--keep-going",
         *fresh)
    # The download button serves _sources/, i.e. the notebooks as stored (no outputs): give
    # readers the executed ones from the execution cache instead.
    _run(str(BIN / "python"), str(ROOT / "book" / "_ext" / "serve_executed.py"), str(ROOT))
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(want)
    look.write_text(look_want)
    print(f"Book written to {BUILD / 'html' / 'index.html'}")


STUDENT = BUILD / "student"


def student_book() -> None:
    """Build the student edition: ``hide_solutions`` on (book/_ext/student_edition.py), no
    launch buttons, the main build's execution cache reused, so only pages whose code changed
    are executed."""
    book_config = BUILD / "student-config.yml"
    BUILD.mkdir(exist_ok=True)
    # jupyter-book --config replaces _config.yml: the student config is the book's config plus
    # a few settings (written by the venv's Python, which has PyYAML).
    _run(str(BIN / "python"), "-c", (
        "import sys, yaml; c = yaml.safe_load(open(sys.argv[1]));"
        "c.setdefault('execute', {})['cache'] = sys.argv[3];"
        "c['sphinx'].setdefault('config', {})['hide_solutions'] = True;"
        "c['title'] += ' (student edition)';"
        # no Binder or Colab buttons: they open the repository's notebooks, solutions included
        "c['launch_buttons'] = {**c.get('launch_buttons', {}), 'binderhub_url': '',"
        " 'colab_url': ''};"
        # local extensions are found relative to the config file: make them absolute
        "ext = c['sphinx'].get('local_extensions') or {};"
        "c['sphinx']['local_extensions'] = {k: sys.argv[4] + '/' + v for k, v in ext.items()};"
        "yaml.safe_dump(c, open(sys.argv[2], 'w'), sort_keys=False)"),
        str(ROOT / "_config.yml"), str(book_config), str(BUILD / ".jupyter_cache"), str(ROOT))
    look, look_want = STUDENT / ".regbook-static-digest", _static_digest()
    fresh = [] if look.exists() and look.read_text() == look_want else ["--all"]
    _run(str(BIN / "jupyter-book"), "build", ".", "--builder", "html", "--config",
         str(book_config), "--path-output", str(STUDENT), "-W", "-n", "--keep-going", *fresh)
    look.write_text(look_want)
    _run(str(BIN / "python"), str(ROOT / "book" / "_ext" / "serve_executed.py"), str(ROOT),
         "--student")
    print(f"Student edition written to {STUDENT / '_build' / 'html' / 'index.html'}")


def test(args: list[str]) -> None:
    """Build the book, then run pytest (unit tests, notebooks, browser test) on two workers."""
    setup()
    ensure_chromium()
    book()
    student_book()
    _run(str(BIN / "python"), "-m", "pytest", "-n", "2", "--dist", "loadscope", *args)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"book", "test", "setup"}:
        print(__doc__)
        return 2
    try:
        if argv[0] == "book":
            book()
            if "--student" in argv[1:]:
                student_book()
        elif argv[0] == "test":
            test(argv[1:])
        else:
            setup()
    except subprocess.CalledProcessError as err:
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
