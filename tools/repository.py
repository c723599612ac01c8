"""Point the book at its public repository: Binder and Colab launch buttons, and Colab's install cell.

Usage (also ``python3 tasks.py repository ...``)::

    python tools/repository.py https://github.com/OWNER/REPO [--branch main]
    python tools/repository.py --sync      # install cells for the URL already in _config.yml

Binder and Colab open a chapter from the repository on GitHub, so the book can only
link to them once it knows that repository.  Setting the URL does two things:

1. ``_config.yml`` gets ``repository`` (url, branch) and ``launch_buttons``
   (Binder, Colab, JupyterLab): sphinx-book-theme then shows Binder and Colab next
   to the JupyterLite entry on every chapter page.
2. The first cell of every chapter (id ``install-nnlib``, tagged ``remove-cell`` so
   the book does not show it) installs nnlib from that repository when, and only
   when, ``import nnlib`` fails -- on Colab, which has numpy, scipy and matplotlib
   but not nnlib.  The digits data ships inside the package, so chapter 2 works
   there too.  Without a URL the cell stops with a message that says how to
   install nnlib instead of trying a repository that does not exist.

Where nnlib is installed (locally, Binder, the JupyterLite site) the cell does
nothing and prints nothing, so changing its text does not change any output that
nbval compares.  A new chapter gets the cell from ``--sync``; re-execute it
afterwards (``python3 tasks.py notebooks chapters/NN_topic.ipynb``).
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
CHAPTERS = ROOT / "chapters"
CELL_ID = "install-nnlib"
CELL_TAG = "remove-cell"
GITHUB = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
BRANCH = re.compile(r"[A-Za-z0-9._/-]+")

# Written between these markers in _config.yml, so that setting a new URL replaces them.
BEGIN = "# >>> repository (written by tools/repository.py)"
END = "# <<< repository"


def configured(config_text):
    """``(url, branch)`` from the block this tool wrote into ``_config.yml``, or ``(None, None)``."""
    block = re.search(re.escape(BEGIN) + r"(.*?)" + re.escape(END), config_text, flags=re.S)
    if block is None:
        return None, None
    url = re.search(r"^\s+url:\s*(\S+)\s*$", block.group(1), flags=re.M)
    branch = re.search(r"^\s+branch:\s*(\S+)\s*$", block.group(1), flags=re.M)
    return (url.group(1) if url else None), (branch.group(1) if branch else None)


def check_url(url, branch):
    """Refuse anything but ``https://github.com/OWNER/REPO`` and a plain branch name."""
    if not isinstance(url, str) or not GITHUB.fullmatch(url.rstrip("/")) or url.endswith(".git"):
        raise ValueError(f"expected a GitHub repository URL like https://github.com/OWNER/REPO; got {url!r}")
    if not isinstance(branch, str) or not BRANCH.fullmatch(branch):
        raise ValueError(f"expected a branch name like 'main'; got {branch!r}")
    return url.rstrip("/"), branch


def config_with_repository(config_text, url, branch):
    """``_config.yml`` text with the repository block set (replacing an earlier one).

    Jupyter Book reads ``repository`` and ``launch_buttons`` at the top level;
    ``html.use_repository_button`` stays as it is.
    """
    url, branch = check_url(url, branch)
    block = (
        f"{BEGIN}\n"
        "# Binder and Colab open the chapters from this repository (launch buttons).\n"
        "repository:\n"
        f"  url: {url}\n"
        f"  branch: {branch}\n"
        "launch_buttons:\n"
        "  notebook_interface: jupyterlab\n"
        "  binderhub_url: https://mybinder.org\n"
        "  colab_url: https://colab.research.google.com\n"
        f"{END}\n"
    )
    old = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", flags=re.S)
    if old.search(config_text):
        return old.sub(lambda _: block, config_text)
    if re.search(r"^(repository|launch_buttons):", config_text, flags=re.M):
        raise ValueError("_config.yml already has a repository or launch_buttons section not written by this tool")
    return config_text.rstrip("\n") + "\n\n" + block


def install_cell_source(url=None, branch=None):
    """The first cell of every chapter: install nnlib where it is missing (Colab)."""
    if url is None:
        return (
            "# Where nnlib is missing (e.g. Colab), install it first; this cell is hidden in the book.\n"
            "try:\n"
            "    import nnlib\n"
            "except ModuleNotFoundError as missing:\n"
            "    raise ModuleNotFoundError(\n"
            "        \"nnlib is not installed: in a clone of the course repository run \"\n"
            "        \"'python3 tasks.py venv' (or 'pip install -e .'), see its README\"\n"
            "    ) from missing"
        )
    url, branch = check_url(url, branch)
    return (
        "# Where nnlib is missing (e.g. Colab), install it from the course repository first;\n"
        "# elsewhere this cell does nothing.  It is hidden in the book.\n"
        "try:\n"
        "    import nnlib\n"
        "except ModuleNotFoundError:\n"
        f'    %pip install --quiet "nnlib @ git+{url}@{branch}"'
    )


def install_cell(url=None, branch=None):
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": CELL_ID,
        "metadata": {"tags": [CELL_TAG]},
        "outputs": [],
        "source": install_cell_source(url, branch).splitlines(keepends=True),
    }


def sync_notebook(path, url=None, branch=None):
    """Give ``path`` the install cell first (or update its text); return whether the file changed.

    A notebook that did not have the cell yet must be re-executed afterwards:
    its execution counts now start one too early.
    """
    text = Path(path).read_text(encoding="utf-8")
    notebook = json.loads(text)
    cells = notebook["cells"]
    wanted = install_cell(url, branch)
    if cells and cells[0].get("id") == CELL_ID:
        cells[0]["source"] = wanted["source"]
        cells[0].setdefault("metadata", {})["tags"] = [CELL_TAG]
    else:
        cells.insert(0, wanted)
    new = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        Path(path).write_text(new, encoding="utf-8")
        return True
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/REPO")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--sync", action="store_true", help="only (re)write the install cells for the configured URL")
    args = parser.parse_args(argv)
    config = CONFIG.read_text(encoding="utf-8")
    if args.url:
        try:
            config = config_with_repository(config, args.url, args.branch)
        except ValueError as error:
            parser.error(str(error))
        CONFIG.write_text(config, encoding="utf-8")
        print(f"_config.yml: repository {args.url} (branch {args.branch}), Binder and Colab launch buttons")
    elif not args.sync:
        parser.error("give the repository URL, or --sync")
    url, branch = configured(config)
    for path in sorted(CHAPTERS.glob("*.ipynb")):
        if sync_notebook(path, url, branch):
            print(f"{path.relative_to(ROOT)}: install cell written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
