"""Validation of solver settings: every bad setting is a ValueError that says why."""

import numbers

import numpy as np

from .._validation import check_rng  # noqa: F401  -- re-exported for the solvers


def check_positive(value, name):
    """A finite number > 0, such as a learning rate or an initial step."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)


def check_learning_rate(learning_rate):
    """A step size ``eta > 0`` or a schedule ``k -> eta_k``; returns the schedule.

    A callable is checked at every step it is asked for, so a schedule that
    reaches zero or a negative or infinite step stops with a ValueError naming
    the step ``k``.
    """
    if callable(learning_rate):
        return lambda k: check_positive(learning_rate(k), f"learning_rate({k})")
    eta = check_positive(learning_rate, "learning_rate")
    return lambda k: eta


def check_nonnegative(value, name):
    """A finite number >= 0, such as a tolerance or a regularization weight."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    return float(value)


def check_open_unit(value, name):
    """A number in (0, 1), such as Armijo's c1 or a backtracking factor."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value!r}")
    return float(value)


def check_unit_interval(value, name):
    """A number in [0, 1), such as a momentum coefficient."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must lie in [0, 1); got {value!r}")
    return float(value)


def check_max_iter(value, name="max_iter"):
    """A non-negative integer iteration budget."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def check_target(value):
    """``None`` or a finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"target_loss must be a finite number or None; got {value!r}")
    return float(value)


def check_objective(objective, needs=("value", "value_and_gradient")):
    """The objective offers the methods a solver calls and a ``work_units`` counter."""
    missing = [name for name in needs + ("work_units", "n_params") if not hasattr(objective, name)]
    if missing:
        raise ValueError(
            f"objective must offer {', '.join(needs)}, work_units and n_params; "
            f"{type(objective).__name__} lacks {', '.join(missing)}"
        )
    return objective


def check_start(x0, objective):
    """A finite starting vector of length ``objective.n_params``; returned as a float copy."""
    x0 = np.array(x0, dtype=np.float64 if np.asarray(x0).dtype.kind != "f" else np.asarray(x0).dtype)
    if x0.ndim != 1 or x0.size != objective.n_params:
        raise ValueError(
            f"x0 must be a 1-D array of length n_params = {objective.n_params}; got shape {x0.shape}"
        )
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be finite")
    return x0
