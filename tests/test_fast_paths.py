"""Fast paths of Dense, the objective and the solvers: each must agree with the plain route.

* ``Dense.forward_and_jacobian`` and the extra products of its Jacobian
  (``rmatvec_outer``, ``matvec_outer``, ``weighted_rows``, ``contracted_rows``);
* the objective's generic fallbacks for layers without them;
* the dense Gauss-Newton matrices (full, block-diagonal, reduced Kaufman and
  Golub-Pereyra) against the matrix-free operators and finite differences;
* ``gauss_newton(inner="direct")`` (Levenberg-Marquardt) and its settings.

No test module may subclass ``Layer`` (the registry would pick it up): the
wrapper below only delegates.
"""

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from nnlib import Dense, Layer, LeastSquares, SoftmaxCrossEntropy
from nnlib.activations import ACTIVATIONS
from nnlib.data import one_hot, peaks
from nnlib.objective import SingleLayerObjective
from nnlib.optim import ReducedObjective, gauss_newton, varpro


class PlainLayer(Layer):
    """A Dense layer seen only through the basic contract: no shared forward pass, and Jacobians
    that are plain scipy LinearOperators (so every fast product takes the fallback of
    nnlib.jacobian.JacobianOperator).  Not registered: the generic suite does not see it."""

    def __init__(self, dense):
        self._dense = dense
        self.n_in, self.n_out, self.n_params = dense.n_in, dense.n_out, dense.n_params

    def init_params(self, rng):
        return self._dense.init_params(rng)

    def forward(self, theta, Y):
        return self._dense.forward(theta, Y)

    def jacobian_params(self, theta, Y):
        J = self._dense.jacobian_params(theta, Y)
        return LinearOperator(J.shape, matvec=J.matvec, rmatvec=J.rmatvec, dtype=J.dtype)

    def jacobian_input(self, theta, Y):
        J = self._dense.jacobian_input(theta, Y)
        return LinearOperator(J.shape, matvec=J.matvec, rmatvec=J.rmatvec, dtype=J.dtype)


def test_subclasses_join_the_registry_only_when_they_ask():
    assert "PlainLayer" not in Layer.registry and "Dense" in Layer.registry


def _objective(n_targets=2, reg_W=1e-2, reg_theta=1e-3, n=30, width=4, seed=0, layer=None):
    rng = np.random.default_rng(seed)
    dense = Dense(2, width, "tanh")
    Y, C = rng.standard_normal((2, n)), rng.standard_normal((n_targets, n))
    objective = SingleLayerObjective(layer or dense, LeastSquares(), Y, C, reg_theta=reg_theta, reg_W=reg_W)
    return objective, objective.init_params(rng), rng


# ------------------------------------------------------------------ Dense


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_and_jacobian_match_the_separate_calls(name, dtype):
    rng = np.random.default_rng(1)
    layer = Dense(3, 5, name)
    theta = layer.init_params(rng).astype(dtype)
    Y = rng.standard_normal((3, 7)).astype(dtype)
    Z, J = layer.forward_and_jacobian(theta, Y)
    assert Z.dtype == dtype and np.array_equal(Z, layer.forward(theta, Y))
    reference = layer.jacobian_params(theta, Y)
    v, w = rng.standard_normal(layer.n_params), rng.standard_normal(Z.size)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(J.matvec(v), reference.matvec(v), atol=tol)
    assert np.allclose(J.rmatvec(w), reference.rmatvec(w), atol=tol)
    W, G = rng.standard_normal((2, 5)), rng.standard_normal((2, 7))
    assert np.allclose(J.rmatvec_outer(W, G), J.rmatvec((W.T @ G).ravel()), atol=10 * tol)
    assert np.allclose(J.matvec_outer(W, v), W @ J.matvec(v).reshape(5, 7), atol=10 * tol)


def test_dense_forward_still_validates():
    layer = Dense(2, 3)
    with pytest.raises(ValueError, match="theta must be a 1-D array of length 9"):
        layer.forward_and_jacobian(np.zeros(4), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="Y must be finite"):
        layer.forward(np.zeros(9), np.full((2, 5), np.nan))


def test_weighted_and_contracted_rows_are_explicit_jacobians():
    rng = np.random.default_rng(2)
    layer = Dense(2, 3, "sigmoid")
    theta, Y = layer.init_params(rng), rng.standard_normal((2, 6))
    _, J = layer.forward_and_jacobian(theta, Y)
    dense_J = J.matmat(np.eye(layer.n_params)).reshape(3, 6, layer.n_params)  # d Z[i, e] / d theta
    W, R = rng.standard_normal((2, 3)), rng.standard_normal((2, 6))
    assert np.allclose(J.weighted_rows(W), np.einsum("ti,iep->tpe", W, dense_J))
    assert np.allclose(J.contracted_rows(R), np.einsum("iep,te->tip", dense_J, R))


def test_products_do_not_share_returned_arrays():
    """The scratch buffer is internal: results of earlier products stay intact."""
    rng = np.random.default_rng(3)
    layer = Dense(2, 4)
    _, J = layer.forward_and_jacobian(layer.init_params(rng), rng.standard_normal((2, 9)))
    W, G = rng.standard_normal((1, 4)), rng.standard_normal((1, 9))
    first = J.rmatvec_outer(W, G)
    kept = first.copy()
    J.rmatvec_outer(W, 2 * G)
    J.matvec_outer(W, rng.standard_normal(layer.n_params))
    assert np.array_equal(first, kept)


# -------------------------------------------------------------- objective


def test_forward_pass_is_shared_by_value_gradient_and_jacobian():
    objective, x, _ = _objective()
    objective.value_and_gradient(x)
    assert objective.work_units == 2
    objective.jacobian_theta(x[: objective.n_theta])  # built from the cached forward pass
    assert objective.work_units == 2


@pytest.mark.parametrize("coupling", [True, False])
def test_gauss_newton_matrix_equals_the_operator(coupling):
    objective, x, _ = _objective()
    H = objective.gauss_newton_matrix(x, coupling=coupling)
    op = objective.gauss_newton_operator(x, coupling=coupling) @ np.eye(objective.n_params)
    assert np.allclose(H, op, atol=1e-12) and np.allclose(H, H.T)


def test_fallbacks_for_layers_without_fast_paths():
    fast, x, _ = _objective()
    plain, _, _ = _objective(layer=PlainLayer(fast.layer))
    assert np.allclose(plain.gauss_newton_matrix(x), fast.gauss_newton_matrix(x), atol=1e-12)
    theta, W = fast.split(x)
    R = np.random.default_rng(5).standard_normal((2, fast.n_examples))
    assert np.allclose(plain.features_contracted_jacobian(theta, R), fast.features_contracted_jacobian(theta, R))
    assert np.allclose(plain.value_and_gradient(x)[1], fast.value_and_gradient(x)[1])
    # Honest work: the fallback pays one product per column, the fast path one pass per target.
    before_plain, before_fast = plain.work_units, fast.work_units
    plain.scores_jacobian_theta(x)
    fast.scores_jacobian_theta(x)
    assert plain.work_units - before_plain == pytest.approx(fast.n_theta)
    assert fast.work_units - before_fast == pytest.approx(2)


def test_gauss_newton_matrix_counts_dense_work():
    objective, x, _ = _objective(n_targets=1)
    objective.value(x)
    before = objective.work_units
    objective.gauss_newton_matrix(x)
    p, m = objective.n_theta, objective.layer.n_out
    # one pass for the explicit rows, the multiply-adds over those of one pass through the model, p + m
    assert objective.work_units - before == pytest.approx(1 + (p * p + p * m + m * m) / (p + m))


def test_gauss_newton_matrix_needs_least_squares():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((2, 20))
    objective = SingleLayerObjective(Dense(2, 3), SoftmaxCrossEntropy(), Y, one_hot(rng.integers(0, 3, 20), 3))
    with pytest.raises(ValueError, match="LeastSquares only"):
        objective.gauss_newton_matrix(objective.init_params(rng))


# ------------------------------------------------------------ variable projection


@pytest.mark.parametrize("reg_W", [0.0, 1e-2])
@pytest.mark.parametrize("projected", ["kaufman", "none", "golub-pereyra"])
def test_reduced_matrix_equals_the_operator(reg_W, projected):
    objective, x, _ = _objective(reg_W=reg_W)
    theta = x[: objective.n_theta]
    reduced = ReducedObjective(objective, jacobian=projected)
    H = reduced.gauss_newton_matrix(theta)
    op = reduced.gauss_newton_operator(theta) @ np.eye(objective.n_theta)
    assert np.allclose(H, op, atol=1e-12) and np.allclose(H, H.T, atol=1e-14)


@pytest.mark.parametrize("reg_W", [0.0, 1e-2])
def test_golub_pereyra_is_the_exact_reduced_jacobian(reg_W, fd_jacobian):
    """Away from zero residual: H = J_red^T J_red / n + alpha I with J_red of theta -> W(theta) Z(theta) - C."""
    objective, x, _ = _objective(reg_W=reg_W, reg_theta=1e-3)
    theta = x[: objective.n_theta]
    reduced = ReducedObjective(objective, jacobian="golub-pereyra")
    J_red = fd_jacobian(lambda t: reduced.solve_W(t) @ objective.features(t) - objective.C, theta)
    expected = J_red.T @ J_red / objective.n_examples + 1e-3 * np.eye(objective.n_theta)
    assert np.allclose(reduced.gauss_newton_matrix(theta), expected, atol=1e-7)
    kaufman = ReducedObjective(objective).gauss_newton_matrix(theta)
    assert not np.allclose(kaufman, expected, atol=1e-4)  # the residual term matters here


def test_reduced_settings_are_checked():
    objective, _, _ = _objective()
    with pytest.raises(ValueError, match="jacobian must be one of"):
        ReducedObjective(objective, jacobian="exact")


# --------------------------------------------------------- Levenberg-Marquardt


class DenseQuadratic:
    """f(x) = 1/2 x^T A x - b^T x with its Hessian as the dense Gauss-Newton matrix."""

    def __init__(self, A, b):
        self.A, self.b = A, b
        self.n_params = b.size
        self.work_units = 0.0

    def value(self, x):
        return 0.5 * x @ self.A @ x - self.b @ x

    def value_and_gradient(self, x):
        return self.value(x), self.A @ x - self.b

    def gauss_newton_operator(self, x):
        return aslinearoperator(self.A)

    def gauss_newton_matrix(self, x):
        return self.A.copy()


@pytest.mark.parametrize("damping", ["levenberg", "marquardt"])
def test_direct_gauss_newton_solves_a_quadratic_in_one_step(damping):
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    A, b = (Q * np.geomspace(1.0, 100.0, 10)) @ Q.T, rng.standard_normal(10)
    result = gauss_newton(DenseQuadratic(A, b), np.zeros(10), inner="direct", damping=damping, gtol=1e-3)
    assert result.n_iter == 1 and result.status == 0  # lambda starts at 1e-6: nearly the Newton step
    assert np.allclose(result.x, np.linalg.solve(A, b), rtol=1e-3)


@pytest.mark.parametrize("coupling", [True, False])
def test_levenberg_marquardt_decreases_the_peaks_loss(coupling):
    rng = np.random.default_rng(0)
    Y, C = peaks(200, rng)
    objective = SingleLayerObjective(Dense(2, 8, "tanh"), LeastSquares(), Y, C, reg_theta=1e-4, reg_W=1e-4)
    x0 = objective.init_params(rng)
    result = gauss_newton(objective, x0, max_iter=15, inner="direct", coupling=coupling)
    losses = result.history.loss
    assert result.status in (0, 1) and losses[-1] < 0.3 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert all(t >= 1 for t in result.history.inner_iter[1:]) and np.all(np.diff(result.history.work) > 0)
    assert np.isclose(result.loss, objective.value(result.x))


@pytest.mark.parametrize("projected", ["kaufman", "golub-pereyra"])
def test_varpro_direct_decreases_the_peaks_loss(projected):
    rng = np.random.default_rng(0)
    Y, C = peaks(300, rng)
    objective = SingleLayerObjective(Dense(2, 8, "tanh"), LeastSquares(), Y, C, reg_theta=1e-5, reg_W=1e-5)
    x0 = objective.init_params(rng)
    result = varpro(objective, x0, max_iter=20, outer="levenberg_marquardt", jacobian=projected)
    # Exact Gauss-Newton steps need not end in the same local minimum as truncated CG: only
    # ask for a clear, monotone decrease here.
    assert result.status in (0, 1) and result.loss < 0.6 * result.history.loss[0]
    assert all(b < a for a, b in zip(result.history.loss, result.history.loss[1:]))
    assert np.isclose(result.loss, objective.value(result.x))


def test_direct_settings_are_checked():
    objective, x, _ = _objective()
    with pytest.raises(ValueError, match="inner must be 'cg' or 'direct'"):
        gauss_newton(objective, x, inner="qr")
    with pytest.raises(ValueError, match="damping must be 'levenberg' or 'marquardt'"):
        gauss_newton(objective, x, inner="direct", damping="trust")
    without_matrix = DenseQuadratic(np.eye(3), np.ones(3))
    without_matrix.gauss_newton_matrix = None
    with pytest.raises(ValueError, match="needs objective.gauss_newton_matrix"):
        gauss_newton(without_matrix, np.zeros(3), inner="direct")
