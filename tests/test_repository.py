"""Binder and Colab launch (tools/repository.py): the config block, the install cell, the buttons.

The public repository URL is set with ``python3 tasks.py repository URL``.  These
tests check, whatever the URL is (or before it is known), that every chapter starts
with the install cell for the configured URL, that the cell does nothing where
nnlib is installed and the right thing where it is not, and -- in a small book
built with a made-up URL -- that sphinx-book-theme then links every notebook page
to Binder and Colab at the right path.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("repository", ROOT / "tools" / "repository.py")
repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(repository)

FAKE_URL, FAKE_BRANCH = "https://github.com/example-org/nmdl-course", "main"


def configured():
    return repository.configured((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_starts_with_the_install_cell(path):
    first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
    assert first.get("id") == repository.CELL_ID, (
        f"{path.name}: the first cell must be the install cell; run `python3 tasks.py repository --sync` "
        "and re-execute the notebook"
    )
    assert "".join(first["source"]) == repository.install_cell_source(*configured()), (
        f"{path.name}: the install cell does not match the repository in _config.yml; "
        "run `python3 tasks.py repository --sync`"
    )
    assert repository.CELL_TAG in first["metadata"].get("tags", []), "the install cell must be hidden in the book"
    assert first["outputs"] == [], f"{path.name}: the install cell printed something where nnlib is installed"


def _run_cell(source, nnlib_missing):
    """Run a cell's source with IPython's transformer in a fresh Python; report what it did."""
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(source)
    script = (
        "import sys\n"
        "calls = []\n"
        "class Shell:\n"
        "    def run_line_magic(self, name, line):\n"
        "        calls.append((name, line))\n"
        "get_ipython = Shell\n"
        + ("sys.modules['nnlib'] = None\n" if nnlib_missing else "")
        + "try:\n"
        + "".join(f"    {line}\n" for line in python.splitlines())
        + "except ModuleNotFoundError as error:\n"
        "    print('ModuleNotFoundError:', error)\n"
        "print('calls:', calls)\n"
    )
    # get_ipython() must return an instance: the class call gives one.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_install_cell_without_a_url_explains_how_to_install():
    source = repository.install_cell_source()
    assert "calls: []" in _run_cell(source, nnlib_missing=False)
    out = _run_cell(source, nnlib_missing=True)
    assert "ModuleNotFoundError: nnlib is not installed" in out and "README" in out, out
    assert "github.com" not in source


def test_install_cell_with_a_url_installs_only_where_nnlib_is_missing():
    source = repository.install_cell_source(FAKE_URL, FAKE_BRANCH)
    assert "calls: []" in _run_cell(source, nnlib_missing=False)
    out = _run_cell(source, nnlib_missing=True)
    assert f"""calls: [('pip', 'install --quiet "nnlib @ git+{FAKE_URL}@{FAKE_BRANCH}"')]""" in out, out


def test_config_block_is_valid_yaml_and_replaceable():
    original = (ROOT / "_config.yml").read_text(encoding="utf-8")
    once = repository.config_with_repository(original, FAKE_URL, FAKE_BRANCH)
    config = yaml.safe_load(once)
    assert config["repository"] == {"url": FAKE_URL, "branch": FAKE_BRANCH}
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"
    twice = repository.config_with_repository(once, "https://github.com/other/repo", "dev")
    assert twice.count(repository.BEGIN) == 1
    assert repository.configured(twice) == ("https://github.com/other/repo", "dev")
    # Everything else is kept: removing the block gives the original settings back.
    without = {k: v for k, v in yaml.safe_load(twice).items() if k not in ("repository", "launch_buttons")}
    assert without == {k: v for k, v in yaml.safe_load(original).items() if k not in ("repository", "launch_buttons")}


@pytest.mark.parametrize(
    "url, branch",
    [
        ("https://gitlab.com/a/b", "main"),
        ("github.com/a/b", "main"),
        ("https://github.com/a", "main"),
        ("https://github.com/a/b.git", "main"),
        (FAKE_URL, "main; rm -rf /"),
    ],
)
def test_bad_repository_settings_are_refused(url, branch):
    with pytest.raises(ValueError, match="expected"):
        repository.config_with_repository("title: x\n", url, branch)


def test_sync_inserts_then_updates_the_cell(tmp_path):
    notebook = {"cells": [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# Title"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    assert repository.sync_notebook(path) is True
    assert repository.sync_notebook(path) is False
    assert repository.sync_notebook(path, FAKE_URL, FAKE_BRANCH) is True
    cells = json.loads(path.read_text())["cells"]
    assert [c["id"] for c in cells] == [repository.CELL_ID, "intro"]
    assert FAKE_URL in "".join(cells[0]["source"])


@pytest.mark.skipif(shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) is None,
                    reason="jupyter-book is not installed next to this Python")
def test_a_book_with_a_repository_gets_binder_and_colab_buttons(tmp_path):
    """A two-page book with the made-up URL: the notebook page links to Binder and Colab."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "intro.md").write_text("# Intro\n")
    notebook = {"cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# A chapter"]}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (book / "chapters" / "01_x.ipynb").write_text(json.dumps(notebook))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_x\n")
    config = "title: t\nexecute:\n  execute_notebooks: 'off'\n"
    (book / "_config.yml").write_text(repository.config_with_repository(config, FAKE_URL, FAKE_BRANCH))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run([str(jupyter_book), "build", str(book), "-W", "-n"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    page = (book / "_build" / "html" / "chapters" / "01_x.html").read_text(encoding="utf-8")
    binder = f"https://mybinder.org/v2/gh/example-org/nmdl-course/{FAKE_BRANCH}?urlpath=lab/tree/chapters/01_x.ipynb"
    colab = f"https://colab.research.google.com/github/example-org/nmdl-course/blob/{FAKE_BRANCH}/chapters/01_x.ipynb"
    assert binder in page, "no Binder link to the chapter"
    assert colab in page, "no Colab link to the chapter"
