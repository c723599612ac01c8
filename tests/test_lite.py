"""The JupyterLite site inside the built book (``tasks.py`` build_lite), without a browser.

What the browser cannot check offline (Pyodide comes from the internet): that the
site holds what the in-browser kernel needs.  The nnlib wheel in ``lite/pypi``,
installed into a plain directory (as micropip installs it into Pyodide's
site-packages), imports and loads the digits and MNIST-1D data with their checksums; every chapter
is in the site, with the same cells as the book plus the setup cell first, and the
site's kernel configuration finds the wheel.  Run after ``python3 tasks.py book``.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("NNLIB_BOOK_HTML", ROOT / "_build" / "html"))
LITE = HTML / "lite"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.fixture(scope="module")
def lite():
    if not (LITE / "lab" / "index.html").is_file():
        pytest.fail(f"the JupyterLite site is missing ({LITE}): run `python3 tasks.py book` first")
    return LITE


@pytest.fixture(scope="module")
def wheel(lite):
    wheels = sorted((lite / "pypi").glob("nnlib-*-py3-none-any.whl"))
    assert len(wheels) == 1, f"expected one pure-Python nnlib wheel in {lite / 'pypi'}, found {wheels}"
    return wheels[0]


def test_wheel_installs_and_loads_digits(wheel, tmp_path):
    """Unpacked like site-packages, the wheel's nnlib finds nnlib/_data/digits.npz and mnist1d.npz (checksums checked)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        recorded = {line.split(",")[0] for line in archive.read(record).decode().splitlines()}
        assert set(names) <= recorded, f"files missing from RECORD: {set(names) - recorded}"
        assert "nnlib/_data/digits.npz" in names and "nnlib/__init__.py" in names, names
        assert "nnlib/_data/mnist1d.npz" in names and "nnlib/_data/LICENSE-mnist1d.txt" in names, names
        archive.extractall(tmp_path / "site-packages")
    code = (
        "import nnlib, nnlib.data, pathlib, sys\n"
        "assert pathlib.Path(nnlib.__file__).is_relative_to(sys.argv[1]), nnlib.__file__\n"
        "Y, C = nnlib.data.digits()\n"
        "assert Y.shape == (64, 1797) and C.shape == (10, 1797), (Y.shape, C.shape)\n"
        "Y, C, Y_test, C_test = nnlib.data.mnist1d(shuffle=True)\n"
        "assert Y.shape == (40, 4000) and C_test.shape == (10, 1000), (Y.shape, C_test.shape)\n"
        "print('ok')\n"
    )
    site = tmp_path / "site-packages"
    # Not the editable nnlib of the repository: only the unpacked wheel (first on the path).
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    result = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_wheel_matches_the_package(wheel):
    """The wheel holds every module of nnlib/ as it is now (a stale cache would not)."""
    with zipfile.ZipFile(wheel) as archive:
        for path in sorted((ROOT / "nnlib").rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            assert archive.read(name) == path.read_bytes(), f"{wheel.name}: {name} differs from the repository"


def test_kernel_finds_the_wheel(lite, wheel):
    config = json.loads((lite / "jupyter-lite.json").read_text())["jupyter-config-data"]
    settings = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    urls = [url.split("?")[0] for url in settings["pipliteUrls"]]
    assert "./pypi/all.json" in urls, f"the site's own wheels are not on piplite's index: {urls}"
    index = json.loads((lite / "pypi" / "all.json").read_text())
    files = [f["filename"] for release in index["nnlib"]["releases"].values() for f in release]
    assert wheel.name in files, f"pypi/all.json does not list {wheel.name}: {files}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_in_the_site(lite, chapter):
    copy = lite / "files" / "chapters" / chapter.name
    assert copy.is_file(), f"{chapter.name} is not in the JupyterLite site ({copy})"
    original = json.loads(chapter.read_text(encoding="utf-8"))
    shipped = json.loads(copy.read_text(encoding="utf-8"))
    setup, *cells = shipped["cells"]
    assert setup["cell_type"] == "code" and "%pip install -q nnlib" in "".join(setup["source"])
    assert [("".join(c["source"]), c["cell_type"]) for c in cells] == [
        ("".join(c["source"]), c["cell_type"]) for c in original["cells"]
    ], f"{copy}: its cells differ from {chapter} (rebuild with `python3 tasks.py book`)"
    assert shipped["metadata"]["kernelspec"]["name"] == "python", shipped["metadata"]["kernelspec"]
    views = [
        o for c in cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert not views, f"{copy}: widget views without their kernel (would show 'model not found')"
