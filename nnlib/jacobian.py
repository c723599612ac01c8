"""The Jacobian operators of layers: one base class that states the whole contract.

Every layer returns its Jacobians as a :class:`JacobianOperator`, a
``scipy.sparse.linalg.LinearOperator`` that applies ``J v`` and ``J^T w`` matrix-free
and, on top, offers the products that networks and solvers use for speed, each with
a correct fallback right here:

======================== ===================================================== =========================
method                   what                                                   fallback (work)
======================== ===================================================== =========================
``input_jacobian()``     ``J_Y`` at the same point, without another forward    ``None``: the caller asks
                         pass                                                   ``layer.jacobian_input``
``matvec_outer(W, v)``   ``W mat(J v)``: the scores ``S = W Z`` moved by ``v``   ``W @ mat(J v)``
``rmatvec_outer(W, G)``  ``J^T vec(W^T G)``: backward through ``S = W Z``        ``J^T vec(W^T G)``
``weighted_rows(W)``     explicit ``d S[t, e] / d theta``, shape (t, p, n)      ``p`` products ``J e_k``
``contracted_rows(R)``   explicit ``d (Z r_t) / d theta``, shape (t, m, p)      ``t m`` products ``J^T``
======================== ===================================================== =========================

The two explicit-row methods also say what they cost in passes
(``weighted_rows_passes``, ``contracted_rows_passes``), so the objective counts the
work of whichever implementation runs.  A layer whose Jacobian is a plain
``LinearOperator`` still works: :func:`as_jacobian` wraps it.
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator

__all__ = [
    "JacobianOperator",
    "FunctionJacobian",
    "as_jacobian",
    "empty_jacobian",
]


class JacobianOperator(LinearOperator):
    """Base class of the Jacobians of layers (see the module docstring).

    Parameters
    ----------
    shape : tuple
        ``(Z.size, n)`` with ``n`` the number of parameters or of inputs.
    dtype : numpy dtype
    out_shape : tuple, optional
        ``Z.shape``, ``(m, n_examples)``: the shape ``J v`` takes as a matrix.

    Notes
    -----
    Subclasses implement ``_matvec`` and ``_rmatvec`` (as for any
    ``LinearOperator``) and override the fast products they can do better.
    """

    def __init__(self, shape, dtype, out_shape=None):
        super().__init__(np.dtype(dtype), tuple(int(s) for s in shape))
        self.out_shape = None if out_shape is None else tuple(int(s) for s in out_shape)

    def _out_shape(self):
        if self.out_shape is None:
            raise ValueError(f"{type(self).__name__} does not know the shape of Z (out_shape); it is needed here")
        return self.out_shape

    def input_jacobian(self):
        """``J_Y`` at the same point from the same forward pass, or ``None`` if this Jacobian cannot give it."""
        return None

    def matvec_outer(self, W, v):
        """``W mat(J v)``, shape ``(n_targets, n_examples)``."""
        return W @ np.reshape(self.matvec(np.ravel(v)), self._out_shape())

    def rmatvec_outer(self, W, G):
        """``J^T vec(W^T G)`` for ``W`` ``(n_targets, m)`` and ``G`` ``(n_targets, n_examples)``."""
        return np.ravel(self.rmatvec((W.T @ G).ravel()))

    def weighted_rows(self, W):
        """Explicit ``d S[t, e] / d theta`` of ``S = W Z``: an array ``(n_targets, n_params, n_examples)``."""
        m, n = self._out_shape()
        if self.shape[1] == 0:  # a parameter-free network (a linear model): no rows to weigh
            return np.zeros((W.shape[0], 0, n), dtype=np.result_type(self.dtype, W))
        columns = self.matmat(np.eye(self.shape[1], dtype=self.dtype)).reshape(m, n, self.shape[1])
        return np.einsum("tm,mnp->tpn", W, columns)

    def weighted_rows_passes(self, n_targets):
        """Work of :meth:`weighted_rows` in passes: one ``J e_k`` per parameter here."""
        return float(self.shape[1])

    def contracted_rows(self, R):
        """Explicit ``d (Z r_t) / d theta`` for the rows ``r_t`` of ``R``: an array ``(n_targets, m, n_params)``."""
        m, n = self._out_shape()
        out = np.empty((R.shape[0], m, self.shape[1]), dtype=np.result_type(self.dtype, R))
        for t in range(R.shape[0]):
            for i in range(m):
                E = np.zeros((m, n), dtype=out.dtype)
                E[i] = R[t]
                out[t, i] = np.ravel(self.rmatvec(E.ravel()))
        return out

    def contracted_rows_passes(self, n_targets):
        """Work of :meth:`contracted_rows` in passes: one ``J^T w`` per target and row of ``Z`` here."""
        return float(n_targets * self._out_shape()[0])


class FunctionJacobian(JacobianOperator):
    """A Jacobian given by its two products (and, optionally, how to get ``J_Y`` from it).

    Parameters
    ----------
    shape, dtype, out_shape
        As for :class:`JacobianOperator`.
    matvec, rmatvec : callable
        ``v -> J v`` and ``w -> J^T w`` on flat vectors.
    input_jacobian : callable, optional
        ``() -> J_Y`` at the same point (see :meth:`JacobianOperator.input_jacobian`).
    """

    def __init__(self, shape, matvec, rmatvec, dtype, out_shape=None, input_jacobian=None):
        super().__init__(shape, dtype, out_shape)
        self._apply, self._apply_transpose, self._input = matvec, rmatvec, input_jacobian

    def _matvec(self, v):
        return np.ravel(self._apply(np.ravel(v)))

    def _rmatvec(self, w):
        return np.ravel(self._apply_transpose(np.ravel(w)))

    def input_jacobian(self):
        """``J_Y`` from the callable given at construction, or ``None``."""
        return None if self._input is None else self._input()


def as_jacobian(J, out_shape=None):
    """``J`` as a :class:`JacobianOperator` (a plain ``LinearOperator`` is wrapped, not copied)."""
    if isinstance(J, JacobianOperator):
        if J.out_shape is None and out_shape is not None:
            J.out_shape = tuple(out_shape)
        return J
    if not isinstance(J, LinearOperator):
        raise TypeError(f"a layer's Jacobian must be a scipy LinearOperator; got {type(J).__name__}")
    return FunctionJacobian(J.shape, J.matvec, J.rmatvec, J.dtype, out_shape)


def empty_jacobian(out_shape, dtype):
    """The ``(Z.size, 0)`` parameter Jacobian of a layer without parameters."""
    size = int(np.prod(out_shape))
    return FunctionJacobian((size, 0), lambda v: np.zeros(size, dtype=dtype), lambda w: np.zeros(0, dtype=dtype),
                            dtype, out_shape)
