"""The training objective of a single-layer network, for every solver of :mod:`nnlib.optim`.

.. math::

    f(\\theta, W) = E(W\\, Z(\\theta), C) + \\frac{\\alpha}{2}\\|\\theta\\|^2
    + \\frac{\\alpha_W}{2}\\|W\\|_F^2,

    Z(\\theta) = \\text{layer.forward}(\\theta, Y),

with ``Z`` of shape ``(m, n)``, ``W`` of shape ``(n_targets, m)`` and the
unknowns stacked as ``x = (theta, W.ravel())``.  The layer can be any object
that follows the layer contract of :mod:`nnlib.layers` (a :class:`~nnlib.layers.Dense`
layer gives ``Z = sigma(K Y + b)``).

Work units
----------
One work unit is one forward or one backward pass over the whole training
set, through the whole model: the network ``Z(theta)`` and the linear last
layer ``S = W Z``.  The objective counts them in its attribute ``work_units``
(see :class:`LinearHeadObjective`):

============================================= =========================================
forward pass ``Z(theta)``, ``S`` (new x)      1
gradient (backward pass, ``theta`` and ``W``) 1
Gauss-Newton product (``J v`` and ``J^T w``)  2
mini-batch of ``b`` of ``n`` examples         ``b / n`` per pass
explicit Jacobian of ``S`` in ``theta``       1 per target (per-example backward pass)
dense products over the ``n`` examples        multiply-adds / ``(n * (n_theta + n_W))``
============================================= =========================================

The last row is the one formula for everything that is not a pass: its unit is
the multiply-adds of one pass through the model, about ``n_theta`` per example
for the network (exact for a dense layer) and ``n_W = n_targets * m`` for the
last layer.  It covers the dense linear algebra of
:func:`nnlib.optim.dense_gauss_newton.gauss_newton_matrix` (e.g. ``R R^T`` of the
``(n_theta, n)`` Jacobian rows ``R`` costs ``n_theta**2 n`` multiply-adds) and the
inner solves of variable projection (a product ``W Z`` alone is the last layer's
share of a pass, ``n_W / (n_theta + n_W)`` units).

Values and Jacobians are cached for the most recent ``theta`` and ``x``, so a
value, a gradient and a Gauss-Newton operator at the same point share one
forward pass.
"""


import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._validation import check_examples, check_int, check_matrix, check_nonnegative, check_rng, check_vector
from .jacobian import as_jacobian
from .layers import Layer
from .losses import Loss

__all__ = [
    "subsample",
    "backward_outer",
    "forward_outer",
    "LinearHeadObjective",
    "SingleLayerObjective",
]


def subsample(Y, C, sample_size, rng):
    """Draw a fixed random subset of the examples, once (stochastic average approximation).

    Parameters
    ----------
    Y : ndarray, shape (n_features, n)
    C : ndarray, shape (n_targets, n)
    sample_size : int
        Number of examples kept, ``1 <= sample_size <= n``.
    rng : numpy.random.Generator

    Returns
    -------
    Y_sample, C_sample : ndarray
        Columns ``S`` of ``Y`` and ``C`` with ``|S| = sample_size`` drawn
        without replacement.  A deterministic solver then minimizes
        ``1/|S| sum_{s in S} loss_s``, the sample average approximation of the
        expected loss; the sample stays fixed during the iteration.
    """
    Y = check_matrix(Y, "Y")
    C = check_matrix(C, "C", n_cols=Y.shape[1])
    n = Y.shape[1]
    sample_size = check_int(sample_size, f"sample_size (at most n = {n})", 1, n)
    check_rng(rng)
    columns = np.sort(rng.choice(n, size=int(sample_size), replace=False))
    return Y[:, columns], C[:, columns]


def backward_outer(J, W, G):
    """``J^T vec(W^T G)``: the backward pass through a linear last layer (:meth:`~nnlib.jacobian.JacobianOperator.rmatvec_outer`)."""
    return J.rmatvec_outer(W, G)


def forward_outer(J, W, v, shape=None):
    """``W mat(J v)``: the scores moved by ``v`` (:meth:`~nnlib.jacobian.JacobianOperator.matvec_outer`)."""
    return J.matvec_outer(W, v)


class _Features:
    """Forward pass at one ``theta``: ``Z`` and, on demand, ``J_theta``."""

    def __init__(self, theta, Z, J=None):
        self.theta = theta
        self.Z = Z
        self.J = J


class _Outputs:
    """Outputs at one ``x``: scores ``S = W Z``, value, and on demand the loss gradient."""

    def __init__(self, x, features, W, S, value):
        self.x = x
        self.features = features
        self.W = W
        self.S = S
        self.value = value
        self.dS = None
        self.gradient = None


class LinearHeadObjective:
    """Loss of a network followed by a linear last layer ("head") ``S = W Z``, and its derivatives.

    The network is any :class:`~nnlib.layers.Layer` (a single :class:`~nnlib.layers.Dense`
    layer, a :class:`~nnlib.networks.Sequential` ResNet, a CNN); ``W`` is kept apart
    because the last layer enters linearly, which Gauss-Newton's block structure and
    variable projection exploit.  The old name ``SingleLayerObjective`` is an alias
    kept for one release.

    Parameters
    ----------
    layer : Layer
        Maps ``theta`` and ``Y`` to features ``Z`` of shape ``(layer.n_out, n)``,
        e.g. ``Dense(n_features, width, "tanh")``.
    loss : LeastSquares or SoftmaxCrossEntropy (or any loss with ``value``,
        ``gradient`` and ``hessian_matvec`` of the scores ``S``)
    Y : ndarray, shape (layer.n_in, n)
        Training inputs, one example per column.
    C : ndarray, shape (n_targets, n)
        Training targets.
    reg_theta : float, default 0
        Weight ``alpha`` of ``alpha/2 ||theta||^2``.
    reg_W : float, default 0
        Weight ``alpha_W`` of ``alpha_W/2 ||W||_F^2``.
    sample_size : int, optional
        Keep only a fixed random sample of this many examples (stochastic
        average approximation, see :func:`subsample`); needs ``rng``.
    rng : numpy.random.Generator, optional
        Draws the sample; used only with ``sample_size``.

    Attributes
    ----------
    n_theta : int
        Length of ``theta``.
    W_shape : tuple
        ``(n_targets, layer.n_out)``.
    n_params : int
        Length of ``x = (theta, W.ravel())``.
    n_examples : int
    work_units : float
        Work spent so far (see the module docstring); solvers read it.

    Notes
    -----
    With ``S = W Z``, ``G = dE/dS`` (shape of ``S``) and ``J = J_theta`` the
    Jacobian of ``vec(Z)`` with respect to ``theta``:

    * ``grad_theta f = J^T vec(W^T G) + alpha theta``,
    * ``grad_W f = G Z^T + alpha_W W``,
    * Gauss-Newton product with ``v = (v_theta, V_W)``:
      ``dS = W mat(J v_theta) + V_W Z``, ``H = hessian_matvec(S, C, dS)``,
      ``(J^T vec(W^T H) + alpha v_theta,  H Z^T + alpha_W V_W)``,

    which is ``J_S^T (nabla^2_S E) J_S + diag(alpha I, alpha_W I)`` with
    ``J_S`` the Jacobian of ``vec(S)`` with respect to ``x``: symmetric and
    positive semi-definite because the loss is convex in ``S``.
    """

    def __init__(self, layer, loss, Y, C, reg_theta=0.0, reg_W=0.0, sample_size=None, rng=None):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be an nnlib Layer (a subclass of nnlib.layers.Layer); got {type(layer).__name__}")
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be an nnlib Loss (e.g. LeastSquares()); got {type(loss).__name__}")
        Y = check_matrix(Y, "Y", n_rows=layer.n_in)
        check_examples(Y.shape[1], "Y")
        C = check_matrix(C, "C")
        if C.shape[1] != Y.shape[1]:
            raise ValueError(
                f"C must have one column per example of Y: shape (n_targets, {Y.shape[1]}); got shape {C.shape}"
            )
        # Let the loss reject bad targets now (e.g. non one-hot C for softmax), not mid-training.
        loss.check_input(np.zeros_like(C), C)
        if sample_size is not None:
            Y, C = subsample(Y, C, sample_size, rng)
        elif rng is not None:
            raise ValueError("rng is only used to draw a sample; give sample_size too (or omit rng)")
        self.layer = layer
        self.loss = loss
        self.Y = Y
        self.C = C
        self.reg_theta = check_nonnegative(reg_theta, "reg_theta")
        self.reg_W = check_nonnegative(reg_W, "reg_W")
        self.n_theta = int(layer.n_params)
        self.W_shape = (C.shape[0], int(layer.n_out))
        self.n_params = self.n_theta + self.W_shape[0] * self.W_shape[1]
        self.n_examples = Y.shape[1]
        self.work_units = 0.0
        self._features = None
        self._outputs = None

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.layer!r}, {type(self.loss).__name__}(), n_examples={self.n_examples}, "
            f"reg_theta={self.reg_theta:g}, reg_W={self.reg_W:g})"
        )

    # ----------------------------------------------------------------- packing
    def split(self, x):
        """Views ``theta`` (length ``n_theta``) and ``W`` (shape ``W_shape``) of ``x``."""
        x = check_vector(x, "x", self.n_params)
        return x[: self.n_theta], x[self.n_theta :].reshape(self.W_shape)

    def join(self, theta, W):
        """Stack ``theta`` and ``W`` into ``x = (theta, W.ravel())``."""
        theta = check_vector(theta, "theta", self.n_theta)
        W = check_matrix(W, "W", n_rows=self.W_shape[0], n_cols=self.W_shape[1])
        return np.concatenate([theta, W.ravel()])

    def init_params(self, rng):
        """``theta`` from ``layer.init_params(rng)`` and ``W`` with entries N(0, 1/m)."""
        check_rng(rng)
        theta = self.layer.init_params(rng)
        W = rng.standard_normal(self.W_shape) / np.sqrt(self.W_shape[1])
        return np.concatenate([theta, W.ravel()])

    # ------------------------------------------------------- cached evaluation
    def features_at(self, theta):
        """Forward pass ``Z(theta)`` (cached; 1 work unit when ``theta`` is new)."""
        cached = self._features
        if cached is not None and np.array_equal(cached.theta, theta):
            return cached
        theta = check_vector(theta, "theta", self.n_theta).copy()
        # The Jacobian built here reuses the forward pass where the layer can (no second activation).
        Z, J = self.layer.forward_and_jacobian(theta, self.Y)
        J = as_jacobian(J, Z.shape)
        self.work_units += 1.0
        # Read-only: callers get the cached array itself, and writing into it would corrupt
        # every later value and gradient at this theta.
        Z.setflags(write=False)
        self._features = _Features(theta, Z, J)
        return self._features

    def features(self, theta):
        """Features ``Z(theta)``, shape ``(m, n)``: the design matrix of the problem in ``W``.

        The array is the objective's cache, so it is read-only; copy it to change it.
        """
        return self.features_at(theta).Z

    def _jacobian(self, features):
        # Built with the forward pass (forward_and_jacobian): its products are counted, not its making.
        return features.J

    def _outputs_at(self, x):
        cached = self._outputs
        if cached is not None and np.array_equal(cached.x, x):
            return cached
        theta, W = self.split(x)
        features = self.features_at(theta)
        # A diverging solver may feed huge weights: report an infinite loss instead of warning.
        with np.errstate(over="ignore", invalid="ignore"):
            S = W @ features.Z
            if np.all(np.isfinite(S)):
                value = self.loss.value(S, self.C) + self._regularization(theta, W)
            else:
                value = np.inf
        W = W.copy()
        for array in (W, S):
            array.setflags(write=False)
        self._outputs = _Outputs(np.array(x, copy=True), features, W, S, float(value))
        return self._outputs

    def _regularization(self, theta, W):
        return 0.5 * self.reg_theta * float(theta @ theta) + 0.5 * self.reg_W * float(np.sum(W * W))

    def value(self, x):
        """Objective value ``f(x)``; one forward pass unless ``theta`` was seen last."""
        return self._outputs_at(x).value

    def gradient(self, x):
        """Gradient of ``f`` at ``x``, shape ``(n_params,)``."""
        return self.value_and_gradient(x)[1]

    def value_and_gradient(self, x, batch=None):
        """Value and gradient at ``x``, on all examples or on a mini-batch.

        Parameters
        ----------
        x : ndarray, shape (n_params,)
        batch : ndarray of int, optional
            Column indices of a mini-batch.  Then the loss is averaged over
            the batch only (an unbiased estimate of the full loss), nothing
            is cached, and the work counted is ``2 * len(batch) / n``.

        Returns
        -------
        value : float
        gradient : ndarray, shape (n_params,)
        """
        if batch is not None:
            return self._batch_value_and_gradient(x, batch)
        out = self._outputs_at(x)
        if out.gradient is None:
            if not np.isfinite(out.value):
                out.gradient = np.full(self.n_params, np.nan)
                return out.value, out.gradient.copy()
            theta = out.features.theta
            out.dS = self.loss.gradient(out.S, self.C)
            grad_theta = backward_outer(self._jacobian(out.features), out.W, out.dS)
            self.work_units += 1.0
            grad_W = out.dS @ out.features.Z.T
            out.gradient = np.concatenate(
                [grad_theta + self.reg_theta * theta, (grad_W + self.reg_W * out.W).ravel()]
            )
        return out.value, out.gradient.copy()

    def _batch_value_and_gradient(self, x, batch):
        batch = np.asarray(batch)
        if batch.ndim != 1 or batch.dtype.kind not in "iu" or batch.size == 0:
            raise ValueError(f"batch must be a non-empty 1-D array of example indices; got {batch!r}")
        if batch.min() < 0 or batch.max() >= self.n_examples:
            raise ValueError(f"batch indices must lie in [0, {self.n_examples - 1}] (the training examples); "
                             f"got the range [{batch.min()}, {batch.max()}]")
        theta, W = self.split(x)
        Y, C = self.Y[:, batch], self.C[:, batch]
        fraction = batch.size / self.n_examples
        Z, J = self.layer.forward_and_jacobian(theta, Y)
        J = as_jacobian(J, Z.shape)
        self.work_units += fraction
        with np.errstate(over="ignore", invalid="ignore"):
            S = W @ Z
        if not np.all(np.isfinite(S)):
            return np.inf, np.full(self.n_params, np.nan)
        value = self.loss.value(S, C) + self._regularization(theta, W)
        dS = self.loss.gradient(S, C)
        grad_theta = backward_outer(J, W, dS)
        self.work_units += fraction
        grad_W = dS @ Z.T
        return value, np.concatenate(
            [grad_theta + self.reg_theta * theta, (grad_W + self.reg_W * W).ravel()]
        )

    # ------------------------------------------------------------ Gauss-Newton
    def gauss_newton_operator(self, x, coupling=True):
        """Gauss-Newton matrix ``J_S^T (nabla^2_S E) J_S + regularization`` as a LinearOperator.

        Parameters
        ----------
        x : ndarray, shape (n_params,)
        coupling : bool, default True
            ``False`` drops the blocks that couple ``theta`` and ``W``: the
            block-diagonal approximation of the lecture notes ("use the full
            Hessian for W, ignore the coupling").

        Returns
        -------
        LinearOperator, shape (n_params, n_params)
            Symmetric positive semi-definite (definite if both regularization
            weights are positive); each product costs 2 work units (one
            ``J v``, one ``J^T w``), counted when it is applied.

        Notes
        -----
        With ``v = (v_theta, V_W)`` and ``H(.) = hessian_matvec(S, C, .)``,
        coupled: ``dS = W mat(J v_theta) + V_W Z``, result
        ``(J^T vec(W^T H(dS)) + alpha v_theta, H(dS) Z^T + alpha_W V_W)``;
        block-diagonal: ``dS_1 = W mat(J v_theta)``, ``dS_2 = V_W Z``, result
        ``(J^T vec(W^T H(dS_1)) + alpha v_theta, H(dS_2) Z^T + alpha_W V_W)``.
        """
        out = self._outputs_at(x)
        J = self._jacobian(out.features)
        Z, W, S = out.features.Z, out.W, out.S
        m, n = Z.shape
        n_theta = self.n_theta

        def theta_part(H):
            return backward_outer(J, W, H)

        def matvec(v):
            v = np.ravel(v)
            v_theta, V_W = v[:n_theta], v[n_theta:].reshape(W.shape)
            dS_theta = forward_outer(J, W, v_theta, (m, n))
            self.work_units += 2.0
            if coupling:
                H = self.loss.hessian_matvec(S, self.C, dS_theta + V_W @ Z)
                H_theta, H_W = H, H
            else:
                H_theta = self.loss.hessian_matvec(S, self.C, dS_theta)
                H_W = self.loss.hessian_matvec(S, self.C, V_W @ Z)
            return np.concatenate(
                [theta_part(H_theta) + self.reg_theta * v_theta, (H_W @ Z.T + self.reg_W * V_W).ravel()]
            )

        return LinearOperator(
            (self.n_params, self.n_params), matvec=matvec, rmatvec=matvec, dtype=out.features.Z.dtype
        )

    def gauss_newton_theta(self, theta, W):
        """The ``theta``-block ``J^T W^T (nabla^2_S E) W J + alpha I`` at ``(theta, W)``.

        What the outer Gauss-Newton iteration of variable projection uses
        (with ``W = W(theta)``); 2 work units per product.
        """
        out = self._outputs_at(self.join(theta, W))
        J = self._jacobian(out.features)
        m, n = out.features.Z.shape
        W, S = out.W, out.S

        def matvec(v):
            v = np.ravel(v)
            H = self.loss.hessian_matvec(S, self.C, forward_outer(J, W, v, (m, n)))
            self.work_units += 2.0
            return backward_outer(J, W, H) + self.reg_theta * v

        return LinearOperator((self.n_theta, self.n_theta), matvec=matvec, rmatvec=matvec, dtype=S.dtype)

    def scores_jacobian_theta(self, x):
        """Explicit Jacobian of the scores ``S = W Z(theta)`` with respect to ``theta``, transposed.

        Returns
        -------
        ndarray, shape (n_targets, n_theta, n)
            Entry ``[t, :, e]`` is ``d S[t, e] / d theta``.  Costs one work
            unit per target when the layer's Jacobian offers
            ``weighted_rows(W)`` (the per-example gradients of a backward
            pass), otherwise ``n_theta`` units (one ``J v`` per column).
        """
        out = self._outputs_at(x)
        J = self._jacobian(out.features)
        self.count_passes(J.weighted_rows_passes(out.W.shape[0]))
        return J.weighted_rows(out.W)

    def features_contracted_jacobian(self, theta, R):
        """Explicit Jacobians ``d (Z(theta) r_t) / d theta`` for the rows ``r_t`` of ``R``.

        Parameters
        ----------
        theta : ndarray, shape (n_theta,)
        R : ndarray, shape (n_targets, n)

        Returns
        -------
        ndarray, shape (n_targets, m, n_theta)
            One work unit per target when the layer's Jacobian offers
            ``contracted_rows(R)``, otherwise ``m`` per target (one
            ``J^T w`` per row of ``Z``).
        """
        features = self.features_at(theta)
        J = self._jacobian(features)
        self.count_passes(J.contracted_rows_passes(R.shape[0]))
        return J.contracted_rows(R)

    def dense_units(self, multiply_adds):
        """Work units of dense linear algebra over the examples: multiply-adds over ``n * (n_theta + n_W)``.

        The one formula of the course for work that is not a pass (see the
        module docstring): a pass through the model costs about
        ``n * (n_theta + n_W)`` multiply-adds, ``n_W`` the entries of ``W``.
        Returns the units without counting them.
        """
        return multiply_adds / (self.n_examples * max(self.n_theta + self.W_shape[0] * self.W_shape[1], 1))

    def count_passes(self, passes):
        """Count ``passes`` forward or backward passes (or fractions of one, for mini-batches)."""
        self.work_units += float(passes)

    def count_dense(self, multiply_adds):
        """Count dense linear algebra over the examples (:meth:`dense_units`)."""
        self.work_units += self.dense_units(multiply_adds)

    def gauss_newton_matrix(self, x, coupling=True):
        """The Gauss-Newton matrix of :meth:`gauss_newton_operator` as a dense array (least squares).

        Assembled by :func:`nnlib.optim.dense_gauss_newton.gauss_newton_matrix`, next to
        the solver that factorizes it (:func:`~nnlib.optim.levenberg_marquardt`); see there
        for the formula and the work counted.
        """
        # Imported here: nnlib.optim imports this module.
        from .optim.dense_gauss_newton import gauss_newton_matrix

        return gauss_newton_matrix(self, x, coupling=coupling)

    def jacobian_theta(self, theta):
        """``J_theta``: Jacobian of ``vec(Z)`` with respect to ``theta`` (cached LinearOperator)."""
        return self._jacobian(self.features_at(theta))

    # ---------------------------------------------------------------- metrics
    def predict(self, x, Y):
        """Scores ``S = W Z(theta; Y)`` for new inputs ``Y`` (not counted as work)."""
        theta, W = self.split(x)
        return W @ self.layer.forward(theta, Y)

    def data_loss(self, x, Y=None, C=None):
        """``E(W Z, C)`` without regularization, on the training data or on ``(Y, C)``.

        Weights of a diverged run give ``inf`` rather than an overflow warning.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            S, C = (self._outputs_at(x).S, self.C) if Y is None and C is None else (self.predict(x, Y), C)
            if not np.all(np.isfinite(S)):
                return np.inf
            return self.loss.value(S, C)


#: The former name of :class:`LinearHeadObjective` (an alias, kept for one release).
SingleLayerObjective = LinearHeadObjective
