"""The course's Python environment: the virtual environment, the lock file, vendored MathJax.

Used by ``tasks.py`` (run with any Python 3.10+, before anything is installed), so only
the standard library is imported here.  ``ensure_venv`` creates ``.venv`` and installs the
exact versions of ``requirements-lock.txt`` (or the ranges of ``requirements.txt``);
``lock`` resolves ``requirements.txt`` in a throw-away environment and pins the result;
``vendor_javascript`` copies MathJax into ``_vendor/`` so the book renders math offline.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
