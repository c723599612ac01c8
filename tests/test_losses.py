"""Tests of :mod:`nnlib.losses`: derivatives, known values, stability, validation."""

import numpy as np
import pytest

from nnlib.checks import taylor_test
from nnlib.data import one_hot
from nnlib.losses import LeastSquares, MulticlassHinge, SoftmaxCrossEntropy, log_softmax, softmax

LOSSES = [
    pytest.param(LeastSquares(), id="LeastSquares"),
    pytest.param(SoftmaxCrossEntropy(), id="SoftmaxCrossEntropy"),
]
DTYPES = [
    pytest.param(np.float64, id="float64"),
    pytest.param(np.float32, id="float32"),
]
SHAPES = [(2, 1), (3, 5), (10, 4)]


def _problem(loss, shape, dtype=np.float64, seed=0, soft=False):
    """Scores S and targets C valid for ``loss`` (one-hot or soft labels for softmax)."""
    rng = np.random.default_rng(seed)
    n_c, n = shape
    S = (2 * rng.standard_normal(shape)).astype(dtype)
    if isinstance(loss, SoftmaxCrossEntropy):
        C = rng.dirichlet(np.ones(n_c), size=n).T if soft else one_hot(rng.integers(0, n_c, n), n_c)
    else:
        C = rng.standard_normal(shape)
    return rng, S, C.astype(dtype)


# --------------------------------------------------------------------------
# Taylor tests of gradient and Hessian
# --------------------------------------------------------------------------


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_taylor(loss, dtype, shape, soft):
    rng, S, C = _problem(loss, shape, dtype, soft=soft)
    grad = loss.gradient(S, C)
    result = taylor_test(
        lambda Sh: loss.value(Sh, C), lambda dS: np.sum(grad * dS), S, rng=rng, name="gradient"
    )
    assert result, f"{result}\n{result.table()}"


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_hessian_matvec_taylor(loss, dtype, shape, soft):
    rng, S, C = _problem(loss, shape, dtype, soft=soft)
    result = taylor_test(
        lambda Sh: loss.gradient(Sh, C),
        lambda dS: loss.hessian_matvec(S, C, dS),
        S,
        rng=rng,
        name="Hessian",
    )
    assert result, f"{result}\n{result.table()}"


@pytest.mark.parametrize("loss", LOSSES)
def test_taylor_rejects_a_gradient_missing_the_average(loss):
    """Forgetting the 1/n of the mean is caught, also in single precision."""
    for dtype in (np.float64, np.float32):
        rng, S, C = _problem(loss, (3, 6), dtype)
        wrong = loss.gradient(S, C) * S.shape[1]
        result = taylor_test(lambda Sh: loss.value(Sh, C), lambda dS: np.sum(wrong * dS), S, rng=rng)
        assert not result, f"{dtype.__name__}: {result}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_dtypes_are_kept(loss, dtype):
    _, S, C = _problem(loss, (3, 4), dtype)
    value = loss.value(S, C)
    assert np.ndim(value) == 0 and np.isfinite(value)
    assert loss.gradient(S, C).dtype == dtype
    assert loss.hessian_matvec(S, C, S).dtype == dtype


# --------------------------------------------------------------------------
# independent finite differences
# --------------------------------------------------------------------------


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_matches_central_differences(loss, shape, soft, fd_jacobian):
    _, S, C = _problem(loss, shape, soft=soft, seed=11)
    fd = fd_jacobian(lambda Sh: loss.value(Sh, C), S).reshape(S.shape)
    np.testing.assert_allclose(loss.gradient(S, C), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("loss", LOSSES)
def test_hessian_matvec_matches_central_differences(loss, shape, soft, fd_jacobian):
    _, S, C = _problem(loss, shape, soft=soft, seed=12)
    fd = fd_jacobian(lambda Sh: loss.gradient(Sh, C), S)
    H = np.column_stack([np.ravel(loss.hessian_matvec(S, C, E.reshape(S.shape))) for E in np.eye(S.size)])
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-9)
    # A Hessian is symmetric, and both losses are convex: positive semi-definite.
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-15)
    assert np.linalg.eigvalsh(H).min() >= -1e-14


# --------------------------------------------------------------------------
# values computed by hand
# --------------------------------------------------------------------------


def test_least_squares_known_values():
    loss = LeastSquares()
    S, C = np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])
    assert loss.value(S, C) == pytest.approx(1.25, rel=1e-15)  # (1 + 4) / (2 * 2)
    np.testing.assert_allclose(loss.gradient(S, C), [[0.5, 1.0]], rtol=1e-15)
    np.testing.assert_allclose(loss.hessian_matvec(S, C, [[4.0, 6.0]]), [[2.0, 3.0]], rtol=1e-15)
    # One example with two targets: nothing to average over.
    assert loss.value([[1.0], [2.0]], [[0.0], [0.0]]) == pytest.approx(2.5, rel=1e-15)
    assert loss.value(C, C) == 0.0


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_softmax_cross_entropy_of_zero_scores_is_log_n_classes(n_classes):
    loss = SoftmaxCrossEntropy()
    n = 4
    S = np.zeros((n_classes, n))
    C = one_hot(np.arange(n) % n_classes, n_classes)
    assert loss.value(S, C) == pytest.approx(np.log(n_classes), rel=1e-14)
    np.testing.assert_allclose(loss.gradient(S, C), (1 / n_classes - C) / n, rtol=1e-14, atol=1e-16)


def test_softmax_cross_entropy_known_values():
    loss = SoftmaxCrossEntropy()
    S = np.array([[0.0], [np.log(3.0)]])  # softmax = (1/4, 3/4)
    np.testing.assert_allclose(softmax(S), [[0.25], [0.75]], rtol=1e-15)
    assert loss.value(S, [[0.0], [1.0]]) == pytest.approx(np.log(4 / 3), rel=1e-14)
    assert loss.value(S, [[1.0], [0.0]]) == pytest.approx(np.log(4.0), rel=1e-14)
    assert loss.value(S, [[0.5], [0.5]]) == pytest.approx(0.5 * (np.log(4.0) + np.log(4 / 3)), rel=1e-14)
    np.testing.assert_allclose(loss.gradient(S, [[0.0], [1.0]]), [[0.25], [-0.25]], rtol=1e-14)
    # Per column (diag(p) - p p^T) ds / n with p = (1/4, 3/4), ds = (1, 0).
    np.testing.assert_allclose(
        loss.hessian_matvec(S, [[0.0], [1.0]], [[1.0], [0.0]]), [[3 / 16], [-3 / 16]], rtol=1e-14
    )


def test_softmax_invariances():
    """Adding a constant to a column changes nothing; gradient columns sum to 0."""
    loss = SoftmaxCrossEntropy()
    _, S, C = _problem(loss, (4, 5), seed=3)
    shift = np.arange(5.0)[None, :]
    assert loss.value(S + shift, C) == pytest.approx(loss.value(S, C), rel=1e-13)
    np.testing.assert_allclose(loss.gradient(S, C).sum(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(loss.hessian_matvec(S, C, np.ones_like(S) * shift), 0, atol=1e-15)
    np.testing.assert_allclose(np.exp(log_softmax(S)).sum(axis=0), 1, rtol=1e-15)


# --------------------------------------------------------------------------
# stability for huge scores
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_huge_logits_are_finite(dtype):
    loss = SoftmaxCrossEntropy()
    S = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype)
    right = np.eye(2, dtype=dtype)
    wrong = right[::-1].copy()
    # Underflow of exp(-2e4) to 0 is harmless; overflow, 0 * inf or log(0) are not.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert loss.value(S, right) == 0.0
        assert loss.value(S, wrong) == pytest.approx(2e4, rel=1e-6)
        for C in (right, wrong):
            grad = loss.gradient(S, C)
            hess = loss.hessian_matvec(S, C, np.ones_like(S))
            assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
        np.testing.assert_allclose(loss.gradient(S, wrong), (right - wrong) / 2, atol=1e-7)
        np.testing.assert_allclose(loss.gradient(S, right), 0, atol=1e-7)


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def _call(loss, method, S, C, dS=None):
    if method == "hessian_matvec":
        return loss.hessian_matvec(S, C, np.zeros(np.shape(S)) if dS is None else dS)
    return getattr(loss, method)(S, C)


METHODS = ["value", "gradient", "hessian_matvec"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("loss", LOSSES)
def test_shape_mismatch_raises(loss, method):
    _, S, C = _problem(loss, (3, 5))
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(3, 4\)"):
        _call(loss, method, S, C[:, :4])
    with pytest.raises(ValueError, match=r"2-D.*\(5,\)"):
        _call(loss, method, S[0], C[0], dS=np.zeros(5))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("where", ["S", "C"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("loss", LOSSES)
def test_non_finite_inputs_raise(loss, where, bad, method):
    _, S, C = _problem(loss, (3, 5))
    (S if where == "S" else C)[1, 2] = bad
    with pytest.raises(ValueError, match=rf"{where} must be finite.*{bad}.*\(1, 2\)"):
        _call(loss, method, S, C)


@pytest.mark.parametrize("loss", LOSSES)
def test_bad_direction_raises(loss):
    _, S, C = _problem(loss, (3, 5))
    with pytest.raises(ValueError, match=r"dS.*\(3, 5\).*\(5, 3\)"):
        loss.hessian_matvec(S, C, np.zeros((5, 3)))
    dS = np.zeros((3, 5))
    dS[0, 0] = np.nan
    with pytest.raises(ValueError, match="dS must be finite"):
        loss.hessian_matvec(S, C, dS)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "C, bad_column",
    [
        pytest.param([[1.0, 0.5], [0.0, -0.5], [0.0, 1.0]], 1, id="negative"),
        pytest.param([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]], 0, id="column-sums-to-2"),
        pytest.param([[0.5, 1.0], [0.4, 0.0], [0.0, 0.0]], 0, id="column-sums-to-0.9"),
        pytest.param([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]], 1, id="all-zero-column"),
        pytest.param([[2.0, 1.0], [-1.0, 0.0], [0.0, 0.0]], 0, id="sums-to-1-but-negative"),
        pytest.param([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], 0, id="two-hot"),
    ],
)
def test_softmax_rejects_labels_that_are_not_probabilities(C, bad_column, method):
    S = np.zeros((3, 2))
    with pytest.raises(ValueError, match="one-hot") as info:
        _call(SoftmaxCrossEntropy(), method, S, np.array(C))
    assert f"column {bad_column}" in str(info.value)


@pytest.mark.parametrize("method", METHODS)
def test_softmax_needs_two_classes(method):
    with pytest.raises(ValueError, match=r"at least 2 classes.*\(1, 3\)"):
        _call(SoftmaxCrossEntropy(), method, np.zeros((1, 3)), np.ones((1, 3)))


def test_softmax_accepts_soft_labels_in_float32_tolerance():
    """Columns that sum to 1 only to single precision are accepted in float32."""
    C = np.array([[0.3], [0.7]], dtype=np.float32) * np.float32(1 + 1e-5)
    S = np.zeros((2, 1), dtype=np.float32)
    assert np.isfinite(SoftmaxCrossEntropy().value(S, C))


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_do_not_mutate_inputs(loss):
    rng, S, C = _problem(loss, (3, 5))
    dS = rng.standard_normal(S.shape)
    copies = [a.copy() for a in (S, C, dS)]
    loss.value(S, C)
    loss.gradient(S, C)
    loss.hessian_matvec(S, C, dS)
    for a, a0 in zip((S, C, dS), copies):
        np.testing.assert_array_equal(a, a0)


# --------------------------------------------------------------------------
# The multiclass hinge loss (piecewise linear: tested away from its kinks)
# --------------------------------------------------------------------------


def test_hinge_known_value_and_gradient():
    S = np.array([[2.0, 0.0], [0.5, 0.2], [1.5, -1.0]])
    C = one_hot(np.array([0, 1]), 3)
    # example 0: margins 1 + 0.5 - 2 = -0.5 (no loss), 1 + 1.5 - 2 = 0.5; example 1: 1 + 0 - 0.2 = 0.8, 1 - 1 - 0.2 < 0
    loss = MulticlassHinge()
    assert np.isclose(loss.value(S, C), (0.5 + 0.8) / 2)
    expected = np.array([[-1.0, 1.0], [0.0, -1.0], [1.0, 0.0]]) / 2
    assert np.array_equal(loss.gradient(S, C), expected)
    assert np.array_equal(loss.hessian_matvec(S, C, np.ones_like(S)), np.zeros_like(S))


@pytest.mark.parametrize("seed", range(5))
def test_hinge_gradient_matches_finite_differences_away_from_kinks(seed):
    rng = np.random.default_rng(seed)
    C = one_hot(rng.integers(0, 4, 6), 4)
    S = rng.standard_normal((4, 6))
    loss = MulticlassHinge()
    M = 1 + S - np.sum(S * C, axis=0)
    h = 0.1 * np.min(np.abs(M[C == 0]))  # no margin crosses zero within h
    dS = rng.standard_normal(S.shape)
    dS /= np.max(np.abs(dS))
    exact = np.sum(loss.gradient(S, C) * dS)
    assert np.isclose((loss.value(S + h * dS / 2, C) - loss.value(S - h * dS / 2, C)) / h, exact, rtol=1e-9)


def test_hinge_gradient_is_a_subgradient():
    rng = np.random.default_rng(7)
    C = one_hot(rng.integers(0, 3, 10), 3)
    loss = MulticlassHinge()
    for _ in range(50):
        S, T = rng.standard_normal((2, 3, 10))
        assert loss.value(T, C) >= loss.value(S, C) + np.sum(loss.gradient(S, C) * (T - S)) - 1e-12


@pytest.mark.parametrize("C, needle", [(np.array([[0.5, 1.0], [0.5, 0.0]]), "one-hot"),
                                       (np.array([[1.0, 1.0], [1.0, 0.0]]), "one-hot")])
def test_hinge_rejects_labels_that_are_not_one_hot(C, needle):
    with pytest.raises(ValueError, match=needle):
        MulticlassHinge().value(np.zeros((2, 2)), C)


def test_hinge_needs_two_classes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        MulticlassHinge().value(np.zeros((1, 3)), np.ones((1, 3)))
