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


@pytest.mark.parametrize("loss, projected", [("mse", "kaufman"), ("mse", "none"), ("softmax", "kaufman"),
                                             ("softmax", "golub-pereyra"), ("softmax", "none")])
def test_reduced_gauss_newton_is_symmetric_psd(loss, projected):
    objective, theta, rng = problem(loss, reg_W=1e-2, reg_theta=0.0)
    H = ReducedObjective(objective, jacobian=projected).gauss_newton_operator(theta)
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
    with pytest.raises(ValueError, match="outer must be 'auto', 'gauss_newton', 'levenberg_marquardt' or 'steepest'"):
        varpro(objective, theta, outer="adam")
    with pytest.raises(ValueError, match=r"x0 must be a 1-D array of length n_params = 30 \(theta and W\) or n_theta = 20"):
        varpro(objective, np.zeros(7))
    with pytest.raises(TypeError, match="linear last layer"):
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
    """One work unit is n * (n_theta + t m) multiply-adds; the inner charges follow that rule exactly, with no floor."""
    rng = np.random.default_rng(0)
    Y, C = rng.standard_normal((10, 60)), rng.standard_normal((2, 60))
    objective = SingleLayerObjective(Dense(10, 3, "tanh"), LeastSquares(), Y, C, reg_W=reg_W)
    theta = objective.init_params(rng)[: objective.n_theta]
    n, n_theta, (t, m) = objective.n_examples, objective.n_theta, objective.W_shape
    unit = n * (n_theta + t * m)
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

    golub_pereyra = ReducedObjective(objective, jacobian="golub-pereyra")
    golub_pereyra.solve_W(theta)
    H = golub_pereyra.gauss_newton_operator(theta)
    setup = t * m * n + (m * m * n if reg_W > 0 else m * r * n)  # R = W Z - C and M^{-1} Z (or M^+ Z)
    assert golub_pereyra.inner_work == pytest.approx((solve + setup) / unit)
    H.matvec(v)
    assert golub_pereyra.inner_work == pytest.approx((solve + setup + (4 * r + 4 * m) * t * n) / unit)


@pytest.mark.parametrize("inner", ["newton", "newton-cg"])
def test_cross_entropy_inner_work_is_multiply_adds_over_one_pass(inner, monkeypatch):
    """Products with Z cost t m n multiply-adds (t m / (n_theta + t m) units): 2 per gradient, 1 per
    line-search value, 2 per Hessian product of Newton-CG; a formed Hessian t (t - 1) m^2 n / 2."""
    from nnlib.optim import inner as inner_module

    calls = {"state": 0, "value": 0, "_hessian": 0, "product": 0}
    for cls, name in [(inner_module._Softmax, "state"), (inner_module._Softmax, "value"),
                      (inner_module.SoftmaxNewton, "_hessian")]:
        method = getattr(cls, name)

        def counted(self, *args, _method=method, _name=name):
            calls[_name] += 1
            return _method(self, *args)

        monkeypatch.setattr(cls, name, counted)
    make_product = inner_module.SoftmaxNewtonCG._hessian_product

    def counted_product(self, P, shape):
        product = make_product(self, P, shape)

        def wrapped(v):
            calls["product"] += 1
            return product(v)

        return wrapped

    monkeypatch.setattr(inner_module.SoftmaxNewtonCG, "_hessian_product", counted_product)
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((2, 60))
    objective = SingleLayerObjective(Dense(2, 5, "tanh"), SoftmaxCrossEntropy(), Y,
                                     one_hot(rng.integers(0, 4, 60), 4), reg_W=1e-2)
    theta = objective.init_params(rng)[: objective.n_theta]
    (t, m), n_theta, n = objective.W_shape, objective.n_theta, 60
    reduced = ReducedObjective(objective, inner=inner, inner_gtol=1e-10, inner_rtol=0.0)
    reduced.solve_W(theta)
    assert calls["state"] >= 2 and (calls["_hessian"] >= 1 if inner == "newton" else calls["product"] >= 2)
    product = t * m * n
    multiply_adds = (2 * product  # the inner gradient at the warm start, which sets the tolerance
                     + 2 * product * calls["state"] + product * calls["value"]
                     + t * (t - 1) // 2 * m * m * n * calls["_hessian"] + 2 * product * calls["product"])
    assert reduced.inner_work == pytest.approx(multiply_adds / (n * (n_theta + t * m)))
    assert 0.5 < t * m / (n_theta + t * m) < 1  # a product with Z is the last layer's share of a pass


def softmax_problem(seed=0, n=80, width=4, classes=3, reg=1e-3):
    rng = np.random.default_rng(seed)
    Y, C = peaks(n, rng, n_classes=classes)
    objective = SingleLayerObjective(Dense(2, width, "tanh"), SoftmaxCrossEntropy(), Y, C, reg_theta=reg, reg_W=reg)
    return objective, objective.init_params(rng)[: objective.n_theta]


@pytest.mark.parametrize("inner", ["newton", "newton-cg"])
def test_cross_entropy_inner_solve_matches_scipy(inner):
    from scipy.optimize import minimize

    objective, theta = softmax_problem()
    reduced = ReducedObjective(objective, inner=inner, inner_gtol=1e-11, inner_rtol=0.0, inner_max_iter=50)
    W = reduced.solve_W(theta)

    def f(w):
        return objective.value(objective.join(theta, w.reshape(objective.W_shape)))

    def g(w):
        return objective.gradient(objective.join(theta, w.reshape(objective.W_shape)))[objective.n_theta:]

    reference = minimize(f, np.zeros(W.size), jac=g, method="BFGS", options={"gtol": 1e-12, "maxiter": 10_000})
    assert np.allclose(W.ravel(), reference.x, rtol=1e-6, atol=1e-7)
    assert np.linalg.norm(g(W.ravel())) <= 1e-10


def test_cross_entropy_reduced_gradient_matches_finite_differences():
    objective, theta = softmax_problem(seed=1)
    reduced = ReducedObjective(objective, inner_gtol=1e-12, inner_rtol=0.0, inner_max_iter=50)
    _, gradient = reduced.value_and_gradient(theta)
    direction = np.random.default_rng(2).standard_normal(theta.size)
    h = 1e-5
    fresh = ReducedObjective(objective, inner_gtol=1e-12, inner_rtol=0.0, inner_max_iter=50)
    # value_and_gradient solves accurately (value alone may stop early: an upper bound for line searches)
    difference = (fresh.value_and_gradient(theta + h * direction)[0]
                  - fresh.value_and_gradient(theta - h * direction)[0]) / (2 * h)
    assert difference == pytest.approx(gradient @ direction, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("jacobian", ["golub-pereyra", "kaufman"])
def test_cross_entropy_reduced_operator_is_the_reduced_jacobian(jacobian, fd_jacobian):
    """Golub-Pereyra: J_red^T H_S J_red with J_red the derivative of S(theta) = W(theta) Z(theta);
    Kaufman: the same with the residual term G dZ^T left out of dW (so it differs, but stays PSD)."""
    objective, theta = softmax_problem(seed=3, n=40, width=3)
    reduced = ReducedObjective(objective, jacobian=jacobian, inner_gtol=1e-13, inner_rtol=0.0, inner_max_iter=60,
                               reuse_hessian=False)
    operator = reduced.gauss_newton_operator(theta) @ np.eye(theta.size)
    assert np.allclose(operator, operator.T, atol=1e-12)
    assert np.linalg.eigvalsh(operator).min() > 0

    def scores(t):
        exact = ReducedObjective(objective, inner_gtol=1e-13, inner_rtol=0.0, inner_max_iter=60)
        return exact.solve_W(t) @ objective.features(t)

    S = scores(theta)
    J_red = fd_jacobian(scores, theta, eps=1e-5)  # rows: entries of S in row-major order
    n = S.shape[1]
    P = np.exp(S - S.max(axis=0))
    P /= P.sum(axis=0)
    H_S = np.zeros((S.size, S.size))
    for e in range(n):  # the per-example softmax Hessian (diag(p) - p p^T) / n, rows of S by class
        idx = np.arange(S.shape[0]) * n + e
        H_S[np.ix_(idx, idx)] = (np.diag(P[:, e]) - np.outer(P[:, e], P[:, e])) / n
    expected = J_red.T @ H_S @ J_red + objective.reg_theta * np.eye(theta.size)
    if jacobian == "golub-pereyra":
        assert np.allclose(operator, expected, rtol=1e-5, atol=1e-8)
    else:
        assert not np.allclose(operator, expected, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_softmax_hessian_in_W_is_the_sum_of_kronecker_products(classes):
    """The blocks of the last class come from sums of the others; the matrix is the exact Hessian."""
    from nnlib.optim.inner import softmax_hessian_W

    rng = np.random.default_rng(classes)
    m, n = 4, 30
    Z = rng.standard_normal((m, n))
    S = rng.standard_normal((classes, n))
    P = np.exp(S) / np.exp(S).sum(axis=0)
    expected = 0.1 * np.eye(classes * m)
    for i in range(n):
        expected += np.kron(np.diag(P[:, i]) - np.outer(P[:, i], P[:, i]), np.outer(Z[:, i], Z[:, i])) / n
    assert np.allclose(softmax_hessian_W(Z, P, 0.1), expected, rtol=1e-12, atol=1e-14)


def test_reused_hessian_saves_one_and_keeps_the_operator_symmetric_psd():
    objective, theta = softmax_problem(seed=3, n=40, width=3)
    operators = {}
    for reuse in (False, True):
        reduced = ReducedObjective(objective, jacobian="kaufman", reuse_hessian=reuse)
        reduced.value_and_gradient(theta)
        solution = reduced.inner_solution(theta)
        formed = solution.hessians
        operators[reuse] = reduced.gauss_newton_operator(theta) @ np.eye(theta.size)
        assert solution.hessians == formed + (0 if reuse else 1)
    for operator in operators.values():
        assert np.allclose(operator, operator.T, atol=1e-12)
        assert np.linalg.eigvalsh(operator).min() > 0
    assert not np.allclose(operators[True], operators[False])  # an approximation, not the same operator


@pytest.mark.parametrize("loss, jacobian, expected", [
    ("softmax", "kaufman", "levenberg_marquardt"),
    ("softmax", "golub-pereyra", "levenberg_marquardt"),
    ("softmax", "none", "gauss_newton"),
    ("mse", "kaufman", "gauss_newton"),
])
def test_varpro_chooses_damping_for_the_projected_cross_entropy_model(loss, jacobian, expected, monkeypatch):
    import sys

    module = sys.modules["nnlib.optim.varpro"]
    called = {}
    for name in ("gauss_newton", "levenberg_marquardt"):
        solver = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _s=solver, _n=name, **k: called.update({_n: k}) or _s(*a, **k))
    objective, theta, _ = problem(loss=loss, reg_W=1e-3)
    result = varpro(objective, theta, max_iter=3, jacobian=jacobian)
    assert list(called) == [expected] and result.n_iter == 3
    if expected == "levenberg_marquardt":
        assert called[expected]["inner"] == "cg"


def test_varpro_reaches_a_lower_classification_loss_than_gauss_newton_in_as_many_iterations():
    """Peaks, 5 classes: 15 outer iterations of variable projection (damped) against 15 of joint Gauss-Newton."""
    rng = np.random.default_rng(1)
    Y, C = peaks(400, rng, n_classes=5)
    objective = SingleLayerObjective(Dense(2, 8, "tanh"), SoftmaxCrossEntropy(), Y, C, reg_theta=1e-4, reg_W=1e-4)
    x0 = objective.init_params(rng)
    projected = varpro(objective, x0, max_iter=15, cg_max_iter=10)
    joint = gauss_newton(objective, x0, max_iter=15, cg_max_iter=10)
    assert projected.loss < joint.loss
