"""Loss functions E(S, C) averaged over examples.

``S`` holds the network's outputs (scores), ``C`` the targets, both of shape
``(n_classes_or_targets, n_examples)``.  Each loss offers ``value(S, C)``,
``gradient(S, C)`` (shape of ``S``) and ``hessian_matvec(S, C, dS)`` (shape of
``S``), the building blocks of gradient and Gauss-Newton methods.
"""

import numpy as np

from ._validation import check_examples, check_matrix

__all__ = [
    "Loss",
    "LeastSquares",
    "log_softmax",
    "softmax",
    "SoftmaxCrossEntropy",
    "MulticlassHinge",
]


class Loss:
    """Base class of the losses: the contract (``value``, ``gradient``, ``hessian_matvec``) and validation."""

    def value(self, S, C):
        """The loss ``E(S, C)``, a float."""
        raise NotImplementedError(f"{type(self).__name__} must implement value(S, C)")

    def gradient(self, S, C):
        """The gradient ``dE/dS``, of the shape of ``S``."""
        raise NotImplementedError(f"{type(self).__name__} must implement gradient(S, C)")

    def hessian_matvec(self, S, C, dS):
        """The Hessian of ``E`` in ``S`` applied to ``dS``, of the shape of ``S``."""
        raise NotImplementedError(f"{type(self).__name__} must implement hessian_matvec(S, C, dS)")

    def check_input(self, S, C):
        """Validate scores ``S`` and targets ``C`` (matrices of one shape); return them as float arrays."""
        S = check_matrix(S, "S")
        C = check_matrix(C, "C")
        if C.shape != S.shape:
            raise ValueError(
                f"C must have the shape of S, {S.shape} (targets x examples); got shape {C.shape}"
            )
        check_examples(S.shape[1], "S")  # the loss is an average over the examples
        return S, C

    def check_direction(self, S, dS):
        """Validate a direction ``dS`` of the shape of ``S``; return it as a float array."""
        dS = check_matrix(dS, "dS")
        if dS.shape != S.shape:
            raise ValueError(f"dS must have the shape of S, {S.shape}; got shape {dS.shape}")
        return dS


class LeastSquares(Loss):
    """Mean squared error ``E(S, C) = 1/(2n) ||S - C||_F^2``.

    Notes
    -----
    With ``n`` the number of examples (columns):

    * gradient ``(S - C) / n``,
    * Hessian mat-vec ``dS / n`` (the Hessian is ``I / n``).
    """

    def value(self, S, C):
        """The loss ``E(S, C)``, a float."""
        S, C = self.check_input(S, C)
        R = S - C
        return 0.5 * float(np.sum(R * R)) / S.shape[1]

    def gradient(self, S, C):
        """The gradient ``dE/dS``, of the shape of ``S``."""
        S, C = self.check_input(S, C)
        return (S - C) / S.shape[1]

    def hessian_matvec(self, S, C, dS):
        """The Hessian of ``E`` in ``S`` applied to ``dS``, of the shape of ``S``."""
        S, C = self.check_input(S, C)
        dS = self.check_direction(S, dS)
        return dS / S.shape[1]


def _scores(S):
    """Scores as a float matrix (classes x examples) with at least one class, all finite."""
    S = check_matrix(S, "S")
    if S.shape[0] < 1:
        raise ValueError(f"S must have at least one row (class); got shape {S.shape}")
    return S


def _log_softmax(S):
    """log-sum-exp: shifted by the column maximum, and differences that overflow (scores near
    +-1e308) clamped to -max float, so the result stays finite (exp of it is 0)."""
    with np.errstate(over="ignore"):
        shifted = S - S.max(axis=0, keepdims=True)
    np.maximum(shifted, -np.finfo(shifted.dtype).max, out=shifted)
    return shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))


def log_softmax(S):
    """Column-wise ``log(softmax(S))`` of a finite matrix ``S`` (classes x examples), stable for huge scores."""
    return _log_softmax(_scores(S))


def softmax(S):
    """Column-wise softmax ``exp(S_ij) / sum_k exp(S_kj)`` of a finite matrix ``S``, never overflowing."""
    return np.exp(log_softmax(S))


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of the softmax of the scores, averaged over examples.

    ``E(S, C) = -1/n sum_j sum_i C_ij log softmax(S)_ij``

    Each column of ``C`` must be a probability vector: one-hot labels, or the
    soft labels of a generated test problem (non-negative, summing to one).

    Notes
    -----
    With ``P = softmax(S)`` column-wise and ``n`` examples:

    * gradient ``(P - C) / n`` (columns of ``C`` sum to one),
    * Hessian mat-vec, per column ``(diag(p) - p p^T) ds / n``, i.e.
      ``(P * dS - P * sum(P * dS, axis=0)) / n``.

    Shifting each column by its maximum before exponentiating (log-sum-exp)
    keeps value and derivatives finite for scores of any size.
    """

    def check_input(self, S, C):
        """As :meth:`Loss.check_input`; also checks that there are at least 2 classes
        and that the columns of ``C`` are probability vectors."""
        S, C = super().check_input(S, C)
        if S.shape[0] < 2:
            raise ValueError(f"softmax needs at least 2 classes (rows of S); got shape {S.shape}")
        tol = 1e-6 if C.dtype == np.float64 else 1e-3
        col_sums = C.sum(axis=0)
        if np.any(C < 0) or not np.allclose(col_sums, 1.0, atol=tol, rtol=0):
            j = int(np.argmax(np.abs(col_sums - 1.0) + (C < 0).any(axis=0)))
            raise ValueError(
                "C must hold one-hot labels (or class probabilities): non-negative columns "
                f"that sum to 1; column {j} is {C[:, j]} (sum {col_sums[j]:.6g})"
            )
        return S, C

    def value(self, S, C):
        """The loss ``E(S, C)``, a float."""
        S, C = self.check_input(S, C)
        log_p = _log_softmax(S)
        with np.errstate(over="ignore"):
            total = -float(np.sum(C * log_p))
        if not np.isfinite(total):  # scores near +-1e308: average before summing to stay finite
            total = -float(np.sum(C * (log_p / S.shape[1]))) * S.shape[1]
            return total / S.shape[1] if np.isfinite(total) else -float(np.sum(C * (log_p / S.shape[1])))
        return total / S.shape[1]

    def gradient(self, S, C):
        """The gradient ``dE/dS``, of the shape of ``S``."""
        S, C = self.check_input(S, C)
        return (np.exp(_log_softmax(S)) - C) / S.shape[1]

    def hessian_matvec(self, S, C, dS):
        """The Hessian of ``E`` in ``S`` applied to ``dS``, of the shape of ``S``."""
        S, C = self.check_input(S, C)
        dS = self.check_direction(S, dS)
        P = np.exp(_log_softmax(S))
        PdS = P * dS
        return (PdS - P * PdS.sum(axis=0, keepdims=True)) / S.shape[1]


class MulticlassHinge(Loss):
    """The multiclass hinge loss (Weston and Watkins) of a support vector machine, averaged over examples.

    ``E(S, C) = 1/n sum_j sum_{i != y_j} max(0, 1 + S_ij - S_{y_j j})``

    with ``y_j`` the class of example ``j`` (the one-hot column ``C[:, j]``).
    An example whose true score beats every other by a margin of at least 1
    contributes nothing: unlike least squares and the cross-entropy, the loss
    ignores examples classified with confidence, and the solution depends only
    on the others (the support vectors).

    Notes
    -----
    With ``M_ij = 1 + S_ij - S_{y_j j}`` and ``A_ij = [M_ij > 0]`` for ``i != y_j``
    (``A_{y_j j} = 0``), the gradient is ``(A - C * sum_i A_ij) / n``: ``+1/n``
    for each violating wrong class and minus their count for the true class.
    The loss is piecewise linear and convex, not differentiable where some
    ``M_ij = 0``; there the gradient above is one subgradient.  Its Hessian is
    zero wherever it exists, so :meth:`hessian_matvec` returns zeros and a
    Gauss-Newton method has no curvature to use: train it with (stochastic)
    subgradient steps, Adam, or with an l2 penalty that supplies curvature.
    """

    def check_input(self, S, C):
        """As :meth:`Loss.check_input`; also checks at least 2 classes and one-hot ``C``."""
        S, C = super().check_input(S, C)
        if S.shape[0] < 2:
            raise ValueError(f"the hinge loss needs at least 2 classes (rows of S); got shape {S.shape}")
        ones = np.count_nonzero(C == 1, axis=0)
        zeros = np.count_nonzero(C == 0, axis=0)
        bad = np.flatnonzero((ones != 1) | (ones + zeros != C.shape[0]))
        if bad.size:
            j = int(bad[0])
            raise ValueError(f"C must hold one-hot labels (one 1 per column, zeros elsewhere); column {j} is {C[:, j]}")
        return S, C

    @staticmethod
    def _violations(S, C):
        """The margins ``M`` and the indicator ``A`` of violated margins (zero in the true class's row)."""
        true_scores = np.sum(S * C, axis=0, keepdims=True)
        M = 1.0 + S - true_scores
        A = ((M > 0) & (C == 0)).astype(S.dtype)
        return M, A

    def value(self, S, C):
        """The loss ``E(S, C)``, a float."""
        S, C = self.check_input(S, C)
        M, A = self._violations(S, C)
        return float(np.sum(A * M)) / S.shape[1]

    def gradient(self, S, C):
        """A (sub)gradient ``dE/dS``, of the shape of ``S``."""
        S, C = self.check_input(S, C)
        _, A = self._violations(S, C)
        return (A - C * A.sum(axis=0, keepdims=True)) / S.shape[1]

    def hessian_matvec(self, S, C, dS):
        """Zero: the loss is piecewise linear (see the Notes)."""
        S, C = self.check_input(S, C)
        dS = self.check_direction(S, dS)
        return np.zeros_like(dS)
