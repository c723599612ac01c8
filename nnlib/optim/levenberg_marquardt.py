"""Levenberg-Marquardt: Gauss-Newton with the dense matrix factorized and damping instead of a line search."""

import numpy as np
import scipy.linalg

from ..threads import with_threads_by_size
from ._checks import check_max_iter, check_open_unit
from .descent import Step, descent_loop, descent_settings

__all__ = [
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
):
    """Minimize ``objective`` by Gauss-Newton steps with Levenberg-Marquardt damping.

    Parameters
    ----------
    objective : object
        Offers ``value(x)``, ``value_and_gradient(x)``,
        ``gauss_newton_matrix(x)`` (the dense Gauss-Newton matrix: for few
        parameters), ``n_params`` and ``work_units``.
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
        ``diag(H)`` (Marquardt, invariant to rescaling the unknowns).
    gtol_abs : float, default 1e-12
        Absolute floor of the gradient test (round-off level).
    callback : callable, optional
        ``callback(x_k)`` after every iterate; return ``True`` to stop
        (``Status.CALLBACK``).  Its time is left out of ``history.time``.

    Returns
    -------
    OptimizeResult
        ``history.inner_iter`` holds the trials of each iteration.

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
    """
    objective, x, max_iter, gtol, gtol_abs, target_loss = descent_settings(objective, x0, max_iter, gtol, gtol_abs,
                                                                           target_loss)
    if not callable(getattr(objective, "gauss_newton_matrix", None)):
        raise ValueError(
            f"Levenberg-Marquardt needs objective.gauss_newton_matrix; {type(objective).__name__} has none"
        )
    if damping not in ("levenberg", "marquardt"):
        raise ValueError(f"damping must be 'levenberg' or 'marquardt'; got {damping!r}")
    accept = check_open_unit(accept, "accept")
    max_trials = check_max_iter(max_trials, "max_trials")
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
            if predicted > 0 and np.isfinite(f_new) and f_new < f and (f - f_new) >= accept * predicted:
                rho = (f - f_new) / predicted
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                return Step(x_new, float(np.linalg.norm(p)), trial)
            lam, nu = max(lam, 1e-12) * nu, 2.0 * nu
        return f"iteration {k}, {max_trials} damped trials (lambda = {lam:.3g})"

    return descent_loop(objective, x, max_iter, gtol, gtol_abs, target_loss, step, callback)
