"""Tests of :mod:`nnlib.normalization` beyond the generic layer suite (tests/test_layers.py)."""

import numpy as np
import pytest

from nnlib.layers import Layer
from nnlib.normalization import BatchNorm, Dropout


def test_batchnorm_is_registered_for_the_generic_suite():
    assert Layer.registry["BatchNorm"] is BatchNorm


def test_training_mode_normalizes_each_feature_over_the_batch():
    rng = np.random.default_rng(0)
    layer = BatchNorm(3, eps=1e-14)
    Y = 5.0 + 3.0 * rng.standard_normal((3, 50))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    Z = layer.forward(np.concatenate([gamma, beta]), Y)
    np.testing.assert_allclose(Z.mean(axis=1), beta, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=1), gamma, rtol=1e-12)


def test_training_mode_couples_the_examples_and_inference_does_not():
    rng = np.random.default_rng(1)
    layer = BatchNorm(2)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((2, 8))
    Y_other = Y.copy()
    Y_other[:, 1:] += 1.0  # change every example but the first
    assert not np.allclose(layer.forward(theta, Y)[:, 0], layer.forward(theta, Y_other)[:, 0])
    frozen = BatchNorm(2, statistics=BatchNorm.batch_statistics(Y))
    np.testing.assert_allclose(frozen.forward(theta, Y), layer.forward(theta, Y), rtol=1e-12)
    np.testing.assert_array_equal(frozen.forward(theta, Y)[:, 0], frozen.forward(theta, Y_other)[:, 0])
    assert layer.training and not frozen.training
    assert repr(frozen) == "BatchNorm(n_features=2, eps=1e-05, mode='inference')"


def test_output_is_invariant_to_shifting_and_scaling_the_input():
    rng = np.random.default_rng(2)
    layer = BatchNorm(3, eps=1e-14)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((3, 10))
    np.testing.assert_allclose(layer.forward(theta, 7.0 * Y + 2.0), layer.forward(theta, Y), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_features": 0}, "n_features"),
    ({"n_features": 2, "eps": -1.0}, "eps"),
    ({"n_features": 2, "statistics": np.zeros(2)}, "statistics"),
    ({"n_features": 2, "statistics": (np.zeros(3), np.ones(2))}, "statistics mean"),
    ({"n_features": 2, "statistics": (np.zeros(2), -np.ones(2))}, "non-negative"),
])
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNorm(**kwargs)


def test_dropout_mask_keeps_the_mean_and_is_reproducible():
    layer = Dropout(50, 0.3, np.random.default_rng(4), 400)
    Y = np.ones((50, 400))
    Z = layer.forward(np.empty(0), Y)
    assert set(np.unique(Z)) == {0.0, 1.0 / 0.7}
    assert abs(np.mean(Z == 0) - 0.3) < 0.02
    assert abs(Z.mean() - 1.0) < 0.03  # E[M] = 1
    again = Dropout(50, 0.3, np.random.default_rng(4), 400)
    np.testing.assert_array_equal(again.forward(np.empty(0), Y), Z)
    np.testing.assert_array_equal(layer.resample(np.random.default_rng(5), 400).forward(np.empty(0), Y) == 0,
                                  Dropout(50, 0.3, np.random.default_rng(5), 400).mask == 0)


def test_dropout_evaluation_mode_is_the_identity():
    layer = Dropout(3, 0.5, np.random.default_rng(0), 4)
    layer.training = False
    Y = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(layer.forward(np.empty(0), Y), Y)
    np.testing.assert_array_equal(layer.jacobian_input(np.empty(0), Y).matvec(np.ones(12)), np.ones(12))
    np.testing.assert_array_equal(layer.forward(np.empty(0), np.ones((3, 9))), np.ones((3, 9)))  # any batch size


def test_dropout_refuses_a_batch_its_mask_was_not_drawn_for():
    layer = Dropout(3, 0.5)
    with pytest.raises(ValueError, match="no mask was drawn"):
        layer.forward(np.empty(0), np.ones((3, 4)))
    layer.resample(np.random.default_rng(0), 4)
    with pytest.raises(ValueError, match=r"drawn for shape \(3, 4\)"):
        layer.forward(np.empty(0), np.ones((3, 5)))


@pytest.mark.parametrize("kwargs, message", [
    ({"n_features": 2, "rate": 1.0}, r"rate must be a number in \[0, 1\)"),
    ({"n_features": 2, "rate": -0.1}, "rate"),
    ({"n_features": 2, "rate": "half"}, "rate"),
    ({"n_features": 2, "rate": 0.5, "rng": np.random.default_rng(0)}, "needs n_examples"),
    ({"n_features": 2, "rate": 0.5, "rng": 0, "n_examples": 3}, "Generator"),
])
def test_dropout_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Dropout(**kwargs)
