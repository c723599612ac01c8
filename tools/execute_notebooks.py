"""Execute notebooks in a fresh kernel and store their outputs in place.

Usage: python tools/execute_notebooks.py chapters/01_nonlinear_models.ipynb ...

The stored outputs are what ``pytest --nbval`` compares against, so they must
come from a clean top-to-bottom run.  Widget state is not stored: the
interactive figures carry their own precomputed frames (nnlib.interactive).
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path, timeout=120):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main(paths):
    status = 0
    for path in paths:
        try:
            seconds = execute(path)
        except Exception as exc:  # report every notebook, then fail
            print(f"FAILED {path}: {exc}", file=sys.stderr)
            status = 1
        else:
            flag = "  (over the 60 s budget!)" if seconds > 60 else ""
            print(f"executed {path} in {seconds:.1f} s{flag}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
