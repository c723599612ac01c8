"""nnlib: the tested numerical library behind "Numerical Methods for Deep Learning".

Modules by role: :mod:`nnlib.activations`, :mod:`nnlib.layers`,
:mod:`nnlib.parametric`, :mod:`nnlib.conv`, :mod:`nnlib.networks`, :mod:`nnlib.normalization`, :mod:`nnlib.losses`,
:mod:`nnlib.objective`, :mod:`nnlib.optim`, :mod:`nnlib.checks`,
:mod:`nnlib.data`, :mod:`nnlib.models`, :mod:`nnlib.interactive`, :mod:`nnlib.report`, :mod:`nnlib.threads`,
:mod:`nnlib.bench`.
Data matrices are ``(n_features, n_examples)``.
"""

from . import (
               activations,
               checks,
               conv,
               data,
               exercises,
               layers,
               losses,
               networks,
               normalization,
               objective,
               optim,
               parametric,
               report,
               threads,
)
from .checks import adjoint_test, taylor_test
from .layers import Dense, Layer
from .losses import LeastSquares, MulticlassHinge, SoftmaxCrossEntropy
from .networks import Residual, Sequential
from .normalization import BatchNorm, Dropout
from .objective import LinearHeadObjective, SingleLayerObjective
from .optim import OptimizeResult

__version__ = "0.1.0"

__all__ = [
    "activations",
    "checks",
    "conv",
    "data",
    "exercises",
    "layers",
    "losses",
    "networks",
    "normalization",
    "objective",
    "optim",
    "parametric",
    "report",
    "threads",
    "Dense",
    "Layer",
    "LeastSquares",
    "SoftmaxCrossEntropy",
    "MulticlassHinge",
    "Sequential",
    "Residual",
    "BatchNorm",
    "Dropout",
    "LinearHeadObjective",
    "SingleLayerObjective",
    "OptimizeResult",
    "adjoint_test",
    "taylor_test",
]
