#!/usr/bin/env python3
"""One entry point for building, testing and running the course.

    python3 tasks.py book        # build the book into _build/html (creates .venv first)
    python3 tasks.py test        # unit tests, strict nbval on every chapter, and the book build
    python3 tasks.py notebooks   # re-execute every chapter in a fresh kernel, storing outputs
    python3 tasks.py lab         # open the chapters in JupyterLab
    python3 tasks.py student     # write the student edition (solutions removed) into student/

Only Python 3.10+ and the package index are needed: the first command creates a
virtual environment in ``.venv`` and installs ``requirements.txt`` into it
(again only when that file changes).
"""

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"
VENDOR = ROOT / "_vendor"

# MathJax 3 comes from PyPI (django-static-mathjax, no dependencies) and is copied into
# _vendor/ at build time (not committed), so pages render math with no internet.  Only
# what TeX input and HTML output need is kept: about 3 MB of the 35 MB package.
MATHJAX_KEEP = ("tex-mml-chtml.js", "output/chtml/", "input/tex/extensions/", "ui/", "a11y/")


# One BLAS thread: the course's matrices are small, where threading only adds overhead
# (10-20x slower on a loaded two-core machine), and results then do not depend on the
# thread count.  Set before any subprocess starts, so kernels inherit it.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def run(*cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, **kwargs).returncode


def ensure_venv():
    """Create .venv and install the requirements unless they are already installed."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    if not PYTHON.exists():
        if run(sys.executable, "-m", "venv", VENV):
            sys.exit("could not create the virtual environment in .venv")
    start = time.perf_counter()
    if run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip") or run(
        PYTHON, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS
    ):
        sys.exit("installing requirements.txt failed (see the messages above)")
    STAMP.write_text(digest)
    print(f"installed requirements in {time.perf_counter() - start:.0f} s", flush=True)


def vendor_javascript():
    """Copy MathJax 3 from the virtual environment into _vendor/mathjax (once)."""
    import shutil

    target = VENDOR / "mathjax"
    if (target / "tex-mml-chtml.js").exists():
        return
    source = subprocess.run(
        [str(PYTHON), "-c", "import mathjax, pathlib; print(pathlib.Path(mathjax.__path__[0], 'static', 'mathjax', 'es5'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    for path in Path(source).rglob("*"):
        name = path.relative_to(source).as_posix()
        if path.is_file() and name.startswith(MATHJAX_KEEP):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / name)


def chapters():
    return sorted(p for p in (ROOT / "chapters").glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def build_book():
    vendor_javascript()
    status = run(BIN / "jupyter-book", "build", ".", "-n", "-W", "--keep-going")
    index = ROOT / "_build" / "html" / "index.html"
    if status == 0:
        print(f"\nThe book is at {index}\n(open it in a browser, e.g. file://{index})")
    else:
        print("\nThe book build FAILED: see the warnings above.", file=sys.stderr)
    return status


def test():
    book_status = build_book()
    test_status = run(
        PYTHON, "-m", "pytest", "tests", *chapters(), "--nbval",
        "--nbval-sanitize-with", "nbval_sanitize.cfg", "-p", "no:cacheprovider",
    )
    if book_status:
        print("book build failed", file=sys.stderr)
    return book_status or test_status


def execute_notebooks(paths):
    """Run each notebook top to bottom in a fresh kernel and store its outputs."""
    return run(PYTHON, ROOT / "tools" / "execute_notebooks.py", *(paths or chapters()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["book", "test", "notebooks", "lab", "student", "venv"])
    parser.add_argument("paths", nargs="*", help="notebooks for the 'notebooks' task (default: all chapters)")
    args = parser.parse_args()
    ensure_venv()
    if args.task == "book":
        return build_book()
    if args.task == "test":
        return test()
    if args.task == "notebooks":
        return execute_notebooks(args.paths)
    if args.task == "student":
        return run(PYTHON, ROOT / "tools" / "student_edition.py", ROOT / "student")
    if args.task == "lab":
        return run(BIN / "jupyter", "lab", "chapters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
