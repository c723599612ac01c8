"""Data generators.  Every function takes an explicit ``numpy.random.Generator``.

Data follow the course convention: ``Y`` is ``(n_features, n_examples)`` and
targets ``C`` are ``(n_targets_or_classes, n_examples)``.
"""

import numpy as np

from ._validation import (
    check_allocation,
    check_examples,
    check_int,
    check_matrix,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    check_rng,
)

__all__ = [
    "peaks_function",
    "peaks_thresholds",
    "one_hot",
    "peaks",
    "labels_from_one_hot",
    "DIGITS_SHA256",
    "digits",
    "shift_images",
    "MNIST1D_SHA256",
    "MNIST1D_LENGTH",
    "mnist1d",
    "mnist1d_permutation",
    "mnist1d_templates",
]


def peaks_function(x, y):
    """MATLAB's ``peaks``: a sum of translated and scaled Gaussians on the plane.

    ``3 (1-x)^2 e^{-x^2-(y+1)^2} - 10 (x/5 - x^3 - y^5) e^{-x^2-y^2} - 1/3 e^{-(x+1)^2-y^2}``

    ``x`` and ``y`` are numbers or arrays (lists too) of one shape.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}")
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
    grid_size = check_int(grid_size, "grid_size (points per axis)", 2)
    check_allocation(grid_size * grid_size * 4, f"a grid of {grid_size} x {grid_size} points")
    t = np.linspace(-3, 3, grid_size)
    values = peaks_function(*np.meshgrid(t, t)).ravel()
    return np.quantile(values, np.arange(1, n_classes) / n_classes)


def one_hot(labels, n_classes):
    """One-hot matrix of shape ``(n_classes, n_examples)`` from integer labels."""
    labels = np.asarray(labels)
    n_classes = check_positive_int(n_classes, "n_classes")
    check_allocation(n_classes * labels.size, f"a one-hot matrix of {n_classes} classes x {labels.size} examples")
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
    check_allocation(4 * n, f"peaks data of {n} examples")
    check_rng(rng)
    noise = check_nonnegative(noise, "noise")
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
    check_examples(C.shape[1], "C")
    return np.argmax(C, axis=0)


#: SHA-256 of ``data/digits.npz``; see ``data/README.md`` for how the file was made.
DIGITS_SHA256 = "b385e16fea2e2d18753311b89ed7c90e71a2322f001269fae340709ddf50716a"


def _default_data_path(filename):
    """Where the packaged data file ``filename`` is: in an installed wheel or in the repository."""
    from pathlib import Path

    package = Path(__file__).resolve().parent
    # An installed wheel carries the files as nnlib/_data/<name>; the editable install
    # of the repository reads data/<name> next to nnlib/ itself.
    installed = package / "_data" / filename
    return installed if installed.is_file() else package.parent / "data" / filename


def _read_verified(path, filename, expected_sha256, description):
    """The raw bytes of a data file after its SHA-256 has been checked, or a clear error.

    Parameters
    ----------
    path : str, pathlib.Path or None
        The file; ``None`` means the packaged copy of ``filename``.
    filename : str
        Name of the file in ``data/`` (and ``nnlib/_data/``).
    expected_sha256 : str
        The recorded checksum (hex).
    description : str
        What the file holds, for the error messages.

    Returns
    -------
    bytes
        The file's contents, checked before anything is parsed.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the SHA-256 differs; the message names both hashes.
    """
    import hashlib
    from pathlib import Path

    path = _default_data_path(filename) if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{description} data file not found at {path}; pass path= to the repository's data/{filename}"
        )
    raw = path.read_bytes()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected_sha256:
        raise ValueError(
            f"{path} is corrupted or not the course's {description} file: "
            f"expected SHA-256 {expected_sha256}, got {actual}"
        )
    return raw


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
    import io

    raw = _read_verified(path, "digits.npz", DIGITS_SHA256, "digits")
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


def shift_images(Y, image_shape, shift):
    """Every image shifted by whole pixels, the vacated pixels set to zero (data augmentation).

    Parameters
    ----------
    Y : ndarray, shape (rows * cols, n)
        One image per column, pixels in row-major order (as :func:`digits`).
    image_shape : tuple of int
        ``(rows, cols)`` of one image.
    shift : tuple of int
        ``(down, right)`` in pixels; negative values shift up or left.  Each
        must be smaller than the image in its direction.

    Returns
    -------
    ndarray, shape (rows * cols, n)
        The shifted images; pixels moved out of the frame are lost.

    Notes
    -----
    A label that does not change under a small shift (a digit moved by one
    pixel is the same digit) lets the shifted copies join the training set
    with the labels of the originals: ``np.hstack([Y, shift_images(Y, (8, 8),
    (0, 1))])`` with ``np.hstack([C, C])``.  It costs no new data, only
    knowledge of an invariance.
    """
    if len(image_shape) != 2:
        raise ValueError(f"image_shape must be (rows, cols); got {image_shape!r}")
    rows = check_positive_int(image_shape[0], "image_shape[0]")
    cols = check_positive_int(image_shape[1], "image_shape[1]")
    Y = check_matrix(Y, "Y", n_rows=rows * cols)
    if len(shift) != 2:
        raise ValueError(f"shift must be (down, right) in pixels; got {shift!r}")
    down = check_int(shift[0], "shift[0]", low=-(rows - 1), high=rows - 1)
    right = check_int(shift[1], "shift[1]", low=-(cols - 1), high=cols - 1)
    images = Y.T.reshape(-1, rows, cols)
    shifted = np.zeros_like(images)
    shifted[:, max(down, 0):rows + min(down, 0), max(right, 0):cols + min(right, 0)] = \
        images[:, max(-down, 0):rows + min(-down, 0), max(-right, 0):cols + min(-right, 0)]
    return shifted.reshape(-1, rows * cols).T


#: SHA-256 of ``data/mnist1d.npz``; see ``data/README.md`` and ``data/make_mnist1d.py``.
MNIST1D_SHA256 = "20b0f6781b8aaa432348e1ca8f7cf1994790336907be5c0d4aca81f8ac021ba1"
#: Number of positions of an MNIST-1D sequence (the features of an example).
MNIST1D_LENGTH = 40
_MNIST1D_SHAPES = {
    "x": (4000, 40), "y": (4000,), "x_test": (1000, 40), "y_test": (1000,), "t": (40,),
    "templates_x": (10, 12), "templates_t": (12,),
}


def _mnist1d_arrays(path):
    """All arrays of ``mnist1d.npz`` after the checksum and the shapes were checked."""
    import io

    raw = _read_verified(path, "mnist1d.npz", MNIST1D_SHA256, "MNIST-1D")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        arrays = {name: np.asarray(npz[name]) for name in _MNIST1D_SHAPES if name in npz.files}
    shapes = {name: arrays[name].shape if name in arrays else None for name in _MNIST1D_SHAPES}
    if shapes != _MNIST1D_SHAPES:
        raise ValueError(f"MNIST-1D file must hold the arrays {_MNIST1D_SHAPES}; got {shapes}")
    return arrays


def mnist1d_permutation(seed=0):
    """The fixed permutation of the 40 positions used by ``mnist1d(shuffle=True, seed=seed)``.

    Parameters
    ----------
    seed : int, default 0
        Seed of ``np.random.default_rng(seed)``, which draws the permutation.

    Returns
    -------
    ndarray of int, shape (40,)
        ``perm`` such that the shuffled example is ``y[perm]``: position ``i``
        of the shuffled sequence holds position ``perm[i]`` of the original.
    """
    seed = check_nonnegative_int(seed, "seed (of np.random.default_rng)")
    return np.random.default_rng(int(seed)).permutation(MNIST1D_LENGTH)


def mnist1d(shuffle=False, seed=0, path=None):
    """MNIST-1D (Greydanus and Kobak): 4000 training and 1000 test sequences of length 40, ten classes.

    Parameters
    ----------
    shuffle : bool, default False
        ``True`` permutes the 40 positions of every sequence by one fixed
        permutation (the same for training and test data), which destroys the
        spatial structure but keeps all information: the "shuffled" variant
        of the paper.
    seed : int, default 0
        Seed of the permutation (:func:`mnist1d_permutation`); used only with
        ``shuffle=True``.
    path : str or pathlib.Path, optional
        Location of ``mnist1d.npz``.  Default: the copy shipped with the
        package (``nnlib/_data/mnist1d.npz`` of an installed wheel), or
        ``data/mnist1d.npz`` of the repository for the editable install.

    Returns
    -------
    Y : ndarray, shape (40, 4000)
        Training sequences, one per column (float64; the data set is centred
        and scaled to standard deviation 1 as a whole).
    C : ndarray, shape (10, 4000)
        One-hot labels of the training sequences.
    Y_test : ndarray, shape (40, 1000)
    C_test : ndarray, shape (10, 1000)

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If ``shuffle`` is not a bool or ``seed`` not a non-negative integer
        (the message names what was expected and what arrived), if the file's
        SHA-256 is not :data:`MNIST1D_SHA256` (checked on the raw bytes before
        anything is parsed; the message names both hashes), or if its arrays
        do not have the documented shapes.

    Notes
    -----
    The file is the default data set of the ``mnist1d`` package, generated by
    ``data/make_mnist1d.py`` (``make_dataset(get_dataset_args())``, seed 42);
    it equals the authors' frozen copy to 2.2e-16.  Source, licence
    (Apache-2.0) and citation are in ``data/README.md``.  Published test
    accuracies (Greydanus and Kobak, ICML 2024): logistic regression 32%,
    MLP 68%, CNN 94%, GRU 91%, human 96%; shuffled: 32%, 68%, 56%.
    """
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"shuffle must be True or False; got {shuffle!r} ({type(shuffle).__name__})")
    permutation = mnist1d_permutation(seed) if shuffle else None
    arrays = _mnist1d_arrays(path)
    Y = np.ascontiguousarray(arrays["x"].T, dtype=np.float64)
    Y_test = np.ascontiguousarray(arrays["x_test"].T, dtype=np.float64)
    if permutation is not None:
        Y, Y_test = Y[permutation], Y_test[permutation]
    return Y, one_hot(arrays["y"].astype(np.int64), 10), Y_test, one_hot(arrays["y_test"].astype(np.int64), 10)


def mnist1d_templates(path=None):
    """The ten templates MNIST-1D's sequences are made from, and the positions of the data.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        As for :func:`mnist1d`.

    Returns
    -------
    templates : ndarray, shape (10, 12)
        Template ``d`` (row ``d``) is the clean 12-point signal of digit ``d``.
    t_templates : ndarray, shape (12,)
        Positions of the template points.
    t : ndarray, shape (40,)
        Positions of the 40 points of a data sequence, scaled like the data
        (the data generator's ``t``), e.g. for plotting a sequence against them.
    """
    arrays = _mnist1d_arrays(path)
    return arrays["templates_x"].copy(), arrays["templates_t"].copy(), arrays["t"].copy()
