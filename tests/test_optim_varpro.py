"""Variable projection: exact inner solves, reduced gradient, reduced Gauss-Newton, the solver."""

import numpy as np
import pytest

from nnlib import Dense, LeastSquares, SoftmaxCrossEntropy, adjoint_test, taylor_test
from nnlib.data import one_hot, peaks
from nnlib.objective import SingleLayerObjective
from nnlib.optim import ReducedObjective, Status, gauss_newton, varpro


def problem(loss="mse", n=60, width=5, reg_W=0.0, reg_theta=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((3, n))
    if loss == "mse":
        C, loss_fn = rng.standard_normal((2, n)), LeastSquares()
    else:
        C, loss_fn = one_hot(rng.integers(0, 3, n), 3), SoftmaxCrossEntropy()
    objective = SingleLayerObjective(Dense(3, width, "tanh"), loss_fn, Y, C, reg_theta=reg_theta, reg_W=reg_W)
    return objective, objective.init_params(rng)[: objective.n_theta], rng


def test_least_squares_inner_solve_matches_lstsq():
    objective, theta, _ = problem(reg_W=0.0)
    Z = objective.features(theta)
    W_lstsq = np.linalg.lstsq(Z.T, objective.C.T, rcond=None)[0].T
    assert np.allclose(ReducedObjective(objective).solve_W(theta), W_lstsq, atol=1e-10)


def test_regularized_least_squares_inner_solve_matches_normal_equations():
    objective, theta, _ = problem(reg_W=0.1)
    Z, C, n = objective.features(theta), objective.C, objective.n_examples
    W_normal = np.linalg.solve(Z @ Z.T + 0.1 * n * np.eye(Z.shape[0]), Z @ C.T).T
    W = ReducedObjective(objective).solve_W(theta)
    assert np.allclose(W, W_normal, atol=1e-10)
    assert np.linalg.norm(objective.gradient(objective.join(theta, W))[objective.n_theta :]) < 1e-12


def test_cross_entropy_inner_newton_cg_zeroes_the_W_gradient():
    objective, theta, _ = problem("softmax", reg_W=1e-2)
    reduced = ReducedObjective(objective, inner_gtol=1e-11, inner_rtol=0.0, inner_max_iter=50, inner_cg_rtol=1e-8)
    W = reduced.solve_W(theta)
    assert np.linalg.norm(objective.gradient(objective.join(theta, W))[objective.n_theta :]) <= 1e-11


@pytest.mark.parametrize("loss, reg_W", [("mse", 0.0), ("mse", 1e-2), ("softmax", 1e-2)])
def test_reduced_gradient_passes_taylor_test_with_accurate_inner_solve(loss, reg_W):
    objective, theta, rng = problem(loss, reg_W=reg_W)
    reduced = ReducedObjective(objective, inner_gtol=1e-12, inner_rtol=0.0, inner_max_iter=100, inner_cg_rtol=1e-10)
    _, g = reduced.value_and_gradient(theta)
    assert g.shape == (objective.n_theta,)
    assert taylor_test(reduced.value, lambda v: g @ v, theta, rng=rng, h0=0.5)


@pytest.mark.parametrize("loss, projected", [("mse", True), ("mse", False), ("softmax", True)])
def test_reduced_gauss_newton_is_symmetric_psd(loss, projected):
    objective, theta, rng = problem(loss, reg_W=1e-2, reg_theta=0.0)
    H = ReducedObjective(objective, projected=projected).gauss_newton_operator(theta)
    assert adjoint_test(H, rng=rng)
    dense = H @ np.eye(objective.n_theta)
    assert np.linalg.eigvalsh(0.5 * (dense + dense.T)).min() >= -1e-10


def test_projected_gauss_newton_is_exact_at_zero_residual(fd_jacobian):
    """At a zero residual Kaufman's matrix equals J_red^T J_red / n, with J_red the
    Jacobian of the reduced residual theta -> W(theta) Z(theta) - C."""
    rng = np.random.default_rng(4)
    layer = Dense(2, 3, "tanh")
    Y, theta = rng.standard_normal((2, 40)), layer.init_params(rng)
    C = rng.standard_normal((2, 3)) @ layer.forward(theta, Y)
    objective = SingleLayerObjective(layer, LeastSquares(), Y, C)
    reduced = ReducedObjective(objective)
    residual = lambda t: reduced.solve_W(t) @ objective.features(t) - C  # noqa: E731
    J_red = fd_jacobian(residual, theta)
    H = reduced.gauss_newton_operator(theta) @ np.eye(objective.n_theta)
    assert np.allclose(H, J_red.T @ J_red / 40, atol=1e-8)


def test_varpro_beats_joint_gauss_newton_on_peaks():
    rng = np.random.default_rng(0)
    Y, C = peaks(300, rng)
    objective = SingleLayerObjective(Dense(2, 8, "tanh"), LeastSquares(), Y, C, reg_theta=1e-5, reg_W=1e-5)
    x0 = objective.init_params(rng)
    result = varpro(objective, x0, max_iter=20)
    assert result.status in (Status.MAX_ITER, Status.CONVERGED) and result.x.shape == (objective.n_params,)
    theta, W = objective.split(result.x)
    assert np.allclose(W, ReducedObjective(objective).solve_W(theta))  # x carries W(theta)
    assert np.isclose(result.loss, objective.value(result.x))
    joint = gauss_newton(objective, x0, max_iter=20)
    assert result.loss < joint.loss
    assert all(b <= a for a, b in zip(result.history.loss, result.history.loss[1:]))


def test_varpro_steepest_and_cross_entropy_decrease_the_loss():
    rng = np.random.default_rng(1)
    Y, C = peaks(200, rng, n_classes=3)
    objective = SingleLayerObjective(Dense(2, 6, "tanh"), SoftmaxCrossEntropy(), Y, C, reg_theta=1e-4, reg_W=1e-3)
    x0 = objective.init_params(rng)
    for outer in ("gauss_newton", "steepest"):
        result = varpro(objective, x0, outer=outer, max_iter=10)
        assert result.status in (Status.MAX_ITER, Status.CONVERGED)
        assert result.history.loss[-1] < result.history.loss[0]
        assert result.history.work[-1] > 0


def test_varpro_bad_settings():
    objective, theta, _ = problem()
    with pytest.raises(ValueError, match="outer must be 'gauss_newton' or 'steepest'"):
        varpro(objective, theta, outer="adam")
    with pytest.raises(ValueError, match=r"x0 must be a 1-D array of length n_params = 30 \(theta and W\) or n_theta = 20"):
        varpro(objective, np.zeros(7))
    with pytest.raises(ValueError, match="linear last layer"):
        ReducedObjective(object())


class CountingCrossEntropy(SoftmaxCrossEntropy):
    """Counts the calls that the Newton-CG inner solve makes, to predict its multiply-adds."""

    def __init__(self):
        super().__init__()
        self.calls = {"value": 0, "gradient": 0, "hessian_matvec": 0}

    def value(self, S, C):
        self.calls["value"] += 1
        return super().value(S, C)

    def gradient(self, S, C):
        self.calls["gradient"] += 1
        return super().gradient(S, C)

    def hessian_matvec(self, S, C, V):
        self.calls["hessian_matvec"] += 1
        return super().hessian_matvec(S, C, V)


@pytest.mark.parametrize("reg_W", [0.0, 1e-2])
def test_least_squares_inner_work_is_multiply_adds_over_one_pass(reg_W):
    """One work unit is n * n_theta multiply-adds; the inner charges follow that rule exactly, with no floor."""
    rng = np.random.default_rng(0)
    Y, C = rng.standard_normal((10, 60)), rng.standard_normal((2, 60))
    objective = SingleLayerObjective(Dense(10, 3, "tanh"), LeastSquares(), Y, C, reg_W=reg_W)
    theta = objective.init_params(rng)[: objective.n_theta]
    n, n_theta, (t, m) = objective.n_examples, objective.n_theta, objective.W_shape
    unit = n * n_theta
    v = rng.standard_normal(n_theta)

    kaufman = ReducedObjective(objective)
    kaufman.solve_W(theta)
    solve = (m * m + m * t) * n if reg_W > 0 else (4 * m * m + m * t) * n  # normal equations or thin SVD
    assert kaufman.inner_work == pytest.approx(solve / unit)
    if reg_W > 0:
        assert kaufman.inner_work < 1  # narrow last layer: less than a pass, no rounding up
    H = kaufman.gauss_newton_operator(theta)
    setup = 3 * m * m * n if reg_W > 0 else 0  # projection factors M^{-1} Z, (M^{-1} Z Z^T) M^{-1} Z
    assert kaufman.inner_work == pytest.approx((solve + setup) / unit)
    passes = objective.work_units
    H.matvec(v)
    H.matvec(v)
    r = m  # Z has full row rank here
    assert kaufman.inner_work == pytest.approx((solve + setup + 2 * (2 * r * t * n)) / unit)
    assert objective.work_units - passes == 4  # J v and J^T w, twice

    golub_pereyra = ReducedObjective(objective, projected="golub-pereyra")
    golub_pereyra.solve_W(theta)
    H = golub_pereyra.gauss_newton_operator(theta)
    setup = t * m * n + (m * m * n if reg_W > 0 else m * r * n)  # R = W Z - C and M^{-1} Z (or M^+ Z)
    assert golub_pereyra.inner_work == pytest.approx((solve + setup) / unit)
    H.matvec(v)
    assert golub_pereyra.inner_work == pytest.approx((solve + setup + (4 * r + 4 * m) * t * n) / unit)


def test_cross_entropy_inner_work_is_multiply_adds_over_one_pass():
    """Each product with Z (W Z, G Z^T, V Z, H Z^T) costs t m n multiply-adds, i.e. t m / n_theta units."""
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((2, 60))
    loss = CountingCrossEntropy()
    objective = SingleLayerObjective(Dense(2, 5, "tanh"), loss, Y, one_hot(rng.integers(0, 4, 60), 4), reg_W=1e-2)
    theta = objective.init_params(rng)[: objective.n_theta]
    (t, m), n_theta = objective.W_shape, objective.n_theta
    reduced = ReducedObjective(objective, inner_gtol=1e-10, inner_rtol=0.0)
    reduced.solve_W(theta)
    calls = loss.calls
    assert calls["gradient"] >= 2 and calls["hessian_matvec"] >= 2
    # per Newton iteration: W Z and G Z^T (the loss value reuses W Z); per Hessian product V Z and H Z^T;
    # per line-search value W Z
    products = 2 * calls["gradient"] + 2 * calls["hessian_matvec"] + (calls["value"] - calls["gradient"])
    assert reduced.inner_work == pytest.approx(products * t * m / n_theta)
    assert t * m / n_theta > 1  # wider scores than parameters per pass: more than a unit per product
    assert objective.work_units == 1  # the features, one forward pass
