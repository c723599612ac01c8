"""The JupyterLite site shipped inside the book: the chapters run in the reader's browser.

``build_lite`` writes the site (JupyterLab and the Pyodide kernel) into
``_build/html/lite``: a copy of every chapter with an install cell first
(``lite_notebook``) and nnlib as a wheel (``lite_wheel``) that ``%pip install nnlib``
finds in the site itself.  Only the standard library is imported here; the build runs
the virtual environment's ``jupyter lite``.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .environment import BIN, PYTHON, ROOT, run

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
