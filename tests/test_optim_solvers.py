"""Steepest descent, Gauss-Newton, SGD and Adam: known solutions, work units, bad settings, divergence."""

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

from nnlib import Dense, LeastSquares, LinearHeadObjective
from nnlib.data import peaks
from nnlib.layers import AppendOnes
from nnlib.objective import SingleLayerObjective
from nnlib.optim import OptimizeResult, Status, adam, conjugate_gradient, gauss_newton, levenberg_marquardt, sgd, steepest_descent


class Quadratic:
    """f(x) = 1/2 x^T A x - b^T x: its Gauss-Newton matrix is its Hessian A."""

    def __init__(self, A, b):
        self.A, self.b = A, b
        self.n_params = b.size
        self.work_units = 0.0

    def value(self, x):
        self.work_units += 1
        return 0.5 * x @ self.A @ x - self.b @ x

    def value_and_gradient(self, x):
        self.work_units += 2
        return 0.5 * x @ self.A @ x - self.b @ x, self.A @ x - self.b

    def gauss_newton_operator(self, x):
        return aslinearoperator(self.A)


@pytest.fixture
def quadratic():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    A = (Q * np.geomspace(1.0, 100.0, 12)) @ Q.T
    return Quadratic(A, rng.standard_normal(12))


@pytest.fixture
def peaks_problem():
    rng = np.random.default_rng(0)
    Y, C = peaks(200, rng)
    objective = SingleLayerObjective(Dense(2, 8, "tanh"), LeastSquares(), Y, C, reg_theta=1e-4, reg_W=1e-4)
    return objective, objective.init_params(rng)


def test_gauss_newton_solves_quadratic_in_one_step(quadratic):
    x_star = np.linalg.solve(quadratic.A, quadratic.b)
    result = gauss_newton(quadratic, np.zeros(12), max_iter=5, cg_rtol=1e-12, cg_max_iter=40, gtol=1e-8)
    assert isinstance(result, OptimizeResult)
    assert result.n_iter == 1 and result.status == 0 and result.success
    assert np.allclose(result.x, x_star, rtol=1e-8)
    assert result.history.step[1] > 0 and len(result.history) == 2


def test_steepest_descent_converges_on_quadratic(quadratic):
    x_star = np.linalg.solve(quadratic.A, quadratic.b)
    # An Armijo test compares function values, so it can resolve |x - x*| only to about
    # sqrt(eps |f| / lambda_min) ~ 1e-8, i.e. |grad| ~ lambda_max * 1e-8 = 1e-6: a smaller
    # gtol would make the outcome depend on the round-off of the BLAS at hand.
    result = steepest_descent(quadratic, np.zeros(12), max_iter=3000, gtol=1e-5)
    assert result.status == 0
    # the error bound of a strongly convex quadratic: |x - x*| <= |A x - b| / lambda_min (= 1)
    residual = np.linalg.norm(quadratic.A @ result.x - quadratic.b)
    assert residual <= 1e-5 * np.linalg.norm(quadratic.b)
    assert np.linalg.norm(result.x - x_star) <= residual * (1 + 1e-8)
    assert all(b <= a for a, b in zip(result.history.loss, result.history.loss[1:]))


def test_gauss_newton_work_units(peaks_problem):
    """One GN iteration with k CG steps and t trials costs 2k + t + 1 after the initial 2."""
    objective, x0 = peaks_problem
    trials = []
    value = objective.value
    objective.value = lambda x: (trials.append(1), value(x))[1]
    try:
        result = gauss_newton(objective, x0, max_iter=1, cg_max_iter=7, cg_rtol=1e-12)
    finally:
        del objective.value
    k, t = result.history.inner_iter[1], len(trials)
    assert k == 7 and t >= 1
    assert result.history.work == [2.0, 2.0 + 2 * k + t + 1]


@pytest.mark.parametrize("coupling", [True, False])
def test_gauss_newton_decreases_training_loss(peaks_problem, coupling):
    objective, x0 = peaks_problem
    result = gauss_newton(objective, x0, max_iter=15, coupling=coupling)
    losses = result.history.loss
    assert result.status == Status.MAX_ITER and not result.success and losses[-1] < 0.5 * losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # the line search never accepts an increase
    assert len(losses) == len(result.history.time) == len(result.history.work) == result.n_iter + 1
    assert np.all(np.diff(result.history.time) >= 0) and np.all(np.diff(result.history.work) > 0)


def test_target_loss_stops_early(peaks_problem):
    objective, x0 = peaks_problem
    target = objective.value(x0) * 0.5
    result = gauss_newton(objective, x0, max_iter=100, target_loss=target)
    assert result.status == 2 and result.loss <= target and result.n_iter < 100
    assert result.history.first_reaching(target) == result.n_iter


@pytest.mark.parametrize(
    "options",
    [{}, {"batch_size": 50}, {"batch_size": 50, "momentum": 0.9}, {"batch_size": 50, "momentum": 0.9, "nesterov": True}],
)
def test_sgd_decreases_loss(peaks_problem, options):
    objective, x0 = peaks_problem
    rng = np.random.default_rng(3) if "batch_size" in options else None
    result = sgd(objective, x0, learning_rate=0.05, max_iter=200, rng=rng, **options)
    assert result.status == Status.MAX_ITER and result.loss < 0.7 * objective.value(x0)
    assert len(result.history) == 201


def test_adam_decreases_loss_and_counts_work(peaks_problem):
    objective, x0 = peaks_problem
    result = adam(objective, x0, learning_rate=1e-2, max_iter=100)
    assert result.status == Status.MAX_ITER and result.loss < 0.5 * objective.value(x0)
    assert result.history.work[-1] == pytest.approx(2 * 100 + 1)  # forward+backward per step, final forward
    batched = adam(objective, x0, learning_rate=1e-2, max_iter=20, batch_size=50, rng=np.random.default_rng(0))
    assert batched.history.work[-1] == pytest.approx(20 * 2 * 50 / 200 + 1)


def test_stochastic_runs_are_deterministic(peaks_problem):
    objective, x0 = peaks_problem
    runs = [sgd(objective, x0, max_iter=30, batch_size=20, rng=np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(runs[0].x, runs[1].x)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda o, x: sgd(o, x, learning_rate=0.0), "learning_rate must be a positive"),
        (lambda o, x: adam(o, x, learning_rate=-1e-3), "learning_rate must be a positive"),
        (lambda o, x: sgd(o, x, batch_size=201, rng=np.random.default_rng(0)), r"training examples\) must be an integer in \[1, 200\]"),
        (lambda o, x: sgd(o, x, batch_size=10), "rng must be a numpy.random.Generator"),
        (lambda o, x: sgd(o, x, momentum=1.0), r"momentum must lie in \[0, 1\)"),
        (lambda o, x: adam(o, x, max_iter=-1), "max_iter must be a non-negative integer"),
        (lambda o, x: gauss_newton(o, x, max_iter=-1), "max_iter must be a non-negative integer"),
        (lambda o, x: steepest_descent(o, x, step0=0.0), "step0 must be a positive"),
        (lambda o, x: steepest_descent(o, x[:-1]), r"x0 must be a 1-D array of length n_params = 32"),
        (lambda o, x: gauss_newton(object(), x), "objective must offer"),
    ],
)
def test_bad_settings_raise(peaks_problem, call, match):
    objective, x0 = peaks_problem
    with pytest.raises(ValueError, match=match):
        call(objective, x0)


@pytest.mark.parametrize("solver", [sgd, adam])
def test_divergent_run_stops_with_clear_message(peaks_problem, solver):
    objective, x0 = peaks_problem
    result = solver(objective, x0, learning_rate=1e200, max_iter=50)
    assert not result.success and result.status == 4
    assert "diverged" in result.message and "iteration" in result.message
    assert "reduce the step size or learning rate" in result.message


def test_max_iter_zero_returns_start(peaks_problem):
    objective, x0 = peaks_problem
    for solver in (gauss_newton, steepest_descent, sgd, adam):
        result = solver(objective, x0, max_iter=0)
        assert result.n_iter == 0 and np.array_equal(result.x, x0)
        assert result.status == Status.MAX_ITER and not result.success and "not converged" in repr(result)


def test_nesterov_takes_one_gradient_per_step_at_the_look_ahead_point(quadratic):
    """sgd(nesterov=True) iterates on y_k of the textbook method, one gradient per step.

    Textbook form: x_{k+1} = y_k - eta grad f(y_k), y_{k+1} = x_{k+1} + beta (x_{k+1} - x_k), y_0 = x_0.
    """
    eta, beta, n_steps = 1 / 100.0, 0.8, 25
    quadratic.n_examples = 1  # one "example": every step is a full gradient step
    result = sgd(quadratic, np.zeros(12), learning_rate=eta, max_iter=n_steps, momentum=beta, nesterov=True)
    x_prev = y = np.zeros(12)
    for _ in range(n_steps):
        x = y - eta * (quadratic.A @ y - quadratic.b)
        y, x_prev = x + beta * (x - x_prev), x
    np.testing.assert_allclose(result.x, y, rtol=1e-12, atol=1e-14)
    assert result.work_units == 2 * n_steps + 1  # value and gradient per step, the final value


@pytest.mark.parametrize("solver, options", [(sgd, {"momentum": 0.5}), (adam, {})], ids=["sgd", "adam"])
def test_a_schedule_is_asked_once_per_update_and_a_constant_one_changes_nothing(peaks_problem, solver, options):
    objective, x0 = peaks_problem
    asked = []

    def schedule(k):
        asked.append(k)
        return 0.01

    fixed = solver(objective, x0, learning_rate=0.01, max_iter=15, **options)
    scheduled = solver(objective, x0, learning_rate=schedule, max_iter=15, **options)
    assert asked == list(range(15))
    np.testing.assert_array_equal(scheduled.x, fixed.x)


def test_sgd_follows_a_decreasing_schedule(quadratic):
    quadratic.n_examples = 1
    etas = [0.02 / (1 + k) for k in range(6)]
    result = sgd(quadratic, np.zeros(12), learning_rate=lambda k: etas[k], max_iter=6)
    x = np.zeros(12)
    for eta in etas:
        x = x - eta * (quadratic.A @ x - quadratic.b)
    np.testing.assert_allclose(result.x, x, rtol=1e-14)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_a_schedule_that_leaves_the_positive_numbers_stops_with_the_step(peaks_problem, bad):
    objective, x0 = peaks_problem
    with pytest.raises(ValueError, match=r"learning_rate\(3\) must be a positive finite number"):
        sgd(objective, x0, learning_rate=lambda k: 0.01 if k < 3 else bad, max_iter=10)


# ------------------------------------------------------------------ callbacks

def _solvers(rng):
    from nnlib.optim import varpro

    return {
        "steepest": lambda obj, x0, cb: steepest_descent(obj, x0, max_iter=6, callback=cb),
        "gn": lambda obj, x0, cb: gauss_newton(obj, x0, max_iter=6, callback=cb),
        "gn-direct": lambda obj, x0, cb: gauss_newton(obj, x0, max_iter=6, inner="direct", callback=cb),
        "varpro": lambda obj, x0, cb: varpro(obj, x0, max_iter=6, callback=cb),
        "sgd": lambda obj, x0, cb: sgd(obj, x0, max_iter=6, batch_size=50, rng=rng, callback=cb),
        "adam": lambda obj, x0, cb: adam(obj, x0, max_iter=6, batch_size=50, rng=rng, callback=cb),
    }


@pytest.mark.parametrize("name", ["steepest", "gn", "gn-direct", "varpro", "sgd", "adam"])
def test_callback_sees_every_iterate_and_can_stop(name, peaks_problem):
    objective, x0 = peaks_problem
    run = _solvers(np.random.default_rng(1))[name]
    seen = []
    result = run(objective, x0, lambda x: seen.append(np.array(x)))
    assert result.n_iter == 6 and len(seen) == 7  # x_0, ..., x_6
    assert all(x.shape == (objective.n_params,) for x in seen)
    np.testing.assert_array_equal(seen[-1], result.x)

    calls = []
    stopped = run(objective, x0, lambda x: calls.append(1) or len(calls) == 3)
    assert stopped.status == 5 and stopped.success and "callback" in stopped.message
    assert stopped.n_iter == 2 and len(stopped.history) == 3  # stopped at x_2
    assert stopped.loss == pytest.approx(objective.value(stopped.x))


def test_callback_time_is_not_counted(peaks_problem):
    import time

    objective, x0 = peaks_problem
    result = gauss_newton(objective, x0, max_iter=3, callback=lambda x: time.sleep(0.05))
    assert result.history.time[-1] < 0.05  # four calls slept 0.2 s


@pytest.mark.parametrize("name", ["steepest", "gn", "varpro", "adam"])
def test_callback_must_be_callable(name, peaks_problem):
    objective, x0 = peaks_problem
    with pytest.raises(ValueError, match="callback must be a function"):
        _solvers(np.random.default_rng(1))[name](objective, x0, 3)


def test_levenberg_marquardt_fits_a_linear_model_without_network_parameters():
    # A parameter-free layer (AppendOnes) makes the objective a linear model: the dense
    # Gauss-Newton matrix has no theta rows, which once crashed inside scipy.
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((4, 30))
    C = rng.standard_normal((2, 30))
    objective = LinearHeadObjective(AppendOnes(4), LeastSquares(), Y, C)
    result = levenberg_marquardt(objective, np.zeros(objective.n_params))
    Z = np.vstack([Y, np.ones(30)])
    expected = np.linalg.lstsq(Z.T, C.T, rcond=None)[0].T
    assert result.success and np.allclose(result.x, expected.ravel(), atol=1e-8)


def test_matrix_free_levenberg_marquardt_solves_a_quadratic():
    """With exact CG solves the model is exact (rho = 1), the damping shrinks, and the minimizer is reached."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    quadratic = Quadratic((Q * np.geomspace(1.0, 100.0, 12)) @ Q.T, rng.standard_normal(12))
    x_star = np.linalg.solve(quadratic.A, quadratic.b)
    result = levenberg_marquardt(quadratic, np.zeros(12), inner="cg", cg_rtol=1e-13, cg_max_iter=40, gtol=1e-10,
                                 max_iter=20)
    assert result.success and result.n_iter <= 6
    assert np.allclose(result.x, x_star, rtol=1e-8)
    assert all(n >= 1 for n in result.history.inner_iter[1:])  # products with H of each iteration


def test_matrix_free_levenberg_marquardt_decreases_the_peaks_loss(peaks_problem):
    objective, x0 = peaks_problem
    result = levenberg_marquardt(objective, x0, max_iter=10, inner="cg", cg_max_iter=10)
    assert result.n_iter == 10 and result.loss < 0.5 * objective.value(x0)
    assert np.all(np.diff(result.history.loss) <= 0)


@pytest.mark.parametrize("options, match", [
    ({"inner": "lsqr"}, "inner must be 'direct' or 'cg'; got 'lsqr'"),
    ({"inner": "cg", "damping": "marquardt"}, "damping='marquardt' needs the diagonal"),
    ({"inner": "cg", "cg_rtol": -1.0}, "cg_rtol"),
])
def test_matrix_free_levenberg_marquardt_bad_settings(peaks_problem, options, match):
    objective, x0 = peaks_problem
    with pytest.raises(ValueError, match=match):
        levenberg_marquardt(objective, x0, **options)


def test_matrix_free_levenberg_marquardt_needs_the_operator():
    class ValueOnly:
        n_params, work_units = 2, 0.0

        def value(self, x):
            return float(x @ x)

        def value_and_gradient(self, x):
            return float(x @ x), 2 * x

    with pytest.raises(ValueError, match="needs objective.gauss_newton_operator"):
        levenberg_marquardt(ValueOnly(), np.ones(2), inner="cg")


def test_shifted_lanczos_is_cg_for_every_shift_in_one_krylov_space():
    from nnlib.optim.levenberg_marquardt import ShiftedLanczos

    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    H = (Q * np.geomspace(1e-3, 10.0, 30)) @ Q.T
    g = rng.standard_normal(30)
    krylov = ShiftedLanczos(H, g, max_iter=30)
    exact = krylov.solve(1e-2, rtol=1e-12)
    assert np.allclose(exact, np.linalg.solve(H + 1e-2 * np.eye(30), -g), rtol=1e-8)
    assert abs(exact @ (H + 1e-2 * np.eye(30)) @ exact + g @ exact) < 1e-10 * abs(g @ exact)
    used = krylov.n_products
    larger_shift = krylov.solve(1.0, rtol=1e-6)  # better conditioned: the space at hand suffices
    assert krylov.n_products == used
    assert np.allclose(larger_shift, np.linalg.solve(H + np.eye(30), -g), rtol=1e-6)
    truncated = ShiftedLanczos(H, g, max_iter=4)
    cg = conjugate_gradient(H + 0.5 * np.eye(30), -g, rtol=0.0, max_iter=4)
    assert truncated.n_products == 0
    assert np.allclose(truncated.solve(0.5, rtol=0.0), cg.x, rtol=1e-8) and truncated.n_products == 4
