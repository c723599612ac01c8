"""The loop shared by the descent methods: steepest descent, Gauss-Newton, Levenberg-Marquardt.

Each method supplies only its step, ``step(k, x, f, g, gnorm)``; the loop owns
the first evaluation, the stopping tests, the divergence checks, the history
and the final status, so every descent method stops for the same reasons and
reports them the same way.  (SGD and Adam share :func:`nnlib.optim.sgd.run_first_order`.)
"""

from dataclasses import dataclass

import numpy as np

from ._checks import check_max_iter, check_nonnegative, check_objective, check_start, check_target
from .result import Recorder, Status, diverged_detail, nan_gradient_detail

__all__ = [
    "Step",
    "descent_loop",
    "descent_settings",
]


@dataclass
class Step:
    """An accepted step: the new iterate, its length and the inner iterations it took."""

    x: np.ndarray
    length: float
    inner_iter: int = 0


def descent_settings(objective, x0, max_iter, gtol, gtol_abs, target_loss, needs=("value", "value_and_gradient")):
    """The settings every descent method takes, validated: ``(objective, x, max_iter, gtol, gtol_abs, target_loss)``.

    ``x`` is a float copy of ``x0``; ``needs`` names the methods the objective must offer.
    """
    objective = check_objective(objective, needs=needs)
    return (objective, check_start(x0, objective), check_max_iter(max_iter), check_nonnegative(gtol, "gtol"),
            check_nonnegative(gtol_abs, "gtol_abs"), check_target(target_loss))


def descent_loop(objective, x, max_iter, gtol, gtol_abs, target_loss, step, callback=None):
    """Iterate ``x_{k+1} = step(k, x_k, ...)`` with the stopping tests of every descent method.

    Parameters
    ----------
    objective : object
        Offers ``value_and_gradient(x)`` and a ``work_units`` counter.
    x : ndarray
        Starting point (already validated and copied).
    max_iter : int
    gtol : float
        Relative gradient tolerance: converged when
        ``||grad f(x_k)|| <= max(gtol * ||grad f(x_0)||, gtol_abs)``.
    gtol_abs : float
        Absolute floor of that test.  A start at (or next to) a minimizer has a
        gradient at round-off level, which no relative test can reduce further.
    target_loss : float or None
        Stop as soon as ``f(x_k) <= target_loss``.
    step : callable
        ``step(k, x, f, g, gnorm)`` returns a :class:`Step` whose ``x`` has a
        loss of at most ``f`` (the method's line search or damping ensures it),
        or a string saying why no acceptable step was found.
    callback : callable, optional
        ``callback(x_k)`` after every iterate (``x_0`` included); a true
        return value stops the run (``Status.CALLBACK``).  Its time is left
        out of ``history.time``.

    Returns
    -------
    OptimizeResult
        Its ``x``, ``loss`` and last history entry describe the same iterate.

    Notes
    -----
    The tests are made before each step and once more after the last one, so
    ``success`` is ``True`` exactly when the returned iterate passes the gradient
    test or the target, also with ``max_iter = 0`` or when it is met by the
    last step.  A gradient that is not finite stops the run as ``DIVERGED``
    with a message that says so.
    """
    rec = Recorder(objective, callback)
    f, g = objective.value_and_gradient(x)
    with np.errstate(over="ignore", invalid="ignore"):
        gnorm = float(np.linalg.norm(g))
    rec.record(f, gnorm)
    if not np.isfinite(f):
        return rec.finish(x, f, 0, Status.DIVERGED, diverged_detail(0, f))
    if not np.isfinite(gnorm):
        return rec.finish(x, f, 0, Status.DIVERGED, nan_gradient_detail(0, f))
    if rec.notify(x):
        return rec.finish(x, f, 0, Status.CALLBACK)
    threshold = max(gtol * gnorm, gtol_abs)

    def stopped(k):
        if target_loss is not None and f <= target_loss:
            return rec.finish(x, f, k, Status.TARGET_REACHED)
        if gnorm <= threshold:
            why = (f"||grad f|| = {gnorm:.3g} <= gtol_abs = {gtol_abs:g}" if threshold == gtol_abs
                   else f"||grad f|| <= gtol * ||grad f(x_0)||, gtol = {gtol:g}")
            return rec.finish(x, f, k, Status.CONVERGED, why)
        return None

    for k in range(1, max_iter + 1):
        done = stopped(k - 1)
        if done is not None:
            return done
        outcome = step(k, x, f, g, gnorm)
        if isinstance(outcome, str):
            return rec.finish(x, f, k - 1, Status.LINE_SEARCH_FAILED, outcome)
        x = outcome.x
        f, g = objective.value_and_gradient(x)
        with np.errstate(over="ignore", invalid="ignore"):
            gnorm = float(np.linalg.norm(g))
        rec.record(f, gnorm, outcome.length, outcome.inner_iter)
        if not np.isfinite(f):
            return rec.finish(x, f, k, Status.DIVERGED, diverged_detail(k, f))
        if not np.isfinite(gnorm):
            return rec.finish(x, f, k, Status.DIVERGED, nan_gradient_detail(k, f))
        if rec.notify(x):
            return rec.finish(x, f, k, Status.CALLBACK)
    return stopped(max_iter) or rec.finish(x, f, max_iter, Status.MAX_ITER)
