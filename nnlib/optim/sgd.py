"""Stochastic gradient descent with mini-batches, momentum and Nesterov momentum."""

import numpy as np

from .._validation import check_int
from ..threads import with_threads_by_size
from ._checks import (
    check_learning_rate,
    check_max_iter,
    check_objective,
    check_positive,
    check_rng,
    check_start,
    check_target,
    check_unit_interval,
)
from .result import Recorder, Status, diverged_detail, nan_gradient_detail

__all__ = [
    "check_batch_size",
    "minibatches",
    "run_first_order",
    "sgd",
]


def check_batch_size(batch_size, objective):
    """``None`` means the full batch; otherwise an integer in ``[1, n_examples]``."""
    n = objective.n_examples
    if batch_size is None:
        return n
    return check_int(batch_size, f"batch_size (None: the full batch of {n} training examples)", 1, n)


def minibatches(n_examples, batch_size, rng):
    """Endless stream of index arrays: each epoch visits a fresh permutation in chunks.

    A last chunk smaller than ``batch_size`` is dropped, so every step sees
    ``batch_size`` examples and the work per step is constant.
    """
    if batch_size == n_examples:
        everything = np.arange(n_examples)
        while True:
            yield everything
    while True:
        order = rng.permutation(n_examples)
        for start in range(0, n_examples - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def run_first_order(objective, x0, max_iter, batch_size, rng, target_loss, update, divergence_factor=1e4,
                    callback=None):
    """The loop shared by SGD and Adam: draw a batch, evaluate, check, update.

    ``update(k, x, g)`` returns the new ``x`` from the mini-batch gradient
    ``g`` at ``x``.
    Entry ``k < n_iter`` of the history holds the mini-batch loss at ``x_k``;
    the last entry holds the full training loss at the final ``x`` (one
    forward pass, counted).

    A run stops as ``DIVERGED`` when a loss or gradient is not finite, or when a
    loss exceeds ``divergence_factor * max(f_0, 1)`` with ``f_0`` the first
    (mini-batch) loss: growth by orders of magnitude is divergence even while
    the numbers are still finite (``divergence_factor=None``: no such test).

    ``callback(x_k)`` sees every iterate, the last one included; if it returns
    true before the update of ``x_k``, the run stops there (``Status.CALLBACK``)
    with the full training loss at ``x_k``.
    """
    objective = check_objective(objective)
    x = check_start(x0, objective)
    max_iter = check_max_iter(max_iter)
    batch_size = check_batch_size(batch_size, objective)
    if batch_size < objective.n_examples:
        rng = check_rng(rng)
    target_loss = check_target(target_loss)
    if divergence_factor is not None:
        divergence_factor = check_positive(divergence_factor, "divergence_factor")

    rec = Recorder(objective, callback)
    batches = minibatches(objective.n_examples, batch_size, rng)
    last_step = 0.0
    limit = None

    def grown(k, f):
        return (f"the loss grew from {rec.history.loss[0]:.3g} to {f:.3g} at iteration {k}, more than "
                f"divergence_factor = {divergence_factor:g} times max(f_0, 1); reduce the step size or learning rate")

    def stop(k, f, status, detail):
        # A mini-batch loss describes the batch, not x: report the full loss at x instead (one
        # counted pass), so that result.loss and the last history entry are f(result.x).
        if not full:
            f = objective.value(x)
            rec.history.loss[-1], rec.history.grad_norm[-1] = float(f), float("nan")
            rec.history.work[-1] = float(objective.work_units) - rec.start_work
        return rec.finish(x, f, k, status, detail)

    full = batch_size == objective.n_examples
    for k in range(max_iter):
        if rec.notify(x):
            f = objective.value(x)
            rec.record(f, np.nan, last_step)
            return rec.finish(x, f, k, Status.CALLBACK)
        batch = next(batches)
        f, g = objective.value_and_gradient(x) if full else objective.value_and_gradient(x, batch)
        if not np.isfinite(f):
            rec.record(f, np.nan, last_step)
            return stop(k, f, Status.DIVERGED, diverged_detail(k, f))
        with np.errstate(over="ignore", invalid="ignore"):
            gnorm = float(np.linalg.norm(g))
        rec.record(f, gnorm, last_step)
        if not np.isfinite(gnorm):
            return stop(k, f, Status.DIVERGED, nan_gradient_detail(k, f))
        if limit is None:
            limit = np.inf if divergence_factor is None else divergence_factor * max(float(f), 1.0)
        elif f > limit:
            return stop(k, f, Status.DIVERGED, grown(k, f))
        if full and target_loss is not None and f <= target_loss:
            return rec.finish(x, f, k, Status.TARGET_REACHED)
        with np.errstate(over="ignore", invalid="ignore"):
            x_new = update(k, x, g)
        if not np.all(np.isfinite(x_new)):
            return stop(k, f, Status.DIVERGED, diverged_detail(k + 1, "nan (the weights overflowed)"))
        with np.errstate(over="ignore", invalid="ignore"):
            last_step = float(np.linalg.norm(x_new - x))
        x = x_new
    f = objective.value(x)
    rec.record(f, np.nan, last_step)
    rec.notify(x)  # the last iterate; the run ends here anyway
    if not np.isfinite(f):
        return rec.finish(x, f, max_iter, Status.DIVERGED, diverged_detail(max_iter, f))
    if limit is not None and f > limit:
        return rec.finish(x, f, max_iter, Status.DIVERGED, grown(max_iter, f))
    if target_loss is not None and f <= target_loss:
        return rec.finish(x, f, max_iter, Status.TARGET_REACHED)
    return rec.finish(x, f, max_iter, Status.MAX_ITER)


@with_threads_by_size
def sgd(
    objective,
    x0,
    learning_rate=1e-2,
    max_iter=1000,
    batch_size=None,
    momentum=0.0,
    nesterov=False,
    rng=None,
    target_loss=None,
    divergence_factor=1e4,
    callback=None,
):
    """Minimize ``objective`` by (mini-batch) stochastic gradient descent.

    Parameters
    ----------
    objective : object
        Offers ``value_and_gradient(x, batch)``, ``n_examples``, ``n_params``
        and ``work_units`` (e.g. :class:`nnlib.objective.LinearHeadObjective`).
    x0 : ndarray, shape (n_params,)
    learning_rate : float or callable, default 1e-2
        Step size ``eta > 0``, or a schedule ``k -> eta_k`` for the updates
        ``k = 0, 1, ...`` (e.g. ``lambda k: 0.1 / (1 + k / 100)``, decreasing
        steps as in Robbins and Monro).
    max_iter : int, default 1000
        Number of updates (mini-batch steps, not epochs).
    batch_size : int, optional
        Examples per step; ``None`` uses all of them (gradient descent).
    momentum : float, default 0
        Coefficient ``mu`` in ``[0, 1)``.
    nesterov : bool, default False
        Evaluate the gradient at the look-ahead point ``x + mu v``; the
        iterates are then the look-ahead points (see Notes).
    rng : numpy.random.Generator
        Shuffles the examples; required when ``batch_size < n_examples``.
    target_loss : float, optional
        With full batches: stop once ``f(x_k) <= target_loss`` (also checked on
        the final full loss).
    divergence_factor : float or None, default 1e4
        Stop as ``DIVERGED`` once a loss exceeds ``divergence_factor * max(f_0, 1)``
        (``f_0`` the first loss): a run whose loss grows by orders of magnitude
        has diverged even while it is finite.  ``None``: stop only on
        non-finite numbers (to watch a divergence happen).
    callback : callable, optional
        ``callback(x_k)`` for every iterate; return ``True`` to stop
        (``Status.CALLBACK``).  Its time is left out of ``history.time``.

    Returns
    -------
    OptimizeResult

    Notes
    -----
    With mini-batch gradient ``g_k`` (an unbiased estimate of the full
    gradient) the iteration is

    * plain: ``x_{k+1} = x_k - eta g_k(x_k)``,
    * momentum: ``v_{k+1} = mu v_k - eta g_k(x_k)``, ``x_{k+1} = x_k + v_{k+1}``,
    * Nesterov: ``v_{k+1} = mu v_k - eta g_k(x_k + mu v_k)``, same update of ``x``.
      The solver iterates on the look-ahead points ``y_k = x_k + mu v_k``,
      ``y_{k+1} = y_k + mu v_{k+1} - eta g_k(y_k)`` (the form of Sutskever et
      al. 2013 that deep-learning libraries use), so each step needs one
      gradient, and ``x``, the history and the loss refer to ``y_k``.  As
      ``v_k -> 0`` the two sequences meet.

    Each epoch draws a new permutation of the examples from ``rng`` and walks
    through it in batches.  Work per step: ``2 b / n`` (forward and backward
    on ``b`` of ``n`` examples), with or without momentum.  A non-finite loss
    or weight stops the run with status 4.
    """
    step_size = check_learning_rate(learning_rate)
    mu = check_unit_interval(momentum, "momentum")
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False; got {nesterov!r}")
    velocity = np.zeros(np.size(x0))

    def update(k, x, g):
        nonlocal velocity
        eta = step_size(k)
        if mu == 0.0:
            return x - eta * g
        velocity = mu * velocity - eta * g
        if nesterov:  # x is the look-ahead point y_k, g its gradient
            return x + mu * velocity - eta * g
        return x + velocity

    return run_first_order(objective, x0, max_iter, batch_size, rng, target_loss, update, divergence_factor,
                           callback)
