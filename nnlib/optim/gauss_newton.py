"""Gauss-Newton: matrix-free CG inner solve with an Armijo line search, or a direct
(Cholesky) inner solve with Levenberg-Marquardt damping."""

import numpy as np
import scipy.linalg

from ._checks import (
    check_max_iter,
    check_nonnegative,
    check_objective,
    check_open_unit,
    check_start,
    check_target,
)
from .cg import conjugate_gradient
from .linesearch import armijo
from .result import Recorder, diverged_detail

__all__ = [
    "gauss_newton",
]


def gauss_newton(
    objective,
    x0,
    max_iter=50,
    gtol=1e-6,
    target_loss=None,
    cg_rtol=1e-1,
    cg_max_iter=20,
    coupling=True,
    c1=1e-4,
    max_trials=30,
    inner="cg",
    damping="levenberg",
    callback=None,
):
    """Minimize ``objective`` by the (inexact) Gauss-Newton method.

    Parameters
    ----------
    objective : object
        Offers ``value(x)``, ``value_and_gradient(x)``,
        ``gauss_newton_operator(x)``, ``n_params`` and ``work_units``; e.g.
        :class:`nnlib.objective.SingleLayerObjective` or the reduced
        objective of :func:`nnlib.optim.varpro`.
    x0 : ndarray, shape (n_params,)
    max_iter : int, default 50
    gtol : float, default 1e-6
        Stop when ``||grad f(x_k)|| <= gtol * ||grad f(x_0)||``.
    target_loss : float, optional
        Stop as soon as ``f(x_k) <= target_loss``.
    cg_rtol : float, default 0.1
        Relative residual tolerance of the inner CG solve.
    cg_max_iter : int, default 20
        Maximum CG iterations per Gauss-Newton step.
    coupling : bool, default True
        ``False`` uses the block-diagonal Gauss-Newton matrix that ignores
        the coupling between ``theta`` and ``W``
        (``objective.gauss_newton_operator(x, coupling=False)``).
    c1 : float, default 1e-4
        Armijo constant.
    max_trials : int, default 30
        Line-search trials (``inner="direct"``: damped trial steps) per iteration.
    inner : {"cg", "direct"}, default "cg"
        ``"cg"``: matrix-free Gauss-Newton-CG with an Armijo line search (the
        method of the lecture notes).  ``"direct"``: form the Gauss-Newton
        matrix (``objective.gauss_newton_matrix(x)``, for few parameters),
        factorize it, and globalize by Levenberg-Marquardt damping instead of
        a line search (see Notes); ``cg_rtol`` and ``cg_max_iter`` are unused.
    damping : {"levenberg", "marquardt"}, default "levenberg"
        With ``inner="direct"``: the damping matrix ``D`` is
        ``max(diag H) I`` (Levenberg) or ``diag(H)`` (Marquardt, invariant
        to rescaling the unknowns).
    callback : callable, optional
        ``callback(x_k)`` after every iterate; return ``True`` to stop
        (status 5).  Its time is left out of ``history.time``.

    Returns
    -------
    OptimizeResult
        ``history.inner_iter`` holds the CG iterations of each step.

    Notes
    -----
    Each iteration solves the Gauss-Newton system ``H p = -g`` with
    ``H = J^T (nabla^2 E) J + regularization`` (never formed, only applied)
    by at most ``cg_max_iter`` CG steps starting from ``p = 0``, then
    backtracks from the full step ``a = 1``.  CG from zero gives a descent
    direction after any number of steps since ``H`` is positive semi-definite.

    Work per iteration with ``k`` CG steps and ``t`` line-search trials:
    ``2 k`` (one ``J v`` and one ``J^T w`` per CG step) ``+ t`` (forward passes)
    ``+ 1`` (backward pass for the new gradient).  On a convex quadratic
    objective ``H`` is the Hessian and one step with an exact inner solve
    lands on the minimizer.

    **Direct inner solve** (``inner="direct"``).  With the dense matrix ``H``
    each iteration solves ``(H + lambda D) p = -g`` by Cholesky and accepts
    ``x + p`` when the ratio ``rho`` of actual to predicted decrease
    ``-(g^T p + p^T H p / 2)`` is at least ``c1``.  A rejected trial
    multiplies ``lambda`` by ``nu`` (2, 4, 8, ...); an accepted one
    multiplies it by ``max(1/3, 1 - (2 rho - 1)^3)`` (Nielsen's rule), so
    ``lambda`` falls to zero and full Gauss-Newton steps are taken where the
    model is good (``lambda`` starts at ``1e-6``).  Unlike a line search along one fixed direction, the
    damping turns the step towards steepest descent where the Gauss-Newton
    model is poor (e.g. nearly rank-deficient ``J``), which avoids long runs
    of tiny steps.  A trial costs one factorization of the small matrix and
    one evaluation of ``f``; ``history.inner_iter`` holds the trials.
    """
    objective = check_objective(objective, needs=("value", "value_and_gradient", "gauss_newton_operator"))
    x = check_start(x0, objective)
    max_iter = check_max_iter(max_iter)
    gtol = check_nonnegative(gtol, "gtol")
    target_loss = check_target(target_loss)
    cg_rtol = check_nonnegative(cg_rtol, "cg_rtol")
    cg_max_iter = check_max_iter(cg_max_iter, "cg_max_iter")
    operator_options = {} if coupling else {"coupling": False}
    if inner not in ("cg", "direct"):
        raise ValueError(f"inner must be 'cg' or 'direct'; got {inner!r}")
    if damping not in ("levenberg", "marquardt"):
        raise ValueError(f"damping must be 'levenberg' or 'marquardt'; got {damping!r}")
    if inner == "direct":
        if not callable(getattr(objective, "gauss_newton_matrix", None)):
            raise ValueError(
                f"inner='direct' needs objective.gauss_newton_matrix; {type(objective).__name__} has none"
            )
        c1 = check_open_unit(c1, "c1")
        max_trials = check_max_iter(max_trials, "max_trials")
        return _levenberg_marquardt(
            objective, x, max_iter, gtol, target_loss, operator_options, c1, max_trials, damping, callback
        )

    rec = Recorder(objective, callback)
    f, g = objective.value_and_gradient(x)
    g0_norm = gnorm = float(np.linalg.norm(g))
    rec.record(f, gnorm)
    if not np.isfinite(f):
        return rec.finish(x, f, 0, 4, diverged_detail(0, f))
    if rec.notify(x):
        return rec.finish(x, f, 0, 5)
    for k in range(1, max_iter + 1):
        if target_loss is not None and f <= target_loss:
            return rec.finish(x, f, k - 1, 2)
        if gnorm <= gtol * g0_norm:
            return rec.finish(x, f, k - 1, 0)
        H = objective.gauss_newton_operator(x, **operator_options)
        inner = conjugate_gradient(H, -g, rtol=cg_rtol, max_iter=cg_max_iter)
        p = inner.x
        slope = float(g @ p)
        if not slope < 0:
            # CG broke down on the first step (H p = 0 along -g): fall back to steepest descent.
            p, slope = -g, -(gnorm**2)
        search = armijo(lambda a: objective.value(x + a * p), f, slope, c1=c1, max_trials=max_trials)
        if not search.success:
            return rec.finish(x, f, k - 1, 3, f"iteration {k}, {search.n_trials} trials")
        x = x + search.step * p
        f, g = objective.value_and_gradient(x)
        gnorm = float(np.linalg.norm(g))
        rec.record(f, gnorm, search.step * float(np.linalg.norm(p)), inner.n_iter)
        if rec.notify(x):
            return rec.finish(x, f, k, 5)
    status = 2 if target_loss is not None and f <= target_loss else 1
    return rec.finish(x, f, max_iter, status)


def _levenberg_marquardt(
    objective, x, max_iter, gtol, target_loss, operator_options, c1, max_trials, damping_kind, callback
):
    """Gauss-Newton with dense Cholesky solves and Levenberg-Marquardt damping (``inner="direct"``)."""
    rec = Recorder(objective, callback)
    f, g = objective.value_and_gradient(x)
    g0_norm = gnorm = float(np.linalg.norm(g))
    rec.record(f, gnorm)
    if not np.isfinite(f):
        return rec.finish(x, f, 0, 4, diverged_detail(0, f))
    if rec.notify(x):
        return rec.finish(x, f, 0, 5)
    damping, nu = 1e-6, 2.0  # start nearly at the Gauss-Newton step; raised only where it fails
    for k in range(1, max_iter + 1):
        if target_loss is not None and f <= target_loss:
            return rec.finish(x, f, k - 1, 2)
        if gnorm <= gtol * g0_norm:
            return rec.finish(x, f, k - 1, 0)
        H = objective.gauss_newton_matrix(x, **operator_options)
        diagonal = np.diag(H).copy()
        largest = max(float(np.max(diagonal)), np.finfo(H.dtype).tiny)
        if damping_kind == "marquardt":
            scaling = np.maximum(diagonal, 1e-8 * largest)
        else:
            scaling = np.full_like(diagonal, largest)
        for trial in range(1, max_trials + 1):
            np.fill_diagonal(H, diagonal + damping * scaling)
            try:
                p = -scipy.linalg.cho_solve(scipy.linalg.cho_factor(H, check_finite=False), g, check_finite=False)
            except np.linalg.LinAlgError:
                damping, nu = max(damping, 1e-12) * nu, 2.0 * nu
                continue
            np.fill_diagonal(H, diagonal)
            predicted = -(float(g @ p) + 0.5 * float(p @ (H @ p)))
            x_new = x + p
            f_new = objective.value(x_new)
            if predicted > 0 and np.isfinite(f_new) and f_new < f and (f - f_new) >= c1 * predicted:
                rho = (f - f_new) / predicted
                damping *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                break
            damping, nu = max(damping, 1e-12) * nu, 2.0 * nu
        else:
            return rec.finish(x, f, k - 1, 3, f"iteration {k}, {max_trials} damped trials (lambda = {damping:.3g})")
        x = x_new
        f, g = objective.value_and_gradient(x)
        gnorm = float(np.linalg.norm(g))
        rec.record(f, gnorm, float(np.linalg.norm(p)), trial)
        if rec.notify(x):
            return rec.finish(x, f, k, 5)
    status = 2 if target_loss is not None and f <= target_loss else 1
    return rec.finish(x, f, max_iter, status)
