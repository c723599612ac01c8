"""Derivative checks: the Taylor test and the adjoint test.

Both are used three ways: by the test suite on every layer and loss, live in
the chapters, and as graders of the students' own derivatives.
"""

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_int, check_number, check_rng

__all__ = [
    "TaylorResult",
    "taylor_test",
    "AdjointResult",
    "adjoint_test",
]


def _apply(J, v):
    """Apply a Jacobian given as LinearOperator, matrix, or function ``v -> J v``."""
    if hasattr(J, "matvec"):
        return J.matvec(v)
    if isinstance(J, np.ndarray):
        return J @ v
    if callable(J):
        return J(v)
    raise ValueError(
        "J must be a LinearOperator, a 2-D array, or a function v -> J v; "
        f"got {type(J).__name__}"
    )


def _apply_transpose(J, u):
    if hasattr(J, "rmatvec"):
        return J.rmatvec(u)
    if isinstance(J, np.ndarray):
        return J.T @ u
    raise ValueError(
        "J must be a LinearOperator or a 2-D array (something with J^T); "
        f"got {type(J).__name__}"
    )


@dataclass
class TaylorResult:
    """Outcome of :func:`taylor_test`.

    Attributes
    ----------
    h : ndarray
        Step sizes ``h_k = h0 * 2^-k``.
    E0 : ndarray
        ``||f(x + h v) - f(x)||``, which falls like ``h``.
    E1 : ndarray
        ``||f(x + h v) - f(x) - h J v||``, which falls like ``h^2`` if ``J`` is right.
    order : ndarray
        Observed order of E1 between consecutive steps, ``log2(E1_k / E1_{k+1})``.
    roundoff : ndarray
        Level below which E1 is indistinguishable from rounding error.
    passed : bool
    message : str
        Why the test passed or failed.
    """

    h: np.ndarray
    E0: np.ndarray
    E1: np.ndarray
    order: np.ndarray
    roundoff: np.ndarray
    passed: bool
    message: str
    name: str = field(default="")

    def __bool__(self):
        return self.passed

    def table(self, digits=2):
        """The convergence table as text: h, E0, E1 and the order of E1."""
        lines = [f"{'h':>9} {'E0':>10} {'E1':>10} {'order E1':>9}"]
        for k, (h, e0, e1) in enumerate(zip(self.h, self.E0, self.E1)):
            order = f"{self.order[k - 1]:9.{digits}f}" if k > 0 else " " * 9
            lines.append(f"{h:9.2e} {e0:10.2e} {e1:10.2e} {order}")
        return "\n".join(lines)

    def __str__(self):
        head = f"Taylor test{' of ' + self.name if self.name else ''}: "
        return head + ("PASSED" if self.passed else "FAILED") + f" ({self.message})"

    def plot(self, ax=None):
        """Log-log plot of E0 and E1 against h with reference slopes 1 and 2."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        ax.loglog(self.h, self.E0, "o-", label=r"$E_0$ (zeroth order)")
        ax.loglog(self.h, np.maximum(self.E1, np.finfo(float).tiny), "s-", label=r"$E_1$ (first order)")
        ref = self.E0[0] if self.E0[0] > 0 else 1.0
        ax.loglog(self.h, ref * self.h / self.h[0], "k:", label=r"$O(h)$")
        ax.loglog(self.h, ref * (self.h / self.h[0]) ** 2, "k--", label=r"$O(h^2)$")
        ax.loglog(self.h, self.roundoff, color="0.6", lw=0.8, label="round-off level")
        ax.set_xlabel("step size $h$")
        ax.set_ylabel("error")
        ax.set_title(str(self).split(" (")[0])
        ax.legend(fontsize="small")
        return ax


def taylor_test(f, J, x, v=None, rng=None, n_steps=20, h0=1.0, min_order=1.8, name=""):
    """Check that ``J`` is the derivative of ``f`` at ``x`` along a direction ``v``.

    For ``h = h0 * 2^-k`` compare

    * ``E0(h) = ||f(x + h v) - f(x)||``, which is ``O(h)``, and
    * ``E1(h) = ||f(x + h v) - f(x) - h J v||``, which is ``O(h^2)`` only if
      ``J v`` is the directional derivative.

    Parameters
    ----------
    f : callable
        ``x -> f(x)``, any output shape (a scalar for a loss).
    J : LinearOperator, ndarray, or callable
        The claimed derivative at ``x``: something with ``matvec``, a matrix,
        or a function ``v -> J v`` (for a scalar ``f``, ``v -> grad . v``).
    x : ndarray
        Point of linearization (any shape; ``v`` has the same shape).
    v : ndarray, optional
        Direction; drawn from ``rng`` (standard normal) if not given.
    rng : numpy.random.Generator, optional
        Required when ``v`` is not given.
    n_steps : int, default 20
        Number of step sizes.
    h0 : float, default 1.0
        Largest step.
    min_order : float, default 1.8
        Order of E1 required in the asymptotic range.
    name : str
        Label used when printing.

    Returns
    -------
    TaylorResult
        Truthy when the test passed; ``table()`` and ``plot()`` show the numbers.

    Notes
    -----
    The test passes if either

    * in the last three steps where E1 is still well above round-off, its
      median observed order is at least ``min_order`` (E1 falls like h^2), or
    * E1 drops to round-off while E0 is still large, which happens when ``f``
      is linear or piecewise linear along ``v`` (ReLU) and ``J`` is exact.

    A wrong ``J`` leaves ``E1 ~ h ||(J_true - J) v||``: order 1, never at
    round-off while E0 is large, so it fails.
    """
    x = np.asarray(x)
    n_steps = check_int(n_steps, "n_steps (halvings of h; a verdict needs a few)", 4)
    # h0 below 1e-6 leaves no step where E1 is clearly above round-off and still falls like h^2
    h0 = check_number(h0, "h0 (the first step)", low=1e-6)
    min_order = check_number(min_order, "min_order (a wrong J has order 1, a right one 2)", low=1, high=2,
                             low_open=True)
    if x.size and not np.all(np.isfinite(x)):
        raise ValueError("x must be finite: the Taylor test linearizes f at x")
    if v is None:
        if rng is None:
            raise ValueError("taylor_test needs a direction v or a generator rng to draw one")
        v = check_rng(rng).standard_normal(x.shape)
    v = np.asarray(v, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    if v.shape != x.shape:
        raise ValueError(f"v must have the shape of x, {x.shape}; got shape {v.shape}")
    if not np.all(np.isfinite(v)) or (v.size and not np.any(v)):
        raise ValueError("v must be a finite, nonzero direction (along v = 0 every J passes)")
    f0 = np.asarray(f(x))
    Jv = np.asarray(_apply(J, np.ravel(v) if hasattr(J, "matvec") else v))
    if Jv.size != f0.size:
        raise ValueError(f"J v must have the size of f(x), {f0.size}; got size {Jv.size}")
    Jv = Jv.reshape(f0.shape)
    dtype = np.result_type(f0.dtype, Jv.dtype, np.float32)
    # Rounding x + h v to x's precision limits the test as much as f's own rounding:
    # a float32 x with a float64 result (a loss returned as a Python float) is float32-accurate.
    eps = max(np.finfo(d).eps for d in (dtype, x.dtype) if d.kind == "f")

    hs = h0 * 0.5 ** np.arange(n_steps)
    E0 = np.empty(n_steps)
    E1 = np.empty(n_steps)
    roundoff = np.empty(n_steps)
    norm_f0 = float(np.linalg.norm(f0))
    for k, h in enumerate(hs):
        fh = np.asarray(f(x + dtype.type(h) * v))
        E0[k] = np.linalg.norm(fh - f0)
        E1[k] = np.linalg.norm(fh - f0 - h * Jv)
        # Rounding in f(x + hv) - f(x) is a few ulps of |f| per entry.
        scale = max(norm_f0, float(np.linalg.norm(fh)), h * float(np.linalg.norm(Jv)))
        roundoff[k] = 10 * eps * max(scale, np.finfo(dtype).tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        order = np.log2(E1[:-1] / E1[1:])

    # Steps where E0 is far above round-off can tell a right J from a wrong one.
    informative = np.flatnonzero(E0 > 100 * roundoff)
    tail = informative[-3:]
    # Pairs whose smaller E1 still sits clearly above round-off show the true order.
    usable = np.flatnonzero(E1[1:] > 10 * roundoff[1:])
    # A kink of a piecewise-linear f may fall between x and x + hv at one step.
    if tail.size >= 2 and np.sum(E1[tail] <= roundoff[tail]) >= tail.size - 1:
        k = int(tail[np.argmax(E1[tail] <= roundoff[tail])])
        passed, message = True, f"E1 at round-off from h = {hs[k]:.1e} on while E0 is not"
    elif np.all(E0[-3:] <= roundoff[-3:]) and np.all(E1[-3:] <= roundoff[-3:]):
        passed, message = True, "f is locally constant along v and J v = 0"
    elif usable.size >= 2:
        observed = float(np.median(order[usable[-3:]]))
        passed = observed >= min_order
        message = f"observed order of E1 {observed:.2f}, expected 2"
    else:
        passed, message = False, "E1 never falls clearly below E0: is f differentiable, is h0 sensible?"
    return TaylorResult(hs, E0, E1, order, roundoff, bool(passed), message, name)


@dataclass
class AdjointResult:
    """Outcome of :func:`adjoint_test`: ``u^T (J v)`` against ``v^T (J^T u)``."""

    lhs: float
    rhs: float
    rel_error: float
    rtol: float
    passed: bool
    name: str = ""

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "PASSED" if self.passed else "FAILED"
        label = f" of {self.name}" if self.name else ""
        return (
            f"Adjoint test{label}: {verdict} (u'Jv = {self.lhs:.12g}, v'J'u = {self.rhs:.12g}, "
            f"relative error {self.rel_error:.1e}, tolerance {self.rtol:.0e})"
        )


def adjoint_test(J, u=None, v=None, rng=None, rtol=None, name=""):
    """Check that ``J.rmatvec`` is the transpose of ``J.matvec``.

    Parameters
    ----------
    J : LinearOperator or ndarray
        Operator of shape ``(m, p)``.
    u, v : ndarray, optional
        Vectors of length ``m`` and ``p``; drawn from ``rng`` if not given.
    rng : numpy.random.Generator, optional
        Required when ``u`` or ``v`` is not given.
    rtol : float, optional
        Relative tolerance; 1e-10 for float64 operators, 1e-4 for float32.
    name : str
        Label used when printing.

    Returns
    -------
    AdjointResult
        Truthy when ``|u^T J v - v^T J^T u| <= rtol * max(|u^T J v|, |v^T J^T u|)``.
    """
    shape = getattr(J, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(f"J must be a 2-D operator; got {type(J).__name__}")
    m, p = shape
    dtype = np.dtype(getattr(J, "dtype", np.float64))
    if rtol is None:
        rtol = 1e-4 if dtype == np.float32 else 1e-10
    # rtol = inf, or 1 and above, would pass any J
    rtol = check_number(rtol, "rtol (relative error of the adjoint test)", low=0, high=1, high_open=True)
    if (u is None or v is None) and rng is None:
        raise ValueError("adjoint_test needs vectors u and v or a generator rng to draw them")
    if rng is not None:
        check_rng(rng)
    u = rng.standard_normal(m).astype(dtype) if u is None else np.ravel(u)
    v = rng.standard_normal(p).astype(dtype) if v is None else np.ravel(v)
    if u.size != m or v.size != p:
        raise ValueError(f"u and v must have lengths {m} and {p}; got {u.size} and {v.size}")
    # Accumulate the inner products in float64 so that only J's own rounding is measured.
    lhs = float(np.dot(u.astype(np.float64), np.ravel(_apply(J, v)).astype(np.float64)))
    rhs = float(np.dot(v.astype(np.float64), np.ravel(_apply_transpose(J, u)).astype(np.float64)))
    denom = max(abs(lhs), abs(rhs), np.finfo(np.float64).tiny)
    rel = abs(lhs - rhs) / denom
    return AdjointResult(lhs, rhs, rel, rtol, bool(rel <= rtol), name)
