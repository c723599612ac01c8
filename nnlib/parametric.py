"""Parametric models ``K(theta) = mat(Q theta)``: few parameters, structured weights.

A dense layer ``sigma(K Y + b)`` with ``K`` of size ``m x n_f`` has ``m n_f``
weights.  A parametric model replaces ``K`` by ``K(theta)`` with
``theta`` in ``R^p``, ``p << m n_f``.  The three models here are square
(``n x n``, so they preserve the size of the data) and linear in ``theta``:

=============== ========================================== ==================
kind            ``K(theta)``                               ``p``
=============== ========================================== ==================
"diagonal"      ``diag(theta)``                            ``n``
"antisymmetric" ``K_ij = theta_t = -K_ji`` for ``i < j``    ``n (n - 1) / 2``
"mmatrix"       ``K_ij = -theta_t`` (``i != j``),           ``n (n - 1)``
                ``K_ii = sum_{j != i} theta_{t(i, j)}``
=============== ========================================== ==================

Because each is linear, ``vec(K(theta)) = Q theta`` for a fixed sparse matrix
``Q`` of shape ``(n^2, p)``, and the derivative is ``Q`` itself:
``J v = mat(Q v)`` and ``J^T w = Q^T w``.  :func:`parametric_Q` builds ``Q``
as a ``scipy.sparse`` matrix for small ``n`` (for teaching and testing);
:class:`ParametricKernel` and :class:`ParametricDense` never form it and apply
``Q`` and ``Q^T`` as scatter and gather operations in ``O(p)``.
"""

import numpy as np
import scipy.sparse as sp

from ._validation import (
    check_allocation,
    check_float_dtype,
    check_matrix,
    check_positive_int,
    check_rng,
    check_vector,
    result_dtype,
)
from .activations import get_activation
from .jacobian import FunctionJacobian
from .layers import Layer

__all__ = [
    "KINDS",
    "Q_MAX_N",
    "ParametricKernel",
    "parametric_Q",
    "ParametricDense",
]

#: the kinds of parametric model
KINDS = ("diagonal", "antisymmetric", "mmatrix")

#: largest ``n`` for which :func:`parametric_Q` builds ``Q`` (``n^2`` rows)
Q_MAX_N = 100


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return kind


class ParametricKernel:
    """The linear map ``theta -> K(theta) = mat(Q theta)`` of one kind and size.

    Parameters
    ----------
    kind : {"diagonal", "antisymmetric", "mmatrix"}
        The structure of ``K`` (see the module docstring).
    n : int
        ``K`` is ``n x n``.

    Attributes
    ----------
    n_params : int
        ``p``, the length of ``theta``.
    rows : ndarray
        Row indices of the non-zeros of ``K``.
    cols : ndarray
        Column indices of the non-zeros of ``K``.
    index : ndarray
        Entries of ``theta`` placed there.
    sign : ndarray
        Their factors (``+1`` or ``-1``).  Together the four arrays are ``Q``
        in coordinate form: entry ``k`` says that ``theta[index[k]]`` enters
        ``K[rows[k], cols[k]]`` with factor ``sign[k]``.

    Notes
    -----
    Ordering of ``theta`` (row by row, as in the lecture notes):

    * antisymmetric: the strict upper triangle row by row,
      ``theta = (K_01, K_02, ..., K_0,n-1, K_12, ...)`` (``np.triu_indices``);
    * M-matrix: for each row ``i`` the off-diagonal columns ``j != i`` in
      increasing order, ``K_ij = -theta_t`` and ``K_ii = sum_j theta_t``.
      For ``n = 3``: ``K = [[t1+t2, -t1, -t2], [-t3, t3+t4, -t4], [-t5, -t6, t5+t6]]``.

    With ``nnz`` the number of non-zeros of ``Q`` (``n``, ``2p`` or ``2p``):

    * :meth:`matrix` ``K(theta) = mat(Q theta)``: a scatter-add, ``O(n^2)``;
    * :meth:`transpose_apply` ``Q^T vec(G)``: a gather, ``O(nnz)``, i.e.
      ``G_ii`` (diagonal), ``G_ij - G_ji`` (antisymmetric), ``G_ii - G_ij``
      (M-matrix).

    **M-matrix and negative theta.**  ``mat(Q theta)`` is defined and linear
    for every ``theta``, which is what derivative checks and unconstrained
    solvers need; ``K`` is an M-matrix (non-positive off-diagonal entries,
    zero row sums, so ``K`` behaves like a discrete diffusion operator) exactly
    when ``theta >= 0``.  :meth:`check_nonnegative` raises a ``ValueError``
    naming the first negative entry, and :meth:`project` clips to the
    feasible set for projected-gradient methods.
    """

    def __init__(self, kind, n):
        self.kind = _check_kind(kind)
        self.n = check_positive_int(n, "n")
        n = self.n
        if kind != "diagonal":  # index arrays of about 4 n^2 entries (int64, float64)
            check_allocation(8 * n * n, f"a {kind} kernel with n = {n}")
        if kind == "diagonal":
            d = np.arange(n)
            self.rows, self.cols, self.index = d, d, d
            self.sign = np.ones(n)
            self.n_params = n
        elif kind == "antisymmetric":
            i, j = np.triu_indices(n, 1)
            p = i.size
            t = np.arange(p)
            self.rows = np.concatenate([i, j])
            self.cols = np.concatenate([j, i])
            self.index = np.concatenate([t, t])
            self.sign = np.concatenate([np.ones(p), -np.ones(p)])
            self.n_params = p
        else:
            i, j = np.nonzero(~np.eye(n, dtype=bool))  # row-major: row i, columns j != i
            p = i.size
            t = np.arange(p)
            self.rows = np.concatenate([i, i])
            self.cols = np.concatenate([i, j])
            self.index = np.concatenate([t, t])
            self.sign = np.concatenate([np.ones(p), -np.ones(p)])
            self.n_params = p
        self._flat = self.rows * n + self.cols

    def __repr__(self):
        return f"ParametricKernel({self.kind!r}, n={self.n})"

    def matrix(self, theta):
        """``K(theta) = mat(Q theta)`` as a dense ``(n, n)`` array (dtype of ``theta``)."""
        theta = check_vector(theta, "theta", self.n_params)
        K = np.bincount(self._flat, weights=self.sign * theta[self.index], minlength=self.n**2)
        return K.reshape(self.n, self.n).astype(result_dtype(theta), copy=False)

    def apply(self, theta, Y):
        """``K(theta) @ Y`` for ``Y`` of shape ``(n, n_examples)``."""
        theta = check_vector(theta, "theta", self.n_params)
        Y = check_matrix(Y, "Y", n_rows=self.n)
        if self.kind == "diagonal":
            return theta[:, None] * Y
        return self.matrix(theta) @ Y

    def transpose_apply(self, G):
        """``Q^T vec(G)`` for an ``(n, n)`` matrix ``G`` (C order), without forming ``Q``."""
        G = check_matrix(G, "G", n_rows=self.n, n_cols=self.n)
        out = np.bincount(self.index, weights=self.sign * G.ravel()[self._flat], minlength=self.n_params)
        return out.astype(result_dtype(G), copy=False)

    def Q(self, order="C"):
        """The matrix ``Q`` with ``vec(K(theta)) = Q theta``; see :func:`parametric_Q`."""
        return parametric_Q(self.kind, self.n, order=order)

    def init_params(self, rng, dtype=np.float64):
        """Draw ``theta``: N(0, 1) (diagonal), N(0, 1/n) (antisymmetric), U(0, 1/(n-1)) >= 0 (M-matrix)."""
        dtype = check_float_dtype(dtype)
        check_rng(rng)
        p = self.n_params
        if self.kind == "diagonal":
            theta = rng.standard_normal(p)
        elif self.kind == "antisymmetric":
            theta = rng.standard_normal(p) / np.sqrt(self.n)
        else:
            theta = rng.uniform(0.0, 1.0, p) / max(self.n - 1, 1)
        return theta.astype(dtype)

    def check_nonnegative(self, theta):
        """Raise ``ValueError`` if an M-matrix parameter is negative; return ``theta``."""
        theta = check_vector(theta, "theta", self.n_params)
        if self.kind == "mmatrix" and np.any(theta < 0):
            k = int(np.argmax(theta < 0))
            raise ValueError(
                f"M-matrix parameters must be >= 0 (theta >= 0 makes K(theta) an M-matrix); "
                f"got theta[{k}] = {theta[k]} (K[{self.rows[k]}, {self.cols[k + self.n_params]}] "
                f"= -theta[{k}] would be positive). Use project(theta) to clip."
            )
        return theta

    def project(self, theta):
        """Closest feasible ``theta``: ``max(theta, 0)`` for the M-matrix, unchanged otherwise."""
        theta = check_vector(theta, "theta", self.n_params)
        return np.maximum(theta, 0) if self.kind == "mmatrix" else theta.copy()


def parametric_Q(kind, n, order="C"):
    """The sparse matrix ``Q`` of shape ``(n^2, p)`` with ``vec(K(theta)) = Q theta``.

    Parameters
    ----------
    kind : {"diagonal", "antisymmetric", "mmatrix"}
    n : int
        Size of ``K``; at most :data:`Q_MAX_N`.
    order : {"C", "F"}, default "C"
        How ``vec`` stacks ``K``: "C" row by row (NumPy's ``K.ravel()``, the
        convention of nnlib), "F" column by column (MATLAB's ``K(:)``, the
        convention of the lecture notes, whose 9 x 6 M-matrix ``Q`` this
        reproduces for ``n = 3``).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``Q`` with entries in {-1, 0, 1}.

    Raises
    ------
    ValueError
        If ``n > Q_MAX_N``: ``Q`` has ``n^2`` rows and is only meant for small
        examples.  Large models use :class:`ParametricKernel`, which applies
        ``Q`` and ``Q^T`` without forming it.

    Notes
    -----
    Row ``i n + j`` (C) or ``j n + i`` (F) of ``Q`` holds the coefficients of
    ``K_ij`` in ``theta``.  The Jacobian of ``theta -> vec(K(theta))`` is ``Q``.
    """
    kind = _check_kind(kind)
    n = check_positive_int(n, "n")
    if n > Q_MAX_N:
        raise ValueError(
            f"parametric_Q builds Q explicitly only for n <= {Q_MAX_N} (it has n^2 = {n * n} rows); "
            f"got n = {n}. Use ParametricKernel(kind, n).matrix / transpose_apply, which are matrix-free."
        )
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' (row-major) or 'F' (column-major); got {order!r}")
    ker = ParametricKernel(kind, n)
    rows = ker.rows * n + ker.cols if order == "C" else ker.cols * n + ker.rows
    return sp.csr_matrix((ker.sign, (rows, ker.index)), shape=(n * n, ker.n_params))


class ParametricDense(Layer, register=True):
    """Square layer with a parametric weight matrix, ``Z = sigma(K(theta) Y + b)``.

    Parameters
    ----------
    kind : {"diagonal", "antisymmetric", "mmatrix"}
        The model for ``K(theta)`` (see :class:`ParametricKernel`).
    n : int
        Number of features; ``Y`` and ``Z`` are both ``(n, n_examples)``.
    activation : str or Activation, default "tanh"
    bias : bool, default True
        Whether to add a learned bias ``b`` in ``R^n``.
    strict : bool, default False
        For ``kind="mmatrix"``: if True, every method raises a ``ValueError``
        when a kernel parameter is negative; if False, ``K(theta)`` is simply
        ``mat(Q theta)`` (an M-matrix only for ``theta >= 0``; keep it there
        with :meth:`project`).

    Notes
    -----
    Parameters are stacked as ``theta = (theta_K, b)`` with ``theta_K`` of
    length ``p`` (see :class:`ParametricKernel`), so
    ``n_params = p + n`` (or ``p`` without bias).

    With ``A = K(theta_K) Y + b 1^T`` and ``D = sigma'(A)``:

    * ``J_theta v = D * (mat(Q v_K) Y + v_b 1^T)``,
    * ``J_theta^T W = (Q^T vec((D * W) Y^T), (D * W) 1)``,
    * ``J_Y V = D * (K V)`` and ``J_Y^T W = K^T (D * W)``.

    ``Q`` is never formed: ``mat(Q v)`` is a scatter into an ``n x n`` array
    (for the diagonal model just ``v * Y`` row-wise) and ``Q^T`` a gather.
    Cost per product ``O(n^2 n_examples)`` (``O(n n_examples)`` diagonal).
    """

    def __init__(self, kind, n, activation="tanh", bias=True, strict=False):
        self.kernel = ParametricKernel(kind, n)
        self.kind = self.kernel.kind
        self.n_in = self.n_out = self.kernel.n
        self.activation = get_activation(activation)
        self.bias = bool(bias)
        self.strict = bool(strict)
        self.n_params = self.kernel.n_params + (self.n_out if self.bias else 0)

    def __repr__(self):
        extra = "" if self.bias else ", bias=False"
        extra += ", strict=True" if self.strict else ""
        return (
            f"ParametricDense({self.kind!r}, n={self.n_in}, "
            f"activation={self.activation.name!r}{extra})"
        )

    @classmethod
    def test_cases(cls):
        cases = []
        for kind in KINDS:
            cases += [(cls(kind, 3, "tanh"), 5), (cls(kind, 4, "sigmoid", bias=False), 3)]
        cases += [(cls("diagonal", 1, "identity"), 2), (cls("mmatrix", 2, "softplus"), 1)]
        return cases

    def unpack(self, theta):
        """Split ``theta`` into ``(theta_K, b)``; ``b`` is an empty array without bias."""
        theta = check_vector(theta, "theta", self.n_params)
        p = self.kernel.n_params
        return theta[:p], theta[p:]

    def project(self, theta):
        """Clip the M-matrix parameters to ``>= 0`` (bias unchanged)."""
        theta_K, b = self.unpack(theta)
        return np.concatenate([self.kernel.project(theta_K), b])

    def init_params(self, rng, dtype=np.float64):
        """Draw ``theta_K`` as :meth:`ParametricKernel.init_params` and ``b`` from N(0, 1)."""
        dtype = check_float_dtype(dtype)
        theta_K = self.kernel.init_params(rng)
        b = rng.standard_normal(self.n_out) if self.bias else np.empty(0)
        return np.concatenate([theta_K, b]).astype(dtype)

    def check_input(self, theta, Y):
        theta, Y = super().check_input(theta, Y)
        if self.strict:
            self.kernel.check_nonnegative(self.unpack(theta)[0])
        return theta, Y

    def _pre_activation(self, theta, Y):
        theta_K, b = self.unpack(theta)
        K = self.kernel.matrix(theta_K).astype(result_dtype(theta, Y), copy=False)
        A = theta_K[:, None] * Y if self.kind == "diagonal" else K @ Y
        if self.bias:
            A = A + b[:, None]
        return K, A

    def forward(self, theta, Y):
        """Return ``Z = sigma(K(theta) Y + b)`` of shape ``(n, n_examples)``."""
        theta, Y = self.check_input(theta, Y)
        return self.activation.value(self._pre_activation(theta, Y)[1])

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``theta`` as a LinearOperator."""
        theta, Y = self.check_input(theta, Y)
        _, A = self._pre_activation(theta, Y)
        D = self.activation.derivative(A)
        n, m = A.shape
        p = self.kernel.n_params
        dtype = result_dtype(theta, Y)

        def matvec(v):
            v = np.ravel(v)
            vK, vb = v[:p], v[p:]
            if self.kind == "diagonal":
                dA = vK[:, None] * Y
            else:
                dA = self.kernel.matrix(vK) @ Y
            if self.bias:
                dA = dA + vb[:, None]
            return (D * dA).ravel().astype(dtype, copy=False)

        def rmatvec(w):
            DW = D * np.reshape(w, (n, m))
            if self.kind == "diagonal":
                gK = np.einsum("ij,ij->i", DW, Y)
            else:
                gK = self.kernel.transpose_apply(DW @ Y.T)
            parts = [gK, DW.sum(axis=1)] if self.bias else [gK]
            return np.concatenate(parts).astype(dtype, copy=False)

        return FunctionJacobian((A.size, self.n_params), matvec, rmatvec, dtype, A.shape)

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``vec(Y)`` as a LinearOperator."""
        theta, Y = self.check_input(theta, Y)
        K, A = self._pre_activation(theta, Y)
        D = self.activation.derivative(A)
        n, m = A.shape
        dtype = result_dtype(theta, Y)

        def matvec(v):
            return (D * (K @ np.reshape(v, (n, m)))).ravel().astype(dtype, copy=False)

        def rmatvec(w):
            return (K.T @ (D * np.reshape(w, (n, m)))).ravel().astype(dtype, copy=False)

        return FunctionJacobian((A.size, Y.size), matvec, rmatvec, dtype, A.shape)
