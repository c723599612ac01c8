#!/usr/bin/env python3
"""One entry point for building, testing and running the course.

    python3 tasks.py book        # build the book into _build/html, JupyterLite in _build/html/lite (creates .venv first)
    python3 tasks.py test        # the book build, unit and browser tests, strict nbval on every chapter
                                 # (native, then under each CPU arithmetic this machine can emulate)
    python3 tasks.py portable [NOTEBOOK ...]
                                 # which printed outputs differ between CPU arithmetics (tools/portable.py)
    python3 tasks.py test --latest   # the same with the newest versions requirements.txt allows
    python3 tasks.py lock        # regenerate requirements-lock.txt from requirements.txt
    python3 tasks.py notebooks   # re-execute every chapter (and the benchmarks page) in a fresh kernel
    python3 tasks.py lab         # open the chapters in JupyterLab
    python3 tasks.py student     # write the student edition (solutions removed, answers as stubs) into student/
    python3 tasks.py book --student  # the student site (no solutions) into _build/html-student
    python3 tasks.py assignments # the nbgrader course directory in _build/course (for JupyterHub)
    python3 tasks.py repository https://github.com/OWNER/REPO [--branch main]
                                 # Binder and Colab launch buttons, and Colab's install cell

Only Python 3.10+ and the package index are needed: the first command creates a
virtual environment in ``.venv`` and installs the exact versions pinned in
``requirements-lock.txt`` into it, then ``nnlib`` itself in editable mode (again
only when a requirements file or pyproject.toml changes).  ``--latest`` (or
NNLIB_LATEST=1) installs ``requirements.txt`` with ``--upgrade`` instead: the newest
versions its ranges allow, which is how CI catches dependency drift.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tools.environment import BIN, PYTHON, ROOT, VENDOR, ensure_venv, lock, run, vendor_javascript
from tools.jupyterlite import HTML, LITE_CHAPTERS, build_lite

# One BLAS thread: the course's matrices are small, where threading only adds overhead
# (10-20x slower on a loaded two-core machine), and results then do not depend on the
# thread count.  Set before any subprocess starts, so kernels inherit it.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def notebooks():
    """Every notebook page of the book: the chapters and the benchmarks page."""
    found = [*(ROOT / "chapters").glob("*.ipynb"), *(ROOT / "benchmarks").glob("*.ipynb")]
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def build_book():
    vendor_javascript()
    status = run(BIN / "jupyter-book", "build", ".", "-n", "-W", "--keep-going")
    # The site goes into the built book, next to the pages whose buttons link to it.
    status = build_lite() or status
    index = HTML / "index.html"
    if status == 0:
        print(f"\nThe book is at {index}\n(open it in a browser, e.g. file://{index})")
    else:
        print("\nThe book build FAILED: see the warnings above.", file=sys.stderr)
    return status


STUDENT_HTML = ROOT / "_build" / "html-student"
STUDENT_SOURCE = ROOT / "_build" / "student-source"


def build_student_book():
    """The student site: the same book built from the student editions of the chapters.

    Solutions are removed and graded answers are stubs (tools/student_edition.py), in the
    pages, in their .ipynb downloads and in the JupyterLite copies.  The notebooks are not
    executed again (the lecture's stored outputs are shown; the check cells are empty).
    """
    shutil.rmtree(STUDENT_SOURCE, ignore_errors=True)
    skip = shutil.ignore_patterns("_build", "_vendor", ".venv", ".git", "student", "__pycache__", ".ipynb_checkpoints")
    shutil.copytree(ROOT, STUDENT_SOURCE, ignore=skip)
    if run(PYTHON, ROOT / "tools" / "student_edition.py", STUDENT_SOURCE):
        return 1
    config = STUDENT_SOURCE / "_config.yml"
    text = config.read_text()
    config.write_text(text.replace("execute_notebooks: force", "execute_notebooks: \"off\"")
                      .replace("title: ", "title: (Student edition) ", 1))
    (STUDENT_SOURCE / "_vendor").symlink_to(VENDOR, target_is_directory=True)
    status = run(BIN / "jupyter-book", "build", STUDENT_SOURCE, "-n", "-W", "--keep-going")
    shutil.rmtree(STUDENT_HTML, ignore_errors=True)
    if status == 0:
        shutil.copytree(STUDENT_SOURCE / "_build" / "html", STUDENT_HTML)
        status = build_lite(STUDENT_SOURCE / LITE_CHAPTERS, STUDENT_HTML / "lite")
    if status == 0:
        print(f"\nThe student edition of the book is at {STUDENT_HTML / 'index.html'}")
    else:
        print("\nThe student book build FAILED: see the warnings above.", file=sys.stderr)
    return status


def nbval_command(*paths):
    return (PYTHON, "-m", "pytest", *paths, "--nbval", "--nbval-sanitize-with", "nbval_sanitize.cfg",
            "-p", "no:cacheprovider", "-rfEs")


def start_arithmetic_variants():
    """Start strict nbval over every notebook under each CPU arithmetic this machine can emulate.

    See tools/arithmetic.py: each variant forces other OpenBLAS kernels and numpy SIMD
    loops (another vector width, no FMA), as the reader's CPU might pick them.  The variants
    run in the background (one BLAS thread each) while the native run goes on, so the
    machine's cores are busy together; :func:`finish_arithmetic_variants` waits for them.
    Returns the results known now (skipped variants) and the running processes.
    """
    plan = json.loads(subprocess.run([str(PYTHON), str(ROOT / "tools" / "arithmetic.py"), "--plan"],
                                     capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    print(f"\nStrict nbval under other CPU arithmetics (native: {plan['native']})", flush=True)
    results, running = [], []
    for name, description, env, reason in plan["variants"]:
        settings = " ".join(f"{k}={v}" for k, v in env.items())
        if reason:
            print(f"arithmetic variant {name}: SKIPPED ({reason})", flush=True)
            results.append((name, "skipped"))
            continue
        print(f"arithmetic variant {name}: {description} [{settings}], started", flush=True)
        log = tempfile.TemporaryFile(mode="w+")
        process = subprocess.Popen([str(c) for c in nbval_command(*notebooks())], cwd=ROOT,
                                   env=dict(os.environ, **env), stdout=log, stderr=subprocess.STDOUT)
        running.append((name, process, log))
    return results, running


def finish_arithmetic_variants(results, running):
    """Wait for the variants of :func:`start_arithmetic_variants`; print each one's output; all results."""
    for name, process, log in running:
        status = process.wait()
        log.seek(0)
        text = log.read()
        print(f"\n----- strict nbval under arithmetic variant {name} -----\n{text}", flush=True)
        summary = text.strip().splitlines()[-1] if text.strip() else "no output"
        results.append((name, "passed" if status == 0 else "FAILED", summary.strip("= ")))
    return results


def test():
    book_status = build_book()
    book_status = build_student_book() or book_status
    # The variants need no book; they run alongside the native run, not the book builds,
    # whose notebook execution has a per-notebook timeout (execution_timeout in _config.yml).
    variants = start_arithmetic_variants()
    # The book must exist before pytest: tests/test_browser.py checks the built pages.  The
    # build's status goes to pytest too, so its summary (the last line printed) counts it.
    env = dict(os.environ, NNLIB_BOOK_BUILD_STATUS=str(book_status))
    status = run(*nbval_command("tests", *notebooks()), env=env) or book_status
    results = finish_arithmetic_variants(*variants)
    failed = [r[0] for r in results if r[1] == "FAILED"]
    print("\nnative arithmetic: " + ("passed" if status == 0 else "FAILED"))
    for row in results:
        print(f"arithmetic variant {row[0]}: {row[1]}" + (f" ({row[2]})" if len(row) > 2 else ""))
    return status or (1 if failed else 0)


def execute_notebooks(paths):
    """Run each notebook top to bottom in a fresh kernel and store its outputs."""
    return run(PYTHON, ROOT / "tools" / "execute_notebooks.py", *(paths or notebooks()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["book", "test", "notebooks", "portable", "lab", "student", "assignments", "venv", "lock",
                                         "repository"])
    parser.add_argument("--student", action="store_true",
                        help="'book' task: build the student site (solutions removed) into _build/html-student")
    parser.add_argument("paths", nargs="*", help="notebooks for the 'notebooks' and 'portable' tasks (default: all chapters); "
                        "the repository URL for the 'repository' task")
    parser.add_argument("--branch", default="main", help="branch of the repository (the 'repository' task)")
    parser.add_argument("--sync", action="store_true",
                        help="'repository' task: rewrite the install cells for the URL already configured")
    parser.add_argument(
        "--latest", action="store_true", default=os.environ.get("NNLIB_LATEST", "") not in ("", "0"),
        help="install the newest versions requirements.txt allows instead of requirements-lock.txt "
             "(also NNLIB_LATEST=1)",
    )
    args = parser.parse_args()
    # Matplotlib's font cache (~/.cache/matplotlib) is shared by every environment of the user and
    # records absolute paths of the fonts that ship inside matplotlib.  A cache written from another
    # checkout's environment that has since been deleted makes every figure print "findfont"
    # warnings to stderr, which strict nbval rejects: each checkout keeps its own, in .venv.
    os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".venv" / "matplotlib"))
    if args.task == "lock":
        return lock()
    if args.task == "repository":  # only the standard library: no environment needed
        return run(sys.executable, ROOT / "tools" / "repository.py", *args.paths, "--branch", args.branch,
                   *(["--sync"] if args.sync else []))
    ensure_venv(latest=args.latest)
    if args.task == "book":
        if args.student:
            vendor_javascript()
            return build_student_book()
        return build_book()
    if args.task == "test":
        return test()
    if args.task == "notebooks":
        return execute_notebooks(args.paths)
    if args.task == "portable":
        return run(PYTHON, ROOT / "tools" / "portable.py", *args.paths)
    if args.task == "student":
        return run(PYTHON, ROOT / "tools" / "student_edition.py", ROOT / "student")
    if args.task == "assignments":
        return run(PYTHON, ROOT / "tools" / "assignments.py", ROOT / "_build" / "course")
    if args.task == "lab":
        return run(BIN / "jupyter", "lab", "chapters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
