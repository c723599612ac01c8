"""nnlib: the tested numerical library behind "Numerical Methods for Deep Learning".

Modules by role: :mod:`nnlib.activations`, :mod:`nnlib.layers`,
:mod:`nnlib.losses`, :mod:`nnlib.checks`, :mod:`nnlib.data`,
:mod:`nnlib.interactive`.  Data matrices are ``(n_features, n_examples)``.
"""

from . import activations, checks, conv, data, layers, losses, parametric
from .checks import adjoint_test, taylor_test
from .layers import Dense, Layer
from .losses import LeastSquares, SoftmaxCrossEntropy

__version__ = "0.1.0"

__all__ = [
    "activations",
    "checks",
    "data",
    "layers",
    "losses",
    "Dense",
    "Layer",
    "LeastSquares",
    "SoftmaxCrossEntropy",
    "adjoint_test",
    "taylor_test",
]
