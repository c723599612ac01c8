"""Batch normalization and dropout as layers of the contract.

Batch normalization (Ioffe and Szegedy, 2015) normalizes every feature (row of ``Y``) over
the examples of the batch, then scales and shifts it by learned parameters.  Unlike the
other layers, in training mode the output for one example depends on every other example
of the batch: the layer is a function of the whole matrix ``Y``, and its input Jacobian
couples the columns.  The contract needs nothing new for that, because every Jacobian of
nnlib already acts on ``vec(Y)`` of the whole batch; the coupling is inside the products.
What changes is the meaning of a mini-batch: the loss of a batch is the loss of the
network normalized over that batch, so a mini-batch gradient is the exact gradient of that
batch's loss (not an unbiased estimate of the full one).
"""

import numpy as np

from ._validation import check_float_dtype, check_positive, check_positive_int, check_rng, check_vector, result_dtype
from .jacobian import FunctionJacobian
from .layers import Layer, ParameterFreeLayer

__all__ = [
    "BatchNorm",
    "Dropout",
]


class BatchNorm(Layer, register=True):
    """Batch normalization ``Z = gamma * (Y - mu) / sqrt(var + eps) + beta``, feature by feature.

    Parameters
    ----------
    n_features : int
        Number of features ``m`` (rows of ``Y`` and of ``Z``).
    eps : float, default 1e-5
        Added to the variance before the square root.
    statistics : tuple of two arrays, optional
        ``(mean, var)``, each of shape ``(m,)``: inference mode, a fixed affine map with
        these statistics (e.g. those of the training set, :meth:`batch_statistics`).
        Without them (the default) the layer is in training mode and uses the mean and the
        variance of the batch it is given.

    Notes
    -----
    Parameters ``theta = (gamma, beta)``, ``n_params = 2 m``.  Per feature, with the
    normalized values ``X = (Y - mu 1^T) / s`` and ``s = sqrt(var + eps)``:

    * ``J_theta (dgamma, dbeta) = dgamma * X + dbeta 1^T`` and
      ``J_theta^T W = (sum_j W * X, sum_j W)`` (sums over the examples);
    * training mode: ``J_Y V = gamma / s * (V - mean_j(V) 1^T - X * mean_j(X * V))``, row by
      row.  The map ``V -> V - mean(V) - X mean(X V)`` is symmetric (the mean of ``X`` is 0),
      so ``J_Y^T`` is the same formula;
    * inference mode: ``J_Y V = gamma / s * V`` with the fixed ``s``.

    Every product costs ``O(m n)``.
    """

    def __init__(self, n_features, eps=1e-5, statistics=None):
        self.n_in = self.n_out = check_positive_int(n_features, "n_features")
        self.eps = check_positive(eps, "eps")
        self.n_params = 2 * self.n_in
        if statistics is None:
            self.statistics = None
        else:
            try:
                mean, var = statistics
            except (TypeError, ValueError):
                raise ValueError(f"statistics must be a pair (mean, var); got {statistics!r}") from None
            mean = check_vector(mean, "statistics mean", self.n_in)
            var = check_vector(var, "statistics var", self.n_in)
            if np.any(var < 0):
                raise ValueError("statistics var must be non-negative; got a negative variance")
            self.statistics = (mean.copy(), var.copy())

    @property
    def training(self):
        """True when the layer normalizes by the batch's own statistics."""
        return self.statistics is None

    def __repr__(self):
        mode = "training" if self.training else "inference"
        return f"BatchNorm(n_features={self.n_in}, eps={self.eps:g}, mode={mode!r})"

    @classmethod
    def test_cases(cls):
        rng = np.random.default_rng(0)
        frozen = (rng.standard_normal(4), rng.uniform(0.5, 2.0, 4))
        return [(cls(4), 6), (cls(3, eps=1e-3), 2), (cls(4, statistics=frozen), 5)]

    def init_params(self, rng, dtype=np.float64):
        """``gamma`` near 1 and ``beta`` near 0 (small random perturbations, so tests see every term)."""
        dtype = check_float_dtype(dtype)
        rng = check_rng(rng)
        gamma = 1.0 + 0.1 * rng.standard_normal(self.n_in)
        beta = 0.1 * rng.standard_normal(self.n_in)
        return np.concatenate([gamma, beta]).astype(dtype)

    @staticmethod
    def batch_statistics(Y):
        """``(mean, var)`` of each feature over the examples of ``Y``: the ``statistics`` for inference."""
        Y = np.asarray(Y, dtype=float)
        return Y.mean(axis=1), Y.var(axis=1)

    def unpack(self, theta):
        """``gamma`` and ``beta``, views of shape ``(m,)``."""
        theta = check_vector(theta, "theta", self.n_params)
        return theta[: self.n_in], theta[self.n_in :]

    def _normalized(self, theta, Y):
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        if self.training:
            mean, var = Y.mean(axis=1), Y.var(axis=1)
        else:
            mean, var = self.statistics
        scale = 1.0 / np.sqrt(var + self.eps)
        X = ((Y - mean[:, None]) * scale[:, None]).astype(dtype, copy=False)
        gamma, beta = self.unpack(theta)
        return theta, X, scale.astype(dtype, copy=False), gamma.astype(dtype, copy=False), beta.astype(dtype, copy=False)

    def forward(self, theta, Y):
        """``gamma * X + beta``, shape ``(m, n_examples)``."""
        _, X, _, gamma, beta = self._normalized(theta, Y)
        return gamma[:, None] * X + beta[:, None]

    def jacobian_params(self, theta, Y):
        """``(dgamma, dbeta) -> dgamma * X + dbeta 1^T`` and its transpose."""
        theta, X, _, _, _ = self._normalized(theta, Y)
        m, n = X.shape

        def matvec(v):
            return (v[:m, None] * X + v[m:, None]).ravel()

        def rmatvec(w):
            W = np.reshape(w, (m, n))
            return np.concatenate([np.sum(W * X, axis=1), np.sum(W, axis=1)])

        return FunctionJacobian((m * n, 2 * m), matvec, rmatvec, X.dtype, out_shape=(m, n))

    def jacobian_input(self, theta, Y):
        """Training mode: the batch-coupled product of the Notes; inference mode: ``gamma / s * V``."""
        theta, X, scale, gamma, _ = self._normalized(theta, Y)
        m, n = X.shape
        factor = (gamma * scale)[:, None]
        if self.training:
            def apply(v):
                V = np.reshape(v, (m, n))
                centred = V - V.mean(axis=1, keepdims=True) - X * np.mean(X * V, axis=1, keepdims=True)
                return (factor * centred).ravel()

            def apply_transpose(w):
                return apply(w)  # symmetric, see the Notes
        else:
            def apply(v):
                return (factor * np.reshape(v, (m, n))).ravel()

            apply_transpose = apply
        return FunctionJacobian((m * n, m * n), apply, apply_transpose, X.dtype, out_shape=(m, n))


class Dropout(ParameterFreeLayer, register=True):
    """Dropout: each entry of ``Y`` kept with probability ``1 - rate`` and scaled by ``1 / (1 - rate)``.

    Parameters
    ----------
    n_features : int
        Number of features ``m`` (rows of ``Y`` and of ``Z``).
    rate : float
        Probability of dropping an entry, in ``[0, 1)``.
    rng : numpy.random.Generator, optional
        Draws the first mask (see :meth:`resample`).
    n_examples : int, optional
        Number of examples the first mask is drawn for (needed with ``rng``).

    Notes
    -----
    A layer of the contract must be a function of ``(theta, Y)``, and dropout is random.
    So the random draw is explicit: the layer holds a mask ``M`` of shape
    ``(m, n_examples)`` with entries ``0`` or ``1 / (1 - rate)``, drawn by
    :meth:`resample` from a generator the caller passes, and ``Z = M * Y`` is a
    deterministic function until the next :meth:`resample` (a training loop calls it once
    per step, e.g. from a solver's ``callback``).  In evaluation mode
    (``training = False``) the layer is the identity: the expected value of the training
    output, since ``E[M] = 1``.  No parameters; ``J_Y V = M * V`` (symmetric).
    """

    def __init__(self, n_features, rate, rng=None, n_examples=None):
        self.n_in = self.n_out = check_positive_int(n_features, "n_features")
        rate = float(rate) if isinstance(rate, (int, float, np.floating, np.integer)) and not isinstance(rate, bool) else rate
        if not isinstance(rate, float) or not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be a number in [0, 1); got {rate!r}")
        self.rate = rate
        self.training = True
        self.mask = None
        if rng is not None:
            if n_examples is None:
                raise ValueError("Dropout(..., rng=...) needs n_examples: the number of examples the mask is drawn for")
            self.resample(rng, n_examples)

    def __repr__(self):
        return f"Dropout(n_features={self.n_in}, rate={self.rate:g}, training={self.training})"

    @classmethod
    def test_cases(cls):
        return [(cls(4, 0.5, np.random.default_rng(0), 6), 6), (cls(3, 0.2, np.random.default_rng(1), 1), 1)]

    def resample(self, rng, n_examples):
        """Draw a new mask for ``n_examples`` examples from ``rng``; returns the layer."""
        rng = check_rng(rng)
        n_examples = check_positive_int(n_examples, "n_examples")
        keep = rng.random((self.n_in, n_examples)) >= self.rate
        self.mask = keep / (1.0 - self.rate)
        return self

    def _factor(self, theta, Y):
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        if not self.training:
            return theta, Y, None
        if self.mask is None or self.mask.shape != Y.shape:
            drawn = "no mask was drawn" if self.mask is None else f"the mask was drawn for shape {self.mask.shape}"
            raise ValueError(f"Dropout in training mode got Y of shape {Y.shape} but {drawn}; "
                             "call resample(rng, n_examples) first (or set training = False to evaluate)")
        return theta, Y, self.mask.astype(dtype, copy=False)

    def forward(self, theta, Y):
        """``M * Y`` in training mode, ``Y`` in evaluation mode."""
        _, Y, M = self._factor(theta, Y)
        dtype = result_dtype(theta, Y)
        return (Y if M is None else M * Y).astype(dtype, copy=True)

    def jacobian_input(self, theta, Y):
        """``V -> M * V`` (or the identity in evaluation mode); symmetric."""
        theta, Y, M = self._factor(theta, Y)
        dtype = result_dtype(theta, Y)
        shape = Y.shape

        def apply(v):
            V = np.reshape(v, shape).astype(dtype, copy=False)
            return (V if M is None else M * V).ravel()

        return FunctionJacobian((Y.size, Y.size), apply, apply, dtype, out_shape=shape)
