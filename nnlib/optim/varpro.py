"""Variable projection: eliminate the linear last layer ``W`` and optimize over ``theta`` only."""

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator

from ..losses import LeastSquares
from ..objective import backward_outer, forward_outer
from ._checks import check_max_iter, check_nonnegative
from .cg import conjugate_gradient
from .gauss_newton import gauss_newton
from .linesearch import armijo
from .result import check_callback
from .steepest import steepest_descent

__all__ = [
    "ReducedObjective",
    "varpro",
]


class ReducedObjective:
    """The reduced (projected) objective ``phi(theta) = min_W f(theta, W)``.

    Offers the same protocol as :class:`nnlib.objective.SingleLayerObjective`
    (``value``, ``value_and_gradient``, ``gauss_newton_operator``,
    ``n_params``, ``work_units``), so any outer solver can minimize it.

    Parameters
    ----------
    objective : SingleLayerObjective
        The full problem in ``x = (theta, W)``.
    inner_gtol, inner_rtol : float, default 1e-6, 1e-3
        Newton-CG (cross-entropy) stops when
        ``||grad_W f|| <= max(inner_gtol, inner_rtol * ||grad_W f(W_warm)||)``:
        the warm start from a nearby ``theta`` is already close, and a fixed
        reduction keeps the error of ``W`` proportional to the outer step.
        The reduced gradient is only as accurate as this: set
        ``inner_rtol=0`` and a tiny ``inner_gtol`` for derivative checks.
    inner_max_iter : int, default 10
        Newton iterations per inner solve.
    inner_cg_rtol : float, default 1e-2
        Relative tolerance of the CG solve inside each Newton step.
    inner_cg_max_iter : int, default 50
        CG iterations per Newton step.  With little regularization and
        (nearly) separable classes the Hessian in ``W`` is ill-conditioned;
        the budget keeps one inner solve from costing thousands of passes.
    projected : bool or {"kaufman", "golub-pereyra"}, default True
        For least squares, ``True`` or ``"kaufman"`` uses the Kaufman
        Gauss-Newton matrix that accounts for ``W`` following ``theta``;
        ``"golub-pereyra"`` uses the full Jacobian of the reduced residual
        (see Notes); ``False`` the ``theta``-block of the full Gauss-Newton
        matrix at ``W(theta)``.
    W0 : ndarray, optional
        First warm start of the Newton-CG inner solve (zeros if omitted).

    Notes
    -----
    **Inner problem.**  For fixed ``theta`` the features ``Z = Z(theta)``
    (shape ``(m, n)``) are fixed and ``W`` solves the convex problem
    ``min_W E(W Z, C) + alpha_W/2 ||W||_F^2``:

    * least squares, ``E = 1/(2n) ||W Z - C||_F^2``: the normal equations
      ``W (Z Z^T + n alpha_W I) = C Z^T``, solved directly by a Cholesky
      factorization of the ``m x m`` matrix (``alpha_W > 0``) or through the
      SVD of ``Z`` (pseudo-inverse, when ``alpha_W = 0``);
    * cross-entropy: Newton-CG (Hessian products
      ``V -> H(V Z) Z^T + alpha_W V``) with an Armijo line search, warm-started
      from the previous ``W``.

    **Reduced gradient.**  Because ``grad_W f(theta, W(theta)) = 0``,
    ``grad phi(theta) = grad_theta f(theta, W(theta))``: the ``dW/dtheta``
    term drops out.  This holds only as accurately as the inner problem is
    solved.

    **Reduced Gauss-Newton matrix** (least squares, ``projected=True``).
    With ``P = I - Z^T (Z Z^T + n alpha_W I)^{-1} Z`` (``n x n``, symmetric,
    eigenvalues in ``[0, 1]``), the Jacobian of the residual of the reduced
    problem is approximated (Kaufman, 1975) by
    ``dR = (W mat(J v)) P``, which removes the part of a change of the
    features that a change of ``W`` can absorb.  The operator is
    ``v -> J^T vec(W^T (W mat(J v)) P^2) / n + alpha v``.

    **Full reduced Jacobian** (``projected="golub-pereyra"``; Golub and
    Pereyra, 1973).  Differentiating ``W(theta) = C Z^T M^{-1}`` exactly gives
    ``dS = (W dZ) P - R dZ^T M^{-1} Z`` with the residual ``R = S - C``:
    Kaufman drops the second term, which is proportional to the residual.
    Keeping it costs no extra pass (``dZ R^T`` comes from the same ``J v``,
    and its adjoint joins the same backward pass) and gives a better model
    away from zero residual.  (The dependence of ``alpha_W/2 ||W(theta)||^2``
    on ``theta`` is left out of both models.)

    **Work units.**  Forward and backward passes of the network are counted
    by ``objective`` (a Gauss-Newton product ``J v``, ``J^T w`` counts 2,
    including the products with ``W``).  Everything else is dense linear
    algebra over the ``n`` examples and is counted in ``inner_work`` by the
    rule of :mod:`nnlib.objective`: multiply-adds over those of one pass,
    ``n * n_theta``, with no rounding up.  With ``t = n_targets`` and ``r``
    the number of rows of the projection factors (``m``, or the rank of ``Z``
    with the SVD), the multiply-adds counted are

    * least-squares solve: ``(m^2 + m t) n`` (``Z Z^T``, ``Z C^T``) for the
      normal equations; ``(4 m^2 + m t) n`` with the SVD (an estimate of the
      thin SVD, and ``C V``);
    * Newton-CG (cross-entropy): ``t m n`` per product with ``Z``: ``2 t m n``
      per gradient (``W Z``, ``G Z^T``) and per Hessian product
      (``V Z``, ``H Z^T``), ``t m n`` per line-search value (``W Z``);
    * Kaufman operator: ``3 m^2 n`` to form its projection factors
      (Cholesky; none with the SVD), then ``2 r t n`` per product (``R L^T``,
      ``(R L^T) T``);
    * Golub-Pereyra operator: ``t m n + m^2 n`` to set up (``R = W Z - C``
      and ``M^{-1} Z``; ``m r n`` for ``M^+ Z`` with the SVD), then
      ``(4 r + 4 m) t n`` per product (two projections, ``dZ R^T``,
      ``(dZ R^T)^T N``, ``N dS^T`` and the extra rows of the backward pass).

    Terms that do not grow with ``n`` (factorizing ``m x m`` matrices) and
    elementwise operations (the loss and its derivatives) are not counted.
    The dense matrix of :meth:`gauss_newton_matrix` is counted by the
    objective: its explicit Jacobian rows (one pass per target, two for
    Golub-Pereyra) and its multiply-adds over ``n * n_theta`` (about
    ``n_theta + m`` units for one target; Golub-Pereyra adds ``m / n_theta``
    for ``R = W Z - C``).
    """

    def __init__(
        self,
        objective,
        inner_gtol=1e-6,
        inner_rtol=1e-3,
        inner_max_iter=10,
        inner_cg_rtol=1e-2,
        inner_cg_max_iter=50,
        projected=True,
        W0=None,
    ):
        for name in ("features", "join", "gauss_newton_theta", "n_theta", "W_shape", "loss"):
            if not hasattr(objective, name):
                raise ValueError(
                    f"variable projection needs an objective with a linear last layer "
                    f"(SingleLayerObjective); {type(objective).__name__} has no {name!r}"
                )
        self.objective = objective
        self.inner_gtol = check_nonnegative(inner_gtol, "inner_gtol")
        self.inner_rtol = check_nonnegative(inner_rtol, "inner_rtol")
        self.inner_max_iter = check_max_iter(inner_max_iter, "inner_max_iter")
        self.inner_cg_rtol = check_nonnegative(inner_cg_rtol, "inner_cg_rtol")
        self.inner_cg_max_iter = check_max_iter(inner_cg_max_iter, "inner_cg_max_iter")
        self.least_squares = isinstance(objective.loss, LeastSquares)
        if projected not in (True, False, "kaufman", "golub-pereyra"):
            raise ValueError(f"projected must be True, False, 'kaufman' or 'golub-pereyra'; got {projected!r}")
        self.golub_pereyra = projected == "golub-pereyra" and self.least_squares
        self.projected = bool(projected) and self.least_squares
        self.n_params = objective.n_theta
        self.n_examples = objective.n_examples
        self.inner_work = 0.0
        self.inner_iterations = 0
        self._W_warm = np.zeros(objective.W_shape) if W0 is None else np.array(W0, dtype=float).reshape(objective.W_shape)
        self._solved = None  # (theta, W, factorization) of the last theta solved for
        # The same for the last theta whose gradient was asked for: an outer solver asks only at its
        # iterates, never at rejected trials, so this is the accepted iterate.  Its W warm-starts the
        # next inner solves and is the W that full_x returns, so a run's x carries the W that
        # produced its reported loss, whatever trials came after.
        self._anchor = None

    def _charge(self, multiply_adds):
        """Add dense work over the examples to ``inner_work``: multiply-adds over ``n * n_theta``."""
        self.inner_work += multiply_adds / (self.n_examples * max(self.n_params, 1))

    @property
    def work_units(self):
        """Network passes counted by the objective plus ``inner_work``, the dense work of the inner solves."""
        return self.objective.work_units + self.inner_work

    # ------------------------------------------------------------ inner solve
    def solve_W(self, theta):
        """``W(theta) = argmin_W f(theta, W)`` (read-only), cached for the last ``theta`` and the last iterate.

        The cross-entropy solve is warm-started from the ``W`` of the last
        iterate (the last ``theta`` passed to :meth:`value_and_gradient`).
        """
        if self._solved is not None and np.array_equal(self._solved[0], theta):
            return self._solved[1]
        if self._anchor is not None and np.array_equal(self._anchor[0], theta):
            self._solved = self._anchor
            return self._solved[1]
        theta = np.array(theta, dtype=float)
        Z = self.objective.features(theta)
        if self.least_squares:
            W, factor = self._solve_least_squares(Z)
        else:
            W, factor = self._solve_newton_cg(Z), None
        W.setflags(write=False)
        self._solved = (theta, W, factor)
        return W

    def _solve_least_squares(self, Z):
        n = Z.shape[1]
        shift = n * self.objective.reg_W
        C = self.objective.C
        m, n_targets = Z.shape[0], C.shape[0]
        if shift > 0:
            try:
                # Regularized normal equations: SPD, m x m, cheap; the shift bounds the condition number.
                gram = Z @ Z.T
                self._charge(m * m * n)
                factor = ("cholesky", scipy.linalg.cho_factor(gram + shift * np.eye(Z.shape[0])), gram)
                self._charge(m * n_targets * n)
                W = scipy.linalg.cho_solve(factor[1], Z @ C.T).T
                return W, factor
            except np.linalg.LinAlgError:
                pass
        # Without regularization Z Z^T may be singular: the SVD gives the minimum-norm solution
        # (about 4 n m^2 multiply-adds for the thin SVD, n m n_targets for C V).
        self._charge((4 * m * m + m * n_targets) * n)
        U, sigma, Vt = np.linalg.svd(Z, full_matrices=False)
        keep = sigma > sigma[0] * max(Z.shape) * np.finfo(Z.dtype).eps
        filt = np.where(keep, sigma / np.where(keep, sigma**2 + shift, 1.0), 0.0)
        W = ((C @ Vt.T) * filt) @ U.T
        return W, ("svd", Vt, np.where(keep, sigma**2 / (sigma**2 + shift), 0.0), U, filt)

    def _solve_newton_cg(self, Z):
        loss, C, alpha = self.objective.loss, self.objective.C, self.objective.reg_W
        W = (self._W_warm if self._anchor is None else self._anchor[1]).copy()
        tolerance = None
        product_with_Z = W.shape[0] * Z.shape[0] * Z.shape[1]  # multiply-adds of W Z or G Z^T

        def value_of(W):
            self._charge(product_with_Z)
            return loss.value(W @ Z, C) + 0.5 * alpha * float(np.sum(W * W))

        for _ in range(self.inner_max_iter):
            S = W @ Z
            value = loss.value(S, C) + 0.5 * alpha * float(np.sum(W * W))
            G = loss.gradient(S, C) @ Z.T + alpha * W
            self._charge(2 * product_with_Z)
            g_norm = float(np.linalg.norm(G))
            if tolerance is None:
                tolerance = max(self.inner_gtol, self.inner_rtol * g_norm)
            if g_norm <= tolerance:
                break

            def hessian(v, S=S):
                V = v.reshape(W.shape)
                self._charge(2 * product_with_Z)
                return (loss.hessian_matvec(S, C, V @ Z) @ Z.T + alpha * V).ravel()

            step = conjugate_gradient(hessian, -G.ravel(), rtol=self.inner_cg_rtol, max_iter=self.inner_cg_max_iter).x.reshape(W.shape)
            slope = float(np.sum(G * step))
            if not slope < 0:
                step, slope = -G, -(g_norm**2)
            search = armijo(lambda a: value_of(W + a * step), value, slope)
            if not search.success:
                break  # round-off level: W is as accurate as double precision allows
            W = W + search.step * step
            self.inner_iterations += 1
        return W

    def _projection_factors(self, Z):
        """``(L, T)``, both ``(m, n)``, with ``R P^2 = R - (R L^T) T`` for the current ``theta``.

        ``P = I - Z^T M^{-1} Z`` with ``M = Z Z^T + n alpha_W I``.  Forming
        ``T`` once per ``theta`` (``O(m^2 n)``) makes each Gauss-Newton
        product cost two thin ``(n_targets, n) x (n, m)`` products instead of
        two triangular solves; ``P^2 != P`` when ``alpha_W > 0``.
        """
        kind, *factor = self._solved[2]
        if kind == "cholesky":
            m, n = Z.shape
            self._charge(3 * m * m * n)  # two triangular solves, B Z^T, (B Z^T) B
            B = scipy.linalg.cho_solve(factor[0], Z)  # M^{-1} Z
            return Z, 2.0 * B - (B @ Z.T) @ B
        Vt, filt = factor[:2]
        return Vt, (filt * (2.0 - filt))[:, None] * Vt

    def _residual_factors(self, Z):
        """``(L, T, N)``, with ``R P = R - (R L^T) T`` and ``N = M^{-1} Z`` (``M^+ Z`` for the SVD)."""
        kind, *factor = self._solved[2]
        m, n = Z.shape
        if kind == "cholesky":
            self._charge(m * m * n)  # two triangular solves
            N = scipy.linalg.cho_solve(factor[0], Z)
            return Z, N, N
        Vt, filt, U, pinv = factor
        self._charge(m * Vt.shape[0] * n)
        return Vt, filt[:, None] * Vt, (U * pinv) @ Vt

    def _projection_middle(self):
        """``(L, Q)`` with ``P^2 = I - L^T Q L`` for the current ``theta`` (dense Gauss-Newton matrix).

        Cholesky: ``L = Z``, ``Q = M^{-1} + s M^{-2}`` (``s = n alpha_W``,
        using ``Z Z^T = M - s I``); SVD: ``L = V^T``, ``Q = diag(f (2 - f))``.
        """
        kind, *factor = self._solved[2]
        if kind == "cholesky":
            Z = self.objective.features(self._solved[0])
            shift = Z.shape[1] * self.objective.reg_W
            M_inv = scipy.linalg.cho_solve(factor[0], np.eye(Z.shape[0]))
            return Z, M_inv + shift * (M_inv @ M_inv)
        Vt, filt = factor[:2]
        return Vt, np.diag(filt * (2.0 - filt))

    # ------------------------------------------------------- reduced problem
    def full_x(self, theta):
        """``x = (theta, W(theta))`` for the full objective."""
        return self.objective.join(theta, self.solve_W(theta))

    def value(self, theta):
        """``phi(theta) = f(theta, W(theta))``."""
        return self.objective.value(self.full_x(theta))

    def value_and_gradient(self, theta):
        """``phi(theta)`` and ``grad phi(theta) = grad_theta f(theta, W(theta))``.

        Outer solvers call it at their iterates only, so ``theta`` becomes the
        anchor: the point whose ``W`` warm-starts later inner solves and is
        returned by :meth:`full_x`.
        """
        value, gradient = self.objective.value_and_gradient(self.full_x(theta))
        self._anchor = self._solved
        return value, gradient[: self.n_params]

    def gauss_newton_operator(self, theta):
        """Gauss-Newton matrix of the reduced problem (see the class Notes)."""
        W = self.solve_W(theta)
        if not self.projected:
            return self.objective.gauss_newton_theta(theta, W)
        objective = self.objective
        Z = objective.features(theta)
        J = objective.jacobian_theta(theta)
        m, n = Z.shape
        if self.golub_pereyra:
            return self._golub_pereyra_operator(theta, W, Z, J)
        left, right = self._projection_factors(Z)
        projection = 2 * left.shape[0] * W.shape[0] * n  # multiply-adds of R - (R L^T) T

        def matvec(v):
            v = np.ravel(v)
            R = forward_outer(J, W, v, (m, n))
            R = R - (R @ left.T) @ right  # R P^2 in two skinny products
            objective.work_units += 2.0
            self._charge(projection)
            return backward_outer(J, W, R) / n + objective.reg_theta * v

        return LinearOperator((self.n_params, self.n_params), matvec=matvec, rmatvec=matvec, dtype=Z.dtype)

    def _golub_pereyra_operator(self, theta, W, Z, J):
        objective = self.objective
        m, n = Z.shape
        n_targets = W.shape[0]
        R = W @ Z - objective.C
        self._charge(n_targets * m * n)
        left, right, N = self._residual_factors(Z)
        # two projections (2 r t n each), dZ R^T, (dZ R^T)^T N, N dS^T and the extra t rows of the backward pass
        extra = (4 * left.shape[0] + 4 * m) * n_targets * n

        def project(X):
            return X - (X @ left.T) @ right

        def matvec(v):
            v = np.ravel(v)
            dZ = J.matvec(v).reshape(m, n)
            dS = project(W @ dZ) - (dZ @ R.T).T @ N  # (W dZ) P - R dZ^T M^{-1} Z
            U = N @ dS.T  # adjoint of the second term: -J^T vec(U R)
            objective.work_units += 2.0
            self._charge(extra)
            back = backward_outer(J, np.vstack([W, -U.T]), np.vstack([project(dS), R]))
            return back / n + objective.reg_theta * v

        return LinearOperator((self.n_params, self.n_params), matvec=matvec, rmatvec=matvec, dtype=Z.dtype)

    def gauss_newton_matrix(self, theta):
        """The matrix of :meth:`gauss_newton_operator` as a dense array (least squares only).

        With ``R_t`` the explicit rows ``d S[t, :] / d theta`` (shape
        ``(n_theta, n)``) and ``P^2 = I - L^T Q L`` (see
        the private ``_projection_middle``), the Kaufman matrix is
        ``sum_t (R_t R_t^T - B_t Q B_t^T) / n + alpha I`` with
        ``B_t = R_t L^T``: two BLAS-3 products over the examples, no
        ``n x n`` matrix.  Work: the explicit rows plus the multiply-adds,
        counted by the objective (see :mod:`nnlib.objective`).
        """
        if not self.least_squares:
            raise ValueError("the dense reduced Gauss-Newton matrix is implemented for least squares only")
        W = self.solve_W(theta)
        objective = self.objective
        x = objective.join(theta, W)
        rows = objective.scores_jacobian_theta(x)
        n_targets, p, n = rows.shape
        if self.golub_pereyra:
            H = self._golub_pereyra_matrix(theta, W, rows)
        else:
            H = np.zeros((p, p), dtype=rows.dtype)
            if self.projected:
                L, Q = self._projection_middle()
                r = L.shape[0]
            for t in range(n_targets):
                R = rows[t]
                H += R @ R.T
                if self.projected:
                    B = R @ L.T
                    H -= B @ Q @ B.T
            objective._dense_work(n * n_targets * (p * p + (p * r if self.projected else 0)))
        H /= n
        H[np.arange(p), np.arange(p)] += objective.reg_theta
        return H

    def _golub_pereyra_matrix(self, theta, W, rows):
        """``sum_t A_t A_t^T`` with ``A_t = F_t - X_t L`` the rows of the full reduced Jacobian.

        ``F_t`` are the rows ``d S[t] / d theta``, ``Q_t = d (Z r_t) / d theta``
        and ``B_t = F_t L^T``; Cholesky: ``L = Z``, ``X_t = (B_t + Q_t^T) M^{-1}``;
        SVD ``Z = U diag(s) V^T``: ``L = V^T``, ``X_t = B_t diag(f) + Q_t^T U diag(g)``.
        Then ``A_t A_t^T = F_t F_t^T - B_t X_t^T - X_t B_t^T + X_t (L L^T) X_t^T``.
        """
        objective = self.objective
        Z = objective.features(theta)
        m, n = Z.shape
        R = W @ Z - objective.C
        Q = objective.features_contracted_jacobian(theta, R)
        kind, *factor = self._solved[2]
        if kind == "cholesky":
            L, G = Z, factor[1]  # Z Z^T, kept from the inner solve
        else:
            Vt, filt, U, pinv = factor
            L, G = Vt, np.eye(Vt.shape[0])
        n_targets, p, _ = rows.shape
        H = np.zeros((p, p), dtype=rows.dtype)
        for t in range(n_targets):
            F = rows[t]
            B = F @ L.T
            if kind == "cholesky":
                X = scipy.linalg.cho_solve(factor[0], (B + Q[t].T).T).T
            else:
                X = B * filt + (Q[t].T @ U) * pinv
            BX = B @ X.T
            H += F @ F.T - BX - BX.T + X @ G @ X.T
        objective._dense_work(n * n_targets * (p * p + p * L.shape[0] + m))  # and R = W Z - C
        return H


def varpro(
    objective,
    x0,
    outer="gauss_newton",
    max_iter=50,
    target_loss=None,
    inner_gtol=1e-6,
    inner_rtol=1e-3,
    inner_max_iter=10,
    inner_cg_max_iter=50,
    projected=True,
    callback=None,
    **outer_options,
):
    """Train ``(theta, W)`` by variable projection: ``W = W(theta)`` solved inside.

    Parameters
    ----------
    objective : SingleLayerObjective
    x0 : ndarray, shape (n_params,) or (n_theta,)
        Starting point; only its ``theta`` part matters (a given ``W`` part
        warm-starts the first cross-entropy solve).
    outer : {"gauss_newton", "steepest"}, default "gauss_newton"
        Solver for the reduced problem in ``theta``.
    max_iter : int, default 50
        Outer iterations.
    target_loss : float, optional
        Stop as soon as the loss is at most this.
    inner_gtol, inner_rtol, inner_max_iter, inner_cg_max_iter : float, float, int, int
        Accuracy and budget of the inner Newton-CG solve (cross-entropy), see
        :class:`ReducedObjective`.
    projected : bool or {"kaufman", "golub-pereyra"}, default True
        Kaufman's projected Gauss-Newton matrix for least squares, or the
        full reduced Jacobian (see :class:`ReducedObjective`).
    callback : callable, optional
        ``callback(x_k)`` with the full ``x_k = (theta_k, W(theta_k))`` after
        every outer iterate (``W(theta_k)`` is the inner solution already
        computed for ``theta_k``); return ``True`` to stop (``Status.CALLBACK``).
    **outer_options
        Passed on to :func:`~nnlib.optim.gauss_newton` (``cg_rtol``,
        ``cg_max_iter``, ``gtol``, ``inner``...; ``damping`` defaults to
        ``"marquardt"`` here) or :func:`~nnlib.optim.steepest_descent`.
        ``inner="direct"`` factorizes the dense reduced Gauss-Newton matrix
        (:meth:`ReducedObjective.gauss_newton_matrix`, least squares).

    Returns
    -------
    OptimizeResult
        ``x`` is the full vector ``(theta, W(theta))`` and the work units
        include the inner solves.

    Notes
    -----
    The reduced problem ``min_theta phi(theta)``, ``phi(theta) = min_W f(theta, W)``,
    has fewer unknowns and is often much better conditioned than the joint
    problem: the optimal ``W`` is recomputed for every ``theta`` instead of
    being learned slowly alongside it (Newman, Ruthotto, Hart, van Bloemen
    Waanders, "Train like a (Var)Pro", SIMODS 2021).
    """
    if outer not in ("gauss_newton", "steepest"):
        raise ValueError(f"outer must be 'gauss_newton' or 'steepest'; got {outer!r}")
    for name in ("n_theta", "n_params", "W_shape"):
        if not hasattr(objective, name):
            raise TypeError(
                "varpro needs an objective whose last layer is linear (a SingleLayerObjective); "
                f"got {type(objective).__name__}, which has no {name!r}"
            )
    x0 = np.asarray(x0, dtype=float)
    n_theta = objective.n_theta
    if x0.ndim != 1 or x0.size not in (n_theta, objective.n_params):
        raise ValueError(
            f"x0 must be a 1-D array of length n_params = {objective.n_params} (theta and W) "
            f"or n_theta = {n_theta} (theta only); got shape {x0.shape}"
        )
    W0 = x0[n_theta:].reshape(objective.W_shape) if x0.size == objective.n_params else None
    reduced = ReducedObjective(
        objective,
        inner_gtol=inner_gtol,
        inner_rtol=inner_rtol,
        inner_max_iter=inner_max_iter,
        inner_cg_max_iter=inner_cg_max_iter,
        projected=projected,
        W0=W0,
    )
    if outer == "gauss_newton":
        # The reduced unknowns are all theta, whose sensitivities differ by orders of magnitude
        # (a neuron with a small output weight barely matters): scale-invariant damping.
        outer_options.setdefault("damping", "marquardt")
    solver = gauss_newton if outer == "gauss_newton" else steepest_descent
    if callback is not None:
        check_callback(callback)
        outer_options["callback"] = lambda theta: callback(reduced.full_x(theta))
    result = solver(reduced, x0[:n_theta], max_iter=max_iter, target_loss=target_loss, **outer_options)
    result.x = reduced.full_x(result.x)
    return result
