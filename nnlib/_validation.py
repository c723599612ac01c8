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


def check_number(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in an interval; ``None`` for a bound leaves that side open-ended.

    The one test behind every scalar setting of nnlib (step sizes, tolerances,
    regularization weights, probabilities): a ``bool`` is not a number here.
    """
    ok = _real(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        where = f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must be a finite number {where}; got {value!r}")
    return float(value)


def _real(value):
    """A finite real number that is not a bool."""
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def check_positive(value, name):
    """A finite number > 0, such as a learning rate or an initial step."""
    if not (_real(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)


def check_nonnegative(value, name):
    """A finite number >= 0, such as a tolerance or a regularization weight."""
    if not (_real(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    return float(value)


def check_open_unit(value, name):
    """A number in (0, 1), such as Armijo's c1 or a backtracking factor."""
    if not (_real(value) and 0 < value < 1):
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value!r}")
    return float(value)


def check_unit_interval(value, name):
    """A number in [0, 1), such as a momentum coefficient."""
    if not (_real(value) and 0 <= value < 1):
        raise ValueError(f"{name} must lie in [0, 1); got {value!r}")
    return float(value)


def check_nonnegative_int(value, name):
    """A non-negative integer, such as an iteration budget."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def check_float_dtype(dtype, name="dtype"):
    """A floating-point dtype (parameters and data are float32 or float64)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{name} must be a floating-point dtype such as np.float64; got {dtype!r}") from None
    if dtype.kind != "f":
        raise ValueError(f"{name} must be a floating-point dtype such as np.float64 or np.float32; got {dtype}")
    return dtype


def memory_bytes():
    """Physical memory of this machine in bytes (``None`` where the system does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_allocation(n_elements, what, itemsize=8):
    """Refuse, before allocating, an array that would not fit in this machine's memory.

    ``n_elements`` may be a Python int of any size; ``what`` says which array.
    """
    needed = int(n_elements) * int(itemsize)
    available = memory_bytes()
    if available is not None and needed > available:
        raise ValueError(
            f"{what} would need {needed / 2**30:,.1f} GiB, more than this machine's "
            f"{available / 2**30:,.1f} GiB of memory; choose smaller sizes"
        )
    return int(n_elements)


def check_examples(n, name):
    """At least one example (column): averages over zero examples are not defined."""
    if n < 1:
        raise ValueError(f"{name} must have at least one example (column); got {n}")
    return n


def check_int(value, name, low=None, high=None):
    """An integer in ``[low, high]`` (``None``: no bound on that side)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        where = f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must be an integer{where}; got {value!r}")
    return int(value)
