"""Tests of :mod:`nnlib.activations`."""

import numpy as np
import pytest

from nnlib.activations import ACTIVATIONS, THRESHOLDS, Activation, get_activation

NAMES = sorted(ACTIVATIONS)
SMOOTH = [name for name in NAMES if ACTIVATIONS[name].second_derivative is not None]


def _points_away_from_zero(seed=0, n=200):
    """Random points with |x| in [0.05, 4]: away from ReLU's kink."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.05, 4.0, size=n)


def _central_difference(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_differences(name):
    act = ACTIVATIONS[name]
    x = _points_away_from_zero()
    np.testing.assert_allclose(act.derivative(x), _central_difference(act.value, x), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", SMOOTH)
def test_second_derivative_matches_central_differences(name):
    act = ACTIVATIONS[name]
    x = _points_away_from_zero(seed=1)
    np.testing.assert_allclose(
        act.second_derivative(x), _central_difference(act.derivative, x), rtol=1e-7, atol=1e-9
    )


def test_smooth_activations_have_second_derivatives():
    assert set(SMOOTH) == {name for name in NAMES if ACTIVATIONS[name].smooth}
    assert {"tanh", "sigmoid", "softplus", "identity"} <= set(SMOOTH)


def test_relu_has_no_second_derivative():
    relu = get_activation("relu")
    assert relu.second_derivative is None
    assert relu.smooth is False


def test_relu_values_and_subgradient_at_zero():
    relu = get_activation("relu")
    x = np.array([-2.0, -0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu.derivative(x), [0.0, 0.0, 0.0, 1.0])


def test_known_values():
    x = np.array([0.0, 1.0, -1.0])
    np.testing.assert_allclose(ACTIVATIONS["tanh"](x), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"](x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ACTIVATIONS["softplus"](x), np.log1p(np.exp(x)), rtol=1e-15)
    np.testing.assert_array_equal(ACTIVATIONS["identity"](x), x)
    assert ACTIVATIONS["sigmoid"].derivative(np.array(0.0)) == pytest.approx(0.25)
    assert ACTIVATIONS["softplus"](np.array(0.0)) == pytest.approx(np.log(2.0))


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_finite_for_huge_arguments(name):
    act = ACTIVATIONS[name]
    x = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for f in (act.value, act.derivative, act.second_derivative):
            assert np.all(np.isfinite(f(x)))
        for f in (act.value, act.derivative, act.second_derivative):
            assert np.all(np.isfinite(f(x.astype(np.float32))))


def test_huge_argument_limits():
    x = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"](x), [0.0, 1.0])
    np.testing.assert_array_equal(ACTIVATIONS["softplus"](x), [0.0, 1000.0])
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"].derivative(x), [0.0, 0.0])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_dtype_and_shape_are_kept(name, dtype):
    act = ACTIVATIONS[name]
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(dtype)
    x0 = x.copy()
    fs = [act.value, act.derivative] + ([act.second_derivative] if act.second_derivative else [])
    for f in fs:
        out = f(x)
        assert out.shape == x.shape and out.dtype == dtype
    np.testing.assert_array_equal(x, x0)


def test_identity_value_is_a_copy():
    x = np.ones(3)
    out = ACTIVATIONS["identity"](x)
    out[0] = 5.0
    assert x[0] == 1.0


def test_get_activation_by_name_and_passthrough():
    for name in NAMES:
        act = get_activation(name)
        assert isinstance(act, Activation) and act.name == name
        assert get_activation(act) is act
        assert repr(act) == f"Activation({name!r})"


@pytest.mark.parametrize("bad", ["bogus", "Tanh", None, 3])
def test_get_activation_unknown_names_the_choices(bad):
    with pytest.raises(ValueError) as info:
        get_activation(bad)
    message = str(info.value)
    assert repr(bad) in message
    for name in NAMES:
        assert name in message


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_thresholds_values_and_zero_derivative(name):
    act = get_activation(name)
    x = np.array([-2.0, -1e-300, 0.0, 1e-300, 3.0])
    expected = {"sign": [-1.0, -1.0, 0.0, 1.0, 1.0], "step": [0.0, 0.0, 0.0, 1.0, 1.0]}[name]
    np.testing.assert_array_equal(act(x), expected)
    np.testing.assert_array_equal(act.derivative(x), np.zeros(5))  # zero wherever it exists
    x_away = _points_away_from_zero()
    np.testing.assert_array_equal(act.derivative(x_away), _central_difference(act.value, x_away))
    assert act.second_derivative is None and not act.smooth
    assert act(np.ones(3, dtype=np.float32)).dtype == np.float32


def test_thresholds_stay_out_of_the_generic_suite():
    assert not set(THRESHOLDS) & set(ACTIVATIONS)
