"""Layers: the one contract every building block of a network follows.

A layer maps data ``Y`` of shape ``(n_in, n_examples)`` and a flat parameter
vector ``theta`` to ``Z`` of shape ``(n_out, n_examples)``.  It offers

========================== ===================================================
``n_params``               length of ``theta``
``init_params(rng)``       a ``theta`` drawn from the generator ``rng``
``forward(theta, Y)``      ``Z``
``jacobian_params(theta, Y)`` LinearOperator ``(Z.size, n_params)``: J v, J^T w
``jacobian_input(theta, Y)``  LinearOperator ``(Z.size, Y.size)``: J v, J^T w
========================== ===================================================

Flat vectors use NumPy's default (C, row-major) order: ``Z.ravel()`` and
``K.ravel()``.  Subclasses register themselves in :data:`Layer.registry`, and
the generic test suite checks every registered layer through
:meth:`Layer.test_cases`.
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._validation import check_matrix, check_positive_int, check_vector, result_dtype
from .activations import get_activation


class Layer:
    """Base class of all layers; see the module docstring for the contract.

    Subclasses set ``n_in``, ``n_out`` and ``n_params`` and implement
    ``init_params``, ``forward``, ``jacobian_params``, ``jacobian_input`` and
    the classmethod ``test_cases``.
    """

    #: every concrete subclass, by class name; filled by ``__init_subclass__``
    registry = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
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

    def check_input(self, theta, Y):
        """Validate ``theta`` and ``Y``; return them as float arrays."""
        theta = check_vector(theta, "theta", self.n_params)
        Y = check_matrix(Y, "Y", n_rows=self.n_in)
        return theta, Y

    def output_shape(self, Y):
        """Shape of ``forward(theta, Y)``."""
        return (self.n_out, np.shape(Y)[1])


class Dense(Layer):
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
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        K = rng.standard_normal((self.n_out, self.n_in)) / np.sqrt(self.n_in)
        b = rng.standard_normal(self.n_out)
        return np.concatenate([K.ravel(), b]).astype(dtype)

    def _pre_activation(self, theta, Y):
        K, b = self.unpack(theta)
        return K, K @ Y + b[:, None]

    def forward(self, theta, Y):
        """Return ``Z = sigma(K Y + b)`` of shape ``(n_out, n_examples)``."""
        theta, Y = self.check_input(theta, Y)
        return self.activation.value(self._pre_activation(theta, Y)[1])

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``theta`` as a LinearOperator."""
        theta, Y = self.check_input(theta, Y)
        K, A = self._pre_activation(theta, Y)
        D = self.activation.derivative(A)
        m, n = A.shape
        split = K.size

        def matvec(v):
            v = np.ravel(v)
            dK = v[:split].reshape(K.shape)
            db = v[split:]
            return (D * (dK @ Y + db[:, None])).ravel()

        def rmatvec(w):
            DW = D * np.reshape(w, (m, n))
            return np.concatenate([(DW @ Y.T).ravel(), DW.sum(axis=1)])

        return LinearOperator(
            (m * n, self.n_params), matvec=matvec, rmatvec=rmatvec, dtype=result_dtype(theta, Y)
        )

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``vec(Y)`` as a LinearOperator."""
        theta, Y = self.check_input(theta, Y)
        K, A = self._pre_activation(theta, Y)
        D = self.activation.derivative(A)
        m, n = A.shape

        def matvec(v):
            return (D * (K @ np.reshape(v, Y.shape))).ravel()

        def rmatvec(w):
            return (K.T @ (D * np.reshape(w, (m, n)))).ravel()

        return LinearOperator(
            (m * n, Y.size), matvec=matvec, rmatvec=rmatvec, dtype=result_dtype(theta, Y)
        )
