"""Adam: stochastic gradient descent with adaptive, per-coordinate step sizes."""

import numpy as np

from ..threads import with_threads_by_size
from ._checks import check_learning_rate, check_open_unit, check_positive
from .sgd import run_first_order

__all__ = [
    "adam",
]


@with_threads_by_size
def adam(
    objective,
    x0,
    learning_rate=1e-3,
    max_iter=1000,
    batch_size=None,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    rng=None,
    target_loss=None,
    divergence_factor=1e4,
    callback=None,
):
    """Minimize ``objective`` by Adam (Kingma and Ba, 2015).

    Parameters
    ----------
    objective : object
        As for :func:`nnlib.optim.sgd`.
    x0 : ndarray, shape (n_params,)
    learning_rate : float or callable, default 1e-3
        Step size ``eta > 0``, or a schedule ``k -> eta_k`` (as for
        :func:`nnlib.optim.sgd`).
    max_iter : int, default 1000
        Number of updates.
    batch_size : int, optional
        Examples per step; ``None`` uses all of them.
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates, in (0, 1).
    eps : float, default 1e-8
        Keeps the denominator away from zero.
    rng : numpy.random.Generator
        Required when ``batch_size < n_examples``.
    target_loss : float, optional
        With full batches: stop once ``f(x_k) <= target_loss``.
    divergence_factor : float or None, default 1e4
        Stop as ``DIVERGED`` once a loss exceeds ``divergence_factor * max(f_0, 1)``;
        ``None`` stops only on non-finite numbers (as for :func:`nnlib.optim.sgd`).
    callback : callable, optional
        As for :func:`nnlib.optim.sgd`.

    Returns
    -------
    OptimizeResult

    Notes
    -----
    With ``g_k`` the (mini-batch) gradient and ``t = k + 1``:

    .. math::

        m_{k+1} = \\beta_1 m_k + (1-\\beta_1) g_k,\\quad
        v_{k+1} = \\beta_2 v_k + (1-\\beta_2) g_k^2,

        x_{k+1} = x_k - \\eta \\frac{m_{k+1}/(1-\\beta_1^t)}{\\sqrt{v_{k+1}/(1-\\beta_2^t)} + \\epsilon}.

    The bias corrections undo the zero initialization of the moments.  Every
    coordinate moves by about ``eta`` per step regardless of the gradient's
    scale.  Work per step: ``2 b / n``.
    """
    step_size = check_learning_rate(learning_rate)
    beta1 = check_open_unit(beta1, "beta1")
    beta2 = check_open_unit(beta2, "beta2")
    eps = check_positive(eps, "eps")
    first_moment = np.zeros(np.size(x0))
    second_moment = np.zeros(np.size(x0))

    def update(k, x, g):
        t = k + 1
        first_moment[:] = beta1 * first_moment + (1 - beta1) * g
        second_moment[:] = beta2 * second_moment + (1 - beta2) * g * g
        m_hat = first_moment / (1 - beta1**t)
        v_hat = second_moment / (1 - beta2**t)
        return x - step_size(k) * m_hat / (np.sqrt(v_hat) + eps)

    return run_first_order(objective, x0, max_iter, batch_size, rng, target_loss, update, divergence_factor,
                           callback)
