"""Inner solves of variable projection: the last layer ``W`` for fixed features ``Z``.

Each solve is a small class with named methods, built once per ``theta`` by
:class:`nnlib.optim.ReducedObjective`:

============================ ===================================================
:class:`CholeskySolution`    least squares, ``alpha_W > 0``: normal equations by Cholesky
:class:`SVDSolution`         least squares without regularization: minimum-norm ``W`` by the SVD
:class:`SoftmaxNewton`       cross-entropy: Newton's method with the Hessian in ``W`` formed and factored
:class:`SoftmaxNewtonCG`     cross-entropy, many unknowns in ``W``: matrix-free Newton-CG
============================ ===================================================

Every class charges its dense work over the examples through ``charge(multiply_adds)``
(the objective's counter, see :mod:`nnlib.objective`), so that work units count it.

Notation: ``Z`` is ``(m, n)``, ``C`` and the scores ``S = W Z`` are ``(t, n)``, ``W`` is
``(t, m)``; ``s = n alpha_W`` is the shift of the normal equations,
``M = Z Z^T + s I`` and ``P = I - Z^T M^{-1} Z`` the projection onto what ``W``
cannot absorb (``P^2 != P`` when ``s > 0``).
"""

import numpy as np
import scipy.linalg

from .cg import conjugate_gradient
from .linesearch import armijo

__all__ = [
    "CHORD_CONTRACTION",
    "CholeskySolution",
    "SVDSolution",
    "SoftmaxNewton",
    "SoftmaxNewtonCG",
    "softmax_hessian_W",
    "solve_least_squares",
]


#: Default ``contraction`` of :class:`SoftmaxNewton`: a Hessian is kept for further (chord) steps
#: while each step multiplies the gradient norm by at most this (see its parameters for the measurement).
CHORD_CONTRACTION = 0.7


def solve_least_squares(Z, C, shift, charge):
    """The least-squares ``W`` of ``min 1/2 ||W Z - C||^2 + s/2 ||W||^2``: Cholesky if ``s > 0``, else SVD."""
    if shift > 0:
        try:
            return CholeskySolution(Z, C, shift, charge)
        except np.linalg.LinAlgError:
            pass
    return SVDSolution(Z, C, shift, charge)


class CholeskySolution:
    """``W`` from the regularized normal equations ``W (Z Z^T + s I) = C Z^T``, ``s > 0``.

    Attributes
    ----------
    W : ndarray
        The solution, shape ``(t, m)``.
    gram : ndarray
        ``Z Z^T``, shape ``(m, m)``.
    factor : tuple
        Cholesky factor of ``M = Z Z^T + s I`` (``scipy.linalg.cho_factor``).

    Notes
    -----
    Work: ``(m^2 + m t) n`` multiply-adds (``Z Z^T`` and ``Z C^T``).  The shift
    bounds the condition number of ``M`` by ``(s_1^2 + s) / s``.
    """

    def __init__(self, Z, C, shift, charge):
        m, n = Z.shape
        self.Z, self.shift = Z, shift
        self.gram = Z @ Z.T
        charge(m * m * n)
        self.factor = scipy.linalg.cho_factor(self.gram + shift * np.eye(m))
        charge(m * C.shape[0] * n)
        self.W = scipy.linalg.cho_solve(self.factor, Z @ C.T).T

    def projection_factors(self, charge):
        """``(L, T)``, both ``(m, n)``, with ``R P^2 = R - (R L^T) T`` (Kaufman's operator).

        ``T = 2 B - (B Z^T) B`` with ``B = M^{-1} Z``; work ``3 m^2 n``.
        """
        m, n = self.Z.shape
        charge(3 * m * m * n)  # two triangular solves, B Z^T, (B Z^T) B
        B = scipy.linalg.cho_solve(self.factor, self.Z)
        return self.Z, 2.0 * B - (B @ self.Z.T) @ B

    def residual_factors(self, charge):
        """``(L, T, N)`` with ``R P = R - (R L^T) T`` and ``N = M^{-1} Z`` (Golub-Pereyra); work ``m^2 n``."""
        m, n = self.Z.shape
        charge(m * m * n)  # two triangular solves
        N = scipy.linalg.cho_solve(self.factor, self.Z)
        return self.Z, N, N

    def projection_middle(self):
        """``(L, Q)`` with ``P^2 = I - L^T Q L``: ``L = Z``, ``Q = M^{-1} + s M^{-2}`` (using ``Z Z^T = M - s I``)."""
        M_inv = scipy.linalg.cho_solve(self.factor, np.eye(self.Z.shape[0]))
        return self.Z, M_inv + self.shift * (M_inv @ M_inv)

    def golub_pereyra_basis(self):
        """``(L, L L^T)`` of the Golub-Pereyra matrix: ``(Z, Z Z^T)``."""
        return self.Z, self.gram

    def golub_pereyra_rows(self, B, Qt):
        """``X_t = (B_t + Q_t^T) M^{-1}`` for the rows of the full reduced Jacobian."""
        return scipy.linalg.cho_solve(self.factor, (B + Qt).T).T


class SVDSolution:
    """Minimum-norm ``W`` through the thin SVD ``Z = U diag(sigma) V^T`` (any shift, also 0).

    Attributes
    ----------
    W : ndarray
        The solution, shape ``(t, m)``.
    U : ndarray
        Left singular vectors of ``Z``, with ``sigma`` and ``Vt`` its thin SVD.
    pinv_weights : ndarray
        ``sigma / (sigma^2 + s)`` for the kept singular values, 0 for the others:
        ``W = C V diag(pinv_weights) U^T``.
    filter_factors : ndarray
        ``sigma^2 / (sigma^2 + s)`` (Tikhonov filter factors; 1 or 0 when ``s = 0``):
        ``P = I - V diag(filter_factors) V^T``.

    Notes
    -----
    Singular values below ``sigma_1 max(m, n) eps`` are treated as zero, and
    so are all of them when ``Z = 0`` (dead units), without division by zero.
    Work: about ``(4 m^2 + m t) n`` multiply-adds (the thin SVD and ``C V``).
    """

    def __init__(self, Z, C, shift, charge):
        m, n = Z.shape
        self.Z, self.shift = Z, shift
        charge((4 * m * m + m * C.shape[0]) * n)
        self.U, self.sigma, self.Vt = np.linalg.svd(Z, full_matrices=False)
        sigma = self.sigma
        largest = sigma[0] if sigma.size else 0.0
        keep = (sigma > largest * max(Z.shape) * np.finfo(Z.dtype).eps) & (sigma > 0)
        denominator = np.where(keep, sigma**2 + shift, 1.0)
        self.pinv_weights = np.where(keep, sigma / denominator, 0.0)
        self.filter_factors = np.where(keep, sigma**2 / denominator, 0.0)
        self.W = ((C @ self.Vt.T) * self.pinv_weights) @ self.U.T

    def projection_factors(self, charge):
        """``(L, T)`` with ``R P^2 = R - (R L^T) T``: ``L = V^T``, ``T = diag(f (2 - f)) V^T``."""
        f = self.filter_factors
        return self.Vt, (f * (2.0 - f))[:, None] * self.Vt

    def residual_factors(self, charge):
        """``(L, T, N)`` with ``R P = R - (R L^T) T`` and ``N = M^+ Z``; work ``m r n``."""
        m, n = self.Z.shape
        charge(m * self.Vt.shape[0] * n)
        return self.Vt, self.filter_factors[:, None] * self.Vt, (self.U * self.pinv_weights) @ self.Vt

    def projection_middle(self):
        """``(L, Q)`` with ``P^2 = I - L^T Q L``: ``L = V^T``, ``Q = diag(f (2 - f))``."""
        f = self.filter_factors
        return self.Vt, np.diag(f * (2.0 - f))

    def golub_pereyra_basis(self):
        """``(L, L L^T)`` of the Golub-Pereyra matrix: ``(V^T, I)``."""
        return self.Vt, np.eye(self.Vt.shape[0])

    def golub_pereyra_rows(self, B, Qt):
        """``X_t = B_t diag(f) + Q_t^T U diag(g)`` with ``f`` the filter factors, ``g`` the pinv weights."""
        return B * self.filter_factors + (Qt @ self.U) * self.pinv_weights


def softmax_hessian_W(Z, P, alpha):
    """The Hessian in ``W`` of ``E(W Z, C) + alpha/2 ||W||^2`` for the softmax cross-entropy.

    Parameters
    ----------
    Z : ndarray, shape (m, n)
    P : ndarray, shape (t, n)
        ``softmax(W Z)`` column-wise.
    alpha : float

    Returns
    -------
    ndarray, shape (t m, t m)
        Block ``(a, b)`` is ``Z diag(w_ab) Z^T / n`` with
        ``w_ab = p_a (delta_ab - p_b)``, plus ``alpha I``; ``W`` is flattened by rows.

    Notes
    -----
    The weights of every example sum to zero over ``b`` (``sum_b p_a (delta_ab - p_b)
    = p_a - p_a``: adding a constant to every row of ``W`` does not change the
    softmax), so the blocks of the last class are sums of the others:
    ``H_at = -sum_{b<t} H_ab`` and ``H_tt = sum_{a,b<t} H_ab``.  Only the
    ``t (t - 1) / 2`` blocks with ``a <= b < t`` are products ``(Z * w) Z^T`` of
    ``m x n`` by ``n x m``: ``t (t - 1) m^2 n / 2`` multiply-adds, against
    ``t (t + 1) m^2 n / 2`` for all blocks (10 products instead of 15 for 5 classes).
    """
    t, n = P.shape
    m = Z.shape[0]
    H = np.zeros((t * m, t * m), dtype=np.result_type(Z, P))
    last = slice((t - 1) * m, t * m)
    for a in range(t - 1):
        for b in range(a, t - 1):
            weights = P[a] * ((1.0 if a == b else 0.0) - P[b]) / n
            block = (Z * weights) @ Z.T
            H[a * m:(a + 1) * m, b * m:(b + 1) * m] = block
            if b != a:
                H[b * m:(b + 1) * m, a * m:(a + 1) * m] = block.T
    for a in range(t - 1):
        rows = slice(a * m, (a + 1) * m)
        H[rows, last] = -sum(H[rows, b * m:(b + 1) * m] for b in range(t - 1))
        H[last, rows] = H[rows, last].T
    corner = -sum(H[a * m:(a + 1) * m, last] for a in range(t - 1))
    H[last, last] = 0.5 * (corner + corner.T)  # symmetric to the last bit
    H[np.diag_indices_from(H)] += alpha
    return H


class _Softmax:
    """What both cross-entropy solves share: value, gradient and the stopping tolerance."""

    def __init__(self, Z, C, alpha, charge):
        self.Z, self.C, self.alpha, self.charge = Z, C, alpha, charge
        self.n = Z.shape[1]
        self.product = C.shape[0] * Z.shape[0] * Z.shape[1]  # multiply-adds of W Z or G Z^T
        self.iterations = 0

    def _step_length(self, W, step, value, slope):
        """The Armijo step along a Newton direction, or the full step once the predicted decrease
        ``-slope/2`` is at round-off level of ``f``, where comparing values of ``f`` decides nothing
        and the quadratic model is exact to working precision (0 if the search fails otherwise)."""
        if -slope <= 1e3 * np.finfo(float).eps * max(1.0, abs(value)):
            return 1.0
        search = armijo(lambda a: self.value(W + a * step), value, slope)
        return search.step if search.success else 0.0

    def value(self, W):
        """``E(W Z, C) + alpha/2 ||W||^2``; work ``t m n``."""
        self.charge(self.product)
        S = W @ self.Z
        shifted = S - S.max(axis=0, keepdims=True)
        log_p = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))
        return -float(np.sum(self.C * log_p)) / self.n + 0.5 * self.alpha * float(np.sum(W * W))

    def state(self, W):
        """Scores' softmax ``P``, the value and the gradient ``(P - C) Z^T / n + alpha W``; work ``2 t m n``."""
        self.charge(2 * self.product)
        S = W @ self.Z
        shifted = S - S.max(axis=0, keepdims=True)
        log_p = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))
        P = np.exp(log_p)
        value = -float(np.sum(self.C * log_p)) / self.n + 0.5 * self.alpha * float(np.sum(W * W))
        G = (P - self.C) @ self.Z.T / self.n + self.alpha * W
        return P, value, G


class SoftmaxNewton(_Softmax):
    """``W`` of the regularized multinomial logistic regression by Newton's method, Hessian factored.

    Parameters
    ----------
    Z : ndarray, shape (m, n)
        Features.
    C : ndarray, shape (t, n)
        One-hot (or probability) targets.
    alpha : float
        ``alpha_W``.  A Hessian that is singular or nearly so (with ``alpha = 0``
        the softmax does not change when a constant is added to every row of
        ``W``) is shifted by ``1e-12`` times its largest diagonal entry, and by
        100 times more until Cholesky succeeds.
    W0 : ndarray, shape (t, m)
        Warm start.
    gtol : float
        Stop when ``||grad_W f|| <= gtol``.
    max_iter : int
        Newton iterations.
    charge : callable
        Counts multiply-adds over the examples.
    damping : float, default 1e-3
        Initial Levenberg-Marquardt damping ``lambda`` (relative to the diagonal).
    max_trials : int, default 30
        Damped trials per iteration.
    reuse : float, default 0.75
        Keep the Hessian for the next step while the ratio of actual to
        predicted decrease is at least this (and the gradient norm fell by
        ``contraction``).
    contraction : float, default 0.7
        ... and while each step multiplies the gradient norm by at most this.
        Measured on peaks classification (5 classes, width 16, variable
        projection with at most 48 CG steps, work units to Adam's validation
        accuracy, seeds 0-2): 0.25 needed 1132, 1524 and 1196, 0.5 1107, 1626,
        1166, 0.7 1039, 1550, 1226, 0.9 1065, 1550, 1245; all within 4 % in
        total, 0.7 the lowest.
    hessian0 : ndarray, optional
        A Hessian at a nearby point (of the last iterate's solve) to start with.
    reuse_last : bool, default False
        :meth:`hessian_solve` solves with the Hessian of the last Newton step
        (formed at an earlier ``W``, or ``hessian0`` if no step was taken)
        instead of forming the one at the returned ``W``.

    Attributes
    ----------
    W : ndarray
        The solution.
    gradient_norm : float
        ``||grad_W f(W)||`` at the returned ``W``.
    iterations : int
        Newton (and chord) steps taken.
    hessians : int
        Hessians formed, also later by :meth:`hessian_solve`.

    Notes
    -----
    A Hessian (:func:`softmax_hessian_W`, ``t (t - 1) m^2 n / 2`` multiply-adds)
    is formed and factored by Cholesky; the step solves
    ``(H + lambda diag(H)) p = -g`` and is accepted when the ratio ``rho`` of
    actual to predicted decrease ``-(g^T p + p^T H p / 2)`` is at least
    ``1e-4``; ``lambda`` then shrinks by ``max(1/3, 1 - (2 rho - 1)^3)`` (Nielsen),
    and grows by 2, 4, 8, ... after a rejected trial, so steps become full
    Newton steps, with quadratic convergence, near the solution.  Forming the
    Hessian dominates the cost, so a Hessian whose model predicted well
    (``rho >= reuse``) is kept for the next step (a chord step, as cheap as a
    gradient) and replaced as soon as it predicts poorly, reduces the gradient
    norm by less than the factor ``contraction``, or gives no decrease.
    Below round-off level of ``f`` the step is taken without comparing values.
    The factor of the Hessian at the returned ``W`` is formed on demand by
    :meth:`hessian_solve`, which the reduced Gauss-Newton operator uses; with
    ``reuse_last`` the Hessian of the last step is factored instead, which saves
    forming one.  That Hessian may be several chord steps (or, from
    ``hessian0``, one outer iteration) old, so the operator is then an
    approximation (still symmetric positive semi-definite), whose steps the outer
    solver's damping or line search checks.
    """

    def __init__(self, Z, C, alpha, W0, gtol, max_iter, charge, damping=1e-3, max_trials=30, reuse=0.75,
                 contraction=CHORD_CONTRACTION,
                 hessian0=None, reuse_last=False):
        super().__init__(Z, C, alpha, charge)
        self.reuse_last = bool(reuse_last)
        W = np.array(W0, dtype=np.result_type(Z, C), copy=True)
        P, value, G = self.state(W)
        gnorm = float(np.linalg.norm(G))
        roundoff = 1e3 * np.finfo(float).eps
        self.factorizations = self.hessians = 0
        lam, nu = damping, 2.0
        H, fresh = (None if hessian0 is None else np.array(hessian0, copy=True)), False
        last = H
        for _ in range(max_iter):
            if gnorm <= gtol:
                break
            if H is None:
                H, fresh = self._hessian(P), True
            diagonal = H[np.diag_indices_from(H)].copy()
            accepted, rho = False, 0.0
            for _trial in range(max_trials):
                H[np.diag_indices_from(H)] = diagonal * (1.0 + lam)
                factor = self._cholesky(H)
                step = -scipy.linalg.cho_solve(factor, G.ravel()).reshape(W.shape)
                H[np.diag_indices_from(H)] = diagonal
                predicted = -(float(np.sum(G * step)) + 0.5 * float(step.ravel() @ (H @ step.ravel())))
                if 0 < predicted <= roundoff * max(1.0, abs(value)):
                    accepted, rho = True, 1.0  # round-off level: the model is exact to working precision
                    break
                new_value = self.value(W + step)
                if predicted > 0 and new_value < value and value - new_value >= 1e-4 * predicted:
                    rho = (value - new_value) / predicted
                    lam, nu = lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 2.0
                    accepted = True
                    break
                lam, nu = max(lam, 1e-12) * nu, 2.0 * nu
                if not fresh:
                    break  # a lagged Hessian that fails once is replaced, not damped further
            if not accepted:
                if fresh:
                    break  # no acceptable step: W is as accurate as the arithmetic allows
                H = None
                continue
            W = W + step
            P, value, G = self.state(W)
            previous, gnorm = gnorm, float(np.linalg.norm(G))
            self.iterations += 1
            # Keep the Hessian for the next step (a chord step, as cheap as a gradient) while its
            # quadratic model predicts the decrease well and the gradient falls fast enough (linear
            # convergence with rate `contraction`); form the one at the new W otherwise.
            last = H  # the Hessian of the last accepted step (maybe lagged), for a later solve to start from
            if rho < reuse or gnorm > contraction * previous:
                H = None
            fresh = False
        self.W, self.P, self.value_at_W = W, P, value
        self.gradient_norm = gnorm
        self.damping = lam
        self.factor = self.hessian = None  # at W, formed by hessian_solve when the reduced operator needs it
        self.last_hessian = last  # the Hessian of the last accepted step, at an earlier W (or hessian0)

    def _hessian(self, P):
        t, m = P.shape[0], self.Z.shape[0]
        self.hessians += 1
        self.charge(t * (t - 1) // 2 * m * m * self.n)
        return softmax_hessian_W(self.Z, P, self.alpha)

    def _cholesky(self, H):
        # Without regularization H is singular (adding a constant to every row of W does not change
        # the softmax), and nearly so for (nearly) separable data: shift it until Cholesky succeeds,
        # from 1e-12 of its largest diagonal entry on.
        self.factorizations += 1
        diagonal = H[np.diag_indices_from(H)].copy()
        scale = max(float(np.max(diagonal)), np.finfo(H.dtype).tiny)
        shift = 0.0
        for _ in range(12):
            H[np.diag_indices_from(H)] = diagonal + shift
            try:
                return scipy.linalg.cho_factor(H, check_finite=False)
            except np.linalg.LinAlgError:
                shift = max(100.0 * shift, 1e-12 * scale)
            finally:
                H[np.diag_indices_from(H)] = diagonal
        raise np.linalg.LinAlgError("the Hessian in W is not positive definite even after shifting it")

    def predict_W(self, Z):
        """First-order prediction of the solution for new features ``Z``: ``W + dW``.

        From the optimality condition ``G(W Z) Z^T + alpha W = 0`` linearized at
        this solution: ``H_WW dW = -(H_S[W dZ] Z^T + G dZ^T)`` with ``dZ = Z_new - Z``.
        A warm start accurate to second order in ``dZ`` for the next solve;
        work ``3 t m n`` and one solve with the factor.
        """
        dZ = Z - self.Z
        G = (self.P - self.C) / self.n
        PX = self.P * (self.W @ dZ)
        HA = (PX - self.P * PX.sum(axis=0, keepdims=True)) / self.n
        self.charge(3 * self.product)
        return self.W - self.hessian_solve(HA @ self.Z.T + G @ dZ.T)

    def hessian_solve(self, X):
        """``H_WW^{-1} X`` with the Hessian at the returned ``W`` (formed and factored on first use),
        or with the last Newton step's Hessian if ``reuse_last`` (and there is one)."""
        if self.factor is None:
            reuse = self.reuse_last and self.last_hessian is not None
            self.hessian = self.last_hessian if reuse else self._hessian(self.P)
            self.factor = self._cholesky(self.hessian)
        return scipy.linalg.cho_solve(self.factor, np.ravel(X)).reshape(np.shape(X))


class SoftmaxNewtonCG(_Softmax):
    """``W`` by matrix-free Newton-CG (for many unknowns in ``W``, where forming the Hessian does not pay).

    Parameters are those of :class:`SoftmaxNewton`, plus ``cg_rtol`` and
    ``cg_max_iter`` of the CG solve in each Newton step.

    Notes
    -----
    Hessian products ``V -> H(V Z) Z^T + alpha V`` cost ``2 t m n``
    multiply-adds each; a line-search value ``t m n``.  :meth:`hessian_solve`
    runs CG with the same products to a relative residual of ``1e-8``.
    """

    def __init__(self, Z, C, alpha, W0, gtol, max_iter, charge, cg_rtol=1e-2, cg_max_iter=50):
        super().__init__(Z, C, alpha, charge)
        W = np.array(W0, dtype=np.result_type(Z, C), copy=True)
        P, value, G = self.state(W)
        for _ in range(max_iter):
            if float(np.linalg.norm(G)) <= gtol:
                break
            step = conjugate_gradient(self._hessian_product(P, W.shape), -G.ravel(), rtol=cg_rtol,
                                      max_iter=cg_max_iter).x.reshape(W.shape)
            slope = float(np.sum(G * step))
            if not slope < 0:
                step, slope = -G, -float(np.sum(G * G))
            length = self._step_length(W, step, value, slope)
            if length == 0:
                break
            W = W + length * step
            P, value, G = self.state(W)
            self.iterations += 1
        self.W, self.P, self.value_at_W = W, P, value
        self.gradient_norm = float(np.linalg.norm(G))

    def _hessian_product(self, P, shape):
        Z, n, alpha = self.Z, self.n, self.alpha

        def product(v):
            V = np.reshape(v, shape)
            self.charge(2 * self.product)
            dS = V @ Z
            PdS = P * dS
            return ((PdS - P * PdS.sum(axis=0, keepdims=True)) / n @ Z.T + alpha * V).ravel()

        return product

    def hessian_solve(self, X):
        """``H_WW^{-1} X`` at the returned ``W`` by CG (relative residual ``1e-8``)."""
        X = np.asarray(X)
        return conjugate_gradient(self._hessian_product(self.P, X.shape), X.ravel(), rtol=1e-8,
                                  max_iter=10 * X.size).x.reshape(X.shape)
