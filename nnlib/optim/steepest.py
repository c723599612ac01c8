"""Steepest descent with an Armijo line search."""

import numpy as np

from ._checks import check_max_iter, check_nonnegative, check_objective, check_positive, check_start, check_target
from .linesearch import armijo
from .result import Recorder, diverged_detail

__all__ = [
    "steepest_descent",
]


def steepest_descent(
    objective, x0, max_iter=100, step0=1.0, gtol=1e-6, target_loss=None, c1=1e-4, max_trials=30, callback=None
):
    """Minimize ``objective`` by steepest descent, ``x <- x - a grad f(x)``.

    Parameters
    ----------
    objective : object
        Offers ``value(x)``, ``value_and_gradient(x)``, ``n_params`` and a
        ``work_units`` counter (e.g. :class:`nnlib.objective.SingleLayerObjective`).
    x0 : ndarray, shape (n_params,)
        Starting point (not modified).
    max_iter : int, default 100
        Maximum number of iterations.
    step0 : float, default 1
        First trial step of the first line search.  Later searches start at
        twice the previously accepted step, so the step adapts to the scale
        of the problem instead of being re-learned from ``step0`` each time.
    gtol : float, default 1e-6
        Stop when ``||grad f(x_k)|| <= gtol * ||grad f(x_0)||``.
    target_loss : float, optional
        Stop as soon as ``f(x_k) <= target_loss``.
    c1 : float, default 1e-4
        Armijo constant.
    max_trials : int, default 30
        Line-search trials per iteration.
    callback : callable, optional
        ``callback(x_k)`` after every iterate; return ``True`` to stop
        (status 5).  Its time is left out of ``history.time``.

    Returns
    -------
    OptimizeResult

    Notes
    -----
    Work per iteration: one forward pass per line-search trial and one
    backward pass for the gradient at the accepted point (its forward pass is
    the last trial's, reused from the cache).  On a quadratic with Hessian
    eigenvalues in ``[mu, L]`` the error falls like ``((L - mu)/(L + mu))^k``
    with exact steps: slow when the problem is ill-conditioned.
    """
    objective = check_objective(objective)
    x = check_start(x0, objective)
    max_iter = check_max_iter(max_iter)
    step = check_positive(step0, "step0")
    gtol = check_nonnegative(gtol, "gtol")
    target_loss = check_target(target_loss)

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
        search = armijo(lambda a: objective.value(x - a * g), f, -gnorm**2, step0=step, c1=c1, max_trials=max_trials)
        if not search.success:
            return rec.finish(x, f, k - 1, 3, f"iteration {k}, {search.n_trials} trials")
        x = x - search.step * g
        step_length = search.step * gnorm
        step = 2.0 * search.step
        f, g = objective.value_and_gradient(x)
        gnorm = float(np.linalg.norm(g))
        rec.record(f, gnorm, step_length)
        if rec.notify(x):
            return rec.finish(x, f, k, 5)
    status = 2 if target_loss is not None and f <= target_loss else 1
    return rec.finish(x, f, max_iter, status)
