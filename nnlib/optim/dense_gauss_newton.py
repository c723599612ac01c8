"""The dense Gauss-Newton matrix of a network with a linear last layer (least squares).

For few unknowns it is cheaper to form the ``n_params x n_params`` matrix once, in
BLAS-3 products over the examples, and factorize it than to apply the Gauss-Newton
operator many times inside CG: :func:`~nnlib.optim.levenberg_marquardt` does that.
The reduced matrices of variable projection sit next to their solver, in
:mod:`nnlib.optim.varpro`.
"""

import numpy as np

from ..losses import LeastSquares

__all__ = [
    "gauss_newton_matrix",
]


def gauss_newton_matrix(objective, x, coupling=True):
    """The Gauss-Newton matrix of a :class:`~nnlib.objective.LinearHeadObjective` as a dense array.

    Parameters
    ----------
    objective : LinearHeadObjective
        With a :class:`~nnlib.losses.LeastSquares` loss.
    x : ndarray, shape (n_params,)
    coupling : bool, default True
        ``False``: the block-diagonal matrix (no ``theta``-``W`` blocks), as
        for :meth:`~nnlib.objective.LinearHeadObjective.gauss_newton_operator`.

    Returns
    -------
    ndarray, shape (n_params, n_params)
        ``J_S^T J_S / n + diag(alpha I, alpha_W I)`` with ``J_S`` the Jacobian
        of ``vec(S)``, ``S = W Z(theta)``, in ``x = (theta, vec W)``.

    Raises
    ------
    ValueError
        If the loss is not least squares (use the matrix-free operator then).

    Notes
    -----
    With ``R_t`` the explicit rows ``d S[t, :] / d theta`` (shape ``(n_theta, n)``,
    :meth:`~nnlib.objective.LinearHeadObjective.scores_jacobian_theta`), the
    ``theta`` block is ``sum_t R_t R_t^T``, the ``W`` blocks are ``Z Z^T`` (one per
    target) and the coupling blocks are ``R_t Z^T``.  Work: the explicit rows plus
    these multiply-adds, counted by the objective (``count_dense``).
    """
    if not isinstance(objective.loss, LeastSquares):
        raise ValueError(
            f"gauss_newton_matrix is implemented for LeastSquares only; got {type(objective.loss).__name__} "
            "(use the matrix-free gauss_newton_operator)"
        )
    rows = objective.scores_jacobian_theta(x)
    theta, _ = objective.split(x)
    Z = objective.features(theta)
    n_targets, p, n = rows.shape
    m = Z.shape[0]
    n_params = objective.n_params
    H = np.zeros((n_params, n_params), dtype=np.result_type(rows, Z))
    ZZt = Z @ Z.T
    for t in range(n_targets):
        R = rows[t]
        H[:p, :p] += R @ R.T
        w = slice(p + t * m, p + (t + 1) * m)
        H[w, w] = ZZt
        if coupling:
            H[:p, w] = R @ Z.T
            H[w, :p] = H[:p, w].T
    objective.count_dense(n * (n_targets * p * p + (n_targets * p * m if coupling else 0) + m * m))
    H /= n
    H[np.arange(p), np.arange(p)] += objective.reg_theta
    H[np.arange(p, n_params), np.arange(p, n_params)] += objective.reg_W
    return H
