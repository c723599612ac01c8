"""Layers: the one contract every building block of a network follows.

A layer maps data ``Y`` of shape ``(n_in, n_examples)`` and a flat parameter
vector ``theta`` to ``Z`` of shape ``(n_out, n_examples)``.  :class:`Layer` states
the whole contract:

=================================== ===========================================================
``n_in``, ``n_out``, ``n_params``   rows of ``Y``, rows of ``Z``, length of ``theta``
``init_params(rng)``                a ``theta`` drawn from the generator ``rng``
``forward(theta, Y)``               ``Z``
``jacobian_params(theta, Y)``       :class:`~nnlib.jacobian.JacobianOperator` ``(Z.size, n_params)``
``jacobian_input(theta, Y)``        :class:`~nnlib.jacobian.JacobianOperator` ``(Z.size, Y.size)``
``forward_and_jacobian(theta, Y)``  ``Z`` and ``J_theta`` (default: the two calls above; layers
                                    that can share one forward pass override it)
``forward_and_jacobians(...)``      ``Z``, ``J_theta`` and ``J_Y`` (default: from
                                    ``forward_and_jacobian`` and ``J_theta.input_jacobian()``,
                                    else ``jacobian_input``)
``test_cases()``                    small instances for the generic test suite
=================================== ===========================================================

The Jacobians' optional fast products (for a linear last layer, explicit rows) are
declared, with their fallbacks, by :class:`nnlib.jacobian.JacobianOperator`.

Flat vectors use NumPy's default (C, row-major) order: ``Z.ravel()`` and
``K.ravel()``.  A public layer class joins :data:`Layer.registry` with
``class MyLayer(Layer, register=True)``, and the generic test suite then checks it
through :meth:`Layer.test_cases`; a subclass written in a test or a chapter does
not join unless it asks to.
"""

import numpy as np

from ._validation import (
    check_allocation,
    check_examples,
    check_float_dtype,
    check_matrix,
    check_positive_int,
    check_rng,
    check_vector,
    result_dtype,
)
from .activations import get_activation
from .jacobian import FunctionJacobian, JacobianOperator, as_jacobian, empty_jacobian

__all__ = [
    "Layer",
    "Dense",
    "DenseJacobian",
    "AppendOnes",
    "ParameterFreeLayer",
]


class Layer:
    """Base class of all layers: the contract (see the module docstring).

    Subclasses set ``n_in``, ``n_out`` and ``n_params`` and implement
    ``init_params``, ``forward``, ``jacobian_params``, ``jacobian_input`` and
    the classmethod ``test_cases``; ``forward_and_jacobian`` and
    ``forward_and_jacobians`` have defaults built on those.
    """

    #: The registered public layer classes, by class name (``register=True``); the generic
    #: test suite runs over them.  The API page lists them (``_ext/layer_registry.py``).
    #:
    #: :meta hide-value:
    registry = {}

    def __init_subclass__(cls, register=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if register:
            Layer.registry[cls.__name__] = cls

    @classmethod
    def test_cases(cls):
        """Small instances for the generic layer test suite.

        Returns
        -------
        list of (Layer, int)
            Layers and a number of examples to test them with.
        """
        raise NotImplementedError(f"{cls.__name__} must list its test cases")

    def init_params(self, rng, dtype=np.float64):
        """A parameter vector drawn from ``rng`` (a ``numpy.random.Generator``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement init_params(rng)")

    def forward(self, theta, Y):
        """``Z``, shape ``(n_out, n_examples)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(theta, Y)")

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``theta``, a :class:`~nnlib.jacobian.JacobianOperator`."""
        raise NotImplementedError(f"{type(self).__name__} must implement jacobian_params(theta, Y)")

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``vec(Y)``, a :class:`~nnlib.jacobian.JacobianOperator`."""
        raise NotImplementedError(f"{type(self).__name__} must implement jacobian_input(theta, Y)")

    def forward_and_jacobian(self, theta, Y):
        """``Z`` and ``jacobian_params(theta, Y)``; override to share one forward pass."""
        Z = self.forward(theta, Y)
        return Z, as_jacobian(self.jacobian_params(theta, Y), Z.shape)

    def forward_and_jacobians(self, theta, Y, need_input=True):
        """``Z``, ``J_theta`` and ``J_Y`` (``None`` unless ``need_input``) at ``(theta, Y)``.

        ``J_Y`` comes from ``J_theta.input_jacobian()`` (no second forward pass)
        where the Jacobian can give it, else from :meth:`jacobian_input`.
        """
        Z, J_theta = self.forward_and_jacobian(theta, Y)
        J_theta = as_jacobian(J_theta, Z.shape)
        if not need_input:
            return Z, J_theta, None
        J_Y = J_theta.input_jacobian()
        if J_Y is None:
            J_Y = as_jacobian(self.jacobian_input(theta, Y), Z.shape)
        return Z, J_theta, J_Y

    def check_input(self, theta, Y):
        """Validate ``theta`` and ``Y``; return them as float arrays."""
        theta = check_vector(theta, "theta", self.n_params)
        Y = check_matrix(Y, "Y", n_rows=self.n_in)
        check_examples(Y.shape[1], "Y")
        return theta, Y

    def output_shape(self, Y):
        """Shape of ``forward(theta, Y)``."""
        return (self.n_out, np.shape(Y)[1])


class ParameterFreeLayer(Layer):
    """Base class of layers without parameters (``n_params = 0``): pooling, appending a constant.

    ``init_params`` returns an empty array and ``jacobian_params`` the empty
    ``(Z.size, 0)`` operator; subclasses implement ``forward`` and ``jacobian_input``.
    """

    n_params = 0

    def init_params(self, rng, dtype=np.float64):
        """No parameters: an empty array (``rng`` is checked, not used)."""
        dtype = check_float_dtype(dtype)
        check_rng(rng)
        return np.empty(0, dtype=dtype)

    def jacobian_params(self, theta, Y):
        """The empty ``(Z.size, 0)`` operator: the layer has no parameters."""
        theta, Y = self.check_input(theta, Y)
        return empty_jacobian(self.output_shape(Y), result_dtype(theta, Y))


class Dense(Layer, register=True):
    """Fully connected layer ``Z = sigma(K Y + b)``.

    Parameters
    ----------
    n_in : int
        Number of input features (rows of ``Y``).
    n_out : int
        Width ``m`` of the layer (rows of ``Z``).
    activation : str or Activation, default "tanh"
        Element-wise nonlinearity sigma.

    Notes
    -----
    Shapes: ``K`` is ``(m, n_f)``, ``b`` is ``(m,)``, ``Y`` is ``(n_f, n)`` and
    ``Z`` is ``(m, n)``.  Parameters are stacked as
    ``theta = (K.ravel(), b)``, so ``n_params = m * n_f + m``.

    With ``A = K Y + b 1^T`` and ``D = sigma'(A)`` (element-wise), the
    Jacobians act as

    * ``J_theta v = D * (dK Y + db 1^T)`` where ``v = (dK, db)``,
    * ``J_theta^T W = ((D * W) Y^T, (D * W) 1)``,
    * ``J_Y V = D * (K V)`` and ``J_Y^T W = K^T (D * W)``,

    which is ``diag(vec D) (Y^T kron I)`` applied without forming the Kronecker
    product: each product costs one matrix multiplication, ``O(m n_f n)``.
    """

    def __init__(self, n_in, n_out, activation="tanh"):
        self.n_in = check_positive_int(n_in, "n_in")
        self.n_out = check_positive_int(n_out, "n_out")
        self.activation = get_activation(activation)
        self.n_params = self.n_out * self.n_in + self.n_out

    def __repr__(self):
        return f"Dense(n_in={self.n_in}, n_out={self.n_out}, activation={self.activation.name!r})"

    @classmethod
    def test_cases(cls):
        from .activations import ACTIVATIONS

        return [(cls(3, 5, name), 7) for name in ACTIVATIONS] + [(cls(1, 1, "tanh"), 1)]

    def unpack(self, theta):
        """Split ``theta`` into views ``K`` of shape ``(n_out, n_in)`` and ``b``."""
        theta = check_vector(theta, "theta", self.n_params)
        split = self.n_out * self.n_in
        return theta[:split].reshape(self.n_out, self.n_in), theta[split:]

    def pack(self, K, b):
        """Stack ``K`` and ``b`` into one flat parameter vector."""
        K = check_matrix(K, "K", n_rows=self.n_out, n_cols=self.n_in)
        b = check_vector(b, "b", self.n_out)
        return np.concatenate([K.ravel(), b])

    def init_params(self, rng, dtype=np.float64):
        """Draw ``K`` with entries N(0, 1/n_in) and ``b`` with entries N(0, 1).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of all randomness, e.g. ``np.random.default_rng(0)``.
        dtype : numpy dtype, default float64
        """
        dtype = check_float_dtype(dtype)
        check_allocation(2 * self.n_params, f"the parameters of {self!r}")
        check_rng(rng)
        K = rng.standard_normal((self.n_out, self.n_in)) / np.sqrt(self.n_in)
        b = rng.standard_normal(self.n_out)
        return np.concatenate([K.ravel(), b]).astype(dtype)

    def _evaluate(self, theta, Y):
        """Unvalidated forward pass: ``(K, Z, A)`` with ``A`` the pre-activation (``None`` for tanh).

        For tanh the activation is applied in place (``Z`` overwrites ``A``)
        and ``sigma'(A) = 1 - Z**2`` is later computed from ``Z``: one
        ``tanh`` per forward pass instead of two.
        """
        split = self.n_out * self.n_in
        K = theta[:split].reshape(self.n_out, self.n_in)
        A = K @ Y
        A += theta[split:, None]
        if self.activation is _TANH:
            return K, np.tanh(A, out=A), None
        return K, self.activation.value(A), A

    def forward(self, theta, Y):
        """Return ``Z = sigma(K Y + b)`` of shape ``(n_out, n_examples)``."""
        theta, Y = self.check_input(theta, Y)
        return self._evaluate(theta, Y)[1]

    def forward_and_jacobian(self, theta, Y):
        """``Z`` and ``jacobian_params(theta, Y)`` from a single forward pass.

        Overrides the default of :class:`Layer`: the Jacobian reuses the forward
        pass instead of recomputing the pre-activation, and its derivative
        ``sigma'`` is computed only when the first product is applied.

        Returns
        -------
        Z : ndarray, shape (n_out, n_examples)
        J : DenseJacobian, shape (Z.size, n_params)
            As :meth:`jacobian_params` (a LinearOperator), with the extra
            products of :class:`DenseJacobian`.  It reads ``Z``: do not
            modify ``Z`` in place while ``J`` is in use.
        """
        theta, Y = self.check_input(theta, Y)
        K, Z, A = self._evaluate(theta, Y)
        return Z, DenseJacobian(self, K.copy(), Y, Z, A, result_dtype(theta, Y))

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``theta`` as a LinearOperator (a :class:`DenseJacobian`)."""
        return self.forward_and_jacobian(theta, Y)[1]

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``vec(Y)`` as a :class:`~nnlib.jacobian.JacobianOperator`."""
        return self.forward_and_jacobian(theta, Y)[1].input_jacobian()


_TANH = get_activation("tanh")


def _derivative(activation, Z, A):
    """``sigma'(A)``; for tanh (``A is None``) as ``1 - Z**2`` from the stored value."""
    if A is None:
        D = Z * Z
        np.subtract(1, D, out=D)
        return D
    return activation.derivative(A)


class DenseJacobian(JacobianOperator):
    """``J_theta`` of a :class:`Dense` layer at one point, built on a stored forward pass.

    Products cost one matrix multiplication each (see :class:`Dense`);
    ``D = sigma'(A)`` is computed on the first product and kept.  Created by
    :meth:`Dense.jacobian_params` and :meth:`Dense.forward_and_jacobian`;
    the arrays it holds must not be modified.  Products use a work array
    kept on the layer (never returned), so one layer must not be used from
    several threads at once.
    """

    def __init__(self, layer, K, Y, Z, A, dtype):
        self._layer, self._K, self._Y, self._Z, self._A = layer, K, Y, Z, A
        self._D = None
        super().__init__((Z.size, layer.n_params), dtype, Z.shape)

    @property
    def D(self):
        """``sigma'(K Y + b)``, shape ``(n_out, n_examples)``."""
        if self._D is None:
            self._D = _derivative(self._layer.activation, self._Z, self._A)
        return self._D

    def _matvec(self, v):
        v = np.ravel(v)
        K, D = self._K, self.D
        out = v[: K.size].reshape(K.shape) @ self._Y
        out += v[K.size :, None]
        out *= D
        return out.ravel()

    def _rmatvec(self, w):
        return self._backward(np.multiply(np.reshape(w, self.D.shape), self.D, out=self._scratch()))

    def _scratch(self):
        """A work array of the shape of ``Z``, shared by all Jacobians of the layer (never returned).

        Reusing it spares the allocation (and page faults) of a fresh
        ``(n_out, n_examples)`` temporary in every product.
        """
        layer, shape, dtype = self._layer, self._Z.shape, np.result_type(self.D, self.dtype)
        buffer = getattr(layer, "_scratch_buffer", None)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = layer._scratch_buffer = np.empty(shape, dtype=dtype)
        return buffer

    def input_jacobian(self):
        """``J_Y`` at the same point, ``V -> D * (K V)``, without another forward pass.

        Equals ``layer.jacobian_input(theta, Y)``.
        """
        K, Y_shape = self._K, self._Y.shape

        # D is read inside the products (computed on first use), so asking for J_Y costs nothing
        def matvec(v):
            out = K @ np.reshape(v, Y_shape)
            out *= self.D
            return out.ravel()

        def rmatvec(w):
            return (K.T @ (self.D * np.reshape(w, self._Z.shape))).ravel()

        return FunctionJacobian((self._Z.size, self._Y.size), matvec, rmatvec, self.dtype, self._Z.shape)

    def _backward(self, DW):
        return np.concatenate([(DW @ self._Y.T).ravel(), DW.sum(axis=1)])

    def rmatvec_outer(self, W, G):
        """``J^T vec(W^T G)`` for ``W`` of shape ``(n_targets, n_out)`` and ``G`` of shape ``(n_targets, n)``.

        The backward pass through a linear last layer ``S = W Z`` without
        forming ``W^T G`` as a new array; equals ``rmatvec((W.T @ G).ravel())``.
        """
        DW = np.matmul(W.T, G, out=self._scratch())
        DW *= self.D
        return self._backward(DW)

    def matvec_outer(self, W, v):
        """``W mat(J v)``, shape ``(n_targets, n)``: the change of the scores ``S = W Z`` along ``v``."""
        v = np.ravel(v)
        K = self._K
        out = np.matmul(v[: K.size].reshape(K.shape), self._Y, out=self._scratch())
        out += v[K.size :, None]
        out *= self.D
        return W @ out

    def contracted_rows(self, R):
        """Explicit Jacobians of the feature sums ``Z r_t`` with respect to ``theta``.

        Parameters
        ----------
        R : ndarray, shape (n_targets, n_examples)
            Rows ``r_t`` (e.g. residuals).

        Returns
        -------
        ndarray, shape (n_targets, n_out, n_params)
            Entry ``[t, i, :]`` is ``d (Z r_t)_i / d theta``; row ``i``
            depends only on ``K[i]`` and ``b[i]``.  Costs about one backward
            pass per target.
        """
        D, Y = self.D, self._Y
        m, n_in = self._K.shape
        out = np.zeros((R.shape[0], m, self._layer.n_params), dtype=np.result_type(D, R))
        rows = np.arange(m)
        for t in range(R.shape[0]):
            DR = D * R[t]
            out[t, rows[:, None], rows[:, None] * n_in + np.arange(n_in)] = DR @ Y.T
            out[t, rows, m * n_in + rows] = DR.sum(axis=1)
        return out

    def weighted_rows_passes(self, n_targets):
        """One backward pass per target (the per-example gradients)."""
        return float(n_targets)

    def contracted_rows_passes(self, n_targets):
        """About one backward pass per target."""
        return float(n_targets)

    def weighted_rows(self, W):
        """Explicit Jacobian of the scores ``S = W Z`` with respect to ``theta``, transposed.

        Parameters
        ----------
        W : ndarray, shape (n_targets, n_out)

        Returns
        -------
        ndarray, shape (n_targets, n_params, n_examples)
            Entry ``[t, :, e]`` is ``d S[t, e] / d theta``.  Costs about one
            backward pass per target (the per-example gradients of a
            backward pass, not summed over the examples).
        """
        D, Y = self.D, self._Y
        m, n_in = self._K.shape
        n = Y.shape[1]
        rows = np.empty((W.shape[0], self._layer.n_params, n), dtype=np.result_type(D, W))
        for t in range(W.shape[0]):
            E = rows[t, m * n_in :]
            np.multiply(W[t][:, None], D, out=E)
            np.multiply(E[:, None, :], Y[None, :, :], out=rows[t, : m * n_in].reshape(m, n_in, n))
        return rows


class AppendOnes(ParameterFreeLayer, register=True):
    """A constant feature: ``Z = [Y; 1^T]``, no parameters.

    Put last in a network whose features feed the linear last layer of
    :class:`nnlib.objective.LinearHeadObjective`: ``W Z = W_1 Y + w_0 1^T``,
    so the scores get a bias ``w_0`` (the last column of ``W``).  Alone, it
    turns the objective into (multinomial) logistic regression with a bias.

    Parameters
    ----------
    n_in : int
        Number of input features; ``n_out = n_in + 1``.

    Notes
    -----
    The layer is affine in ``Y`` with no parameters: ``n_params = 0``,
    ``J_theta`` is the empty ``(Z.size, 0)`` operator, ``J_Y V = [V; 0]`` and
    ``J_Y^T W`` drops the last row of ``W``.
    """

    def __init__(self, n_in):
        self.n_in = check_positive_int(n_in, "n_in")
        self.n_out = self.n_in + 1

    def __repr__(self):
        return f"AppendOnes(n_in={self.n_in})"

    @classmethod
    def test_cases(cls):
        return [(cls(3), 4), (cls(1), 1)]

    def forward(self, theta, Y):
        """``[Y; 1^T]``, shape ``(n_in + 1, n_examples)``."""
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        Z = np.ones((self.n_out, Y.shape[1]), dtype=dtype)
        Z[: self.n_in] = Y
        return Z

    def jacobian_input(self, theta, Y):
        """``V -> [V; 0]`` and ``W -> W[:n_in]`` as a :class:`~nnlib.jacobian.JacobianOperator`."""
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        n = Y.shape[1]

        def matvec(v):
            out = np.zeros((self.n_out, n), dtype=dtype)
            out[: self.n_in] = np.reshape(v, (self.n_in, n))
            return out.ravel()

        def rmatvec(w):
            return np.ascontiguousarray(np.reshape(w, (self.n_out, n))[: self.n_in], dtype=dtype).ravel()

        return FunctionJacobian((self.n_out * n, self.n_in * n), matvec, rmatvec, dtype, (self.n_out, n))
