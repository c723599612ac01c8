"""Tests of :mod:`nnlib.optim.proximal`: the soft threshold and ISTA against independent solves."""

import numpy as np
import pytest
from scipy.optimize import minimize

from nnlib import LeastSquares, LinearHeadObjective
from nnlib.layers import AppendOnes
from nnlib.optim import Status, proximal_gradient, soft_threshold


def lasso_problem(seed=0, n=40, p=12, reg_W=0.0):
    """A regression with a sparse truth; the objective's x is W (1 x (p+1)), bias last."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((p, n))
    truth = np.zeros(p)
    truth[:3] = [2.0, -1.5, 1.0]
    C = (truth @ Y + 0.5 + 0.1 * rng.standard_normal(n))[None, :]
    return lambda: LinearHeadObjective(AppendOnes(p), LeastSquares(), Y, C, reg_W=reg_W)


def penalty_weights(p, lam):
    weights = np.full(p + 1, lam)
    weights[-1] = 0.0  # the bias is not penalized
    return weights


def test_soft_threshold_known_values():
    x = np.array([-3.0, -0.5, 0.0, 0.2, 1.0, 4.0])
    assert np.array_equal(soft_threshold(x, 1.0), [-2.0, 0.0, 0.0, 0.0, 0.0, 3.0])
    assert np.array_equal(soft_threshold(x, 0.0), x)
    assert np.array_equal(soft_threshold(x, [0, 0, 0, 0, 2, 0]), [-3.0, -0.5, 0.0, 0.2, 0.0, 4.0])


def test_soft_threshold_is_the_proximal_map():
    rng = np.random.default_rng(1)
    v, t = rng.standard_normal(20), 0.4
    grid = np.linspace(-4, 4, 80001)
    brute = [grid[np.argmin(t * np.abs(grid) + 0.5 * (grid - vi) ** 2)] for vi in v]
    assert np.allclose(soft_threshold(v, t), brute, atol=1e-4)


@pytest.mark.parametrize("threshold, needle", [(-1.0, "non-negative"), (np.nan, "non-negative"),
                                               (np.ones(3), "broadcast")])
def test_soft_threshold_rejects_bad_thresholds(threshold, needle):
    with pytest.raises(ValueError, match=needle):
        soft_threshold(np.ones(5), threshold)


def reference_lasso(objective, weights):
    """The same problem, split x = u - v with u, v >= 0, solved by L-BFGS-B to tight tolerance."""
    m = objective.n_params

    def fun(z):
        x = z[:m] - z[m:]
        f, g = objective.value_and_gradient(x)
        return f + weights @ (z[:m] + z[m:]), np.concatenate([g + weights, -g + weights])

    result = minimize(fun, np.zeros(2 * m), jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * m),
                      options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
    return result.x[:m] - result.x[m:]


@pytest.mark.parametrize("lam", [0.01, 0.1, 0.5])
def test_ista_matches_an_independent_lasso_solve(lam):
    make = lasso_problem()
    weights = penalty_weights(12, lam)
    result = proximal_gradient(make(), np.zeros(13), weights, max_iter=5000, tol=1e-10)
    assert result.status == Status.CONVERGED, result
    assert np.allclose(result.x, reference_lasso(make(), weights), atol=1e-6)


def test_ista_sets_exact_zeros_and_keeps_the_bias():
    make = lasso_problem()
    result = proximal_gradient(make(), np.zeros(13), penalty_weights(12, 0.1), max_iter=5000, tol=1e-10)
    assert np.count_nonzero(result.x[:3]) == 3 and np.all(result.x[3:12] == 0.0)
    assert result.x[-1] != 0.0


def test_ista_without_penalty_is_least_squares():
    make = lasso_problem()
    objective = make()
    result = proximal_gradient(objective, np.zeros(13), 0.0, max_iter=5000, tol=1e-12)
    Z = np.vstack([objective.Y, np.ones(objective.n_examples)])
    expected, *_ = np.linalg.lstsq(Z.T, objective.C[0], rcond=None)
    assert np.allclose(result.x, expected, atol=1e-8)


def test_a_large_penalty_gives_zero_weights():
    make = lasso_problem()
    objective = make()
    start = np.zeros(13)
    start[-1] = 0.5 + 0.1  # any bias: the weights' gradient at zero is what decides
    lam = 10.0 * np.max(np.abs(objective.gradient(np.zeros(13))[:12])) + 10.0
    result = proximal_gradient(objective, start, penalty_weights(12, lam), max_iter=2000, tol=1e-12)
    assert np.all(result.x[:12] == 0.0)


def test_result_invariants():
    make = lasso_problem(reg_W=1e-3)
    objective = make()
    x0 = np.ones(13)
    x0_copy = x0.copy()
    weights = penalty_weights(12, 0.05)
    result = proximal_gradient(objective, x0, weights, max_iter=5, tol=1e-14)
    assert np.array_equal(x0, x0_copy)
    assert len(result.history.loss) == result.n_iter + 1
    losses = np.array(result.history.loss)
    assert np.all(losses[1:] <= losses[:-1] + 1e-15)
    assert np.isclose(result.loss, make().value(result.x) + weights @ np.abs(result.x), rtol=1e-12)
    assert result.history.loss[-1] == result.loss
    assert result.status == Status.MAX_ITER and not result.success
    zero = proximal_gradient(make(), x0, weights, max_iter=0)
    assert zero.n_iter == 0 and np.array_equal(zero.x, x0)


def test_target_and_callback_stop_the_run():
    make = lasso_problem()
    weights = penalty_weights(12, 0.1)
    first = make().value(np.zeros(13))
    result = proximal_gradient(make(), np.zeros(13), weights, target_loss=0.5 * first)
    assert result.status == Status.TARGET_REACHED and result.loss <= 0.5 * first
    stopped = proximal_gradient(make(), np.zeros(13), weights, callback=lambda x: True)
    assert stopped.status == Status.CALLBACK and stopped.n_iter == 0


@pytest.mark.parametrize("l1, needle", [(-1.0, "l1"), (np.ones(5), "length n_params = 13"),
                                        (np.full(13, -1.0), "non-negative")])
def test_bad_penalties_are_value_errors(l1, needle):
    with pytest.raises(ValueError, match=needle):
        proximal_gradient(lasso_problem()(), np.zeros(13), l1)
