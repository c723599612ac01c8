"""Tests of :mod:`nnlib.parametric` beyond the generic layer suite.

The generic suite in ``test_layers.py`` already runs Taylor and adjoint tests
on every ``ParametricDense.test_cases()`` instance in float64 and float32.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from nnlib.layers import Layer
from nnlib.parametric import (
    KINDS,
    Q_MAX_N,
    ParametricDense,
    ParametricKernel,
    parametric_Q,
)

# The 9 x 6 matrix Q of the lecture notes ("Example: Derivative of M-matrix"),
# with vec stacking the columns of K (MATLAB's K(:)).
SEED_MMATRIX_Q = np.array(
    [
        [1, 1, 0, 0, 0, 0],
        [0, 0, -1, 0, 0, 0],
        [0, 0, 0, 0, -1, 0],
        [-1, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, -1],
        [0, -1, 0, 0, 0, 0],
        [0, 0, 0, -1, 0, 0],
        [0, 0, 0, 0, 1, 1],
    ]
)


def test_seed_mmatrix_Q_column_major():
    Q = parametric_Q("mmatrix", 3, order="F")
    assert sp.issparse(Q) and Q.shape == (9, 6)
    np.testing.assert_array_equal(Q.toarray(), SEED_MMATRIX_Q)


def test_seed_mmatrix_formula():
    t1, t2, t3, t4, t5, t6 = theta = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    expected = np.array([[t1 + t2, -t1, -t2], [-t3, t3 + t4, -t4], [-t5, -t6, t5 + t6]])
    K = ParametricKernel("mmatrix", 3).matrix(theta)
    np.testing.assert_array_equal(K, expected)
    # mat(Q theta) in both vec conventions
    np.testing.assert_array_equal((parametric_Q("mmatrix", 3, "F") @ theta).reshape(3, 3, order="F"), K)
    np.testing.assert_array_equal((parametric_Q("mmatrix", 3, "C") @ theta).reshape(3, 3), K)
    np.testing.assert_array_equal(K.sum(axis=1), 0.0)


def test_seed_antisymmetric_and_diagonal_formulas():
    t1, t2, t3 = theta = np.array([1.0, 2.0, 3.0])
    K = ParametricKernel("antisymmetric", 3).matrix(theta)
    np.testing.assert_array_equal(K, [[0, t1, t2], [-t1, 0, t3], [-t2, -t3, 0]])
    np.testing.assert_array_equal(ParametricKernel("diagonal", 3).matrix(theta), np.diag(theta))


@pytest.mark.parametrize("kind, n, p", [("diagonal", 5, 5), ("antisymmetric", 5, 10), ("mmatrix", 5, 20)])
def test_number_of_parameters(kind, n, p):
    assert ParametricKernel(kind, n).n_params == p
    assert parametric_Q(kind, n).shape == (n * n, p)
    assert ParametricDense(kind, n).n_params == p + n
    assert ParametricDense(kind, n, bias=False).n_params == p


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 6])
def test_matrix_free_products_match_Q(kind, n):
    rng = np.random.default_rng(1)
    ker = ParametricKernel(kind, n)
    Q = parametric_Q(kind, n)
    theta = rng.standard_normal(ker.n_params)
    G = rng.standard_normal((n, n))
    Y = rng.standard_normal((n, 4))
    np.testing.assert_allclose(ker.matrix(theta).ravel(), Q @ theta, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(ker.transpose_apply(G), Q.T @ G.ravel(), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ker.apply(theta, Y), ker.matrix(theta) @ Y, rtol=1e-14, atol=1e-14)
    assert ker.Q().shape == Q.shape


def test_antisymmetric_eigenvalues_are_imaginary():
    ker = ParametricKernel("antisymmetric", 7)
    K = ker.matrix(ker.init_params(np.random.default_rng(2)))
    np.testing.assert_allclose(K, -K.T)
    assert np.max(np.abs(np.linalg.eigvals(K).real)) < 1e-12


def test_mmatrix_init_is_an_m_matrix():
    ker = ParametricKernel("mmatrix", 6)
    theta = ker.init_params(np.random.default_rng(3))
    assert np.all(theta >= 0)
    K = ker.matrix(theta)
    off = K - np.diag(np.diag(K))
    assert np.all(off <= 0) and np.all(np.diag(K) >= 0)
    np.testing.assert_allclose(K.sum(axis=1), 0, atol=1e-15)
    # K + I is a non-singular M-matrix: its inverse is entry-wise non-negative.
    assert np.all(np.linalg.inv(K + np.eye(6)) >= -1e-15)


def test_negative_mmatrix_parameters():
    ker = ParametricKernel("mmatrix", 3)
    theta = np.array([1.0, 2.0, -0.5, 4.0, 5.0, 6.0])
    # Documented handling: mat(Q theta) is defined for any theta ...
    assert ker.matrix(theta)[1, 0] == 0.5
    # ... check_nonnegative names the offending entry, project clips.
    with pytest.raises(ValueError, match=r"theta\[2\] = -0.5.*K\[1, 0\]"):
        ker.check_nonnegative(theta)
    np.testing.assert_array_equal(ker.project(theta), [1, 2, 0, 4, 5, 6])
    layer = ParametricDense("mmatrix", 3, strict=True)
    full = np.concatenate([theta, np.zeros(3)])
    for method in ("forward", "jacobian_params", "jacobian_input"):
        with pytest.raises(ValueError, match=">= 0"):
            getattr(layer, method)(full, np.ones((3, 2)))
    ParametricDense("mmatrix", 3).forward(full, np.ones((3, 2)))  # not strict: allowed
    projected = layer.project(full)
    assert np.all(projected[:6] >= 0)
    layer.forward(projected, np.ones((3, 2)))


def test_Q_refuses_large_sizes():
    with pytest.raises(ValueError, match=rf"n <= {Q_MAX_N}.*ParametricKernel"):
        parametric_Q("antisymmetric", Q_MAX_N + 1)
    # The matrix-free kernel has no such limit.
    ker = ParametricKernel("antisymmetric", 300)
    assert ker.matrix(np.ones(ker.n_params)).shape == (300, 300)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: ParametricKernel("circulant", 3), "kind"),
        (lambda: ParametricKernel("diagonal", 0), "n"),
        (lambda: parametric_Q("diagonal", 3, order="K"), "order"),
        (lambda: ParametricDense("diagonal", 3, "bogus"), "bogus"),
    ],
)
def test_bad_arguments(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


@pytest.mark.parametrize("kind", KINDS)
def test_layer_jacobians_match_central_differences(kind, fd_jacobian):
    layer = ParametricDense(kind, 4, "tanh")
    rng = np.random.default_rng(4)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((4, 3))
    for J, fd in [
        (layer.jacobian_params(theta, Y), fd_jacobian(lambda t: layer.forward(t, Y), theta)),
        (layer.jacobian_input(theta, Y), fd_jacobian(lambda y: layer.forward(theta, y), Y)),
    ]:
        m, p = J.shape
        np.testing.assert_allclose(np.column_stack([J.matvec(e) for e in np.eye(p)]), fd, atol=1e-8)
        np.testing.assert_allclose(np.column_stack([J.rmatvec(e) for e in np.eye(m)]).T, fd, atol=1e-8)


def test_layer_forward_known_value():
    layer = ParametricDense("antisymmetric", 2, "identity")
    Z = layer.forward(np.array([2.0, 10.0, 20.0]), np.array([[1.0], [3.0]]))
    np.testing.assert_array_equal(Z, [[2.0 * 3 + 10], [-2.0 * 1 + 20]])


def test_registered_for_the_generic_suite():
    assert Layer.registry["ParametricDense"] is ParametricDense
    kinds = {layer.kind for layer, _ in ParametricDense.test_cases()}
    assert kinds == set(KINDS)
    assert repr(ParametricDense("mmatrix", 3, "relu", bias=False)) == (
        "ParametricDense('mmatrix', n=3, activation='relu', bias=False)"
    )
