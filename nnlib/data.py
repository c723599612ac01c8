"""Data generators.  Every function takes an explicit ``numpy.random.Generator``.

Data follow the course convention: ``Y`` is ``(n_features, n_examples)`` and
targets ``C`` are ``(n_targets_or_classes, n_examples)``.
"""

import numpy as np

from ._validation import check_matrix, check_positive_int, check_rng

__all__ = [
    "peaks_function",
    "peaks_thresholds",
    "one_hot",
    "peaks",
    "labels_from_one_hot",
    "DIGITS_SHA256",
    "digits",
]


def peaks_function(x, y):
    """MATLAB's ``peaks``: a sum of translated and scaled Gaussians on the plane.

    ``3 (1-x)^2 e^{-x^2-(y+1)^2} - 10 (x/5 - x^3 - y^5) e^{-x^2-y^2} - 1/3 e^{-(x+1)^2-y^2}``
    """
    return (
        3 * (1 - x) ** 2 * np.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * np.exp(-(x**2) - y**2)
        - np.exp(-((x + 1) ** 2) - y**2) / 3
    )


def peaks_thresholds(n_classes, grid_size=401):
    """Levels that cut the peaks surface on [-3, 3]^2 into bands of equal area.

    Computed on a uniform ``grid_size x grid_size`` grid, so the result is
    deterministic and the classes are balanced for uniformly drawn points.
    """
    n_classes = check_positive_int(n_classes, "n_classes")
    t = np.linspace(-3, 3, grid_size)
    values = peaks_function(*np.meshgrid(t, t)).ravel()
    return np.quantile(values, np.arange(1, n_classes) / n_classes)


def one_hot(labels, n_classes):
    """One-hot matrix of shape ``(n_classes, n_examples)`` from integer labels."""
    labels = np.asarray(labels)
    n_classes = check_positive_int(n_classes, "n_classes")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D integer array; got shape {labels.shape}, dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes - 1}]; got range [{labels.min()}, {labels.max()}]")
    C = np.zeros((n_classes, labels.size))
    C[labels, np.arange(labels.size)] = 1.0
    return C


def peaks(n, rng, n_classes=None, noise=0.0):
    """Points in [-3, 3]^2 labelled by the peaks function.

    Parameters
    ----------
    n : int
        Number of examples.
    rng : numpy.random.Generator
        Source of the random points (and noise).
    n_classes : int, optional
        If given, classification: the example's class is the band of the
        peaks value it falls into, with bands of equal area
        (:func:`peaks_thresholds`), and ``C`` is one-hot.  If omitted,
        regression: ``C`` is the peaks value itself.
    noise : float, default 0
        Standard deviation of Gaussian noise added to the regression targets.

    Returns
    -------
    Y : ndarray, shape (2, n)
        Coordinates of the points.
    C : ndarray, shape (1, n) or (n_classes, n)
        Regression targets or one-hot labels.
    """
    n = check_positive_int(n, "n")
    check_rng(rng)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a non-negative number; got {noise!r}")
    Y = rng.uniform(-3.0, 3.0, size=(2, n))
    values = peaks_function(Y[0], Y[1])
    if n_classes is None:
        return Y, (values + noise * rng.standard_normal(n))[None, :]
    n_classes = check_positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2 for classification; got {n_classes}")
    labels = np.searchsorted(peaks_thresholds(n_classes), values)
    return Y, one_hot(labels, n_classes)


def labels_from_one_hot(C):
    """Class index of each column of a one-hot (or probability) matrix."""
    C = check_matrix(C, "C")
    return np.argmax(C, axis=0)


#: SHA-256 of ``data/digits.npz``; see ``data/README.md`` for how the file was made.
DIGITS_SHA256 = "b385e16fea2e2d18753311b89ed7c90e71a2322f001269fae340709ddf50716a"


def _default_digits_path():
    from pathlib import Path

    package = Path(__file__).resolve().parent
    # An installed wheel carries the file as nnlib/_data/digits.npz; the editable
    # install of the repository reads data/digits.npz next to nnlib/ itself.
    installed = package / "_data" / "digits.npz"
    return installed if installed.is_file() else package.parent / "data" / "digits.npz"


def digits(path=None):
    """The 8x8 handwritten digits (UCI optical recognition, 1797 images).

    Parameters
    ----------
    path : str or pathlib.Path, optional
        Location of ``digits.npz``.  Default: the copy shipped with the
        package (``nnlib/_data/digits.npz`` of an installed wheel, e.g. on
        Colab or in JupyterLite), or ``data/digits.npz`` of the repository for
        the editable install the course uses.

    Returns
    -------
    Y : ndarray, shape (64, 1797)
        One image per column, pixels in row-major order (``Y[:, j]`` is
        ``image.ravel()``), grey levels 0..16 scaled to ``[0, 1]`` (float64).
    C : ndarray, shape (10, 1797)
        One-hot labels, ``C[d, j] = 1`` if image ``j`` shows digit ``d``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file's SHA-256 is not :data:`DIGITS_SHA256` (the message names
        both hashes), or its arrays do not have the documented shapes.  The
        check runs on the raw bytes before anything is parsed, so a corrupted
        file never yields partly loaded data.

    Notes
    -----
    Source, licence (CC BY 4.0) and the exact extraction commands are in
    ``data/README.md``.  The file holds ``images`` (1797, 8, 8) uint8 and
    ``labels`` (1797,) int64 and is read with ``allow_pickle=False``.
    To view example ``j`` as an image: ``Y[:, j].reshape(8, 8)``.
    """
    import hashlib
    import io
    from pathlib import Path

    path = _default_digits_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"digits data file not found at {path}; pass path= to the repository's data/digits.npz"
        )
    raw = path.read_bytes()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != DIGITS_SHA256:
        raise ValueError(
            f"{path} is corrupted or not the course's digits file: "
            f"expected SHA-256 {DIGITS_SHA256}, got {actual}"
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        images = np.asarray(npz["images"])
        labels = np.asarray(npz["labels"])
    if images.shape != (1797, 8, 8) or labels.shape != (1797,):
        raise ValueError(
            f"digits file must hold images (1797, 8, 8) and labels (1797,); "
            f"got {images.shape} and {labels.shape}"
        )
    Y = images.reshape(images.shape[0], 64).T / 16.0
    return Y, one_hot(labels.astype(np.int64), 10)
