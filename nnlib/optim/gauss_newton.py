"""Gauss-Newton with a matrix-free CG inner solve and an Armijo line search."""

import numpy as np

from ..threads import with_threads_by_size
from ._checks import check_max_iter, check_nonnegative
from .cg import conjugate_gradient
from .descent import Step, descent_loop, descent_settings
from .levenberg_marquardt import levenberg_marquardt
from .linesearch import armijo

__all__ = [
    "gauss_newton",
]


@with_threads_by_size
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
    gtol_abs=1e-12,
    callback=None,
):
    """Minimize ``objective`` by the (inexact) Gauss-Newton method.

    Parameters
    ----------
    objective : object
        Offers ``value(x)``, ``value_and_gradient(x)``,
        ``gauss_newton_operator(x)``, ``n_params`` and ``work_units``; e.g.
        :class:`nnlib.objective.LinearHeadObjective` or the reduced
        objective of :func:`nnlib.optim.varpro`.
    x0 : ndarray, shape (n_params,)
    max_iter : int, default 50
    gtol : float, default 1e-6
        Stop when ``||grad f(x_k)|| <= max(gtol * ||grad f(x_0)||, gtol_abs)``.
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
        Line-search trials per iteration.
    inner : {"cg", "direct"}, default "cg"
        ``"cg"``: matrix-free Gauss-Newton-CG with an Armijo line search (the
        method of the lecture notes).  ``"direct"`` is an alias of
        :func:`~nnlib.optim.levenberg_marquardt`: the dense Gauss-Newton matrix,
        factorized, with Levenberg-Marquardt damping instead of a line search.
        There ``c1`` is the acceptance threshold of the ratio of actual to
        predicted decrease, ``max_trials`` the damped trials per iteration, and
        ``cg_rtol`` and ``cg_max_iter`` are unused.
    damping : {"levenberg", "marquardt"}, default "levenberg"
        With ``inner="direct"`` only: see :func:`~nnlib.optim.levenberg_marquardt`.
    gtol_abs : float, default 1e-12
        Absolute floor of the gradient test: a gradient norm at or below it
        counts as converged (round-off level, e.g. a start at a minimizer).
    callback : callable, optional
        ``callback(x_k)`` after every iterate; return ``True`` to stop
        (``Status.CALLBACK``).  Its time is left out of ``history.time``.

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
    """
    if inner not in ("cg", "direct"):
        raise ValueError(f"inner must be 'cg' or 'direct'; got {inner!r}")
    if inner == "direct":
        return levenberg_marquardt(objective, x0, max_iter=max_iter, gtol=gtol, target_loss=target_loss,
                                   coupling=coupling, accept=c1, max_trials=max_trials, damping=damping,
                                   gtol_abs=gtol_abs, callback=callback)
    if damping not in ("levenberg", "marquardt"):
        raise ValueError(f"damping must be 'levenberg' or 'marquardt'; got {damping!r}")
    objective, x, max_iter, gtol, gtol_abs, target_loss = descent_settings(
        objective, x0, max_iter, gtol, gtol_abs, target_loss, needs=("value", "value_and_gradient", "gauss_newton_operator"))
    cg_rtol = check_nonnegative(cg_rtol, "cg_rtol")
    cg_max_iter = check_max_iter(cg_max_iter, "cg_max_iter")
    operator_options = {} if coupling else {"coupling": False}

    def step(k, x, f, g, gnorm):
        H = objective.gauss_newton_operator(x, **operator_options)
        solve = conjugate_gradient(H, -g, rtol=cg_rtol, max_iter=cg_max_iter)
        p = solve.x
        slope = float(g @ p)
        if not slope < 0:
            # CG broke down on the first step (H p = 0 along -g): fall back to steepest descent.
            p, slope = -g, -(gnorm**2)
        search = armijo(lambda a: objective.value(x + a * p), f, slope, c1=c1, max_trials=max_trials)
        if not search.success:
            return f"iteration {k}, {search.n_trials} trials"
        return Step(x + search.step * p, search.step * float(np.linalg.norm(p)), solve.n_iter)

    return descent_loop(objective, x, max_iter, gtol, gtol_abs, target_loss, step, callback)
