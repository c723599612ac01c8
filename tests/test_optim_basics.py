"""Armijo line search and conjugate gradients."""

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

from nnlib.optim import armijo, conjugate_gradient


@pytest.mark.parametrize("c1", [1e-4, 0.5, 0.9])
def test_armijo_satisfies_sufficient_decrease_and_never_increases(c1):
    # f(x) = x^4 + x^2 from x = 1 along p = -grad f = -6: the full step overshoots far.
    f = lambda x: x**4 + x**2  # noqa: E731
    x, p = 1.0, -6.0
    phi0, dphi0 = f(x), 6.0 * p
    result = armijo(lambda a: f(x + a * p), phi0, dphi0, c1=c1)
    assert result.success
    assert result.value <= phi0 + c1 * result.step * dphi0
    assert result.value < phi0
    assert result.n_trials > 1  # step 1 was rejected
    assert result.value == f(x + result.step * p)


def test_armijo_accepts_full_step_when_good():
    result = armijo(lambda a: (1.0 - a) ** 2, 1.0, -2.0)
    assert result.step == 1.0 and result.n_trials == 1


def test_armijo_rejects_non_finite_trials():
    values = {1.0: np.inf, 0.5: np.nan}
    result = armijo(lambda a: values.get(a, 1.0 - a), 1.0, -1.0)
    assert result.success and result.step == 0.25 and result.n_trials == 3


def test_armijo_reports_failure_without_increase():
    result = armijo(lambda a: 2.0, 1.0, -1.0, max_trials=5)
    assert not result.success and result.step == 0.0 and result.value == 1.0 and result.n_trials == 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dphi0": 1.0}, "descent direction"),
        ({"step0": 0.0}, "step0 must be a positive"),
        ({"step0": -1.0}, "step0 must be a positive"),
        ({"c1": 1.0}, "c1 must lie strictly between 0 and 1"),
        ({"shrink": 0.0}, "shrink must lie strictly between 0 and 1"),
    ],
)
def test_armijo_bad_settings(kwargs, match):
    settings = {"phi": lambda a: 1.0 - a, "phi0": 1.0, "dphi0": -1.0}
    settings.update(kwargs)
    with pytest.raises(ValueError, match=match):
        armijo(**settings)


def spd_matrix(n, condition, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * np.geomspace(1.0, condition, n)) @ Q.T


@pytest.mark.parametrize("rtol", [1e-2, 1e-6, 1e-10])
def test_cg_solves_spd_system_to_tolerance(rtol):
    rng = np.random.default_rng(0)
    A = spd_matrix(40, 1e3, rng)
    b = rng.standard_normal(40)
    result = conjugate_gradient(aslinearoperator(A), b, rtol=rtol, max_iter=200)
    assert result.converged
    assert np.linalg.norm(b - A @ result.x) <= 1.01 * rtol * np.linalg.norm(b)
    assert result.n_iter >= 1


def test_cg_ends_after_as_many_steps_as_distinct_eigenvalues():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    A = (Q * np.repeat([1.0, 2.0, 5.0], 10)) @ Q.T
    b = rng.standard_normal(30)
    result = conjugate_gradient(A, b, rtol=1e-10)
    assert result.n_iter == 3
    assert np.allclose(A @ result.x, b)


def test_cg_respects_max_iter_and_x0_and_callables():
    rng = np.random.default_rng(2)
    A = spd_matrix(20, 1e4, rng)
    b = rng.standard_normal(20)
    capped = conjugate_gradient(lambda v: A @ v, b, rtol=1e-12, max_iter=3)
    assert capped.n_iter == 3 and not capped.converged
    exact = np.linalg.solve(A, b)
    warm = conjugate_gradient(A, b, x0=exact, rtol=1e-8)
    assert warm.n_iter == 0 and warm.converged


def test_cg_stops_on_zero_curvature():
    A = np.diag([1.0, 0.0])
    result = conjugate_gradient(A, np.array([0.0, 1.0]), rtol=1e-10)
    assert not result.converged and "curvature" in result.message


def test_cg_bad_inputs():
    with pytest.raises(ValueError, match=r"A must have shape \(3, 3\)"):
        conjugate_gradient(aslinearoperator(np.eye(2)), np.ones(3))
    with pytest.raises(ValueError, match="b must be a 1-D array"):
        conjugate_gradient(np.eye(2), np.ones((2, 1)))
    with pytest.raises(ValueError, match="max_iter must be a non-negative integer"):
        conjugate_gradient(np.eye(2), np.ones(2), max_iter=-1)
