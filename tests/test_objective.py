"""SingleLayerObjective: derivatives, Gauss-Newton operator, caching, work units, validation."""

import numpy as np
import pytest

from nnlib import Dense, LeastSquares, SoftmaxCrossEntropy, adjoint_test, taylor_test
from nnlib.data import one_hot
from nnlib.objective import SingleLayerObjective, subsample


def make_objective(loss="mse", n=30, n_features=3, width=6, n_targets=2, reg_theta=1e-3, reg_W=1e-2, seed=0):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n_features, n))
    if loss == "mse":
        C, loss_fn = rng.standard_normal((n_targets, n)), LeastSquares()
    else:
        C, loss_fn = one_hot(rng.integers(0, n_targets, n), n_targets), SoftmaxCrossEntropy()
    objective = SingleLayerObjective(Dense(n_features, width, "tanh"), loss_fn, Y, C, reg_theta=reg_theta, reg_W=reg_W)
    return objective, objective.init_params(rng), rng


@pytest.mark.parametrize("loss", ["mse", "softmax"])
def test_gradient_passes_taylor_test(loss):
    objective, x, rng = make_objective(loss, n_targets=3)
    g = objective.gradient(x)
    assert taylor_test(objective.value, lambda v: g @ v, x, rng=rng)


@pytest.mark.parametrize("loss", ["mse", "softmax"])
@pytest.mark.parametrize("coupling", [True, False])
def test_gauss_newton_operator_is_symmetric_and_psd(loss, coupling):
    objective, x, rng = make_objective(loss, n_targets=3, reg_theta=0.0, reg_W=0.0)
    H = objective.gauss_newton_operator(x, coupling=coupling)
    assert H.shape == (objective.n_params, objective.n_params)
    assert adjoint_test(H, rng=rng)
    dense = H @ np.eye(objective.n_params)
    assert np.allclose(dense, dense.T, atol=1e-12)
    assert np.linalg.eigvalsh(0.5 * (dense + dense.T)).min() >= -1e-10


def test_gauss_newton_is_jacobian_transpose_jacobian_for_least_squares(fd_jacobian):
    objective, x, _ = make_objective("mse", reg_theta=0.1, reg_W=0.2)
    scores = lambda z: objective.predict(z, objective.Y)  # noqa: E731
    J = fd_jacobian(scores, x)
    expected = J.T @ J / objective.n_examples
    expected[: objective.n_theta, : objective.n_theta] += 0.1 * np.eye(objective.n_theta)
    expected[objective.n_theta :, objective.n_theta :] += 0.2 * np.eye(objective.n_params - objective.n_theta)
    dense = objective.gauss_newton_operator(x) @ np.eye(objective.n_params)
    assert np.allclose(dense, expected, atol=1e-7)
    # The block-diagonal variant keeps exactly the diagonal blocks.
    block = objective.gauss_newton_operator(x, coupling=False) @ np.eye(objective.n_params)
    t = objective.n_theta
    assert np.allclose(block[:t, :t], expected[:t, :t], atol=1e-7)
    assert np.allclose(block[t:, t:], expected[t:, t:], atol=1e-7)
    assert np.all(block[:t, t:] == 0) and np.all(block[t:, :t] == 0)


def test_forward_pass_is_cached_and_work_is_counted():
    objective, x, _ = make_objective()
    assert objective.work_units == 0
    objective.value(x)
    assert objective.work_units == 1  # one forward pass
    objective.value_and_gradient(x)
    assert objective.work_units == 2  # plus one backward pass, forward reused
    objective.value_and_gradient(x)
    H = objective.gauss_newton_operator(x)
    assert objective.work_units == 2
    H.matvec(np.ones(objective.n_params))
    assert objective.work_units == 4  # one J v and one J^T w
    objective.value(x + 1.0)
    assert objective.work_units == 5


def test_mini_batch_gradient_and_work():
    objective, x, _ = make_objective(n=40)
    everything = np.arange(40)
    f_full, g_full = objective.value_and_gradient(x)
    before = objective.work_units
    f_batch, g_batch = objective.value_and_gradient(x, everything)
    assert np.isclose(f_batch, f_full) and np.allclose(g_batch, g_full)
    assert objective.work_units - before == pytest.approx(2.0)
    before = objective.work_units
    objective.value_and_gradient(x, np.arange(10))
    assert objective.work_units - before == pytest.approx(2 * 10 / 40)


def test_split_join_roundtrip():
    objective, x, _ = make_objective()
    theta, W = objective.split(x)
    assert W.shape == objective.W_shape == (2, 6)
    assert np.array_equal(objective.join(theta, W), x)


def test_invalid_inputs_name_shapes():
    rng = np.random.default_rng(1)
    layer, loss = Dense(3, 4), LeastSquares()
    with pytest.raises(ValueError, match=r"Y must have shape \(3, n_examples\); got shape \(2, 5\)"):
        SingleLayerObjective(layer, loss, rng.standard_normal((2, 5)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"C must have one column per example of Y.*\(1, 6\)"):
        SingleLayerObjective(layer, loss, rng.standard_normal((3, 5)), np.zeros((1, 6)))
    with pytest.raises(ValueError, match="reg_W must be a non-negative"):
        SingleLayerObjective(layer, loss, rng.standard_normal((3, 5)), np.zeros((1, 5)), reg_W=-1.0)
    with pytest.raises(ValueError, match="one-hot"):
        SingleLayerObjective(layer, SoftmaxCrossEntropy(), rng.standard_normal((3, 5)), np.ones((2, 5)))
    objective = SingleLayerObjective(layer, loss, rng.standard_normal((3, 5)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"x must be a 1-D array of length 20; got shape \(7,\)"):
        objective.value(np.zeros(7))
    with pytest.raises(TypeError, match="layer must be an nnlib Layer.*object"):
        SingleLayerObjective(object(), loss, rng.standard_normal((3, 5)), np.zeros((1, 5)))
    with pytest.raises(TypeError, match="loss must be an nnlib Loss.*str"):
        SingleLayerObjective(Dense(3, 2), "mse", rng.standard_normal((3, 5)), np.zeros((1, 5)))


def test_sample_average_approximation_subsamples_once():
    rng = np.random.default_rng(2)
    Y, C = rng.standard_normal((3, 50)), rng.standard_normal((1, 50))
    objective = SingleLayerObjective(Dense(3, 4), LeastSquares(), Y, C, sample_size=20, rng=np.random.default_rng(5))
    assert objective.n_examples == 20
    Ys, Cs = subsample(Y, C, 20, np.random.default_rng(5))
    assert np.array_equal(objective.Y, Ys) and np.array_equal(objective.C, Cs)
    with pytest.raises(ValueError, match=r"sample_size \(at most n = 50\) must be an integer in"):
        subsample(Y, C, 51, rng)
    with pytest.raises(ValueError, match="rng is only used"):
        SingleLayerObjective(Dense(3, 4), LeastSquares(), Y, C, rng=rng)
