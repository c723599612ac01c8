"""The one result type every solver returns, and the bookkeeping that fills it.

A solver creates a :class:`Recorder` when it starts, calls
:meth:`Recorder.record` once per iterate (and :meth:`Recorder.notify`, which
shows the iterate to the user's ``callback``), and ends with
:meth:`Recorder.finish`.  Wall time is measured with
``time.perf_counter()`` from the moment the recorder was created; work
units are read from the objective's ``work_units`` counter, so a solver never
counts its own work and cannot miscount it.
"""

import time
from dataclasses import asdict, dataclass, field
from enum import IntEnum

import numpy as np

__all__ = [
    "Status",
    "STATUS_MESSAGES",
    "History",
    "OptimizeResult",
    "Recorder",
    "check_callback",
    "diverged_detail",
    "nan_gradient_detail",
]


class Status(IntEnum):
    """Why a solver stopped.  ``CONVERGED``, ``TARGET_REACHED`` and ``CALLBACK`` are successes.

    The integer values are those of earlier versions (0 to 4), so ``status == 0``
    still means converged.  ``CALLBACK`` (5): the user's callback asked to stop.
    """

    CONVERGED = 0
    MAX_ITER = 1
    TARGET_REACHED = 2
    LINE_SEARCH_FAILED = 3
    DIVERGED = 4
    CALLBACK = 5


#: what each status says, the start of every result's ``message``
STATUS_MESSAGES = {
    Status.CONVERGED: "converged: gradient norm below the tolerance",
    Status.MAX_ITER: "maximum number of iterations reached (not converged)",
    Status.TARGET_REACHED: "target loss reached",
    Status.LINE_SEARCH_FAILED: "line search failed to find sufficient decrease",
    Status.DIVERGED: "diverged",
    Status.CALLBACK: "stopped by the callback",
}


@dataclass
class History:
    """Per-iterate record of a run; entry ``k`` describes iterate ``x_k``.

    Attributes
    ----------
    loss : list of float
        Objective value at ``x_k`` (for mini-batch solvers: the mini-batch
        loss, except for the last entry, which is the full training loss).
    grad_norm : list of float
        Euclidean norm of the (mini-batch) gradient at ``x_k``; ``nan`` where
        it was not computed.
    step : list of float
        Length ``||x_k - x_{k-1}||`` of the step that produced ``x_k``
        (0 for ``x_0``).
    time : list of float
        Seconds since the solver started (``time.perf_counter``).
    work : list of float
        Work units spent so far; one unit is one forward or one backward pass
        over the whole training set.
    inner_iter : list of int
        Inner iterations (CG steps) spent to produce ``x_k``.
    """

    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    step: list = field(default_factory=list)
    time: list = field(default_factory=list)
    work: list = field(default_factory=list)
    inner_iter: list = field(default_factory=list)

    def __len__(self):
        return len(self.loss)

    def to_dict(self):
        """Plain dict of lists (JSON friendly)."""
        return {key: [float(v) for v in values] for key, values in asdict(self).items()}

    def first_reaching(self, target):
        """Index of the first entry with ``loss <= target``, or ``None``."""
        for k, value in enumerate(self.loss):
            if value <= target:
                return k
        return None


@dataclass
class OptimizeResult:
    """Outcome of a solver, in the spirit of ``scipy.optimize.OptimizeResult``.

    Attributes
    ----------
    x : ndarray
        Final iterate.
    loss : float
        Objective value at ``x``.
    n_iter : int
        Number of iterations (updates of ``x``) performed.
    status : Status
        Why the run stopped (an ``IntEnum``): ``CONVERGED`` (0), ``MAX_ITER``
        (1), ``TARGET_REACHED`` (2), ``LINE_SEARCH_FAILED`` (3), ``DIVERGED`` (4),
        ``CALLBACK`` (5).
    message : str
        Human-readable reason for stopping.
    success : bool
        ``True`` exactly when a stopping test was met: the gradient test
        (``CONVERGED``), the target loss (``TARGET_REACHED``) or the user's
        callback (``CALLBACK``).  As in scipy, running out of iterations is
        not success.
    history : History
        Per-iterate loss, gradient norm, step, time and work units.
    """

    x: np.ndarray
    loss: float
    n_iter: int
    status: int
    message: str
    success: bool
    history: History

    @property
    def work_units(self):
        """Total work units of the run."""
        return self.history.work[-1] if self.history.work else 0.0

    @property
    def wall_time(self):
        """Total wall-clock seconds of the run."""
        return self.history.time[-1] if self.history.time else 0.0

    def __repr__(self):
        return (
            f"OptimizeResult(status={self.status.name}, success={self.success}, message={self.message!r}, "
            f"loss={self.loss:.6g}, n_iter={self.n_iter}, work_units={self.work_units:.1f}, "
            f"wall_time={self.wall_time:.3g}s)"
        )


def check_callback(callback):
    """``None`` or a callable ``callback(x)``; anything else is a ValueError."""
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be a function x -> bool (or None); got {type(callback).__name__}")
    return callback


class Recorder:
    """Timer, work counter and history of one solver run.

    Parameters
    ----------
    objective : object with a ``work_units`` attribute
        The counter is read, never written.
    callback : callable, optional
        ``callback(x)`` is shown every iterate by :meth:`notify`; a true
        return value asks the solver to stop (``Status.CALLBACK``).  Its time
        is not counted in ``history.time`` (e.g. measuring the test accuracy
        is not training).  Work it causes through the objective is counted: a
        callback should evaluate other data, not the objective.
    """

    def __init__(self, objective, callback=None):
        self.objective = objective
        self.callback = check_callback(callback)
        self.start_time = time.perf_counter()
        self.callback_time = 0.0
        self.start_work = float(objective.work_units)
        self.history = History()

    def notify(self, x):
        """Show the current iterate ``x`` to the callback; ``True`` if it asks to stop."""
        if self.callback is None:
            return False
        start = time.perf_counter()
        try:
            return bool(self.callback(x))
        finally:
            self.callback_time += time.perf_counter() - start

    def record(self, loss, grad_norm=np.nan, step=0.0, inner_iter=0):
        """Append one entry describing the current iterate."""
        h = self.history
        h.loss.append(float(loss))
        h.grad_norm.append(float(grad_norm))
        h.step.append(float(step))
        h.time.append(time.perf_counter() - self.start_time - self.callback_time)
        h.work.append(float(self.objective.work_units) - self.start_work)
        h.inner_iter.append(int(inner_iter))

    def finish(self, x, loss, n_iter, status, detail=""):
        """Build the :class:`OptimizeResult`; ``detail`` is appended to the message.

        ``x`` is copied, so the result never shares memory with the solver's
        state or an objective's cache.
        """
        status = Status(status)
        message = STATUS_MESSAGES[status] + (f": {detail}" if detail else "")
        return OptimizeResult(
            x=np.array(x, copy=True),
            loss=float(loss),
            n_iter=int(n_iter),
            status=status,
            message=message,
            success=status in (Status.CONVERGED, Status.TARGET_REACHED, Status.CALLBACK),
            history=self.history,
        )


def diverged_detail(iteration, loss):
    """Message part for a run whose loss stopped being finite or grew without bound."""
    return (
        f"the loss became {loss} at iteration {iteration}; "
        "reduce the step size or learning rate"
    )


def nan_gradient_detail(iteration, loss):
    """Message part for a run whose gradient stopped being finite while the loss is finite."""
    return (
        f"the gradient became NaN or infinite at iteration {iteration} (the loss is still finite, {loss:.6g}); "
        "check the objective's gradient, or reduce the step size or learning rate"
    )
