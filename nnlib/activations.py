"""Element-wise activation functions with their derivatives.

Each activation is an :class:`Activation` with ``value(x)``, ``derivative(x)``
and, where the function is smooth, ``second_derivative(x)``.  Look one up by
name with :func:`get_activation`.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

__all__ = [
    "Activation",
    "tanh",
    "relu",
    "sigmoid",
    "softplus",
    "identity",
    "sign",
    "step",
    "ACTIVATIONS",
    "THRESHOLDS",
    "get_activation",
]


@dataclass(frozen=True)
class Activation:
    """An element-wise function sigma and its derivatives.

    Parameters
    ----------
    name : str
        Name used by :func:`get_activation` and in printed output.
    value : callable
        ``sigma(x)``, applied element-wise; keeps the dtype of ``x``.
    derivative : callable
        ``sigma'(x)``, element-wise.
    second_derivative : callable or None
        ``sigma''(x)``, element-wise; ``None`` where sigma is not twice
        differentiable (ReLU).
    smooth : bool
        Whether sigma is infinitely differentiable.

    Notes
    -----
    The derivative of ReLU at 0 is taken to be 0 (a sub-gradient).
    """

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    second_derivative: Optional[Callable[[np.ndarray], np.ndarray]]
    smooth: bool

    def __call__(self, x):
        return self.value(x)

    def __repr__(self):
        return f"Activation({self.name!r})"


def _tanh_prime(x):
    return 1.0 - np.tanh(x) ** 2


def _tanh_second(x):
    t = np.tanh(x)
    return -2.0 * t * (1.0 - t**2)


def _sigmoid(x):
    # Written through tanh so that large |x| neither overflows exp nor loses accuracy.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _sigmoid_prime(x):
    s = _sigmoid(x)
    return s * (1.0 - s)


def _sigmoid_second(x):
    s = _sigmoid(x)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}) is exact for large |x|.
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _relu(x):
    return np.maximum(x, 0)


def _relu_prime(x):
    return (x > 0).astype(np.asarray(x).dtype)


#: ``sigma(x) = tanh(x)``, smooth, values in ``(-1, 1)``.
#:
#: :meta hide-value:
tanh = Activation("tanh", np.tanh, _tanh_prime, _tanh_second, smooth=True)
#: ``sigma(x) = max(x, 0)``; derivative 0 at ``x = 0``, no second derivative.
#:
#: :meta hide-value:
relu = Activation("relu", _relu, _relu_prime, None, smooth=False)
#: ``sigma(x) = 1 / (1 + exp(-x))``, smooth, values in ``(0, 1)``.
#:
#: :meta hide-value:
sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_prime, _sigmoid_second, smooth=True)
#: ``sigma(x) = log(1 + exp(x))``, a smooth ReLU; its derivative is the sigmoid.
#:
#: :meta hide-value:
softplus = Activation("softplus", _softplus, _sigmoid, _sigmoid_prime, smooth=True)
#: ``sigma(x) = x`` (a linear layer); returns a copy.
#:
#: :meta hide-value:
identity = Activation(
    "identity",
    lambda x: np.array(x, copy=True),
    lambda x: np.ones_like(x),
    lambda x: np.zeros_like(x),
    smooth=True,
)

def _sign(x):
    return np.sign(x).astype(np.result_type(x, np.float32), copy=False)


def _step(x):
    return (np.asarray(x) > 0).astype(np.result_type(x, np.float32), copy=False)


def _zero(x):
    return np.zeros_like(x, dtype=np.result_type(x, np.float32))


#: ``sigma(x) = sign(x)`` in ``{-1, 0, 1}``: the hard threshold of Rosenblatt's perceptron.
#: Its derivative is 0 wherever it exists (``x != 0``), and that is what ``derivative``
#: returns: gradient methods learn nothing through it.  Rosenblatt's rule
#: ``w <- w + y_i x_i`` (on a mistake) is the delta rule with ``sigma'`` replaced by 1.
#:
#: :meta hide-value:
sign = Activation("sign", _sign, _zero, None, smooth=False)
#: ``sigma(x) = 1`` for ``x > 0``, else ``0`` (the step function); derivative 0 for ``x != 0``.
#:
#: :meta hide-value:
step = Activation("step", _step, _zero, None, smooth=False)

#: The threshold activations by name (``"sign"``, ``"step"``), also found by
#: :func:`get_activation`.  They are kept apart from :data:`ACTIVATIONS`, whose
#: members the generic layer suite checks with Taylor tests: a threshold's
#: derivative is zero, so a Taylor test has nothing to check.
#:
#: :meta hide-value:
THRESHOLDS = {a.name: a for a in (sign, step)}

#: The activations by name, as looked up by :func:`get_activation`:
#: ``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"softplus"`` and ``"identity"``.
#:
#: :meta hide-value:
ACTIVATIONS = {a.name: a for a in (tanh, relu, sigmoid, softplus, identity)}


def get_activation(activation):
    """Return the :class:`Activation` for a name or pass an Activation through.

    Parameters
    ----------
    activation : str or Activation
        One of ``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"softplus"``, ``"identity"``, or a
        threshold, ``"sign"`` or ``"step"`` (see :data:`THRESHOLDS`).

    Raises
    ------
    ValueError
        If the name is unknown.
    """
    if isinstance(activation, Activation):
        return activation
    try:
        return {**ACTIVATIONS, **THRESHOLDS}[activation]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {sorted({**ACTIVATIONS, **THRESHOLDS})} or an Activation; got {activation!r}"
        ) from None
