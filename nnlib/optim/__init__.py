"""Solvers for training: one module per method, one result type for all.

=========================== ====================================================
:func:`armijo`              backtracking line search (sufficient decrease)
:func:`conjugate_gradient`  CG for the inner Gauss-Newton / Newton systems
:func:`steepest_descent`    gradient descent with Armijo line search
:func:`sgd`                 mini-batch SGD, optional momentum / Nesterov
:func:`adam`                Adam
:func:`gauss_newton`        matrix-free Gauss-Newton-CG (full or block-diagonal)
:func:`levenberg_marquardt` Gauss-Newton with damping: dense Cholesky or matrix-free CG
:class:`ShiftedLanczos`     its CG solves for several damping values in one Krylov space
:func:`varpro`              variable projection: W eliminated, GN, LM or SD in theta
:func:`proximal_gradient`   proximal gradient (ISTA) for an l1 penalty
:func:`soft_threshold`      the proximal map of the l1 norm
=========================== ====================================================

Every solver takes an objective (see :mod:`nnlib.objective`) and a start
``x0`` and returns an :class:`OptimizeResult` whose ``history`` records loss,
gradient norm, step, wall time and work units per iterate.
"""

from .adam import adam
from .cg import CGResult, conjugate_gradient
from .gauss_newton import gauss_newton
from .levenberg_marquardt import ShiftedLanczos, levenberg_marquardt
from .linesearch import LineSearchResult, armijo
from .proximal import proximal_gradient, soft_threshold
from .result import History, OptimizeResult, Status
from .sgd import sgd
from .steepest import steepest_descent
from .varpro import NEWTON_MAX_UNKNOWNS, ReducedObjective, varpro

# In the order of the course (the API page lists them in this order).
__all__ = [
    "armijo",
    "LineSearchResult",
    "conjugate_gradient",
    "CGResult",
    "steepest_descent",
    "sgd",
    "adam",
    "gauss_newton",
    "levenberg_marquardt",
    "ShiftedLanczos",
    "varpro",
    "ReducedObjective",
    "NEWTON_MAX_UNKNOWNS",
    "proximal_gradient",
    "soft_threshold",
    "OptimizeResult",
    "Status",
    "History",
]
