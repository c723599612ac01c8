"""Tests of :mod:`nnlib.checks`: right derivatives pass, planted bugs fail.

The planted bugs wrap a real ``Dense`` Jacobian in a new LinearOperator; no
``Layer`` subclass is defined here, so the generic layer suite stays clean.
"""

import matplotlib.axes
import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator

from nnlib.checks import AdjointResult, TaylorResult, adjoint_test, taylor_test
from nnlib.layers import Dense


def _dense_problem(activation="tanh", shape=(3, 5, 7), dtype=np.float64, seed=0):
    n_in, n_out, n = shape
    layer = Dense(n_in, n_out, activation)
    rng = np.random.default_rng(seed)
    theta = layer.init_params(rng).astype(dtype)
    Y = rng.standard_normal((n_in, n)).astype(dtype)
    return rng, layer, theta, Y


def _scaled(J, factor):
    """J with matvec and rmatvec both scaled: self-consistent, but not the derivative."""
    return LinearOperator(
        J.shape, matvec=lambda v: factor * J.matvec(v), rmatvec=lambda w: factor * J.rmatvec(w), dtype=J.dtype
    )


def _without_activation_derivative(layer, theta, Y):
    """J_theta of Dense that forgets D = sigma'(A): the Jacobian of K Y + b."""
    K, _ = layer.unpack(theta)
    split = K.size
    m, n = layer.n_out, Y.shape[1]

    def matvec(v):
        return (v[:split].reshape(K.shape) @ Y + v[split:, None]).ravel()

    def rmatvec(w):
        W = np.reshape(w, (m, n))
        return np.concatenate([(W @ Y.T).ravel(), W.sum(axis=1)])

    return LinearOperator((m * n, layer.n_params), matvec=matvec, rmatvec=rmatvec, dtype=theta.dtype)


def _input_jacobian_with_wrong_rmatvec(layer, theta, Y, bug):
    """J_Y of Dense whose transpose is wrong in one of several classic ways."""
    K, b = layer.unpack(theta)
    A = K @ Y + b[:, None]
    D = layer.activation.derivative(A)
    m, n = A.shape

    def matvec(v):
        return (D * (K @ np.reshape(v, Y.shape))).ravel()

    def rmatvec(w):
        W = np.reshape(w, (m, n))
        if bug == "K instead of K^T":  # needs a square K
            return (K @ (D * W)).ravel()
        if bug == "forgets D":
            return (K.T @ W).ravel()
        if bug == "D applied after K^T":  # needs a square K
            return (D * (K.T @ W)).ravel()
        raise AssertionError(bug)

    return LinearOperator((m * n, Y.size), matvec=matvec, rmatvec=rmatvec, dtype=theta.dtype)


# --------------------------------------------------------------------------
# Taylor test: right passes, wrong fails
# --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu", "identity"])
def test_taylor_passes_for_correct_jacobians(activation):
    rng, layer, theta, Y = _dense_problem(activation)
    result = taylor_test(lambda th: layer.forward(th, Y), layer.jacobian_params(theta, Y), theta, rng=rng)
    assert isinstance(result, TaylorResult)
    assert result and result.passed
    assert "PASSED" in str(result)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu", "identity"])
def test_taylor_fails_for_a_jacobian_off_by_one_percent(activation):
    rng, layer, theta, Y = _dense_problem(activation)
    wrong = _scaled(layer.jacobian_params(theta, Y), 1.01)
    result = taylor_test(lambda th: layer.forward(th, Y), wrong, theta, rng=rng)
    assert not result
    assert result.passed is False
    assert "FAILED" in str(result)
    # E1 falls like h, not h^2: the observed order is 1.
    assert "order of E1 1.0" in result.message


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu"])
def test_taylor_fails_when_the_activation_derivative_is_forgotten(activation, dtype):
    rng, layer, theta, Y = _dense_problem(activation, dtype=dtype)
    wrong = _without_activation_derivative(layer, theta, Y)
    assert not taylor_test(lambda th: layer.forward(th, Y), wrong, theta, rng=rng)


def test_taylor_fails_for_a_ten_percent_error_in_float32():
    rng, layer, theta, Y = _dense_problem("tanh", dtype=np.float32)
    J = layer.jacobian_input(theta, Y)
    assert taylor_test(lambda Yh: layer.forward(theta, Yh), J, Y, rng=np.random.default_rng(1))
    assert not taylor_test(lambda Yh: layer.forward(theta, Yh), _scaled(J, 1.1), Y, rng=np.random.default_rng(1))


def test_taylor_planted_bug_passes_the_adjoint_test():
    """A consistently scaled Jacobian fools the adjoint test but not the Taylor test."""
    rng, layer, theta, Y = _dense_problem("tanh")
    wrong = _scaled(layer.jacobian_params(theta, Y), 1.01)
    assert adjoint_test(wrong, rng=rng)
    assert not taylor_test(lambda th: layer.forward(th, Y), wrong, theta, rng=rng)


# --------------------------------------------------------------------------
# Taylor test: kinds of J and f
# --------------------------------------------------------------------------


def _sin_problem(seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)

    def f(z):
        return np.sin(M @ z)

    J = np.cos(M @ x)[:, None] * M
    return rng, f, J, M, x


def test_taylor_with_an_ndarray_jacobian():
    rng, f, J, M, x = _sin_problem()
    assert taylor_test(f, J, x, rng=rng)
    assert not taylor_test(f, M, x, rng=rng)  # forgot the chain rule
    assert not taylor_test(f, 1.01 * J, x, rng=rng)  # off by one percent


def test_taylor_with_a_plain_callable():
    rng, f, J, M, x = _sin_problem()
    c = np.cos(M @ x)
    assert taylor_test(f, lambda v: c * (M @ v), x, rng=rng)
    assert not taylor_test(f, lambda v: M @ v, x, rng=rng)


def test_taylor_with_a_scalar_function():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3))

    def f(z):
        return float(np.sum(z**3) / 3 + np.sum(np.exp(z)))

    grad = x**2 + np.exp(x)
    assert taylor_test(f, lambda v: np.sum(grad * v), x, rng=rng)
    assert not taylor_test(f, lambda v: np.sum(x**2 * v), x, rng=rng)


def test_taylor_with_an_explicit_direction_is_reproducible():
    _, f, J, _, x = _sin_problem()
    v = np.array([1.0, -2.0, 0.5])
    a = taylor_test(f, J, x, v=v)
    b = taylor_test(f, J, x, v=v)
    assert a
    np.testing.assert_array_equal(a.E1, b.E1)


def test_taylor_with_a_linear_function_passes_at_round_off():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((5, 4))
    result = taylor_test(lambda z: A @ z, A, rng.standard_normal(4), rng=rng)
    assert result
    assert "round-off" in result.message


def test_taylor_with_a_locally_constant_function():
    rng = np.random.default_rng(2)
    result = taylor_test(lambda z: np.zeros(3), np.zeros((3, 4)), rng.standard_normal(4), rng=rng)
    assert result


def test_taylor_fails_for_a_function_that_is_not_differentiable():
    # |x| at 0: E1 = h |v| - h J v never falls faster than E0.
    result = taylor_test(np.abs, np.zeros((1, 1)), np.zeros(1), v=np.ones(1))
    assert not result


def test_taylor_needs_a_direction_or_a_generator():
    _, f, J, _, x = _sin_problem()
    with pytest.raises(ValueError, match="direction v or a generator rng"):
        taylor_test(f, J, x)


def test_taylor_rejects_mismatched_sizes():
    _, f, J, _, x = _sin_problem()
    with pytest.raises(ValueError, match=r"v must have the shape of x, \(3,\); got shape \(4,\)"):
        taylor_test(f, J, x, v=np.ones(4))
    with pytest.raises(ValueError, match="size of f"):
        taylor_test(f, np.ones((5, 3)), x, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="J must be"):
        taylor_test(f, "not a jacobian", x, rng=np.random.default_rng(0))


# --------------------------------------------------------------------------
# Taylor result: table and plot
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_steps", [5, 12, 20])
def test_taylor_table_has_one_line_per_step(n_steps):
    rng, f, J, _, x = _sin_problem()
    result = taylor_test(f, J, x, rng=rng, n_steps=n_steps)
    assert len(result.h) == len(result.E0) == len(result.E1) == n_steps
    assert len(result.order) == n_steps - 1
    lines = result.table().splitlines()
    header, rows = lines[0], lines[1:]
    assert "E0" in header and "E1" in header
    assert len(rows) == n_steps
    for h, row in zip(result.h, rows):
        assert float(row.split()[0]) == pytest.approx(h, rel=1e-2)
    # Steps halve h.
    np.testing.assert_allclose(result.h[1:] / result.h[:-1], 0.5)


def test_taylor_plot_returns_axes():
    import matplotlib.pyplot as plt

    rng, f, J, _, x = _sin_problem()
    for result in (taylor_test(f, J, x, rng=rng), taylor_test(f, 1.01 * J, x, rng=rng)):
        ax = result.plot()
        assert isinstance(ax, matplotlib.axes.Axes)
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert len(ax.get_lines()) >= 2
    _, given = plt.subplots()
    assert taylor_test(f, J, x, rng=rng).plot(ax=given) is given


def test_taylor_plot_of_a_linear_function_with_zero_error():
    """E1 exactly 0 must not break the log-log plot."""
    A = np.eye(3)
    result = taylor_test(lambda z: A @ z, A, np.ones(3), v=np.ones(3))
    assert result
    assert isinstance(result.plot(), matplotlib.axes.Axes)


def test_taylor_result_name_in_str():
    rng, f, J, _, x = _sin_problem()
    assert "of sin layer" in str(taylor_test(f, J, x, rng=rng, name="sin layer"))


# --------------------------------------------------------------------------
# adjoint test
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_adjoint_passes_for_correct_jacobians(activation, dtype):
    rng, layer, theta, Y = _dense_problem(activation, shape=(4, 4, 6), dtype=dtype)
    for J in (layer.jacobian_params(theta, Y), layer.jacobian_input(theta, Y)):
        result = adjoint_test(J, rng=rng)
        assert isinstance(result, AdjointResult)
        assert result, str(result)
        assert "PASSED" in str(result)
        assert result.rtol == (1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("bug", ["K instead of K^T", "forgets D", "D applied after K^T"])
def test_adjoint_fails_for_a_wrong_transpose(bug, dtype):
    rng, layer, theta, Y = _dense_problem("tanh", shape=(4, 4, 6), dtype=dtype)
    wrong = _input_jacobian_with_wrong_rmatvec(layer, theta, Y, bug)
    result = adjoint_test(wrong, rng=rng, name="planted")
    assert not result
    assert result.passed is False
    assert result.rel_error > result.rtol
    assert "FAILED" in str(result) and "planted" in str(result)


def test_adjoint_fails_for_the_forgotten_activation_derivative_in_rmatvec_only():
    rng, layer, theta, Y = _dense_problem("sigmoid")
    J = layer.jacobian_params(theta, Y)
    K_Y_b = _without_activation_derivative(layer, theta, Y)
    wrong = LinearOperator(J.shape, matvec=J.matvec, rmatvec=K_Y_b.rmatvec, dtype=J.dtype)
    assert not adjoint_test(wrong, rng=rng)


def test_adjoint_with_ndarray_and_explicit_vectors():
    A = np.arange(6.0).reshape(2, 3)
    result = adjoint_test(A, u=np.array([1.0, 2.0]), v=np.array([1.0, 0.0, -1.0]))
    assert result
    # u^T A v by hand: A v = (-2, -2), so u^T A v = -6.
    assert result.lhs == pytest.approx(-6.0) and result.rhs == pytest.approx(-6.0)


def test_adjoint_respects_rtol():
    J = LinearOperator((3, 3), matvec=lambda v: v, rmatvec=lambda w: (1 + 1e-6) * w, dtype=np.float64)
    rng = np.random.default_rng(0)
    assert not adjoint_test(J, rng=rng)
    assert adjoint_test(J, rng=np.random.default_rng(0), rtol=1e-5)


def test_adjoint_input_errors():
    with pytest.raises(ValueError, match="u and v or a generator rng"):
        adjoint_test(np.eye(3))
    with pytest.raises(ValueError, match="lengths 2 and 3; got 3 and 3"):
        adjoint_test(np.ones((2, 3)), u=np.ones(3), v=np.ones(3))
    with pytest.raises(ValueError, match="2-D operator"):
        adjoint_test(lambda v: v, rng=np.random.default_rng(0))
