"""Armijo backtracking line search."""

from dataclasses import dataclass

import numpy as np

from ._checks import check_max_iter, check_open_unit, check_positive

__all__ = [
    "LineSearchResult",
    "armijo",
]


@dataclass
class LineSearchResult:
    """Outcome of :func:`armijo`.

    Attributes
    ----------
    step : float
        Accepted step length ``a`` (0 if none was found).
    value : float
        ``phi(step)``; ``phi(0)`` when the search failed.
    n_trials : int
        Number of evaluations of ``phi``.
    success : bool
        Whether the sufficient decrease condition holds at ``step``.
    """

    step: float
    value: float
    n_trials: int
    success: bool


def armijo(phi, phi0, dphi0, step0=1.0, c1=1e-4, shrink=0.5, max_trials=30):
    """Backtrack from ``step0`` until the sufficient decrease condition holds.

    Parameters
    ----------
    phi : callable
        ``a -> f(x + a p)``, the objective along the search direction ``p``.
    phi0 : float
        ``phi(0) = f(x)``.
    dphi0 : float
        ``phi'(0) = grad f(x) . p``; must be negative (a descent direction).
    step0 : float, default 1
        First trial step: 1 is the natural step of (Gauss-)Newton methods.
    c1 : float, default 1e-4
        Fraction of the linear decrease that must be achieved, in (0, 1).
    shrink : float, default 0.5
        Factor by which a rejected step is reduced, in (0, 1).
    max_trials : int, default 30
        Evaluations of ``phi`` before giving up.

    Returns
    -------
    LineSearchResult

    Raises
    ------
    ValueError
        If ``p`` is not a descent direction (``dphi0 >= 0``) or a setting is
        out of range.

    Notes
    -----
    A step ``a`` is accepted when (Armijo, sufficient decrease)

    .. math:: \\phi(a) \\le \\phi(0) + c_1 a \\phi'(0),

    and the trials are ``a_j = step0 * shrink^j``.  Because ``phi'(0) < 0``
    the condition holds for all small enough ``a`` when ``f`` is
    differentiable, so the search ends unless round-off hides the decrease.
    A trial whose value is not finite (NaN or inf: the step overflowed the
    model) is simply rejected, and so is one that does not decrease ``f``
    strictly (near round-off level ``phi(0) + c1 a phi'(0)`` rounds to
    ``phi(0)``).  An accepted step never increases ``f``.
    """
    step = check_positive(step0, "step0")
    c1 = check_open_unit(c1, "c1")
    shrink = check_open_unit(shrink, "shrink")
    max_trials = check_max_iter(max_trials, "max_trials")
    if not np.isfinite(phi0):
        raise ValueError(f"phi(0) must be finite to search from it; got {phi0}")
    if not dphi0 < 0:
        raise ValueError(
            f"the search direction must be a descent direction, phi'(0) < 0; got phi'(0) = {dphi0}"
        )
    for trial in range(1, max_trials + 1):
        value = float(phi(step))
        # Demanding a strict decrease too stops the search from "accepting" tiny steps
        # whose decrease is lost to round-off, which would stall the solver silently.
        if np.isfinite(value) and value <= phi0 + c1 * step * dphi0 and value < phi0:
            return LineSearchResult(step, value, trial, True)
        step *= shrink
    return LineSearchResult(0.0, float(phi0), max_trials, False)
