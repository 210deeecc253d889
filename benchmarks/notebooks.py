#!/usr/bin/env python
"""Wall time of every chapter notebook, of ``import regbook`` and (optionally) of a cold book build.

Run from the repository root::

    .venv/bin/python benchmarks/notebooks.py                 # notebooks + import time
    .venv/bin/python benchmarks/notebooks.py --book          # ... + a cold jupyter-book build
    .venv/bin/python benchmarks/notebooks.py --only dropout  # toc notebooks whose name contains it
    .venv/bin/python benchmarks/notebooks.py book/l2.ipynb   # these notebooks instead of the toc
    .venv/bin/python benchmarks/notebooks.py --markdown benchmarks/results/notebooks.md

- Notebooks: every ``.ipynb`` listed in ``_toc.yml`` (Markdown pages are skipped), in toc order,
  one at a time, each in a fresh ``python3`` kernel started by nbclient in the notebook's own
  folder (as myst-nb does). The time is the whole ``NotebookClient.execute()`` (kernel start
  and shutdown included); the kernel overhead alone (an empty notebook) is printed too, and the
  slowest cell of each notebook. Target: 45 s per notebook.
- ``import regbook``: median of 5 fresh interpreters, timing the import statement only
  (interpreter start-up excluded). Target: 0.2 s. Also reports whether the import pulled in
  torch or tensorflow (it must not).
- ``import regbook, regbook.np`` against a bare ``import numpy``: the ratio of their medians
  over 15 fresh interpreters each, run alternately (so a change in the machine's load hits
  both). Target: 1.5. Also reports whether SciPy, scikit-learn, torch or tensorflow came in
  (none may).
- ``--book``: ``jupyter-book build . --builder html -W -n --keep-going --path-output TMP``
  into a new temporary folder (deleted afterwards), so the real ``_build`` and its execution
  cache are untouched and every notebook executes: a cold build. Target: 300 s.

Times are reported, never asserted; the exit status is 1 only when a notebook or the build
fails. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import _cpu_model  # benchmarks/run.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_TARGET = 45.0
IMPORT_TARGET = 0.2
IMPORT_RATIO_TARGET = 1.5
BOOK_TARGET = 300.0

_IMPORT_SNIPPET = (
    "import sys, time\n"
    "t0 = time.perf_counter()\n"
    "import regbook\n"
    "dt = time.perf_counter() - t0\n"
    "heavy = sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules)\n"
    "print(dt, ','.join(heavy))\n"
)
_TIMED_IMPORT = (
    "import sys, time\n"
    "t0 = time.perf_counter()\n"
    "import {modules}\n"
    "dt = time.perf_counter() - t0\n"
    "heavy = sorted(m for m in ('scipy', 'sklearn', 'torch', 'tensorflow') if m in sys.modules)\n"
    "print(dt, ','.join(heavy))\n"
)


def toc_notebooks(root: Path) -> list[Path]:
    """The ``.ipynb`` files named in ``_toc.yml`` (root, chapters, sections), in toc order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    files.append(node[key])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    found = []
    for name in files:
        path = root / name
        candidates = [path] if path.suffix else [path.with_suffix(".ipynb")]
        found += [p for p in candidates if p.suffix == ".ipynb" and p.exists()]
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONHASHSEED", "0")
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    # Run against this checkout even if regbook is not installed.
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    return env


def _cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = _dt.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def _kernel_kwargs(show_stderr: bool) -> dict:
    # The kernel's own stderr (TensorFlow/absl start-up lines, ipykernel warnings) is noise
    # here; cell errors still come back through the messaging protocol.
    kw: dict = {"env": _env()}
    if not show_stderr:
        kw["stderr"] = subprocess.DEVNULL
    return kw


def run_notebook(path: Path, timeout: int, show_stderr: bool = False) -> tuple[float, str, str]:
    """Execute ``path`` in a fresh kernel; return (seconds, slowest cell and time in cells,
    error or "")."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    error = ""
    try:
        client.execute(**_kernel_kwargs(show_stderr))
    except Exception as exc:  # report and go on with the next notebook
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        error = f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}"
    seconds = time.perf_counter() - t0
    slowest, worst, in_cells = "", -1.0, 0.0
    for i, cell in enumerate(nb.cells):
        s = _cell_seconds(cell) if cell.cell_type == "code" else None
        if s is None:
            continue
        in_cells += s
        if s > worst:
            worst, slowest = s, f"{cell.get('id', i)} ({s:.1f} s)"
    if slowest:
        slowest += f"; {in_cells:.1f} s in cells"
    return seconds, slowest, error


def kernel_overhead(timeout: int, show_stderr: bool = False) -> float:
    """Seconds to start, use and shut down a kernel for an empty notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("pass"))
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3").execute(
        **_kernel_kwargs(show_stderr))
    return time.perf_counter() - t0


def _import_env() -> dict[str, str]:
    """:func:`_env` with byte-code caching on, as in a reader's interpreter.

    With ``PYTHONDONTWRITEBYTECODE`` set (some CI and sandbox shells set it) every fresh
    interpreter recompiles every module, and the import timings measure the compiler, not
    the imports. A warm-up import writes the caches first.
    """
    env = _env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import regbook, regbook.np"], cwd=ROOT, env=env,
                   capture_output=True, check=True)
    return env


def import_time(runs: int = 5) -> tuple[float, list[float], str]:
    """Median seconds of ``import regbook`` over ``runs`` fresh interpreters."""
    times, heavy = [], set()
    env = _import_env()
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _IMPORT_SNIPPET], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]))
        if len(out) > 1:
            heavy.update(out[1].split(","))
    return statistics.median(times), times, ",".join(sorted(heavy))


def import_ratio(runs: int = 15) -> tuple[float, float, float, str]:
    """``(ratio, regbook_np_median, numpy_median, heavy)``: ``import regbook, regbook.np`` vs
    a bare ``import numpy``, medians over ``runs`` fresh interpreters each, run alternately."""
    times: dict[str, list[float]] = {"numpy": [], "regbook, regbook.np": []}
    heavy: set[str] = set()
    env = _import_env()
    for _ in range(runs):
        for modules, seconds in times.items():
            code = _TIMED_IMPORT.format(modules=modules)
            out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True).stdout.split()
            seconds.append(float(out[0]))
            if modules != "numpy" and len(out) > 1:
                heavy.update(out[1].split(","))
    med_np = statistics.median(times["numpy"])
    med_regbook = statistics.median(times["regbook, regbook.np"])
    return med_regbook / med_np, med_regbook, med_np, ",".join(sorted(heavy))


def book_build(root: Path, timeout: int) -> tuple[float, int, str]:
    """A cold ``jupyter-book build`` into a temporary folder; (seconds, return code, log)."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", ".", "--builder", "html",
           "-W", "-n", "--keep-going"]
    tmp = Path(tempfile.mkdtemp(prefix="regbook-book-"))
    try:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd + ["--path-output", str(tmp)], cwd=root, env=_env(),
                                  capture_output=True, text=True, timeout=timeout)
            rc, out = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out = -1, f"timed out after {timeout} s\n{exc.stdout or ''}"
        return time.perf_counter() - t0, rc, re.sub(r"\x1b\[[0-9;]*m", "", str(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _status(seconds: float, target: float) -> str:
    return "yes" if seconds <= target else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to execute instead of those in _toc.yml")
    parser.add_argument("--book", action="store_true",
                        help="also time a cold jupyter-book build into a temporary folder")
    parser.add_argument("--only", default=None,
                        help="execute only the notebooks whose file name contains this text")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds allowed per notebook cell (default 600)")
    parser.add_argument("--book-timeout", type=int, default=3600,
                        help="seconds allowed for the whole --book build (default 3600)")
    parser.add_argument("--show-kernel-stderr", action="store_true",
                        help="let the kernels' stderr (TensorFlow start-up logs) through")
    parser.add_argument("--no-import", action="store_true", help="skip the import-time row")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="book root holding _toc.yml and _config.yml (default: this repo)")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also write the tables as Markdown to this path")
    args = parser.parse_args(argv)

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        f"date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        f"load average at start (1/5/15 min): {load}",
    ]
    print("\n".join(lines), flush=True)
    rows: list[tuple[str, str, str, str, str]] = []
    failed = False

    if not args.no_import:
        med, times, heavy = import_time()
        note = "runs " + ", ".join(f"{t:.3f}" for t in times)
        note += f"; imported {heavy}!" if heavy else "; no torch/tensorflow imported"
        rows.append(("import regbook", f"{med:.3f} s", f"{IMPORT_TARGET:g} s",
                     _status(med, IMPORT_TARGET), note))
        print(f"  import regbook: {med:.3f} s ({note})", flush=True)
        ratio, med_regbook, med_np, heavy = import_ratio()
        note = f"{med_regbook:.3f} s vs {med_np:.3f} s (medians of 15)"
        note += f"; imported {heavy}!" if heavy else "; no scipy/sklearn/torch/tensorflow"
        rows.append(("import regbook, regbook.np / import numpy", f"{ratio:.2f}x",
                     f"{IMPORT_RATIO_TARGET:g}x", "yes" if ratio <= IMPORT_RATIO_TARGET else "NO",
                     note))
        print(f"  import regbook, regbook.np / import numpy: {ratio:.2f}x ({note})", flush=True)

    root = args.root.resolve()
    notebooks = [p.resolve() for p in args.paths] if args.paths else toc_notebooks(root)
    if args.only:
        notebooks = [p for p in notebooks if args.only in p.name]
    if notebooks:
        overhead = kernel_overhead(args.timeout, args.show_kernel_stderr)
        rows.append(("(kernel start + stop, empty notebook)", f"{overhead:.1f} s", "", "",
                     "included in every notebook time"))
        print(f"  kernel overhead: {overhead:.1f} s", flush=True)
    total = 0.0
    for path in notebooks:
        rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        seconds, slowest, error = run_notebook(path, args.timeout, args.show_kernel_stderr)
        total += seconds
        if error:
            failed = True
            rows.append((rel, f"{seconds:.1f} s", f"{NOTEBOOK_TARGET:g} s", "ERROR", error))
        else:
            rows.append((rel, f"{seconds:.1f} s", f"{NOTEBOOK_TARGET:g} s",
                         _status(seconds, NOTEBOOK_TARGET), f"slowest cell {slowest}"))
        print(f"  {rel}: {seconds:.1f} s {error}", flush=True)
    if notebooks:
        rows.append(("all notebooks, one after another", f"{total:.1f} s", "", "", ""))

    if args.book:
        print("  jupyter-book build (cold, temporary output folder) ...", flush=True)
        seconds, rc, tail = book_build(root, args.book_timeout)
        ok = rc == 0
        failed |= not ok
        rows.append(("jupyter-book build (cold)", f"{seconds:.1f} s", f"{BOOK_TARGET:g} s",
                     _status(seconds, BOOK_TARGET) if ok else "ERROR",
                     "-W -n --keep-going" if ok else f"exit {rc}"))
        print(f"  book build: {seconds:.1f} s, exit {rc}", flush=True)
        for nb_path, secs in re.findall(r"(\S+\.ipynb): Executed notebook in ([0-9.]+) seconds",
                                        tail):
            print(f"    myst-nb executed {Path(nb_path).name} in {float(secs):.1f} s")
        if not ok:
            print("\n".join(tail.splitlines()[-15:]))

    lines.append(f"load average at end (1/5/15 min): "
                 + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    head = ("what", "wall time", "target", "met", "notes")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    table = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    table += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    print()
    print(lines[-1])
    print()
    print("\n".join(table))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(["# regbook notebook timings", ""]
                                           + [f"- {x}" for x in lines] + [""] + table) + "\n")
        print(f"\nwrote {args.markdown}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
