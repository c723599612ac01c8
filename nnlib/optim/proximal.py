"""Proximal gradient descent for an l1 penalty (ISTA): sparse weights, exact zeros."""

import numpy as np

from ..threads import with_threads_by_size
from ._checks import check_max_iter, check_nonnegative, check_objective, check_positive, check_start, check_target
from .result import Recorder, Status, diverged_detail

__all__ = [
    "soft_threshold",
    "proximal_gradient",
]


def soft_threshold(x, threshold):
    """The proximal map of ``threshold * ||x||_1``: shrink every entry towards zero.

    Parameters
    ----------
    x : array_like
    threshold : float or array_like
        Non-negative; a scalar or an array that broadcasts against ``x``
        (one threshold per entry, zero for entries that are not penalized).

    Returns
    -------
    ndarray
        ``sign(x) * max(|x| - threshold, 0)``, of the shape of ``x``.

    Notes
    -----
    ``soft_threshold(v, t) = argmin_x  t ||x||_1 + 1/2 ||x - v||^2``, entry by
    entry: entries with ``|v_i| <= t_i`` become exactly zero, the others move
    ``t_i`` towards zero.  This is why an l1 penalty gives sparse solutions
    and an l2 penalty (whose proximal map ``v / (1 + t)`` only scales) does not.
    """
    x = np.asarray(x, dtype=float)
    threshold = np.asarray(threshold, dtype=float)
    if not np.all(np.isfinite(threshold)) or np.any(threshold < 0):
        raise ValueError("threshold must be non-negative and finite")
    try:
        np.broadcast_shapes(threshold.shape, x.shape)
    except ValueError:
        raise ValueError(
            f"threshold must be a scalar or broadcast to the shape of x, {x.shape}; got shape {threshold.shape}"
        ) from None
    return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


def _l1_weights(l1, n_params):
    """``l1`` as a float (checked) or a non-negative vector of length ``n_params``."""
    if np.ndim(l1) == 0:
        return check_nonnegative(l1, "l1")
    weights = np.asarray(l1, dtype=float)
    if weights.shape != (n_params,):
        raise ValueError(f"l1 must be a number or a vector of length n_params = {n_params}; got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("the entries of l1 must be non-negative and finite")
    return weights


@with_threads_by_size
def proximal_gradient(objective, x0, l1, max_iter=500, step0=1.0, tol=1e-6, tol_abs=1e-12, target_loss=None,
                      callback=None):
    """Minimize ``f(x) + ||l1 * x||_1`` by proximal gradient steps with backtracking (ISTA).

    Parameters
    ----------
    objective : object
        The smooth part ``f``: offers ``value(x)``, ``value_and_gradient(x)``,
        ``n_params`` and ``work_units`` (e.g. :class:`nnlib.objective.LinearHeadObjective`,
        whose ``reg_W`` adds an l2 term: both together are the elastic net).
    x0 : ndarray, shape (n_params,)
        Starting point (not modified).
    l1 : float or ndarray, shape (n_params,)
        Weight of the l1 penalty, one number for all entries or one per
        entry (zero for entries that are not penalized, e.g. biases).
    max_iter : int, default 500
    step0 : float, default 1
        First trial step; each iteration starts from twice the last accepted step.
    tol : float, default 1e-6
        Stop when the gradient mapping ``||x - prox(x - a grad f(x))|| / a`` is
        at most ``max(tol * (its first value), tol_abs)``: it is zero exactly at
        a minimizer, where the gradient of ``f`` need not be.
    tol_abs : float, default 1e-12
    target_loss : float, optional
        Stop as soon as ``f(x_k) + ||l1 * x_k||_1 <= target_loss``.
    callback : callable, optional
        ``callback(x_k)`` after every iterate; ``True`` stops the run.

    Returns
    -------
    OptimizeResult
        ``loss`` and ``history.loss`` are the full objective ``f + l1 term``;
        ``history.grad_norm`` holds the gradient mapping's norm.

    Notes
    -----
    One step: ``x+ = soft_threshold(x - a g, a * l1)`` with ``g = grad f(x)``,
    ``a`` halved until ``f(x+) <= f(x) + g^T (x+ - x) + ||x+ - x||^2 / (2a)``
    (the quadratic upper bound that guarantees descent of ``f + l1 term``).
    With ``L`` the Lipschitz constant of ``grad f``, the error falls like
    ``O(1/k)`` for convex ``f`` and linearly for strongly convex ``f``
    (Beck and Teboulle, 2009).  Entries whose gradient stays below their
    ``l1`` weight are set to exactly zero.  Work: one forward pass per trial,
    one backward pass per iteration.
    """
    objective = check_objective(objective)
    x = check_start(x0, objective)
    weights = _l1_weights(l1, objective.n_params)
    max_iter = check_max_iter(max_iter)
    trial = check_positive(step0, "step0")
    tol = check_nonnegative(tol, "tol")
    tol_abs = check_nonnegative(tol_abs, "tol_abs")
    target_loss = check_target(target_loss)

    def penalty(z):
        return float(np.sum(weights * np.abs(z)))

    rec = Recorder(objective, callback)
    f, g = objective.value_and_gradient(x)
    if not np.isfinite(f):
        rec.record(f)
        return rec.finish(x, f, 0, Status.DIVERGED, diverged_detail(0, f))
    threshold = None
    step_length = 0.0
    for k in range(max_iter + 1):
        # The backtracking search for x_{k+1} also yields the gradient mapping at x_k.
        for _ in range(60):
            x_new = soft_threshold(x - trial * g, trial * weights)
            d = x_new - x
            f_new = objective.value(x_new)
            if f_new <= f + float(g @ d) + float(d @ d) / (2.0 * trial):
                break
            trial *= 0.5
        else:
            rec.record(f + penalty(x))
            return rec.finish(x, f + penalty(x), k, Status.LINE_SEARCH_FAILED,
                              f"iteration {k}: no step satisfies the quadratic upper bound")
        mapping = float(np.linalg.norm(d)) / trial
        rec.record(f + penalty(x), mapping, step_length)
        if threshold is None:
            threshold = max(tol * mapping, tol_abs)
        if rec.notify(x):
            return rec.finish(x, f + penalty(x), k, Status.CALLBACK)
        if target_loss is not None and f + penalty(x) <= target_loss:
            return rec.finish(x, f + penalty(x), k, Status.TARGET_REACHED)
        if mapping <= threshold:
            return rec.finish(x, f + penalty(x), k, Status.CONVERGED,
                              f"gradient mapping {mapping:.3g} <= max(tol * its first value, tol_abs)")
        if k == max_iter:
            return rec.finish(x, f + penalty(x), k, Status.MAX_ITER)
        step_length = float(np.linalg.norm(d))
        x = x_new
        f, g = objective.value_and_gradient(x)
        if not np.isfinite(f):
            rec.record(f)
            return rec.finish(x, f, k + 1, Status.DIVERGED, diverged_detail(k + 1, f))
        trial *= 2.0
