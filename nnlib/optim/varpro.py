"""Variable projection: eliminate the linear last layer ``W`` and optimize over ``theta`` only."""

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ..losses import LeastSquares, SoftmaxCrossEntropy
from ..objective import LinearHeadObjective, backward_outer, forward_outer
from ..threads import with_threads_by_size
from ._checks import check_max_iter, check_nonnegative
from .gauss_newton import gauss_newton
from .inner import SoftmaxNewton, SoftmaxNewtonCG, solve_least_squares
from .levenberg_marquardt import levenberg_marquardt
from .result import check_callback
from .steepest import steepest_descent

__all__ = [
    "NEWTON_MAX_UNKNOWNS",
    "ReducedObjective",
    "varpro",
]

#: ``inner="auto"`` solves for ``W`` of the cross-entropy by Newton's method with the Hessian
#: formed and factored when ``W`` has at most this many entries (classes times width), and by
#: matrix-free Newton-CG above.  Forming the ``t m x t m`` Hessian costs ``t (t - 1) m^2 n / 2``
#: multiply-adds, about ``(t - 1) m / 4`` Hessian products of CG, and the factorization
#: ``(t m)^3 / 3``.  Measured on peaks classification (n = 2000, 5 classes, ``alpha = 1e-4``,
#: 10 outer iterations with ``jacobian="none"``, one BLAS thread, another job on the second core),
#: inner work units of Newton against Newton-CG: 568 against 1758 for ``t m = 80``, 1231 against 2524 for 160, 2273 against
#: 2903 for 320, 5486 against 3292 for 640, 9164 against 4420 for 1280 (wall time 0.44 against
#: 0.71 s for 320, 1.42 against 1.41 s for 640): the crossover lies between 320 and 640.
NEWTON_MAX_UNKNOWNS = 400

JACOBIANS = ("auto", "kaufman", "golub-pereyra", "none")


class ReducedObjective:
    """The reduced (projected) objective ``phi(theta) = min_W f(theta, W)``.

    Offers the protocol of :class:`nnlib.objective.LinearHeadObjective`
    (``value``, ``value_and_gradient``, ``gauss_newton_operator``,
    ``n_params``, ``work_units``), so any outer solver can minimize it.

    Parameters
    ----------
    objective : LinearHeadObjective
        The full problem in ``x = (theta, W)``, with :class:`~nnlib.losses.LeastSquares`
        or :class:`~nnlib.losses.SoftmaxCrossEntropy`.
    jacobian : {"auto", "kaufman", "golub-pereyra", "none"}, default "auto"
        The Jacobian of the reduced problem behind the Gauss-Newton model (see
        Notes): Kaufman's approximation, the full reduced Jacobian
        (Golub-Pereyra), or none of the dependence of ``W`` on ``theta`` (the
        ``theta``-block of the full Gauss-Newton matrix at ``W(theta)``).
        ``"auto"`` is Kaufman's, except for the cross-entropy solved by
        Newton-CG: there every product would need two CG solves with the
        Hessian in ``W``, so ``"none"`` (measured on the MNIST-1D CNN, ``t m =
        1250``: one outer iteration took 147 s with Kaufman's model, 1 s without).
    inner : {"auto", "newton", "newton-cg"}, default "auto"
        Cross-entropy only: Newton's method with the Hessian in ``W`` formed and
        factored (:class:`~nnlib.optim.inner.SoftmaxNewton`), or matrix-free
        Newton-CG; ``"auto"`` takes Newton when ``W`` has at most
        :data:`~nnlib.optim.varpro.NEWTON_MAX_UNKNOWNS` entries.  Least squares is always solved directly.
    inner_gtol, inner_rtol : float, default 1e-10, 1e-3
        Cross-entropy: the inner solve stops when
        ``||grad_W f|| <= max(inner_gtol, inner_rtol * ||grad phi(theta_k)||)``
        with ``theta_k`` the last iterate of the outer solver (before the first
        one: ``inner_rtol`` times the inner gradient at the warm start).  The
        error of the reduced gradient is proportional to ``||grad_W f||``, so
        this keeps it a fixed small fraction of the outer gradient.  Set both
        to 0 for derivative checks.
    inner_max_iter : int, default 20
        Newton iterations per inner solve.
    inner_cg_rtol, inner_cg_max_iter : float, int, default 1e-2, 50
        CG inside each Newton step of ``inner="newton-cg"``.
    W0 : ndarray, optional
        First warm start of the cross-entropy solve (zeros if omitted).
    inner_trial_iter : int, default 1
        Cross-entropy: Newton iterations at a line-search trial of the outer
        solver (:meth:`value`).  The value there, ``f(theta, W)`` at an
        inexact ``W``, is an upper bound of ``phi(theta)``, so a trial accepted
        with it is acceptable for ``phi`` too; the accurate solve follows at the
        accepted point only (:meth:`value_and_gradient`).
    predict : bool, default True
        Cross-entropy with ``inner="newton"``: start each solve from the
        first-order prediction of ``W`` for the new features (the linearized
        optimality condition at the last iterate) instead of the last ``W``.
    reuse_hessian : bool, default True
        Cross-entropy with ``inner="newton"``: the reduced Gauss-Newton operator
        and the prediction solve with the Hessian in ``W`` of the last Newton
        step (``reuse_last`` of :class:`~nnlib.optim.inner.SoftmaxNewton`,
        formed at an earlier ``W``) instead of forming one at ``W(theta)``: one
        Hessian less per outer iteration, for an approximate operator.  Measured
        on peaks classification (5 classes, width 16, at most 48 CG steps, seeds
        0-2): the work to Adam's validation accuracy fell by 3-16 % with
        Golub-Pereyra's Jacobian and by 12-28 % with Kaufman's.  ``False``
        gives the exact reduced operator.

    Attributes
    ----------
    inner_work : float
        Work units of the inner solves and the dense algebra of the reduced
        Gauss-Newton operator (see Notes); included in :attr:`work_units`.
    inner_iterations : int
        Newton iterations of all cross-entropy solves so far.

    Notes
    -----
    **Inner problem.**  For fixed ``theta`` the features ``Z = Z(theta)``
    (shape ``(m, n)``) are fixed and ``W`` solves the convex problem
    ``min_W E(W Z, C) + alpha_W/2 ||W||_F^2``: for least squares the normal
    equations ``W (Z Z^T + n alpha_W I) = C Z^T`` (Cholesky, or the SVD when
    ``alpha_W = 0``), for the cross-entropy Newton's method, warm-started from
    the ``W`` of the last iterate (see :mod:`nnlib.optim.inner`).

    **Reduced gradient.**  Because ``grad_W f(theta, W(theta)) = 0``,
    ``grad phi(theta) = grad_theta f(theta, W(theta))``: the ``dW/dtheta``
    term drops out, as accurately as the inner problem is solved.

    **Reduced Gauss-Newton models.**  With ``S = W(theta) Z(theta)``, ``dZ = mat(J v)``
    and ``H_S`` the Hessian of the loss in ``S``, the derivative of the optimality
    condition ``H_S(S - ...) ... : grad_W f = 0`` gives
    ``dW = -H_WW^{-1} (H_S[W dZ] Z^T + G dZ^T)`` with ``G = dE/dS`` and ``H_WW``
    the Hessian in ``W``.  The reduced Jacobian is ``dS = W dZ + dW Z`` and the
    Gauss-Newton operator ``J_red^T H_S J_red + alpha I``:

    * ``"golub-pereyra"``: all of it (Golub and Pereyra, 1973);
    * ``"kaufman"``: without the term ``G dZ^T``, which is proportional to the
      residual (Kaufman, 1975).  Then ``dS`` is ``W dZ`` minus its part that a change
      of ``W`` can absorb, a projection in the metric of ``H_S``.  For least
      squares this is ``dS = (W dZ) P`` with ``P = I - Z^T (Z Z^T + n alpha_W I)^{-1} Z``
      and the operator ``v -> J^T vec(W^T (W mat(J v)) P^2) / n + alpha v``;
    * ``"none"``: ``dS = W dZ``.

    For the cross-entropy each product of the projected operators solves with
    the factored ``H_WW`` twice (Newton inner solve) and costs
    ``6 t m n`` multiply-adds (``7 t m n`` with Golub-Pereyra) besides the two passes.

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
    * cross-entropy: ``2 t m n`` per gradient (``W Z``, ``G Z^T``), ``t m n`` per
      line-search value, ``t (t - 1) m^2 n / 2`` per Hessian formed (Newton) or
      ``2 t m n`` per Hessian product (Newton-CG);
    * Kaufman operator, least squares: ``3 m^2 n`` to form its projection factors
      (Cholesky; none with the SVD), then ``2 r t n`` per product (``R L^T``,
      ``(R L^T) T``);
    * Golub-Pereyra operator, least squares: ``t m n + m^2 n`` to set up
      (``R = W Z - C`` and ``M^{-1} Z``; ``m r n`` for ``M^+ Z`` with the SVD),
      then ``(4 r + 4 m) t n`` per product.

    Terms that do not grow with ``n`` (factorizing small matrices) and
    elementwise operations (the loss and its derivatives) are not counted.
    The dense matrix of :meth:`gauss_newton_matrix` is counted by the
    objective: its explicit Jacobian rows (one pass per target, two for
    Golub-Pereyra) and its multiply-adds over ``n * n_theta``.
    """

    def __init__(
        self,
        objective,
        jacobian="auto",
        inner="auto",
        inner_gtol=1e-10,
        inner_rtol=1e-3,
        inner_max_iter=20,
        inner_cg_rtol=1e-2,
        inner_cg_max_iter=50,
        W0=None,
        inner_trial_iter=1,
        predict=True,
        reuse_hessian=True,
    ):
        if not isinstance(objective, LinearHeadObjective):
            raise TypeError(
                "variable projection needs an objective with a linear last layer (a LinearHeadObjective); "
                f"got {type(objective).__name__}"
            )
        if not isinstance(objective.loss, (LeastSquares, SoftmaxCrossEntropy)):
            raise ValueError(
                "variable projection solves for W with least squares or the softmax cross-entropy; "
                f"got {type(objective.loss).__name__}"
            )
        if jacobian not in JACOBIANS:
            raise ValueError(f"jacobian must be one of {', '.join(map(repr, JACOBIANS))}; got {jacobian!r}")
        if inner not in ("auto", "newton", "newton-cg"):
            raise ValueError(f"inner must be 'auto', 'newton' or 'newton-cg'; got {inner!r}")
        self.objective = objective
        self.least_squares = isinstance(objective.loss, LeastSquares)
        unknowns = objective.W_shape[0] * objective.W_shape[1]
        self.inner = "newton" if inner == "auto" and unknowns <= NEWTON_MAX_UNKNOWNS else (
            "newton-cg" if inner == "auto" else inner)
        if jacobian == "auto":
            jacobian = "none" if not self.least_squares and self.inner == "newton-cg" else "kaufman"
        self.jacobian = jacobian
        self.inner_gtol = check_nonnegative(inner_gtol, "inner_gtol")
        self.inner_rtol = check_nonnegative(inner_rtol, "inner_rtol")
        self.inner_max_iter = check_max_iter(inner_max_iter, "inner_max_iter")
        self.inner_cg_rtol = check_nonnegative(inner_cg_rtol, "inner_cg_rtol")
        self.inner_cg_max_iter = check_max_iter(inner_cg_max_iter, "inner_cg_max_iter")
        self.inner_trial_iter = check_max_iter(inner_trial_iter, "inner_trial_iter")
        self.predict = bool(predict)
        self.reuse_hessian = bool(reuse_hessian)
        self.n_params = objective.n_theta
        self.n_examples = objective.n_examples
        self.inner_work = 0.0
        self.inner_iterations = 0
        self._W_first = (np.zeros(objective.W_shape) if W0 is None
                         else np.array(W0, dtype=float).reshape(objective.W_shape))
        self._solved = None  # (theta, solution) of the last theta solved for
        # The same for the last theta whose gradient was asked for: an outer solver asks only at its
        # iterates, never at rejected trials, so this is the accepted iterate.  Its W warm-starts the
        # next inner solves and is the W that full_x returns, so a run's x carries the W that
        # produced its reported loss, whatever trials came after.
        self._anchor = None
        self._anchor_gradient_norm = None

    def _charge(self, multiply_adds):
        """Add dense work over the examples to ``inner_work`` (the objective's formula)."""
        self.inner_work += self.objective.dense_units(multiply_adds)

    @property
    def work_units(self):
        """Network passes counted by the objective plus ``inner_work``."""
        return self.objective.work_units + self.inner_work

    # ------------------------------------------------------------ inner solve
    def _solution(self, theta, accurate=True):
        """The inner solution object at ``theta`` (cached for the last theta and the last iterate).

        Cross-entropy: with ``accurate=False`` (line-search trials, through :meth:`value`)
        at most ``inner_trial_iter`` Newton iterations are taken; the value
        ``f(theta, W)`` at such a ``W`` is an upper bound of ``phi(theta)``, so a
        trial that passes the outer line search with it passes with ``phi`` too.
        An accurate solve at the same ``theta`` continues from there.
        """
        cached = None
        if self._solved is not None and np.array_equal(self._solved[0], theta):
            cached = self._solved[1]
        elif self._anchor is not None and np.array_equal(self._anchor[0], theta):
            self._solved = self._anchor
            cached = self._solved[1]
        if cached is not None and (not accurate or getattr(cached, "accurate", True)):
            return cached
        theta = np.array(theta, dtype=float)
        Z = self.objective.features(theta)
        C = self.objective.C
        if self.least_squares:
            solution = solve_least_squares(Z, C, Z.shape[1] * self.objective.reg_W, self._charge)
        else:
            if cached is not None:
                warm = cached.W  # refine the trial's W
            elif self._anchor is None:
                warm = self._W_first
            elif self.inner == "newton" and self.predict:
                warm = self._anchor[1].predict_W(Z)  # W moves with the features: follow it to first order
            else:
                warm = self._anchor[1].W
            if self._anchor_gradient_norm is None:
                scale = float(np.linalg.norm(self._softmax_gradient_W(Z, warm)))
            else:
                scale = self._anchor_gradient_norm
            gtol = max(self.inner_gtol, self.inner_rtol * scale)
            budget = self.inner_max_iter if accurate else min(self.inner_trial_iter, self.inner_max_iter)
            if self.inner == "newton":
                # From the last iterate: its damping, and its Hessian as the first (lagged) one
                source = cached if cached is not None else (None if self._anchor is None else self._anchor[1])
                damping = 1e-3 if source is None else source.damping
                hessian0 = None if source is None else (
                    source.hessian if source.hessian is not None else source.last_hessian)
                solution = SoftmaxNewton(Z, C, self.objective.reg_W, warm, gtol, budget, self._charge,
                                         damping=damping, hessian0=hessian0, reuse_last=self.reuse_hessian)
            else:
                solution = SoftmaxNewtonCG(Z, C, self.objective.reg_W, warm, gtol, budget,
                                           self._charge, self.inner_cg_rtol, self.inner_cg_max_iter)
            solution.accurate = accurate or solution.gradient_norm <= gtol
            self.inner_iterations += solution.iterations
        solution.W.setflags(write=False)
        self._solved = (theta, solution)
        return solution

    def _softmax_gradient_W(self, Z, W):
        n = Z.shape[1]
        self._charge(2 * W.shape[0] * Z.shape[0] * n)
        S = W @ Z
        P = np.exp(S - S.max(axis=0, keepdims=True))
        P /= P.sum(axis=0, keepdims=True)
        return (P - self.objective.C) @ Z.T / n + self.objective.reg_W * W

    def inner_solution(self, theta):
        """The accurate inner solve at ``theta`` (cached like :meth:`solve_W`): a
        :mod:`nnlib.optim.inner` solution object, with ``W`` and, for the cross-entropy,
        ``iterations``, ``hessians`` (formed) and ``gradient_norm``."""
        return self._solution(theta)

    def solve_W(self, theta):
        """``W(theta) = argmin_W f(theta, W)`` (read-only, accurate to the inner tolerance).

        Cached for the last ``theta`` and for the last iterate (the last ``theta``
        passed to :meth:`value_and_gradient`), whose ``W`` also warm-starts the
        cross-entropy solve.
        """
        return self._solution(theta).W

    # ------------------------------------------------------- reduced problem
    def full_x(self, theta):
        """``x = (theta, W(theta))`` for the full objective."""
        return self.objective.join(theta, self.solve_W(theta))

    def value(self, theta):
        """``phi(theta) = f(theta, W(theta))``; for the cross-entropy an upper bound
        ``f(theta, W)`` after at most ``inner_trial_iter`` Newton iterations (see ``_solution``)."""
        W = self._solution(theta, accurate=False).W
        return self.objective.value(self.objective.join(theta, W))

    def value_and_gradient(self, theta):
        """``phi(theta)`` and ``grad phi(theta) = grad_theta f(theta, W(theta))``.

        Outer solvers call it at their iterates only, so ``theta`` becomes the
        anchor: the point whose ``W`` warm-starts later inner solves and is
        returned by :meth:`full_x`, and whose gradient norm sets the inner tolerance.
        """
        value, gradient = self.objective.value_and_gradient(self.full_x(theta))
        gradient = gradient[: self.n_params]
        self._anchor = self._solved
        self._anchor_gradient_norm = float(np.linalg.norm(gradient))
        return value, gradient

    def gauss_newton_operator(self, theta):
        """Gauss-Newton matrix of the reduced problem (see the class Notes)."""
        solution = self._solution(theta)
        W = solution.W
        if self.jacobian == "none":
            return self.objective.gauss_newton_theta(theta, W)
        if not self.least_squares:
            return self._softmax_operator(theta, solution)
        if self.jacobian == "golub-pereyra":
            return self._golub_pereyra_operator(theta, solution)
        objective = self.objective
        Z = solution.Z
        J = objective.jacobian_theta(theta)
        m, n = Z.shape
        left, right = solution.projection_factors(self._charge)
        projection = 2 * left.shape[0] * W.shape[0] * n  # multiply-adds of R - (R L^T) T

        def matvec(v):
            v = np.ravel(v)
            R = forward_outer(J, W, v, (m, n))
            R = R - (R @ left.T) @ right  # R P^2 in two skinny products
            objective.count_passes(2)
            self._charge(projection)
            return backward_outer(J, W, R) / n + objective.reg_theta * v

        return LinearOperator((self.n_params, self.n_params), matvec=matvec, rmatvec=matvec, dtype=Z.dtype)

    def _golub_pereyra_operator(self, theta, solution):
        objective = self.objective
        W, Z = solution.W, solution.Z
        J = objective.jacobian_theta(theta)
        m, n = Z.shape
        n_targets = W.shape[0]
        R = W @ Z - objective.C
        self._charge(n_targets * m * n)
        left, right, N = solution.residual_factors(self._charge)
        # two projections (2 r t n each), dZ R^T, (dZ R^T)^T N, N dS^T and the extra t rows of the backward pass
        extra = (4 * left.shape[0] + 4 * m) * n_targets * n

        def project(X):
            return X - (X @ left.T) @ right

        def matvec(v):
            v = np.ravel(v)
            dZ = J.matvec(v).reshape(m, n)
            dS = project(W @ dZ) - (dZ @ R.T).T @ N  # (W dZ) P - R dZ^T M^{-1} Z
            U = N @ dS.T  # adjoint of the second term: -J^T vec(U R)
            objective.count_passes(2)
            self._charge(extra)
            back = backward_outer(J, np.vstack([W, -U.T]), np.vstack([project(dS), R]))
            return back / n + objective.reg_theta * v

        return LinearOperator((self.n_params, self.n_params), matvec=matvec, rmatvec=matvec, dtype=Z.dtype)

    def _softmax_operator(self, theta, solution):
        """Reduced Gauss-Newton operator of the cross-entropy: ``dS = W dZ + dW Z`` (class Notes)."""
        objective = self.objective
        W, Z, P = solution.W, solution.Z, solution.P
        J = objective.jacobian_theta(theta)
        m, n = Z.shape
        t = W.shape[0]
        full = self.jacobian == "golub-pereyra"
        G = (P - objective.C) / n  # dE/dS

        def hessian_S(X):  # per-example (diag(p) - p p^T) x / n
            PX = P * X
            return (PX - P * PX.sum(axis=0, keepdims=True)) / n

        def matvec(v):
            v = np.ravel(v)
            dZ = J.matvec(v).reshape(m, n)
            A = W @ dZ
            rhs = hessian_S(A) @ Z.T
            if full:
                rhs = rhs + G @ dZ.T
            dS = A - solution.hessian_solve(rhs) @ Z
            U = hessian_S(dS)
            V = -solution.hessian_solve(U @ Z.T)
            back_A = U + hessian_S(V @ Z)
            objective.count_passes(2)
            self._charge((7 if full else 6) * t * m * n)
            if full:
                back = backward_outer(J, np.vstack([W, V]), np.vstack([back_A, G]))
            else:
                back = backward_outer(J, W, back_A)
            return back + objective.reg_theta * v

        return LinearOperator((self.n_params, self.n_params), matvec=matvec, rmatvec=matvec, dtype=Z.dtype)

    def gauss_newton_matrix(self, theta):
        """The matrix of :meth:`gauss_newton_operator` as a dense array (least squares only).

        With ``R_t`` the explicit rows ``d S[t, :] / d theta`` (shape
        ``(n_theta, n)``) and ``P^2 = I - L^T Q L`` (the solution's
        ``projection_middle``), the Kaufman matrix is
        ``sum_t (R_t R_t^T - B_t Q B_t^T) / n + alpha I`` with
        ``B_t = R_t L^T``: two BLAS-3 products over the examples, no
        ``n x n`` matrix.  Work: the explicit rows plus the multiply-adds,
        counted by the objective (see :mod:`nnlib.objective`).
        """
        if not self.least_squares:
            raise ValueError("the dense reduced Gauss-Newton matrix is implemented for least squares only "
                             "(use the matrix-free gauss_newton_operator, outer='gauss_newton')")
        solution = self._solution(theta)
        objective = self.objective
        x = objective.join(theta, solution.W)
        rows = objective.scores_jacobian_theta(x)
        n_targets, p, n = rows.shape
        if self.jacobian == "golub-pereyra":
            H = self._golub_pereyra_matrix(theta, solution, rows)
        else:
            projected = self.jacobian == "kaufman"
            H = np.zeros((p, p), dtype=rows.dtype)
            if projected:
                L, Q = solution.projection_middle()
                r = L.shape[0]
            for t in range(n_targets):
                R = rows[t]
                H += R @ R.T
                if projected:
                    B = R @ L.T
                    H -= B @ Q @ B.T
            objective.count_dense(n * n_targets * (p * p + (p * r if projected else 0)))
        H /= n
        H[np.arange(p), np.arange(p)] += objective.reg_theta
        return H

    def _golub_pereyra_matrix(self, theta, solution, rows):
        """``sum_t A_t A_t^T`` with ``A_t = F_t - X_t L`` the rows of the full reduced Jacobian.

        ``F_t`` are the rows ``d S[t] / d theta``, ``Q_t = d (Z r_t) / d theta``
        and ``B_t = F_t L^T``; the solution gives ``L`` and ``X_t``
        (``golub_pereyra_basis``, ``golub_pereyra_rows``).  Then
        ``A_t A_t^T = F_t F_t^T - B_t X_t^T - X_t B_t^T + X_t (L L^T) X_t^T``.
        """
        objective = self.objective
        Z, W = solution.Z, solution.W
        m, n = Z.shape
        R = W @ Z - objective.C
        Q = objective.features_contracted_jacobian(theta, R)
        L, G = solution.golub_pereyra_basis()
        n_targets, p, _ = rows.shape
        H = np.zeros((p, p), dtype=rows.dtype)
        for t in range(n_targets):
            F = rows[t]
            B = F @ L.T
            X = solution.golub_pereyra_rows(B, Q[t].T)
            BX = B @ X.T
            H += F @ F.T - BX - BX.T + X @ G @ X.T
        objective.count_dense(n * n_targets * (p * p + p * L.shape[0] + m))  # and R = W Z - C
        return H


@with_threads_by_size
def varpro(
    objective,
    x0,
    outer="auto",
    max_iter=50,
    target_loss=None,
    jacobian="auto",
    inner="auto",
    inner_gtol=1e-10,
    inner_rtol=1e-3,
    inner_max_iter=20,
    inner_cg_rtol=1e-2,
    inner_cg_max_iter=50,
    inner_trial_iter=1,
    callback=None,
    **outer_options,
):
    """Train ``(theta, W)`` by variable projection: ``W = W(theta)`` solved inside.

    Parameters
    ----------
    objective : LinearHeadObjective
    x0 : ndarray, shape (n_params,) or (n_theta,)
        Starting point; only its ``theta`` part matters (a given ``W`` part
        warm-starts the first cross-entropy solve).
    outer : {"auto", "gauss_newton", "levenberg_marquardt", "steepest"}, default "auto"
        Solver for the reduced problem in ``theta``: Gauss-Newton-CG with a line
        search, Levenberg-Marquardt (least squares: on the dense reduced
        Gauss-Newton matrix; cross-entropy: matrix-free, CG on the damped
        operator), or steepest descent.  ``"auto"`` is Levenberg-Marquardt for
        the cross-entropy with a projected reduced Jacobian (Kaufman's or
        Golub-Pereyra's) and Gauss-Newton otherwise; see Notes.
    max_iter : int, default 50
        Outer iterations.
    target_loss : float, optional
        Stop as soon as the loss is at most this.
    jacobian : {"auto", "kaufman", "golub-pereyra", "none"}, default "auto"
        The reduced Jacobian of the Gauss-Newton model (see :class:`ReducedObjective`).
    inner : {"auto", "newton", "newton-cg"}, default "auto"
        The cross-entropy solve for ``W`` (see :class:`ReducedObjective`).
    inner_gtol, inner_rtol, inner_max_iter, inner_cg_rtol, inner_cg_max_iter, inner_trial_iter
        Accuracy and budget of the cross-entropy solve (see :class:`ReducedObjective`).
    callback : callable, optional
        ``callback(x_k)`` with the full ``x_k = (theta_k, W(theta_k))`` after
        every outer iterate (``W(theta_k)`` is the inner solution already
        computed for ``theta_k``); return ``True`` to stop (``Status.CALLBACK``).
    **outer_options
        Passed on to the outer solver (``gtol``, ``gtol_abs``, ``cg_rtol``,
        ``cg_max_iter``, ``step0``, ...; ``damping`` defaults to ``"marquardt"``
        for Levenberg-Marquardt).

    Returns
    -------
    OptimizeResult
        ``x`` is the full vector ``(theta, W(theta))``: the ``W`` that produced
        the reported loss.  The work units include the inner solves; the extra
        attributes ``inner_work`` (their share of the work units) and
        ``inner_iterations`` (Newton iterations for ``W``) say how much.

    Notes
    -----
    The reduced problem ``min_theta phi(theta)``, ``phi(theta) = min_W f(theta, W)``,
    has fewer unknowns and is often much better conditioned than the joint
    problem: the optimal ``W`` is recomputed for every ``theta`` instead of
    being learned slowly alongside it (Newman, Ruthotto, Hart, van Bloemen
    Waanders, "Train like a (Var)Pro", SIMODS 2021).

    Why the cross-entropy takes damping: its projected reduced Gauss-Newton
    model underestimates the curvature of ``phi`` (Chapter 4 measures it).  On
    peaks classification (5 classes, width 16, at most 10 CG steps)
    Gauss-Newton's line search accepted steps of 1/8 (Golub-Pereyra) and 1/16
    to 1/64 (Kaufman) of the model's step at almost every iteration.
    Levenberg-Marquardt damping turns the step towards the gradient instead of
    only shortening it: with at most 48 CG steps it needed less work to Adam's
    validation accuracy than the line search on all five seeds of
    ``benchmarks/classification`` (about half or less on three of them).  With
    ``jacobian="none"`` the line search accepted the full step at every
    iteration on the same problem, so Gauss-Newton is kept there.
    """
    if outer not in ("auto", "gauss_newton", "levenberg_marquardt", "steepest"):
        raise ValueError(
            f"outer must be 'auto', 'gauss_newton', 'levenberg_marquardt' or 'steepest'; got {outer!r}")
    if not isinstance(objective, LinearHeadObjective):
        raise TypeError(
            "varpro needs an objective whose last layer is linear (a LinearHeadObjective); "
            f"got {type(objective).__name__}"
        )
    if inner in ("direct", "cg"):
        raise ValueError(
            f"inner={inner!r} is the Gauss-Newton solve of gauss_newton(); in varpro, inner chooses the solve "
            "for W ('auto', 'newton', 'newton-cg') and the dense Gauss-Newton solve is outer='levenberg_marquardt'"
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
        objective, jacobian=jacobian, inner=inner, inner_gtol=inner_gtol, inner_rtol=inner_rtol,
        inner_max_iter=inner_max_iter, inner_cg_rtol=inner_cg_rtol, inner_cg_max_iter=inner_cg_max_iter, W0=W0,
        inner_trial_iter=inner_trial_iter,
    )
    if outer == "auto":
        projected = not reduced.least_squares and reduced.jacobian != "none"
        outer = "levenberg_marquardt" if projected else "gauss_newton"
    if outer == "levenberg_marquardt" and reduced.least_squares:
        # The reduced unknowns are all theta, whose sensitivities differ by orders of magnitude
        # (a neuron with a small output weight barely matters): scale-invariant damping.
        outer_options.setdefault("damping", "marquardt")
        solver = levenberg_marquardt
    elif outer == "levenberg_marquardt":
        outer_options.setdefault("inner", "cg")  # no dense reduced matrix for the cross-entropy
        solver = levenberg_marquardt
    else:
        solver = gauss_newton if outer == "gauss_newton" else steepest_descent
    if callback is not None:
        check_callback(callback)
        outer_options["callback"] = lambda theta: callback(reduced.full_x(theta))
    result = solver(reduced, x0[:n_theta], max_iter=max_iter, target_loss=target_loss, **outer_options)
    result.x = reduced.full_x(result.x)
    result.inner_work = reduced.inner_work
    result.inner_iterations = reduced.inner_iterations
    return result
