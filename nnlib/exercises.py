"""Self-checks for exercises: a clear verdict and a hint, never a stored answer.

Each check recomputes what it needs from the student's own function or from the
data of the exercise: a derivative is judged by the Taylor and adjoint tests, a
least-squares solution by its normal equations, a rank by an SVD.  Nothing here
is an answer key a student could copy.

>>> from nnlib.exercises import check_gradient
>>> check_gradient(lambda x: 0.5 * x @ x, lambda x: x, np.ones(3))  # doctest: +SKIP
Correct: the gradient passes the Taylor test (observed order of E1 2.00, expected 2).
"""

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._validation import check_rng
from .checks import adjoint_test, taylor_test
from .report import below_or_value

__all__ = [
    "Verdict",
    "check_jacobian",
    "check_gradient",
    "check_least_squares",
    "check_rank",
    "check_function",
    "all_correct",
    "assert_correct",
]


@dataclass
class Verdict:
    """Outcome of a self-check: truthy when correct, printable with a hint."""

    passed: bool
    message: str
    hint: str = ""

    def __bool__(self):
        return self.passed

    def __str__(self):
        if self.passed:
            return f"Correct: {self.message}."
        return f"Not yet: {self.message}.\nHint: {self.hint}" if self.hint else f"Not yet: {self.message}."

    __repr__ = __str__


def all_correct(*verdicts):
    """One verdict for several checks: correct when every one is, else the first that is not.

    For a check cell that judges several functions of one exercise.
    """
    if not verdicts:
        raise ValueError("all_correct needs at least one verdict; got none")
    for verdict in verdicts:
        if not isinstance(verdict, Verdict):
            raise TypeError(f"all_correct takes Verdicts (the results of the check functions); got {type(verdict).__name__}")
    failed = [v for v in verdicts if not v]
    if failed:
        first = failed[0]
        return Verdict(False, first.message, first.hint)
    return Verdict(True, "; ".join(v.message for v in verdicts))


def assert_correct(verdict):
    """Raise ``AssertionError`` with the verdict's message and hint unless it is correct.

    The autograded test cells of the nbgrader assignments (``tools/assignments.py``) end
    with it: nbgrader counts a test cell as passed when it raises nothing.
    """
    if not isinstance(verdict, Verdict):
        raise TypeError(f"assert_correct takes a Verdict (the result of a check function); got {type(verdict).__name__}")
    if not verdict:
        raise AssertionError(str(verdict))
    return verdict


def _default_rng(rng):
    return np.random.default_rng(0) if rng is None else check_rng(rng)


STUB_MESSAGE = "it still raises NotImplementedError: fill in the stub"


def _safe_call(function, *args):
    if not callable(function):
        return None, f"expected a function, got {type(function).__name__}"
    try:
        return np.asarray(function(*args)), None
    except NotImplementedError:
        return None, STUB_MESSAGE
    except Exception as exc:  # a student's function may fail in any way
        return None, f"calling it raised {type(exc).__name__}: {exc}"


def _point(x):
    """``x`` as a float array, or a Verdict saying why it cannot be a point to check at."""
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        return None, Verdict(False, f"x must be an array of numbers; got {type(x).__name__} ({exc})",
                             "pass the point at which to check, e.g. a numpy array")
    if not np.all(np.isfinite(x)):
        return None, Verdict(False, "x contains NaN or infinite entries, so no derivative can be checked there "
                             "(this is about the point, not about your derivative)",
                             "pass a finite point x")
    return x, None


def _not_finite(value, what):
    if value is not None and not np.all(np.isfinite(value)):
        return Verdict(False, f"{what} is not finite (NaN or infinite entries)",
                       f"make {what} finite at this x before checking derivatives")
    return None


def check_jacobian(f, jvp, x, vjp=None, rng=None):
    """Judge a student's Jacobian products of ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        ``x -> f(x)``.
    jvp : callable
        The student's ``v -> J v`` (same shape as ``f(x)``, or flat).
    x : ndarray
        Point of linearization.
    vjp : callable, optional
        The student's ``w -> J^T w``; checked with the adjoint test against ``jvp``.
    rng : numpy.random.Generator, optional
        Draws the test directions (default: ``default_rng(0)``).

    Returns
    -------
    Verdict
    """
    rng = _default_rng(rng)
    x, bad = _point(x)
    if bad is not None:
        return bad
    fx, error = _safe_call(f, x)
    if error:
        return Verdict(False, f"f(x) failed: {error}", "make f run on x first")
    bad = _not_finite(fx, "f(x)")
    if bad is not None:
        return bad
    v = rng.standard_normal(x.shape)
    Jv, error = _safe_call(jvp, v)
    if error:
        return Verdict(False, f"J v failed: {error}", f"v has shape {x.shape}; J v must have f(x)'s size {fx.size}")
    if Jv.size != fx.size:
        return Verdict(False, f"J v has {Jv.size} entries but f(x) has {fx.size}",
                       "J v is a change of f, so it has the shape of f(x)")
    bad = _not_finite(Jv, "J v")
    if bad is not None:
        return bad
    try:
        result = taylor_test(f, lambda d: np.reshape(jvp(d), fx.shape), x, v=v)
    except Exception as exc:  # f or jvp failing at another point than x
        return Verdict(False, f"the Taylor test could not run: {type(exc).__name__}: {exc}",
                       "f and J v must work for every point near x, not only at x")
    if not result:
        observed = result.order[np.isfinite(result.order)]
        slope = float(np.median(observed[-4:])) if observed.size else float("nan")
        hint = ("E1 falls like h, not h^2: J v is the derivative of something else. Compare one entry "
                "with the difference quotient (f(x + h v) - f(x)) / h for a small h."
                if 0.7 < slope < 1.3 else
                "E1 does not fall at all: is J v scaled by h, or computed at another point than x?")
        return Verdict(False, f"the Taylor test failed ({result.message})", hint)
    if vjp is None:
        return Verdict(True, f"J v passes the Taylor test ({result.message})")
    w = rng.standard_normal(fx.shape)
    JTw, error = _safe_call(vjp, w)
    if error:
        return Verdict(False, f"J^T w failed: {error}", f"w has shape {fx.shape}; J^T w must have x's size {x.size}")
    if JTw.size != x.size:
        return Verdict(False, f"J^T w has {JTw.size} entries but x has {x.size}",
                       "J^T maps changes of f(x) back to the shape of x")
    operator = LinearOperator(
        (fx.size, x.size),
        matvec=lambda d: np.ravel(jvp(np.reshape(d, x.shape))),
        rmatvec=lambda d: np.ravel(vjp(np.reshape(d, fx.shape))),
        dtype=float,
    )
    adjoint = adjoint_test(operator, rng=rng)
    if not adjoint:
        return Verdict(False, f"J v is right but J^T w is not its transpose (relative error {adjoint.rel_error:.1e})",
                       "transpose every step of J v in reverse order; sums over examples in J v become "
                       "copies in J^T w and vice versa")
    return Verdict(True, f"J v passes the Taylor test and J^T w the adjoint test ({result.message})")


def check_gradient(f, gradient, x, rng=None):
    """Judge a student's gradient of a scalar function ``f`` at ``x`` with the Taylor test."""
    rng = _default_rng(rng)
    x, bad = _point(x)
    if bad is not None:
        return bad
    g, error = _safe_call(gradient, x)
    if error:
        return Verdict(False, f"the gradient failed: {error}", "make it run on x first")
    if g.shape != x.shape:
        return Verdict(False, f"the gradient has shape {g.shape} but x has shape {x.shape}",
                       "the gradient of a scalar function has the shape of its argument")
    bad = _not_finite(g, "the gradient")
    if bad is not None:
        return bad
    fx, error = _safe_call(f, x)
    if error:
        return Verdict(False, f"f(x) failed: {error}", "make f run on x first")
    bad = _not_finite(fx, "f(x)")
    if bad is not None:
        return bad
    try:
        result = taylor_test(f, lambda v: float(np.sum(g * v)), x, rng=rng)
    except Exception as exc:  # a student's f may fail near x
        return Verdict(False, f"the Taylor test could not run: {type(exc).__name__}: {exc}",
                       "f must work for every point near x, and return one number")
    if result:
        return Verdict(True, f"the gradient passes the Taylor test ({result.message})")
    return Verdict(False, f"the Taylor test failed ({result.message})",
                   "check the factor 1/n of an average, the transpose of each matrix in the chain rule, "
                   "and the regularization term")


def _finite_array(a, name):
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers; got {type(a).__name__} ({exc})") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite entries; the check needs finite data")
    return a


def check_least_squares(W, Z, C, regularization=0.0, rtol=1e-8):
    """Judge ``W`` as the solution of ``min_W 1/2 ||W Z - C||^2 + reg/2 ||W||^2``.

    Parameters
    ----------
    W : ndarray or callable
        The student's weights, shape ``(n_targets, m)``, or the student's function
        ``solve(Z, C, regularization) -> W``, which is then called here (so an unfilled
        stub gets a "Not yet" verdict instead of an error).
    Z : ndarray, shape (m, n)
        Features, one column per example.
    C : ndarray, shape (n_targets, n)
        Targets.
    regularization : float
        ``reg >= 0``.
    rtol : float
        Bound on the relative residual of the normal equations.

    Notes
    -----
    The check is the normal equations ``W (Z Z^T + reg I) = C Z^T``, so any correct
    method (Cholesky, QR, SVD, lstsq) passes.  Bad data (``Z``, ``C`` of mismatched
    shapes, NaN) is the exercise's fault, not the student's: it raises ``ValueError``.
    """
    Z = _finite_array(Z, "Z")
    C = _finite_array(C, "C")
    if Z.ndim != 2 or C.ndim != 2:
        raise ValueError(f"Z and C must be matrices (features x examples, targets x examples); got shapes {Z.shape} and {C.shape}")
    if Z.shape[1] != C.shape[1]:
        raise ValueError(f"Z has {Z.shape[1]} examples (columns) but C has {C.shape[1]}; they must match")
    regularization = float(regularization)
    if not np.isfinite(regularization) or regularization < 0:
        raise ValueError(f"regularization must be a finite number >= 0; got {regularization}")
    if callable(W):
        W, error = _safe_call(W, Z, C, regularization)
        if error:
            return Verdict(False, f"your solver failed: {error}", "make it return W for these Z, C and regularization")
    try:
        W = np.asarray(W, dtype=float)
    except (TypeError, ValueError) as exc:
        return Verdict(False, f"W must be an array of numbers ({exc})", "return a numpy array")
    expected = (C.shape[0], Z.shape[0])
    if W.shape != expected:
        return Verdict(False, f"W has shape {W.shape}; expected {expected} (targets x width)",
                       "W maps the m features of Z to the targets of C")
    bad = _not_finite(W, "W")
    if bad is not None:
        return bad
    lhs = W @ (Z @ Z.T + regularization * np.eye(Z.shape[0]))
    rhs = C @ Z.T
    residual = np.linalg.norm(lhs - rhs) / max(np.linalg.norm(rhs), np.finfo(float).tiny)
    if residual <= rtol:
        # Round-off level: only a bound is the same on every CPU.
        return Verdict(True, f"W satisfies the normal equations (relative residual {below_or_value(residual, 1e-12)})")
    return Verdict(False, f"the normal equations are off by {residual:.1e} (relative)",
                   "set the gradient Z (W Z - C)^T + reg W to zero and solve for W")


def check_rank(value, A, rtol=1e-10):
    """Judge a claimed numerical rank of ``A`` (singular values above ``rtol * s_1``).

    ``value`` is the claimed rank, or the student's function ``rank(A)``, called here.
    """
    A = _finite_array(A, "A")
    if callable(value):
        result, error = _safe_call(value, A)
        if error:
            return Verdict(False, f"your rank function failed: {error}", "make it return an integer for A")
        value = result
    try:
        claimed = int(np.asarray(value).item())
    except (TypeError, ValueError) as exc:
        return Verdict(False, f"the rank must be one integer ({exc})", "return an int, e.g. int(np.sum(...))")
    s = np.linalg.svd(A, compute_uv=False)
    rank = int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0
    if claimed == rank:
        return Verdict(True, f"the numerical rank is {rank}")
    return Verdict(False, f"{claimed} is not the numerical rank at tolerance {rtol:g} * s_1",
                   "count the singular values above the tolerance, not the non-zero ones")


def _dense(value):
    """A student's result as an ndarray (sparse matrices and LinearOperators made dense)."""
    if hasattr(value, "toarray"):
        return np.asarray(value.toarray())
    return np.asarray(value)


def check_function(candidate, reference, cases, rtol=1e-10, unordered=False, name="your function"):
    """Judge a student's function by comparing it with a reference computation on test cases.

    Parameters
    ----------
    candidate : callable
        The student's function.
    reference : callable
        The same map computed another way, by the library or by a dense textbook
        formula (e.g. ``nnlib.conv.conv_matrix`` for a sparse convolution matrix, a
        dense eigenvalue solver for eigenvalues by the FFT).  Never a stored answer.
    cases : sequence of tuple
        Arguments, one tuple per call.
    rtol : float
        Bound on ``||candidate - reference|| / ||reference||`` per case.
    unordered : bool
        Compare the results as multisets of numbers (eigenvalues in any order): each
        entry of either result must have a partner in the other within ``rtol * ||reference||``.
    name : str
        How the verdict calls the student's function.

    Returns
    -------
    Verdict
        Not correct for the first case that differs, with that case's number and error.
    """
    if not callable(candidate):
        return Verdict(False, f"{name} must be a function; got {type(candidate).__name__}",
                       "define it with def, as in the stub")
    cases = list(cases)
    if not cases:
        raise ValueError("check_function needs at least one test case; got none")
    for k, args in enumerate(cases, 1):
        args = tuple(args)
        expected = _dense(reference(*args))
        try:
            got = _dense(candidate(*args))
        except NotImplementedError:
            return Verdict(False, f"{name}: {STUB_MESSAGE}", "replace the raise statement by your code")
        except Exception as exc:  # a student's function may fail in any way
            return Verdict(False, f"{name} raised {type(exc).__name__}: {exc} (test case {k})",
                           "run it on the case's arguments and read the traceback")
        if unordered:
            got, expected = np.ravel(got), np.ravel(expected)
        if got.shape != expected.shape:
            return Verdict(False, f"{name} returned shape {got.shape}; expected {expected.shape} (test case {k})",
                           "compare the shape of your result with the statement")
        bad = _not_finite(got, f"the result of {name}")
        if bad is not None:
            return bad
        scale = max(np.linalg.norm(expected), np.finfo(float).tiny)
        if unordered:
            distance = np.abs(got[:, None] - expected[None, :])
            error = max(distance.min(axis=1).max(), distance.min(axis=0).max()) / scale if got.size else 0.0
        else:
            error = np.linalg.norm(got - expected) / scale
        if not error <= rtol:
            return Verdict(False, f"{name} differs from the reference by {error:.1e} (relative) in test case {k}",
                           "try the smallest case by hand and compare entry by entry")
    # Round-off level: only the bound is the same on every CPU.
    return Verdict(True, f"{name} agrees with the reference on {len(cases)} test case{'s' if len(cases) > 1 else ''} "
                   f"(relative error below {rtol:.0e})")
