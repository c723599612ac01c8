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
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements-lock.txt"
STAMP = VENV / ".requirements.sha256"
# Never in the lock: the editable nnlib line (installed separately) and the installers.
UNLOCKED = ("pip", "setuptools", "wheel", "nnlib")
VENDOR = ROOT / "_vendor"

# MathJax 3 comes from PyPI (django-static-mathjax, no dependencies) and is copied into
# _vendor/ at build time (not committed), so pages render math with no internet.  Only
# what TeX input and HTML output need is kept: about 3 MB of the 35 MB package.
MATHJAX_KEEP = ("tex-mml-chtml.js", "output/chtml/", "input/tex/extensions/", "ui/", "a11y/")

# The JupyterLite site shipped inside the book (see build_lite): the chapters run in the
# reader's browser, in Pyodide.  _ext/lite_launch.py links each chapter page to it.
HTML = ROOT / "_build" / "html"
LITE = HTML / "lite"
LITE_CACHE = ROOT / "_build" / ".lite-wheel"
LITE_CHAPTERS = "chapters"  # the folder whose notebooks go into the site (and get the button)
# The data files that ship inside the nnlib wheel (pyproject.toml package-data, nnlib/_data/).
DATA_FILES = ("data/digits.npz", "data/mnist1d.npz", "data/LICENSE-mnist1d.txt", "data/README.md")
# First cell of every notebook in the site: the in-browser Python has numpy, scipy and
# matplotlib (Pyodide), but nnlib comes from the site itself (lite/pypi/, via piplite).
LITE_SETUP_SOURCE = (
    "# JupyterLite only (this cell is not in the book): install nnlib, shipped with this\n"
    "# site, into the Python that runs in your browser.  numpy, scipy and matplotlib come\n"
    "# from Pyodide, which the browser downloads the first time (needs the internet).\n"
    "%pip install -q nnlib"
)


# One BLAS thread: the course's matrices are small, where threading only adds overhead
# (10-20x slower on a loaded two-core machine), and results then do not depend on the
# thread count.  Set before any subprocess starts, so kernels inherit it.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def run(*cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, **kwargs).returncode


def lock_python():
    """The Python version (e.g. '3.11') requirements-lock.txt was resolved for, or None."""
    if not LOCK.exists():
        return None
    match = re.search(r"^# python: (\d+\.\d+)", LOCK.read_text(), re.MULTILINE)
    return match.group(1) if match else None


def ensure_venv(latest=False):
    """Create .venv and install the requirements unless they are already installed.

    By default the pinned versions of requirements-lock.txt, then nnlib in editable
    mode; with ``latest`` the newest versions requirements.txt allows.  The stamp
    covers both files, pyproject.toml and the mode, so a change to any reinstalls.
    """
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    use_lock = not latest and LOCK.exists() and lock_python() == here
    if not latest and not use_lock:
        why = "it is missing" if not LOCK.exists() else f"it was resolved for Python {lock_python()}, this is {here}"
        print(f"NOTE: not using requirements-lock.txt ({why}): installing the ranges of requirements.txt", flush=True)
    mode = b"lock" if use_lock else b"latest" if latest else b"ranges"
    parts = [mode, REQUIREMENTS.read_bytes(), (ROOT / "pyproject.toml").read_bytes()]
    if LOCK.exists():
        parts.append(LOCK.read_bytes())
    digest = hashlib.sha256(b"\0".join(parts)).hexdigest()
    # --latest always asks the index again: its point is to pick up new releases.
    if not latest and PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    if not PYTHON.exists():
        if run(sys.executable, "-m", "venv", VENV):
            sys.exit("could not create the virtual environment in .venv")
    STAMP.unlink(missing_ok=True)
    start = time.perf_counter()
    pip = (PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    if use_lock:
        steps = [(*pip, "-r", LOCK), (*pip, "-e", ".")]
    elif latest:
        steps = [(*pip, "--upgrade", "pip"), (*pip, "--upgrade", "--upgrade-strategy", "eager", "-r", REQUIREMENTS)]
    else:
        steps = [(*pip, "-r", REQUIREMENTS)]
    for step in steps:
        if run(*step):
            sys.exit(f"installing the requirements failed: {' '.join(map(str, step))} (see the messages above)")
    STAMP.write_text(digest)
    what = "requirements-lock.txt" if use_lock else "requirements.txt" + (" (newest allowed)" if latest else "")
    print(f"installed {what} in {time.perf_counter() - start:.0f} s", flush=True)


def lock():
    """Resolve requirements.txt in a throw-away environment and pin what it installed."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != "3.11":
        print(f"WARNING: CI uses Python 3.11; this lock is resolved for Python {here}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="nnlib-lock-") as tmp:
        venv = Path(tmp) / "venv"
        python = venv / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
        if run(sys.executable, "-m", "venv", venv) or run(
            python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS
        ):
            return 1
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
            capture_output=True, text=True, check=True, cwd=tmp,
        ).stdout.splitlines()
    def name(line):
        return re.split(r"[=<>~! @\[]", line, maxsplit=1)[0].lower().replace("_", "-")

    pins = sorted((line for line in frozen if line and not line.startswith("#") and name(line) not in UNLOCKED), key=name)
    LOCK.write_text(
        "# Exact versions of everything requirements.txt installs, resolved on Linux.\n"
        "# Generated by `python3 tasks.py lock`; do not edit by hand.  tasks.py, CI and Binder\n"
        "# (binder/requirements.txt) install these, then nnlib itself in editable mode;\n"
        "# `python3 tasks.py test --latest` uses the ranges of requirements.txt instead.\n"
        f"# python: {here}\n" + "\n".join(pins) + "\n"
    )
    print(f"wrote {LOCK.name} ({len(pins)} packages); binder/requirements.txt includes it")
    return 0


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


def notebooks():
    """Every notebook page of the book: the chapters and the benchmarks page."""
    found = [*(ROOT / "chapters").glob("*.ipynb"), *(ROOT / "benchmarks").glob("*.ipynb")]
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def lite_wheel():
    """nnlib as a wheel for the browser (cached by content).

    The same wheel ``pip install .`` (or ``pip install git+<repository>`` on Colab)
    builds: the data files (DATA_FILES) ship inside it as ``nnlib/_data/``, where
    ``nnlib.data.digits()`` and ``nnlib.data.mnist1d()`` find them when nnlib is not
    the editable install.
    """
    sources = sorted(p for p in (ROOT / "nnlib").rglob("*.py"))
    digest = hashlib.sha256()
    for path in [ROOT / "pyproject.toml", *(ROOT / name for name in DATA_FILES), *sources]:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    stamp = LITE_CACHE / "sha256"
    cached = sorted(LITE_CACHE.glob("nnlib-*.whl"))
    if len(cached) == 1 and stamp.exists() and stamp.read_text() == digest.hexdigest():
        return cached[0]
    shutil.rmtree(LITE_CACHE, ignore_errors=True)
    LITE_CACHE.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="nnlib-wheel-") as tmp:
        # Build from a copy: setuptools writes build/ and *.egg-info into the source tree.
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "nnlib", src / "nnlib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (src / "data").mkdir()
        for name in ("pyproject.toml", "README.md", *DATA_FILES):
            shutil.copyfile(ROOT / name, src / name)
        wheel = (PYTHON, "-m", "pip", "wheel", src, "--no-deps", "--quiet", "--disable-pip-version-check", "-w", tmp)
        # Build isolation fetches setuptools from the index; offline, the venv's own may do.
        if run(*wheel) and run(*wheel, "--no-build-isolation"):
            return None
        built = next(Path(tmp).glob("nnlib-*.whl"))
        target = LITE_CACHE / built.name
        shutil.copyfile(built, target)
    stamp.write_text(digest.hexdigest())
    return target


def lite_notebook(source, target):
    """The site's copy of a chapter: a setup cell first, the Pyodide kernel, no dead widget views.

    The stored outputs stay (a reader sees them before running anything), except the
    ipywidgets views of interactive figures: their widgets lived in the kernel that made
    them, so the static HTML version stored next to them is shown instead.
    """
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    setup = {"cell_type": "code", "execution_count": None, "id": "jupyterlite-setup",
             "metadata": {"tags": ["jupyterlite"]}, "outputs": [], "source": LITE_SETUP_SOURCE}
    notebook["cells"].insert(0, setup)
    notebook["metadata"]["kernelspec"] = {"name": "python", "display_name": "Python (Pyodide)", "language": "python"}
    notebook["metadata"].pop("widgets", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def build_lite(chapters_dir=None, lite=None):
    """Build the JupyterLite site (JupyterLab + Pyodide kernel) into _build/html/lite.

    Contents: the notebooks of chapters/ (see lite_notebook) and nnlib as a wheel in
    lite/pypi/, which `%pip install nnlib` in the browser finds first.  Pyodide itself is
    not shipped: the reader's browser downloads it when the kernel starts.
    """
    start = time.perf_counter()
    chapters_dir = chapters_dir or ROOT / LITE_CHAPTERS
    lite = lite or LITE
    wheel = lite_wheel()
    if wheel is None:
        print("\nBuilding the nnlib wheel for JupyterLite FAILED: see above.", file=sys.stderr)
        return 1
    shutil.rmtree(lite, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="nnlib-lite-") as tmp:
        contents = Path(tmp) / "contents"
        for source in sorted(chapters_dir.glob("*.ipynb")):
            lite_notebook(source, contents / LITE_CHAPTERS / source.name)
        # cwd and --lite-dir in tmp: `jupyter lite build` keeps its state (.jupyterlite.doit.db) there.
        status = subprocess.run(
            [str(BIN / "jupyter"), "lite", "build", "--lite-dir", tmp, "--output-dir", str(lite),
             "--contents", str(contents), "--piplite-wheels", str(wheel),
             "--apps", "lab", "--no-unused-shared-packages", "--no-sourcemaps", "--log-level", "WARN"],
            cwd=tmp,
        ).returncode
    if status:
        print("\nThe JupyterLite build FAILED: see the messages above.", file=sys.stderr)
    else:
        print(f"JupyterLite site in {lite.relative_to(ROOT)} ({time.perf_counter() - start:.0f} s)", flush=True)
    return status


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


def arithmetic_variants():
    """Strict nbval over every notebook under each CPU arithmetic this machine can emulate.

    See tools/arithmetic.py: the native run has already happened; each variant forces
    other OpenBLAS kernels and numpy SIMD loops (another vector width, no FMA), as the
    reader's CPU might pick them.  Variants run two at a time (one BLAS thread each), their
    output is printed when they finish; one line per variant says what ran or why not.
    """
    plan = json.loads(subprocess.run([str(PYTHON), str(ROOT / "tools" / "arithmetic.py"), "--plan"],
                                     capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    print(f"\nStrict nbval under other CPU arithmetics (native: {plan['native']})", flush=True)
    jobs, results = [], []
    for name, description, env, reason in plan["variants"]:
        settings = " ".join(f"{k}={v}" for k, v in env.items())
        if reason:
            print(f"arithmetic variant {name}: SKIPPED ({reason})", flush=True)
            results.append((name, "skipped"))
            continue
        print(f"arithmetic variant {name}: {description} [{settings}]", flush=True)
        jobs.append((name, env))
    logs = {}
    running = []
    for name, env in jobs:
        log = tempfile.TemporaryFile(mode="w+")
        logs[name] = log
        running.append((name, subprocess.Popen([str(c) for c in nbval_command(*notebooks())], cwd=ROOT,
                                               env=dict(os.environ, **env), stdout=log, stderr=subprocess.STDOUT)))
        if len(running) == 2 or name == jobs[-1][0]:
            for done, process in running:
                status = process.wait()
                logs[done].seek(0)
                text = logs[done].read()
                print(f"\n----- strict nbval under arithmetic variant {done} -----\n{text}", flush=True)
                summary = text.strip().splitlines()[-1] if text.strip() else "no output"
                results.append((done, "passed" if status == 0 else "FAILED", summary.strip("= ")))
            running = []
    return results


def test():
    book_status = build_book()
    book_status = build_student_book() or book_status
    # The book must exist before pytest: tests/test_browser.py checks the built pages.  The
    # build's status goes to pytest too, so its summary (the last line printed) counts it.
    env = dict(os.environ, NNLIB_BOOK_BUILD_STATUS=str(book_status))
    status = run(*nbval_command("tests", *notebooks()), env=env) or book_status
    results = arithmetic_variants()
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
