"""Validation of solver settings: every bad setting is a ValueError that says why."""

import numpy as np

# The number checks live in the one validation module; re-exported here for the solvers.
from .._validation import (  # noqa: F401
    check_nonnegative,
    check_nonnegative_int,
    check_number,
    check_open_unit,
    check_positive,
    check_rng,
    check_unit_interval,
)


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


def check_max_iter(value, name="max_iter"):
    """A non-negative integer iteration budget."""
    return check_nonnegative_int(value, name)


def check_target(value):
    """``None`` or a finite number."""
    return None if value is None else check_number(value, "target_loss")


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
