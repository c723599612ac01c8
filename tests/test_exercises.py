"""The self-checks of nnlib.exercises accept right answers and reject wrong ones with a hint."""

import numpy as np

from nnlib.exercises import check_gradient, check_jacobian, check_least_squares, check_rank

A = np.random.default_rng(1).standard_normal((4, 3))


def f(x):
    return np.tanh(A @ x)


def jvp(v, x=np.linspace(-1, 1, 3)):
    return (1 - np.tanh(A @ x) ** 2) * (A @ v)


def vjp(w, x=np.linspace(-1, 1, 3)):
    return A.T @ ((1 - np.tanh(A @ x) ** 2) * w)


X0 = np.linspace(-1, 1, 3)


def test_right_jacobian_passes_both_tests():
    verdict = check_jacobian(f, jvp, X0, vjp=vjp)
    assert verdict and "adjoint" in str(verdict) and str(verdict).startswith("Correct")


def test_forgotten_derivative_of_tanh_fails_with_a_hint():
    verdict = check_jacobian(f, lambda v: A @ v, X0)
    assert not verdict
    assert "Hint" in str(verdict) and "falls like h" in str(verdict)


def test_wrong_transpose_fails_the_adjoint_part():
    verdict = check_jacobian(f, jvp, X0, vjp=lambda w: A.T @ w)
    assert not verdict and "transpose" in verdict.message


def test_wrong_shapes_and_crashes_are_reported_not_raised():
    assert "entries" in check_jacobian(f, lambda v: np.zeros(7), X0).message
    assert "raised ZeroDivisionError" in check_jacobian(f, lambda v: 1 / 0, X0).message


def test_gradient_check():
    def loss(x):
        return 0.5 * float(np.sum(f(x) ** 2))

    def gradient(x):
        return vjp(f(x), x)

    assert check_gradient(loss, gradient, X0)
    assert not check_gradient(loss, lambda x: 2 * gradient(x), X0)
    assert "shape" in check_gradient(loss, lambda x: np.zeros(2), X0).message


def test_least_squares_check_uses_the_normal_equations():
    rng = np.random.default_rng(0)
    Z, C = rng.standard_normal((5, 40)), rng.standard_normal((2, 40))
    W = np.linalg.solve(Z @ Z.T + 0.1 * np.eye(5), Z @ C.T).T
    assert check_least_squares(W, Z, C, regularization=0.1)
    assert not check_least_squares(W, Z, C, regularization=0.0)
    assert "shape" in check_least_squares(W.T, Z, C).message


def test_least_squares_residual_at_round_off_prints_a_bound():
    # the residual's digits differ between CPUs; the printed verdict must not
    rng = np.random.default_rng(3)
    Z, C = rng.standard_normal((5, 40)), rng.standard_normal((2, 40))
    W = np.linalg.solve(Z @ Z.T + 0.1 * np.eye(5), Z @ C.T).T
    assert str(check_least_squares(W, Z, C, regularization=0.1)) == (
        "Correct: W satisfies the normal equations (relative residual below 1e-12).")
    loose = check_least_squares(W * (1 + 1e-10), Z, C, regularization=0.1)
    assert loose and "relative residual 1e-10" in loose.message


def test_rank_check():
    M = np.outer(np.arange(1.0, 5.0), np.ones(3))
    assert check_rank(1, M)
    wrong = check_rank(3, M)
    assert not wrong and "Hint" in str(wrong)


def _stub(*args):
    raise NotImplementedError("fill in the stub")


def test_unfilled_stubs_get_not_yet_never_an_exception():
    Z = np.random.default_rng(2).standard_normal((3, 10))
    C = np.random.default_rng(3).standard_normal((1, 10))
    verdicts = [
        check_gradient(lambda x: 0.5 * x @ x, _stub, X0),
        check_jacobian(f, _stub, X0),
        check_jacobian(f, jvp, X0, vjp=_stub),
        check_least_squares(_stub, Z, C, 1e-3),
        check_rank(_stub, Z),
    ]
    for verdict in verdicts:
        assert not verdict and "fill in the stub" in str(verdict), verdict
        assert str(verdict).startswith("Not yet")


def test_checks_accept_the_students_function():
    Z = np.random.default_rng(2).standard_normal((3, 10))
    C = np.random.default_rng(3).standard_normal((1, 10))

    def ridge(Z, C, regularization):
        return np.linalg.solve(Z @ Z.T + regularization * np.eye(Z.shape[0]), Z @ C.T).T

    assert check_least_squares(ridge, Z, C, 1e-3)
    assert not check_least_squares(lambda Z, C, r: ridge(Z, C, 0.0), Z, C, 1.0)
    assert check_rank(lambda A: np.linalg.matrix_rank(A), Z)
    assert not check_rank(lambda A: 2, Z)


def test_all_correct_and_assert_correct():
    import pytest

    from nnlib.exercises import Verdict, all_correct, assert_correct

    good, bad = Verdict(True, "a"), Verdict(False, "b", "hint b")
    assert all_correct(good, good) and not all_correct(good, bad)
    assert all_correct(good, bad).message == "b"
    assert assert_correct(good) is good
    with pytest.raises(AssertionError, match="Not yet: b"):
        assert_correct(bad)
    with pytest.raises(TypeError, match="Verdict"):
        assert_correct(True)
    with pytest.raises(ValueError, match="at least one"):
        all_correct()


def test_bad_exercise_data_is_a_value_error_and_a_nan_answer_is_not_yet():
    import pytest

    Z = np.ones((3, 4))
    with pytest.raises(ValueError, match="Z has 4 examples .* but C has 5"):
        check_least_squares(np.zeros((1, 3)), Z, np.ones((1, 5)))
    with pytest.raises(ValueError, match="Z contains NaN"):
        check_least_squares(np.zeros((1, 3)), np.full((3, 4), np.nan), np.ones((1, 4)))
    with pytest.raises(ValueError, match="A contains NaN"):
        check_rank(1, np.full((2, 2), np.nan))
    verdict = check_least_squares(np.full((1, 3), np.nan), Z, np.ones((1, 4)))
    assert not verdict and "not finite" in str(verdict)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        check_gradient(lambda x: x @ x, lambda x: 2 * x, X0, rng=0)


def test_check_function_compares_with_a_reference_computation():
    import scipy.sparse as sp

    from nnlib.exercises import check_function

    A = np.random.default_rng(4).standard_normal((5, 5))
    cases = [(A,), (A.T,)]
    assert check_function(lambda M: sp.csr_matrix(2 * M), lambda M: 2 * M, cases)
    verdict = check_function(lambda M: 2 * M + 1e-3, lambda M: 2 * M, cases, name="double")
    assert not verdict and "double differs" in verdict.message and "test case 1" in verdict.message
    assert check_function(lambda M: np.linalg.eigvals(M)[::-1], np.linalg.eigvals, cases, unordered=True)
    assert not check_function(lambda M: np.linalg.eigvals(M)[::-1], np.linalg.eigvals, cases)
    assert "fill in the stub" in str(check_function(_stub, lambda M: M, cases))
    assert "shape" in check_function(lambda M: M[0], lambda M: M, cases).message
