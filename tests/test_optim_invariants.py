"""Invariants every solver result must satisfy, on generated problems (Hypothesis).

For every solver and problem family (regression, classification, singular data, a
start at an exact minimizer, objectives that produce NaN), with budgets of 0, 1 and
more iterations and tiny to huge steps:

* ``result.loss`` is the objective at ``result.x`` (checked on a fresh objective, so no
  cache can make it true), and so is the last history entry;
* ``history.grad_norm[-1]`` is the gradient norm at ``result.x`` where it was computed;
* the history has ``n_iter + 1`` entries;
* descent methods never increase the loss;
* ``success`` is true exactly when a stopping test holds at ``result.x``;
* the start ``x0`` is not mutated, and ``result.x`` shares no memory with the objective.

The number of generated cases is printed at the end of the test run (tests/conftest.py).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlib import Dense, LeastSquares, SoftmaxCrossEntropy
from nnlib.data import one_hot, peaks
from nnlib.objective import SingleLayerObjective
from nnlib.optim import (
    ReducedObjective,
    Status,
    adam,
    gauss_newton,
    levenberg_marquardt,
    sgd,
    steepest_descent,
    varpro,
)

CASES = {"count": 0}  # read by tests/conftest.py for the summary line
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DESCENT = {"steepest", "gauss_newton", "gauss_newton_blockdiag", "levenberg_marquardt", "levenberg_marquardt_cg", "varpro",
           "varpro_steepest"}


# ---------------------------------------------------------------------------------- problems
def make_problem(family, loss, n, width, seed):
    """``(make_objective, x0)``: a factory (fresh objectives for checking) and a start."""
    rng = np.random.default_rng(seed)
    if loss == "mse":
        Y, C = peaks(n, rng)
    else:
        Y, C = peaks(n, rng, n_classes=3)
    start_at_optimum = False
    if family == "singular":
        Y = np.vstack([Y[:1], Y[:1]])  # two identical features: a rank-deficient design
    elif family == "zero_data":
        Y = np.zeros_like(Y)  # every example the same
        if loss == "mse":
            C = np.zeros_like(C)
            start_at_optimum = True  # theta = 0, W = 0 is an exact minimizer: tanh(0) = 0
    reg = {"regular": 1e-3, "singular": 0.0, "zero_data": 1e-3}[family]
    kind = LeastSquares if loss == "mse" else SoftmaxCrossEntropy

    def make_objective():
        return SingleLayerObjective(Dense(2, width, "tanh"), kind(), Y, C, reg_theta=reg, reg_W=reg)

    x0 = np.zeros(make_objective().n_params) if start_at_optimum else make_objective().init_params(rng)
    return make_objective, x0


class NaNAfter:
    """An objective that answers NaN (in the loss or in the gradient) from its ``k``-th evaluation on."""

    def __init__(self, objective, after, where):
        self.objective, self.after, self.where, self.calls = objective, after, where, 0
        self.n_params, self.n_examples = objective.n_params, objective.n_examples

    @property
    def work_units(self):
        return self.objective.work_units

    def _poison(self):
        self.calls += 1
        return self.calls > self.after

    def value(self, x):
        value = self.objective.value(x)
        return np.nan if self._poison() and self.where == "loss" else value

    def value_and_gradient(self, x, batch=None):
        value, gradient = (self.objective.value_and_gradient(x) if batch is None
                           else self.objective.value_and_gradient(x, batch))
        if self._poison():
            if self.where == "loss":
                return np.nan, gradient
            gradient = gradient.copy()
            gradient[0] = np.nan
        return value, gradient

    def gauss_newton_operator(self, x, **options):
        return self.objective.gauss_newton_operator(x, **options)


# ---------------------------------------------------------------------------------- solvers
def run(solver, objective, x0, max_iter, scale, batch, seed, target):
    """One solver run with a step-size scale (1 = the usual step) and a batch size (None = full)."""
    if solver == "steepest":
        return steepest_descent(objective, x0, max_iter=max_iter, step0=scale, target_loss=target)
    if solver == "gauss_newton":
        return gauss_newton(objective, x0, max_iter=max_iter, cg_max_iter=5, target_loss=target)
    if solver == "gauss_newton_blockdiag":
        return gauss_newton(objective, x0, max_iter=max_iter, coupling=False, cg_max_iter=5, target_loss=target)
    if solver == "levenberg_marquardt":
        return levenberg_marquardt(objective, x0, max_iter=max_iter, target_loss=target)
    if solver == "levenberg_marquardt_cg":
        return levenberg_marquardt(objective, x0, max_iter=max_iter, inner="cg", cg_max_iter=5, target_loss=target)
    if solver == "sgd":
        return sgd(objective, x0, learning_rate=0.1 * scale, momentum=0.5, max_iter=max_iter, batch_size=batch,
                   rng=np.random.default_rng(seed), target_loss=target)
    if solver == "nesterov":
        return sgd(objective, x0, learning_rate=0.1 * scale, momentum=0.5, nesterov=True, max_iter=max_iter,
                   batch_size=batch, rng=np.random.default_rng(seed), target_loss=target)
    if solver == "adam":
        return adam(objective, x0, learning_rate=0.01 * scale, max_iter=max_iter, batch_size=batch,
                    rng=np.random.default_rng(seed), target_loss=target)
    if solver == "varpro":
        return varpro(objective, x0, max_iter=max_iter, target_loss=target)
    if solver == "varpro_steepest":
        return varpro(objective, x0, outer="steepest", max_iter=max_iter, step0=scale, target_loss=target)
    raise AssertionError(solver)


def check_invariants(solver, result, make_objective, x0, x0_copy, used, target, gtol=1e-6, gtol_abs=1e-12):
    """Assert every invariant of the module docstring for one run."""
    history = result.history
    assert np.array_equal(x0, x0_copy), "the solver mutated x0"
    assert len(history.loss) == result.n_iter + 1, (len(history.loss), result.n_iter)
    for name in ("grad_norm", "step", "time", "work", "inner_iter"):
        assert len(getattr(history, name)) == len(history.loss), name
    assert history.loss[-1] == result.loss or (np.isnan(result.loss) and np.isnan(history.loss[-1]))
    assert result.work_units == history.work[-1]
    assert result.success == (result.status in (Status.CONVERGED, Status.TARGET_REACHED))
    assert result.status.name in repr(result) and result.message in repr(result)
    for cache in (getattr(used, "_outputs", None), getattr(used, "_features", None)):
        for array in vars(cache).values() if cache is not None else ():
            if isinstance(array, np.ndarray):
                assert not np.shares_memory(result.x, array), "result.x aliases the objective's cache"
    fresh = make_objective()
    if np.all(np.isfinite(result.x)) and np.isfinite(result.loss):
        value, gradient = fresh.value_and_gradient(result.x)
        assert np.isclose(result.loss, value, rtol=1e-12, atol=1e-15), (result.loss, value)
        if solver.startswith("varpro"):
            gradient = gradient[: fresh.n_theta]
        if np.isfinite(history.grad_norm[-1]):
            assert np.isclose(history.grad_norm[-1], np.linalg.norm(gradient), rtol=1e-9, atol=1e-14)
    if result.status == Status.DIVERGED:
        return
    if solver in DESCENT:
        losses = np.array(history.loss)
        assert np.all(losses[1:] <= losses[:-1]), "a descent method increased the loss"
        met_target = target is not None and result.loss <= target
        grad_test = history.grad_norm[-1] <= max(gtol * history.grad_norm[0], gtol_abs)
        if result.status == Status.CONVERGED:
            assert grad_test
        if result.status == Status.TARGET_REACHED:
            assert met_target
        if result.status == Status.MAX_ITER:
            assert not met_target and not grad_test
    elif result.status == Status.TARGET_REACHED:
        assert result.loss <= target


SOLVERS = ["steepest", "gauss_newton", "gauss_newton_blockdiag", "levenberg_marquardt", "levenberg_marquardt_cg", "sgd",
           "nesterov", "adam", "varpro", "varpro_steepest"]


@pytest.mark.parametrize("solver", SOLVERS)
@SETTINGS
@given(
    family=st.sampled_from(["regular", "singular", "zero_data"]),
    loss=st.sampled_from(["mse", "softmax"]),
    n=st.integers(6, 30),
    width=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    max_iter=st.sampled_from([0, 1, 2, 7]),
    scale=st.sampled_from([1e-8, 1e-2, 1.0, 1e2, 1e6]),
    minibatch=st.booleans(),
    target_factor=st.sampled_from([None, 0.9, 0.0]),
)
def test_solver_invariants(solver, family, loss, n, width, seed, max_iter, scale, minibatch, target_factor):
    if solver == "levenberg_marquardt" and loss != "mse":
        return  # the dense Gauss-Newton matrix exists for least squares only
    CASES["count"] += 1
    make_objective, x0 = make_problem(family, loss, n, width, seed)
    objective = make_objective()
    batch = max(1, n // 3) if minibatch and solver in ("sgd", "nesterov", "adam") else None
    target = None if target_factor is None else target_factor * objective.value(x0)
    x0_copy = x0.copy()
    result = run(solver, objective, x0, max_iter, scale, batch, seed, target)
    check_invariants(solver, result, make_objective, x0, x0_copy, objective, target)


@pytest.mark.parametrize("solver", ["steepest", "gauss_newton", "sgd", "adam"])
@SETTINGS
@given(after=st.integers(0, 6), where=st.sampled_from(["loss", "gradient"]), seed=st.integers(0, 2**16),
       minibatch=st.booleans())
def test_nan_objectives_end_as_diverged_with_a_message_that_says_which(solver, after, where, seed, minibatch):
    CASES["count"] += 1
    make_objective, x0 = make_problem("regular", "mse", 12, 3, seed)
    objective = NaNAfter(make_objective(), after, where)
    batch = 4 if minibatch and solver in ("sgd", "adam") else None
    result = run(solver, objective, x0, 8, 1.0, batch, seed, None)
    assert len(result.history.loss) == result.n_iter + 1
    if objective.calls > after:  # the poison was reached
        # NaN at a line-search trial only rejects the trial; NaN at an iterate ends the run
        assert not result.success
        assert result.status in (Status.DIVERGED, Status.LINE_SEARCH_FAILED)
        if result.status == Status.DIVERGED:
            assert ("gradient became NaN" in result.message) == (where == "gradient" and np.isfinite(result.loss))


# ------------------------------------------------------------- the cases of the issue, pinned
def cross_entropy_problem(seed=3, reg=0.0):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((2, 12))
    C = one_hot(np.arange(12) % 3, 3)
    objective = SingleLayerObjective(Dense(2, 4, "tanh"), SoftmaxCrossEntropy(), Y, C, reg_theta=reg, reg_W=reg)
    return objective, objective.init_params(np.random.default_rng(3))


def test_varpro_returns_the_W_that_produced_the_reported_loss():
    objective, x0 = cross_entropy_problem()
    result = varpro(objective, x0, outer="steepest", max_iter=15)
    value, gradient = objective.value_and_gradient(result.x)
    assert value == result.loss
    assert np.isclose(np.linalg.norm(gradient[: objective.n_theta]), result.history.grad_norm[-1], rtol=1e-12)
    objective, x0 = cross_entropy_problem(reg=1e-3)
    result = varpro(objective, x0, outer="steepest", max_iter=15, step0=1e3, max_trials=2)
    assert objective.value(result.x) == result.loss


def test_the_invariants_catch_a_solver_that_returns_a_re_solved_W(monkeypatch):
    """A planted fault, the old behaviour: no anchor, every inner solve warm-started from the last
    trial's W, and the final W re-solved from there.  The suite's checks must fail on it."""
    solve_W = ReducedObjective.solve_W

    def warm_from_last_trial(self, theta):
        if self._solved is not None:
            self._W_first = np.array(self._solved[1].W)
        return solve_W(self, theta)

    def without_anchor(self, theta):
        value, gradient = self.objective.value_and_gradient(self.full_x(theta))
        return value, gradient[: self.n_params]

    monkeypatch.setattr(ReducedObjective, "solve_W", warm_from_last_trial)
    monkeypatch.setattr(ReducedObjective, "value_and_gradient", without_anchor)
    objective, x0 = cross_entropy_problem(reg=1e-3)
    # Newton-CG: an inexact W, so that a re-solved W differs from the iterate's
    result = varpro(objective, x0, outer="steepest", max_iter=15, step0=1e3, max_trials=2, inner="newton-cg")
    assert result.status == Status.LINE_SEARCH_FAILED  # rejected trials after the last iterate
    with pytest.raises(AssertionError):
        check_invariants("varpro_steepest", result, lambda: cross_entropy_problem(reg=1e-3)[0], x0, x0.copy(),
                         objective, None)


@pytest.mark.parametrize("solver", ["varpro", "varpro_steepest", "steepest", "gauss_newton"])
def test_a_start_at_a_minimizer_is_converged(solver):
    make_objective, x0 = make_problem("zero_data", "mse", 10, 3, 0)
    result = run(solver, make_objective(), x0, 10, 1.0, None, 0, None)
    assert result.status == Status.CONVERGED and result.success and result.n_iter == 0


def test_a_finite_divergence_is_not_success():
    make_objective, x0 = make_problem("regular", "softmax", 30, 4, 1)
    result = adam(make_objective(), x0, learning_rate=1e6, max_iter=50)
    assert result.status == Status.DIVERGED and not result.success and "grew" in result.message


def test_the_objective_cache_cannot_be_corrupted_from_outside():
    make_objective, x0 = make_problem("regular", "mse", 20, 3, 2)
    objective = make_objective()
    Z = objective.features(x0[: objective.n_theta])
    with pytest.raises(ValueError, match="read-only"):
        Z *= 0
    assert np.allclose(objective.gradient(x0), make_objective().gradient(x0), rtol=1e-14)


def test_nan_in_the_point_is_not_blamed_on_the_student():
    from nnlib.exercises import check_gradient, check_jacobian

    x = np.array([1.0, np.nan])
    verdict = check_jacobian(np.tanh, lambda v: (1 - np.tanh(x) ** 2) * v, x)
    assert not verdict and "x contains NaN" in verdict.message and "scaled by h" not in str(verdict)
    assert "x contains NaN" in check_gradient(lambda z: float(z @ z), lambda z: 2 * z, x).message
