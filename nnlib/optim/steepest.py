"""Steepest descent with an Armijo line search."""


from ..threads import with_threads_by_size
from ._checks import check_positive
from .descent import Step, descent_loop, descent_settings
from .linesearch import armijo

__all__ = [
    "steepest_descent",
]


@with_threads_by_size
def steepest_descent(
    objective, x0, max_iter=100, step0=1.0, gtol=1e-6, target_loss=None, c1=1e-4, max_trials=30, gtol_abs=1e-12,
    callback=None,
):
    """Minimize ``objective`` by steepest descent, ``x <- x - a grad f(x)``.

    Parameters
    ----------
    objective : object
        Offers ``value(x)``, ``value_and_gradient(x)``, ``n_params`` and a
        ``work_units`` counter (e.g. :class:`nnlib.objective.LinearHeadObjective`).
    x0 : ndarray, shape (n_params,)
        Starting point (not modified).
    max_iter : int, default 100
        Maximum number of iterations.
    step0 : float, default 1
        First trial step of the first line search.  Later searches start at
        twice the previously accepted step, so the step adapts to the scale
        of the problem instead of being re-learned from ``step0`` each time.
    gtol : float, default 1e-6
        Stop when ``||grad f(x_k)|| <= max(gtol * ||grad f(x_0)||, gtol_abs)``.
    target_loss : float, optional
        Stop as soon as ``f(x_k) <= target_loss``.
    c1 : float, default 1e-4
        Armijo constant.
    max_trials : int, default 30
        Line-search trials per iteration.
    gtol_abs : float, default 1e-12
        Absolute floor of the gradient test: a gradient norm at or below it
        counts as converged (round-off level, e.g. a start at a minimizer).
    callback : callable, optional
        ``callback(x_k)`` after every iterate; return ``True`` to stop
        (``Status.CALLBACK``).  Its time is left out of ``history.time``.

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
    objective, x, max_iter, gtol, gtol_abs, target_loss = descent_settings(objective, x0, max_iter, gtol, gtol_abs,
                                                                           target_loss)
    trial_step = check_positive(step0, "step0")

    def step(k, x, f, g, gnorm):
        nonlocal trial_step
        search = armijo(lambda a: objective.value(x - a * g), f, -gnorm**2, step0=trial_step, c1=c1,
                        max_trials=max_trials)
        if not search.success:
            return f"iteration {k}, {search.n_trials} trials"
        trial_step = 2.0 * search.step
        return Step(x - search.step * g, search.step * gnorm)

    return descent_loop(objective, x, max_iter, gtol, gtol_abs, target_loss, step, callback)
