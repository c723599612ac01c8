"""Shared test configuration: a headless matplotlib backend and finite differences.

All randomness in the suite comes from explicit ``np.random.default_rng(seed)``
generators with fixed seeds; nothing touches NumPy's global random state.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    """Do not let figures from one test leak into the next."""
    yield
    plt.close("all")


def _central_difference_jacobian(f, x, eps=1e-6):
    """Full Jacobian of ``vec(f(x))`` with respect to ``vec(x)``, column by column.

    Column ``k`` is ``(f(x + eps e_k) - f(x - eps e_k)) / (2 eps)``: error
    ``O(eps^2)`` from truncation plus ``O(u / eps)`` from rounding.
    """
    x = np.asarray(x, dtype=np.float64)
    f0 = np.ravel(np.asarray(f(x)))
    J = np.empty((f0.size, x.size))
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        J[:, k] = (np.ravel(np.asarray(f(x + e))) - np.ravel(np.asarray(f(x - e)))) / (2 * eps)
    return J


@pytest.fixture
def fd_jacobian():
    """``fd_jacobian(f, x, eps=1e-6)``: central-difference Jacobian matrix (float64)."""
    return _central_difference_jacobian


def pytest_terminal_summary(terminalreporter):
    """Say how many cases the property-based solver suite generated (tests/test_optim_invariants.py)."""
    import sys

    module = sys.modules.get("test_optim_invariants") or sys.modules.get("tests.test_optim_invariants")
    if module is not None and module.CASES["count"]:
        terminalreporter.write_line(f"solver invariants: {module.CASES['count']} generated cases checked")
