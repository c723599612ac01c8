#!/usr/bin/env python3
"""Generate ``data/mnist1d.npz`` from the PyPI package ``mnist1d`` (run by hand, never by the book).

Usage (from the repository root; needs Python 3.10+ and the package index)::

    python3 data/make_mnist1d.py            # writes data/mnist1d.npz and prints its SHA-256
    python3 data/make_mnist1d.py OUT.npz    # somewhere else

What it does:

1. creates a throw-away virtual environment in a temporary directory and installs
   ``mnist1d==0.0.2.post1`` into it, with the NumPy and SciPy versions pinned below
   (the generator draws from NumPy's legacy ``RandomState``, whose stream is frozen,
   and interpolates and smooths with SciPy);
2. runs, inside that environment, ``make_dataset(get_dataset_args())``: the
   package's default data set, generated deterministically from its seed 42.  The
   package's ``get_dataset`` (which would download a pickle from the internet) is
   never called, and nothing is unpickled;
3. writes, still inside it, the arrays ``x``, ``y``, ``x_test``, ``y_test``, ``t``,
   ``templates_x``, ``templates_t`` into a ``.npz`` without pickled objects, with a
   fixed time stamp inside the zip so that the bytes (and the SHA-256) are
   reproducible;
4. deletes the environment.

Only the standard library runs outside the environment.  The course itself never
installs ``mnist1d``: ``nnlib.data.mnist1d()`` reads the file
this script wrote and checks its SHA-256 (see data/README.md for source, licence and
citation).
"""

import hashlib
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

PACKAGE = "mnist1d==0.0.2.post1"
# The versions the recorded checksum was produced with (the course's pinned ones).
PINS = ("numpy==2.4.6", "scipy==1.17.1")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "data" / "mnist1d.npz"

# Runs inside the throw-away environment: generate, then write the .npz with fixed zip time stamps.
GENERATE = r"""
import io, json, sys, zipfile
import numpy as np
from mnist1d.data import get_dataset_args, make_dataset

args = get_dataset_args()          # the package's defaults: 5000 examples, seed 42, length 40
data = make_dataset(args)          # deterministic; no download, no pickle
arrays = {
    "x": np.asarray(data["x"], dtype=np.float64),
    "y": np.asarray(data["y"], dtype=np.int64),
    "x_test": np.asarray(data["x_test"], dtype=np.float64),
    "y_test": np.asarray(data["y_test"], dtype=np.int64),
    "t": np.asarray(data["t"], dtype=np.float64),
    "templates_x": np.asarray(data["templates"]["x"], dtype=np.float64),
    "templates_t": np.asarray(data["templates"]["t"], dtype=np.float64),
}
assert arrays["x"].shape == (4000, 40) and arrays["x_test"].shape == (1000, 40)
assert sorted(set(arrays["y"].tolist())) == list(range(10)) and arrays["t"].shape == (40,)
# Written by hand, plain arrays only (allow_pickle=False) and a fixed time stamp inside the
# zip, so that the bytes and hence the SHA-256 depend on the arrays alone.
with zipfile.ZipFile(sys.argv[1], "w", compression=zipfile.ZIP_DEFLATED) as zf:
    for name, array in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
        info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, buf.getvalue())
settings = {k: v for k, v in vars(args).items() if k != "url"}
print(json.dumps({"numpy": np.__version__, "args": settings}))
"""


def main(argv):
    """Create the environment, generate into ``argv[1]`` (default data/mnist1d.npz), print the SHA-256."""
    output = (Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT).resolve()
    with tempfile.TemporaryDirectory(prefix="mnist1d-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        PACKAGE, *PINS], check=True)
        info = subprocess.run([str(python), "-c", GENERATE, str(output)], check=True, capture_output=True,
                              text=True, cwd=tmp).stdout
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    print(info.strip())
    print(json.dumps({"file": str(output), "bytes": output.stat().st_size, "sha256": digest}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
