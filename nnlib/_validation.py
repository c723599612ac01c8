"""Input checks shared by layers, losses and data generators.

Every public entry point of nnlib validates what it is given and raises a
``ValueError`` that names what was expected and what arrived, so that a student
never has to decode a broadcasting error from deep inside NumPy.
"""

import numpy as np


def as_float_array(x, name):
    """Return ``x`` as a floating-point ndarray (float32 stays float32)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def check_finite(arr, name):
    """Raise if ``arr`` holds NaN or infinity, and say where the first one is."""
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} must be finite; found {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}"
        )


def check_matrix(x, name, n_rows=None, n_cols=None):
    """Validate a data matrix of shape ``(n_rows, n_examples)``.

    ``n_rows`` or ``n_cols`` of ``None`` accept any size.  Returns the array.
    """
    arr = as_float_array(x, name)
    rows = "n_rows" if n_rows is None else n_rows
    cols = "n_examples" if n_cols is None else n_cols
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape ({rows}, {cols}) "
            f"(features x examples); got shape {arr.shape}"
        )
    if (n_rows is not None and arr.shape[0] != n_rows) or (
        n_cols is not None and arr.shape[1] != n_cols
    ):
        raise ValueError(f"{name} must have shape ({rows}, {cols}); got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def check_vector(x, name, size):
    """Validate a flat vector of length ``size``."""
    arr = as_float_array(x, name)
    if arr.ndim != 1 or arr.size != size:
        raise ValueError(f"{name} must be a 1-D array of length {size}; got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def check_positive_int(value, name):
    """Validate a positive integer setting such as a width."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def result_dtype(*arrays):
    """Floating dtype for a computation on ``arrays`` (float32 only if all are)."""
    return np.result_type(*[np.asarray(a).dtype for a in arrays], np.float32)


def check_rng(rng):
    """An explicit ``numpy.random.Generator``: nothing in nnlib touches global random state."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
            f"got {type(rng).__name__}"
        )
    return rng
