"""Levenberg-Marquardt: Gauss-Newton steps with damping instead of a line search (dense Cholesky or CG)."""

import numpy as np
import scipy.linalg

from ..threads import with_threads_by_size
from ._checks import check_max_iter, check_nonnegative, check_open_unit
from .descent import Step, descent_loop, descent_settings

__all__ = [
    "ShiftedLanczos",
    "levenberg_marquardt",
]


@with_threads_by_size
def levenberg_marquardt(
    objective,
    x0,
    max_iter=50,
    gtol=1e-6,
    target_loss=None,
    coupling=True,
    accept=1e-4,
    max_trials=30,
    damping="levenberg",
    gtol_abs=1e-12,
    callback=None,
    inner="direct",
    cg_rtol=1e-1,
    cg_max_iter=20,
):
    """Minimize ``objective`` by Gauss-Newton steps with Levenberg-Marquardt damping.

    Parameters
    ----------
    objective : object
        Offers ``value(x)``, ``value_and_gradient(x)``, ``n_params``,
        ``work_units`` and ``gauss_newton_matrix(x)`` (the dense Gauss-Newton
        matrix: for few parameters) or, with ``inner="cg"``,
        ``gauss_newton_operator(x)``.
    x0 : ndarray, shape (n_params,)
    max_iter : int, default 50
    gtol : float, default 1e-6
        Stop when ``||grad f(x_k)|| <= max(gtol * ||grad f(x_0)||, gtol_abs)``.
    target_loss : float, optional
        Stop as soon as ``f(x_k) <= target_loss``.
    coupling : bool, default True
        ``False``: the block-diagonal Gauss-Newton matrix
        (``objective.gauss_newton_matrix(x, coupling=False)``).
    accept : float, default 1e-4
        A trial step is accepted when the ratio ``rho`` of actual to predicted
        decrease is at least ``accept``, in (0, 1).
    max_trials : int, default 30
        Damped trial steps per iteration before giving up.
    damping : {"levenberg", "marquardt"}, default "levenberg"
        The damping matrix ``D`` is ``max(diag H) I`` (Levenberg) or
        ``diag(H)`` (Marquardt, invariant to rescaling the unknowns).  With
        ``inner="cg"`` only Levenberg's, with ``D = s I`` and ``s`` the
        curvature ``g^T H g / g^T g`` along the first gradient.
    gtol_abs : float, default 1e-12
        Absolute floor of the gradient test (round-off level).
    callback : callable, optional
        ``callback(x_k)`` after every iterate; return ``True`` to stop
        (``Status.CALLBACK``).  Its time is left out of ``history.time``.
    inner : {"direct", "cg"}, default "direct"
        Solve ``(H + lambda D) p = -g`` by Cholesky of the dense matrix, or
        matrix-free by at most ``cg_max_iter`` CG steps to the relative
        residual ``cg_rtol`` (for many unknowns, or an objective with only
        ``gauss_newton_operator``).
    cg_rtol, cg_max_iter : float, int, default 0.1, 20
        The CG solve of ``inner="cg"``.

    Returns
    -------
    OptimizeResult
        ``history.inner_iter`` holds the trials of each iteration (the
        products with ``H`` with ``inner="cg"``).

    Notes
    -----
    Each iteration forms ``H`` once and solves ``(H + lambda D) p = -g`` by
    Cholesky, accepting ``x + p`` when ``rho >= accept``, with the predicted
    decrease ``-(g^T p + p^T H p / 2)``.  A rejected trial multiplies
    ``lambda`` by ``nu`` (2, 4, 8, ...); an accepted one multiplies it by
    ``max(1/3, 1 - (2 rho - 1)^3)`` (Nielsen's rule), so ``lambda`` falls to
    zero and full Gauss-Newton steps are taken where the model is good
    (``lambda`` starts at ``1e-6``).  Unlike a line search along one fixed
    direction, the damping turns the step towards steepest descent where the
    Gauss-Newton model is poor (e.g. nearly rank-deficient ``J``), which
    avoids long runs of tiny steps.  A trial costs one factorization of the
    small matrix and one evaluation of ``f``.

    With ``inner="cg"`` the step is the CG iterate ``p`` of the damped system
    from ``p = 0``, computed for all trials of an iteration in one Krylov space
    (:class:`ShiftedLanczos`: a rejected trial's larger ``lambda`` needs no new
    product with ``H`` unless the space must grow to meet ``cg_rtol``); its
    residual is orthogonal to ``p``, so ``p^T (H + lambda D) p = -g^T p`` and
    the predicted decrease is ``-(g^T p)/2 + lambda p^T D p / 2`` without
    another product with ``H``.  An iteration costs its products with ``H``
    (two passes each for a network; at most ``cg_max_iter``) and one evaluation
    of ``f`` per trial; ``history.inner_iter`` counts the products.  This is the globalization that suits a model which
    underestimates the curvature: a line search shortens such a step along
    its direction, the damping also turns it towards the gradient.
    """
    if inner not in ("direct", "cg"):
        raise ValueError(f"inner must be 'direct' or 'cg'; got {inner!r}")
    objective, x, max_iter, gtol, gtol_abs, target_loss = descent_settings(objective, x0, max_iter, gtol, gtol_abs,
                                                                           target_loss)
    if damping not in ("levenberg", "marquardt"):
        raise ValueError(f"damping must be 'levenberg' or 'marquardt'; got {damping!r}")
    accept = check_open_unit(accept, "accept")
    max_trials = check_max_iter(max_trials, "max_trials")
    if inner == "cg":
        if damping == "marquardt":
            raise ValueError("damping='marquardt' needs the diagonal of the dense matrix (inner='direct'); "
                             "inner='cg' damps with a multiple of the identity (damping='levenberg')")
        return _levenberg_marquardt_cg(objective, x, max_iter, gtol, gtol_abs, target_loss, accept, max_trials,
                                       check_nonnegative(cg_rtol, "cg_rtol"), check_max_iter(cg_max_iter, "cg_max_iter"),
                                       {} if coupling else {"coupling": False}, callback)
    if not callable(getattr(objective, "gauss_newton_matrix", None)):
        raise ValueError(
            f"Levenberg-Marquardt needs objective.gauss_newton_matrix; {type(objective).__name__} has none"
        )
    matrix_options = {} if coupling else {"coupling": False}
    lam, nu = 1e-6, 2.0  # start nearly at the Gauss-Newton step; raised only where it fails

    def step(k, x, f, g, gnorm):
        nonlocal lam, nu
        H = objective.gauss_newton_matrix(x, **matrix_options)
        diagonal = np.diag(H).copy()
        largest = max(float(np.max(diagonal)), np.finfo(H.dtype).tiny)
        if damping == "marquardt":
            scaling = np.maximum(diagonal, 1e-8 * largest)
        else:
            scaling = np.full_like(diagonal, largest)
        for trial in range(1, max_trials + 1):
            np.fill_diagonal(H, diagonal + lam * scaling)
            try:
                p = -scipy.linalg.cho_solve(scipy.linalg.cho_factor(H, check_finite=False), g, check_finite=False)
            except np.linalg.LinAlgError:
                lam, nu = max(lam, 1e-12) * nu, 2.0 * nu
                continue
            np.fill_diagonal(H, diagonal)
            predicted = -(float(g @ p) + 0.5 * float(p @ (H @ p)))
            x_new = x + p
            f_new = objective.value(x_new)
            accepted, lam, nu = _judge_trial(f, f_new, predicted, accept, lam, nu)
            if accepted:
                return Step(x_new, float(np.linalg.norm(p)), trial)
        return f"iteration {k}, {max_trials} damped trials (lambda = {lam:.3g})"

    return descent_loop(objective, x, max_iter, gtol, gtol_abs, target_loss, step, callback)


def _judge_trial(f, f_new, predicted, accept, lam, nu):
    """``(accepted, lambda, nu)`` after a damped trial: accepted when the ratio ``rho`` of actual to
    predicted decrease is at least ``accept``, then ``lambda`` shrinks by Nielsen's factor
    ``max(1/3, 1 - (2 rho - 1)^3)``; otherwise it grows by ``nu``, and ``nu`` doubles."""
    if predicted > 0 and np.isfinite(f_new) and f_new < f and (f - f_new) >= accept * predicted:
        rho = (f - f_new) / predicted
        return True, lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 2.0
    return False, max(lam, 1e-12) * nu, 2.0 * nu


class ShiftedLanczos:
    """Solve ``(H + shift I) p = -g`` for any number of shifts in one Krylov space.

    Parameters
    ----------
    H : LinearOperator or ndarray
        Symmetric positive semi-definite, shape ``(n, n)``.
    g : ndarray, shape (n,)
        Nonzero right-hand side (the gradient).
    max_iter : int
        Largest dimension of the Krylov space (products with ``H``).

    Attributes
    ----------
    n_products : int
        Products with ``H`` so far, for all shifts together.

    Notes
    -----
    The Krylov space ``span{g, H g, H^2 g, ...}`` is the same for every shifted
    matrix ``H + shift I``, and so is the Lanczos basis ``V_k`` with
    ``V_k^T H V_k = T_k`` tridiagonal.  The Galerkin solution in it,
    ``p = V_k y`` with ``(T_k + shift I) y = -||g|| e_1``, is the ``k``-th CG
    iterate for that shift, and its residual norm is ``beta_k |y_k|``
    (Paige and Saunders, 1975).  A damped trial that is rejected, with a larger
    shift next, therefore costs no new product unless the space must grow to
    meet the tolerance.  The basis is reorthogonalized in full: it has at most
    ``max_iter`` vectors of length ``n``, work that does not grow with the
    number of examples.  As for CG from zero, ``p^T (H + shift I) p = -g^T p``.
    """

    def __init__(self, H, g, max_iter):
        self.H, self.g = H, g
        self.g_norm = float(np.linalg.norm(g))
        self.max_iter = max(1, int(max_iter))
        self.basis = [g / self.g_norm]
        self.diagonal, self.off_diagonal = [], []
        self.n_products = 0
        self.invariant = False  # the space holds the exact solution for every shift

    def _extend(self):
        v = self.basis[-1]
        w = self.H @ v
        self.n_products += 1
        self.diagonal.append(float(v @ w))
        V = np.array(self.basis)
        w = w - V.T @ (V @ w)
        w = w - V.T @ (V @ w)  # twice is enough (Kahan, Parlett)
        beta = float(np.linalg.norm(w))
        if beta <= 1e-12 * max(abs(self.diagonal[-1]), self.g_norm, np.finfo(float).tiny) or len(self.basis) == len(w):
            self.invariant = True
        else:
            self.off_diagonal.append(beta)
            self.basis.append(w / beta)

    def solve(self, shift, rtol):
        """The Galerkin solution ``p`` for ``shift`` whose residual is at most ``rtol ||g||``
        (or the best one in ``max_iter`` dimensions)."""
        while True:
            k = len(self.diagonal)
            if k:
                T = np.diag(np.array(self.diagonal) + shift)
                beta = np.array(self.off_diagonal[: k - 1])
                T[np.arange(k - 1), np.arange(1, k)] = beta
                T[np.arange(1, k), np.arange(k - 1)] = beta
                rhs = np.zeros(k)
                rhs[0] = -self.g_norm
                y = scipy.linalg.solve(T, rhs, assume_a="pos")
                residual = 0.0 if self.invariant else self.off_diagonal[k - 1] * abs(y[-1])
                if residual <= rtol * self.g_norm or k >= self.max_iter or self.invariant:
                    return np.array(self.basis[:k]).T @ y
            self._extend()


def _levenberg_marquardt_cg(objective, x, max_iter, gtol, gtol_abs, target_loss, accept, max_trials, cg_rtol,
                            cg_max_iter, operator_options, callback):
    """The matrix-free variant of :func:`levenberg_marquardt` (``inner="cg"``, see its Notes)."""
    if not callable(getattr(objective, "gauss_newton_operator", None)):
        raise ValueError(f"Levenberg-Marquardt with inner='cg' needs objective.gauss_newton_operator; "
                         f"{type(objective).__name__} has none")
    lam, nu, scale = 1e-3, 2.0, None

    def step(k, x, f, g, gnorm):
        nonlocal lam, nu, scale
        H = objective.gauss_newton_operator(x, **operator_options)
        if scale is None:  # the curvature along the first gradient sets the units of the damping
            scale = max(float(g @ (H @ g)) / gnorm**2, np.finfo(float).tiny)
        krylov = ShiftedLanczos(H, g, cg_max_iter)
        for trial in range(1, max_trials + 1):
            shift = lam * scale
            p = krylov.solve(shift, cg_rtol)
            predicted = 0.5 * (shift * float(p @ p) - float(g @ p))
            f_new = objective.value(x + p)
            accepted, lam, nu = _judge_trial(f, f_new, predicted, accept, lam, nu)
            if accepted:
                return Step(x + p, float(np.linalg.norm(p)), krylov.n_products)
        return f"iteration {k}, {max_trials} damped trials (lambda = {lam:.3g})"

    return descent_loop(objective, x, max_iter, gtol, gtol_abs, target_loss, step, callback)
