"""Tests of :mod:`nnlib.networks` beyond the generic layer suite (which covers Taylor and adjoint tests).

Here: the networks equal their definitions written out by hand, their
Jacobians match central differences entry by entry, bad compositions are
refused with a clear message, and the solvers train a deep network unchanged.
"""

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator

from nnlib import Dense, LeastSquares, Residual, Sequential, SingleLayerObjective
from nnlib.checks import adjoint_test
from nnlib.conv import AvgPool1D, Conv1D
from nnlib.data import peaks
from nnlib.optim import gauss_newton, sgd, varpro


def _resnet(n_in=2, width=4, depth=3, step=0.5, activation="tanh"):
    return Sequential(Dense(n_in, width, activation), *[Residual(Dense(width, width, activation), step=step) for _ in range(depth)])


def test_sequential_forward_is_the_composition():
    layers = [Dense(3, 4, "tanh"), Dense(4, 4, "relu"), Dense(4, 2, "identity")]
    net = Sequential(*layers)
    rng = np.random.default_rng(0)
    theta = net.init_params(rng)
    Y = rng.standard_normal((3, 6))
    state = Y
    for layer, theta_l in zip(layers, net.split_params(theta)):
        state = layer.forward(theta_l, state)
    np.testing.assert_array_equal(net.forward(theta, Y), state)
    assert net.n_params == sum(layer.n_params for layer in layers)
    assert [s.shape for s in net.states(theta, Y)] == [(3, 6), (4, 6), (4, 6), (2, 6)]


def test_residual_is_identity_plus_step_times_layer():
    inner = Dense(3, 3, "tanh")
    block = Residual(inner, step=0.1)
    rng = np.random.default_rng(1)
    theta = block.init_params(rng)
    Y = rng.standard_normal((3, 5))
    np.testing.assert_allclose(block.forward(theta, Y), Y + 0.1 * inner.forward(theta, Y), rtol=1e-15)


def test_init_params_draws_each_layer_in_order():
    net = _resnet()
    theta = net.init_params(np.random.default_rng(3))
    rng = np.random.default_rng(3)
    expected = np.concatenate([layer.init_params(rng) for layer in net.layers])
    np.testing.assert_array_equal(theta, expected)
    assert net.init_params(np.random.default_rng(3), dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _resnet(depth=2), id="resnet"),
        pytest.param(lambda: Sequential(Dense(2, 3, "sigmoid"), Dense(3, 3, "tanh"), Dense(3, 1, "identity")), id="plain"),
        pytest.param(lambda: Sequential(Conv1D(1, 2, 6, 3, boundary="zero"), AvgPool1D(2, 6), Dense(6, 2)), id="conv"),
    ],
)
def test_jacobians_match_central_differences(make, fd_jacobian):
    net = make()
    rng = np.random.default_rng(5)
    theta = net.init_params(rng)
    Y = rng.standard_normal((net.n_in, 4))
    for J, fd in [
        (net.jacobian_params(theta, Y), fd_jacobian(lambda th: net.forward(th, Y), theta)),
        (net.jacobian_input(theta, Y), fd_jacobian(lambda Yh: net.forward(theta, Yh), Y)),
    ]:
        columns = np.column_stack([J.matvec(e) for e in np.eye(J.shape[1])])
        rows = np.column_stack([J.rmatvec(e) for e in np.eye(J.shape[0])]).T
        np.testing.assert_allclose(columns, fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(rows, fd, rtol=1e-6, atol=1e-8)


def test_dense_input_jacobian_from_parameter_jacobian_equals_jacobian_input():
    layer = Dense(3, 4, "softplus")
    rng = np.random.default_rng(2)
    theta, Y = layer.init_params(rng), rng.standard_normal((3, 5))
    _, J = layer.forward_and_jacobian(theta, Y)
    v, w = rng.standard_normal(Y.size), rng.standard_normal(20)
    np.testing.assert_allclose(J.input_jacobian().matvec(v), layer.jacobian_input(theta, Y).matvec(v), rtol=1e-14)
    np.testing.assert_allclose(J.input_jacobian().rmatvec(w), layer.jacobian_input(theta, Y).rmatvec(w), rtol=1e-14)


def test_adjoint_test_catches_a_backward_pass_in_the_wrong_order():
    # The transpose of B_2 B_1 is B_1^T B_2^T; applying B_1^T first is the classic backprop bug.
    net = Sequential(Dense(2, 3, "tanh"), Dense(3, 3, "tanh"), Dense(3, 3, "tanh"))
    rng = np.random.default_rng(4)
    theta, Y = net.init_params(rng), rng.standard_normal((2, 5))
    right = net.jacobian_input(theta, Y)
    blocks = [layer.jacobian_input(t, s) for layer, t, s in zip(net.layers, net.split_params(theta), net.states(theta, Y))]
    def wrong_rmatvec(w):
        return blocks[0].rmatvec(blocks[2].rmatvec(blocks[1].rmatvec(w)))

    wrong = LinearOperator(right.shape, matvec=right.matvec, rmatvec=wrong_rmatvec, dtype=right.dtype)
    assert adjoint_test(right, rng=rng)
    assert not adjoint_test(wrong, rng=rng)


@pytest.mark.parametrize(
    "make, needles",
    [
        (lambda: Sequential(), ["at least one layer"]),
        (lambda: Sequential(Dense(2, 3), Dense(4, 1)), ["n_out = 3", "n_in = 4", "layer 1"]),
        (lambda: Residual(Dense(2, 3)), ["n_in = 2", "n_out = 3"]),
        (lambda: Residual(Dense(2, 2), step=0.0), ["step", "0.0"]),
        (lambda: Residual(Dense(2, 2), step=float("nan")), ["step", "nan"]),
    ],
)
def test_bad_compositions_are_refused_clearly(make, needles):
    """(A non-layer in a Sequential is a TypeError: test_non_layers_are_refused.)"""
    with pytest.raises(ValueError) as info:
        make()
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} missing from {info.value}"


def test_bad_input_names_the_expected_shape():
    net = _resnet(n_in=2)
    theta = net.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="2"):
        net.forward(theta, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=str(net.n_params)):
        net.forward(theta[:-1], np.zeros((2, 4)))


@pytest.fixture
def peaks_resnet():
    rng = np.random.default_rng(0)
    Y, C = peaks(300, rng)
    objective = SingleLayerObjective(_resnet(width=6, depth=3, step=0.5), LeastSquares(), Y, C, reg_theta=1e-4, reg_W=1e-4)
    return objective, objective.init_params(rng)


def test_solvers_train_a_resnet_unchanged(peaks_resnet):
    objective, x0 = peaks_resnet
    f0 = objective.value(x0)
    result_gn = gauss_newton(objective, x0, max_iter=15)
    result_sgd = sgd(objective, x0, learning_rate=1e-2, max_iter=50, batch_size=30, rng=np.random.default_rng(1))
    theta0 = x0[: objective.n_theta]
    result_vp = varpro(objective, theta0, max_iter=15)
    assert result_gn.loss < 0.5 * f0
    assert result_sgd.loss < f0
    assert result_vp.loss < 0.5 * f0


def test_non_layers_are_refused():
    with pytest.raises(TypeError, match="layer 1 must be an nnlib Layer.*str"):
        Sequential(Dense(2, 3), "tanh")
    with pytest.raises(TypeError, match="Residual needs an nnlib Layer"):
        Residual("tanh")
