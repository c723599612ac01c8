"""Tests of :mod:`nnlib.data`."""

import numpy as np
import pytest

from nnlib.data import labels_from_one_hot, one_hot, peaks, peaks_function, peaks_thresholds


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
