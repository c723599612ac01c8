"""The method of conjugate gradients for symmetric positive (semi-)definite systems."""

from dataclasses import dataclass

import numpy as np

from ._checks import check_max_iter, check_nonnegative

__all__ = [
    "CGResult",
    "conjugate_gradient",
]


@dataclass
class CGResult:
    """Outcome of :func:`conjugate_gradient`.

    Attributes
    ----------
    x : ndarray
        Approximate solution.
    n_iter : int
        Number of CG iterations, i.e. products with ``A``.
    residual_norm : float
        ``||b - A x||`` as updated by the recurrence.
    converged : bool
        Whether ``residual_norm <= rtol * ||b||``.
    message : str
    """

    x: np.ndarray
    n_iter: int
    residual_norm: float
    converged: bool
    message: str


def _as_matvec(A):
    if hasattr(A, "matvec"):
        return A.matvec
    if isinstance(A, np.ndarray):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix; got shape {A.shape}")
        return lambda v: A @ v
    if callable(A):
        return A
    raise ValueError(f"A must be a LinearOperator, a square array or a function v -> A v; got {type(A).__name__}")


def conjugate_gradient(A, b, x0=None, rtol=1e-2, max_iter=None):
    """Solve ``A x = b`` for symmetric positive (semi-)definite ``A`` by CG.

    Parameters
    ----------
    A : LinearOperator, ndarray or callable
        The operator, used only through products ``A v``.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess; zero if omitted (then the first iterate is the
        steepest descent step on the quadratic, so any number of CG steps
        gives a descent direction inside Newton-type methods).
    rtol : float, default 1e-2
        Stop when ``||b - A x|| <= rtol * ||b||``.  Inexact (truncated)
        Newton methods use loose tolerances such as 1e-1 to 1e-2.
    max_iter : int, optional
        Maximum number of iterations (products with ``A``); default ``n``.

    Returns
    -------
    CGResult
        With ``n_iter`` the number of products with ``A`` performed.

    Notes
    -----
    With residual ``r_0 = b - A x_0`` and ``p_0 = r_0``, each iteration does

    .. math::

        \\alpha_k = \\frac{r_k^T r_k}{p_k^T A p_k},\\quad
        x_{k+1} = x_k + \\alpha_k p_k,

        r_{k+1} = r_k - \\alpha_k A p_k,\\quad
        p_{k+1} = r_{k+1} + \\frac{r_{k+1}^T r_{k+1}}{r_k^T r_k} p_k .

    In exact arithmetic ``x_k`` minimizes ``1/2 x^T A x - b^T x`` over
    ``x_0 + span{r_0, A r_0, ..., A^{k-1} r_0}``, so CG ends after at most
    ``n`` steps, and after as many steps as ``A`` has distinct eigenvalues.
    The error falls at least like ``2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^k``
    in the ``A``-norm, with ``kappa`` the condition number.

    If a direction of (numerically) zero or negative curvature
    ``p^T A p <= 0`` appears, ``A`` is singular along it or not positive
    definite; CG stops and returns the current iterate, which is still a
    descent direction for the quadratic model.
    """
    matvec = _as_matvec(A)
    b = np.asarray(b)
    if b.ndim != 1:
        raise ValueError(f"b must be a 1-D array; got shape {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b must be finite; it contains NaN or infinite entries (a NaN gradient upstream?)")
    n = b.size
    shape = getattr(A, "shape", None)
    if shape is not None and tuple(shape) != (n, n):
        raise ValueError(f"A must have shape ({n}, {n}) to match b; got {tuple(shape)}")
    rtol = check_nonnegative(rtol, "rtol")
    max_iter = n if max_iter is None else check_max_iter(max_iter)

    if x0 is None:
        x = np.zeros_like(b, dtype=np.result_type(b.dtype, np.float32))
        r = b.astype(x.dtype, copy=True)
    else:
        x = np.array(x0, dtype=np.result_type(np.asarray(x0).dtype, b.dtype, np.float32))
        if x.shape != b.shape:
            raise ValueError(f"x0 must have the shape of b, {b.shape}; got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x0 must be finite")
        r = b - matvec(x)
    threshold = rtol * np.linalg.norm(b)
    rr = float(r @ r)
    if np.sqrt(rr) <= threshold:
        return CGResult(x, 0, float(np.sqrt(rr)), True, "initial guess satisfies the tolerance")
    p = r.copy()
    for k in range(1, max_iter + 1):
        Ap = matvec(p)
        curvature = float(p @ Ap)
        if not curvature > 0:
            return CGResult(x, k, float(np.sqrt(rr)), False, f"non-positive curvature p'Ap = {curvature:.3g}")
        alpha = rr / curvature
        x += alpha * p
        r -= alpha * Ap
        rr_new = float(r @ r)
        if np.sqrt(rr_new) <= threshold:
            return CGResult(x, k, float(np.sqrt(rr_new)), True, "relative residual below rtol")
        p = r + (rr_new / rr) * p
        rr = rr_new
    return CGResult(x, max_iter, float(np.sqrt(rr)), False, "maximum number of iterations reached")
