"""Tests of :mod:`nnlib.data`."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from nnlib.data import (
    MNIST1D_SHA256,
    digits,
    labels_from_one_hot,
    mnist1d,
    mnist1d_permutation,
    mnist1d_templates,
    one_hot,
    peaks,
    peaks_function,
    peaks_thresholds,
    shift_images,
)


@pytest.mark.parametrize("n", [1, 50])
def test_peaks_regression_shapes_and_domain(n):
    Y, C = peaks(n, np.random.default_rng(0))
    assert Y.shape == (2, n) and C.shape == (1, n)
    assert Y.dtype == np.float64 and C.dtype == np.float64
    assert np.all(Y >= -3) and np.all(Y <= 3)
    np.testing.assert_allclose(C[0], peaks_function(Y[0], Y[1]), rtol=1e-15)


def test_peaks_regression_noise():
    n = 20000
    Y, C = peaks(n, np.random.default_rng(1), noise=0.5)
    residual = C[0] - peaks_function(Y[0], Y[1])
    assert abs(residual.std() - 0.5) < 0.02
    assert abs(residual.mean()) < 0.02


def test_peaks_function_known_values():
    # At the origin only the e^0 terms remain: 3 e^{-1} - 0 - e^{-1} / 3.
    assert peaks_function(0.0, 0.0) == pytest.approx(3 * np.exp(-1) - np.exp(-1) / 3, rel=1e-15)
    # Far away every Gaussian has vanished.
    assert abs(peaks_function(30.0, 30.0)) < 1e-100


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_peaks_classification_is_one_hot(n_classes):
    n = 300
    Y, C = peaks(n, np.random.default_rng(2), n_classes=n_classes)
    assert Y.shape == (2, n) and C.shape == (n_classes, n)
    assert set(np.unique(C)) <= {0.0, 1.0}
    np.testing.assert_array_equal(C.sum(axis=0), np.ones(n))
    np.testing.assert_array_equal(one_hot(labels_from_one_hot(C), n_classes), C)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_peaks_classes_are_balanced(n_classes):
    _, C = peaks(20000, np.random.default_rng(3), n_classes=n_classes)
    shares = C.mean(axis=1)
    np.testing.assert_allclose(shares, 1 / n_classes, atol=0.05)


def test_peaks_classes_follow_the_thresholds():
    Y, C = peaks(500, np.random.default_rng(4), n_classes=3)
    t = peaks_thresholds(3)
    values = peaks_function(Y[0], Y[1])
    labels = labels_from_one_hot(C)
    assert np.all(values[labels == 0] <= t[0])
    assert np.all((values[labels == 1] > t[0]) & (values[labels == 1] <= t[1]))
    assert np.all(values[labels == 2] > t[1])


def test_peaks_thresholds_are_increasing():
    t = peaks_thresholds(5)
    assert t.shape == (4,)
    assert np.all(np.diff(t) > 0)
    assert peaks_thresholds(1).shape == (0,)


@pytest.mark.parametrize("kwargs", [{}, {"n_classes": 4}, {"noise": 0.1}], ids=["regression", "classes", "noise"])
def test_peaks_same_seed_same_data(kwargs):
    Y1, C1 = peaks(100, np.random.default_rng(7), **kwargs)
    Y2, C2 = peaks(100, np.random.default_rng(7), **kwargs)
    np.testing.assert_array_equal(Y1, Y2)
    np.testing.assert_array_equal(C1, C2)
    Y3, _ = peaks(100, np.random.default_rng(8), **kwargs)
    assert not np.array_equal(Y1, Y3)


def test_peaks_does_not_touch_the_global_random_state():
    state = np.random.get_state()
    before = state[1].copy()
    peaks(10, np.random.default_rng(0), noise=0.1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize(
    "args, kwargs, needle",
    [
        pytest.param((0,), {}, "n must be a positive integer; got 0", id="n=0"),
        pytest.param((-5,), {}, "n must be a positive integer; got -5", id="n<0"),
        pytest.param((2.5,), {}, "n must be a positive integer; got 2.5", id="n-float"),
        pytest.param((10,), {"n_classes": 1}, "at least 2 .*got 1", id="n_classes=1"),
        pytest.param((10,), {"n_classes": 0}, "n_classes must be a positive integer; got 0", id="n_classes=0"),
        pytest.param((10,), {"noise": -0.1}, "non-negative.*-0.1", id="noise<0"),
        pytest.param((10,), {"noise": float("nan")}, "non-negative.*nan", id="noise-nan"),
    ],
)
def test_peaks_rejects_bad_arguments(args, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        peaks(*args, rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize(
    "rng", [None, 0, np.random.RandomState(0)], ids=["None", "int-seed", "RandomState"]
)
def test_peaks_needs_a_generator(rng):
    with pytest.raises(ValueError, match="Generator"):
        peaks(10, rng)


def test_one_hot_and_back():
    labels = np.array([2, 0, 1, 2])
    C = one_hot(labels, 3)
    np.testing.assert_array_equal(C, [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    np.testing.assert_array_equal(labels_from_one_hot(C), labels)
    assert one_hot(np.array([], dtype=int), 3).shape == (3, 0)


@pytest.mark.parametrize(
    "labels, needle",
    [
        (np.array([0, 3]), r"\[0, 2\].*\[0, 3\]"),
        (np.array([-1, 0]), r"\[0, 2\].*\[-1, 0\]"),
        (np.array([0.0, 1.0]), "integer"),
        (np.array([[0, 1]]), "1-D"),
    ],
)
def test_one_hot_rejects_bad_labels(labels, needle):
    with pytest.raises(ValueError, match=needle):
        one_hot(labels, 3)


# ---------------------------------------------------------------------------- MNIST-1D

MNIST1D_FILE = Path(__file__).resolve().parents[1] / "data" / "mnist1d.npz"


def test_mnist1d_file_checksum_is_recorded_in_code_and_readme():
    assert hashlib.sha256(MNIST1D_FILE.read_bytes()).hexdigest() == MNIST1D_SHA256
    assert MNIST1D_SHA256 in (MNIST1D_FILE.parent / "README.md").read_text()


def test_mnist1d_file_has_no_pickled_objects():
    with np.load(MNIST1D_FILE, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(["x", "y", "x_test", "y_test", "t", "templates_x", "templates_t"])
        assert all(npz[name].dtype == np.float64 for name in ("x", "x_test", "t", "templates_x", "templates_t"))
        assert npz["y"].dtype == np.int64 and npz["y_test"].dtype == np.int64


def test_mnist1d_shapes_and_one_hot_labels():
    Y, C, Y_test, C_test = mnist1d()
    assert Y.shape == (40, 4000) and C.shape == (10, 4000)
    assert Y_test.shape == (40, 1000) and C_test.shape == (10, 1000)
    assert all(a.dtype == np.float64 for a in (Y, C, Y_test, C_test))
    np.testing.assert_array_equal(C.sum(axis=0), 1.0)
    np.testing.assert_array_equal(C_test.sum(axis=0), 1.0)
    # the data set is centred and scaled as a whole (training and test together)
    everything = np.hstack([Y, Y_test])
    assert abs(everything.mean()) < 1e-12 and abs(everything.std() - 1) < 1e-12


def test_mnist1d_classes_are_balanced():
    _, C, _, C_test = mnist1d()
    counts = np.bincount(labels_from_one_hot(C), minlength=10)
    np.testing.assert_array_equal(counts, [398, 396, 411, 394, 394, 402, 401, 404, 402, 398])
    test_counts = np.bincount(labels_from_one_hot(C_test), minlength=10)
    np.testing.assert_array_equal(counts + test_counts, 500)  # 500 examples of each digit in all


def test_mnist1d_shuffle_is_one_fixed_permutation_of_the_positions():
    Y, C, Y_test, C_test = mnist1d()
    Ys, Cs, Ys_test, Cs_test = mnist1d(shuffle=True, seed=3)
    perm = mnist1d_permutation(3)
    np.testing.assert_array_equal(np.sort(perm), np.arange(40))
    np.testing.assert_array_equal(perm, np.random.default_rng(3).permutation(40))
    np.testing.assert_array_equal(Ys, Y[perm])
    np.testing.assert_array_equal(Ys_test, Y_test[perm])
    np.testing.assert_array_equal(Cs, C)
    np.testing.assert_array_equal(Cs_test, C_test)
    assert not np.array_equal(mnist1d_permutation(0), perm)
    np.testing.assert_array_equal(mnist1d(shuffle=True)[0], mnist1d(shuffle=True, seed=0)[0])
    np.testing.assert_array_equal(mnist1d(shuffle=False, seed=5)[0], Y)  # the seed only matters with shuffle


def test_mnist1d_templates():
    templates, t_templates, t = mnist1d_templates()
    assert templates.shape == (10, 12) and t_templates.shape == (12,) and t.shape == (40,)
    np.testing.assert_allclose(templates[:, 0], 0.0, atol=1e-15)  # every template starts at 0


def test_mnist1d_refuses_a_corrupted_copy(tmp_path):
    bad = tmp_path / "mnist1d.npz"
    raw = bytearray(MNIST1D_FILE.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit in the middle of the data
    bad.write_bytes(bytes(raw))
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(ValueError) as error:
        mnist1d(path=bad)
    message = str(error.value)
    assert MNIST1D_SHA256 in message and actual in message and "SHA-256" in message
    with pytest.raises(ValueError, match="SHA-256"):
        mnist1d_templates(path=bad)


def test_mnist1d_reads_an_intact_copy_and_reports_a_missing_one(tmp_path):
    copy = tmp_path / "elsewhere.npz"
    copy.write_bytes(MNIST1D_FILE.read_bytes())
    np.testing.assert_array_equal(mnist1d(path=str(copy))[0], mnist1d()[0])
    with pytest.raises(FileNotFoundError, match="MNIST-1D.*nope.npz"):
        mnist1d(path=tmp_path / "nope.npz")


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        pytest.param({"shuffle": "yes"}, r"shuffle must be True or False; got 'yes' \(str\)", id="shuffle-str"),
        pytest.param({"shuffle": 1}, r"shuffle must be True or False; got 1 \(int\)", id="shuffle-int"),
        pytest.param({"shuffle": True, "seed": -1}, r"seed \(of np.random.default_rng\) must be a non-negative integer.*got -1", id="seed<0"),
        pytest.param({"shuffle": True, "seed": 1.5}, r"seed \(of np.random.default_rng\) must be a non-negative integer.*got 1.5", id="seed-float"),
        pytest.param({"shuffle": True, "seed": None}, r"seed \(of np.random.default_rng\) must be a non-negative integer.*got None", id="seed-None"),
    ],
)
def test_mnist1d_rejects_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        mnist1d(**kwargs)


def test_shift_images_moves_pixels_and_fills_zeros():
    image = np.arange(1.0, 13.0).reshape(3, 4)
    Y = np.column_stack([image.ravel(), 2 * image.ravel()])
    right = shift_images(Y, (3, 4), (0, 1))
    assert np.array_equal(right[:, 0].reshape(3, 4), [[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]])
    up = shift_images(Y, (3, 4), (-1, 0))
    assert np.array_equal(up[:, 1].reshape(3, 4), 2 * np.array([[5, 6, 7, 8], [9, 10, 11, 12], [0, 0, 0, 0]]))
    assert np.array_equal(shift_images(Y, (3, 4), (0, 0)), Y)


def test_shift_images_there_and_back_keeps_the_interior():
    Y, _ = digits()
    back = shift_images(shift_images(Y[:, :20], (8, 8), (1, -1)), (8, 8), (-1, 1))
    assert np.array_equal(back.reshape(8, 8, 20)[:7, 1:], Y[:, :20].reshape(8, 8, 20)[:7, 1:])


@pytest.mark.parametrize("shape, shift, needle", [((8, 8), (8, 0), "shift\\[0\\]"), ((8, 8), (0, -8), "shift\\[1\\]"),
                                                  ((8, 8), (1,), "down, right"), ((4, 4), (0, 1), "16"),
                                                  ((8,), (0, 1), "rows, cols")])
def test_shift_images_rejects_bad_arguments(shape, shift, needle):
    with pytest.raises(ValueError, match=needle):
        shift_images(np.zeros((64, 3)), shape, shift)
