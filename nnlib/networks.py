"""Deep networks: layers made of layers.

Two combinators turn the one-layer contract of :mod:`nnlib.layers` into deep
networks, and are layers themselves, so every solver, check and objective of
nnlib takes them unchanged:

* :class:`Sequential` chains layers, ``Y_{l+1} = f_l(theta_l, Y_l)``;
* :class:`Residual` adds a skip connection, ``Y + h f(theta, Y)``.

A plain network and a ResNet of ``depth`` hidden layers of width ``m`` on
``n_f`` input features, as in the chapter on deep networks::

    plain = Sequential(Dense(n_f, m), *[Dense(m, m) for _ in range(depth)])
    resnet = Sequential(Dense(n_f, m), *[Residual(Dense(m, m), step=h) for _ in range(depth)])

The Jacobian products of :class:`Sequential` are the chain rule applied
matrix-free: ``J v`` runs forward through the layers (forward-mode
differentiation) and ``J^T w`` runs backward (backpropagation).
"""

import numpy as np

from ._validation import check_float_dtype, check_positive, check_rng, result_dtype
from .jacobian import FunctionJacobian, as_jacobian
from .layers import Dense, Layer

__all__ = ["Sequential", "Residual"]


class Sequential(Layer, register=True):
    """A chain of layers, ``Z = f_{N-1}(theta_{N-1}, ... f_0(theta_0, Y))``.

    Parameters
    ----------
    *layers : Layer
        At least one layer; the ``n_out`` of each must equal the ``n_in`` of
        the next.

    Notes
    -----
    With ``Y_0 = Y`` and ``Y_{l+1} = f_l(theta_l, Y_l)``, the parameters are
    stacked as ``theta = (theta_0, ..., theta_{N-1})``, so ``n_params`` is the
    sum of the layers' ``n_params``.  Shapes: ``Y`` is ``(n_in, n)`` with
    ``n_in = layers[0].n_in``; ``Z = Y_N`` is ``(n_out, n)`` with
    ``n_out = layers[-1].n_out``.

    With ``A_l = J_theta`` and ``B_l = J_Y`` of layer ``l`` at ``(theta_l, Y_l)``,
    the chain rule gives

    * ``J_theta v``: ``dY_0 = 0``, ``dY_{l+1} = B_l dY_l + A_l v_l``, result ``dY_N``
      (forward mode, one sweep from the first layer to the last);
    * ``J_theta^T w``: ``G_N = w``, ``g_l = A_l^T G_{l+1}``, ``G_l = B_l^T G_{l+1}``,
      result ``(g_0, ..., g_{N-1})`` (reverse mode: backpropagation);
    * ``J_Y = B_{N-1} ... B_0`` and ``J_Y^T = B_0^T ... B_{N-1}^T``.

    The Jacobians hold the states ``Y_l`` of one forward pass: memory grows
    linearly with the depth, the price of backpropagation.
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer; got none")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be an nnlib Layer (a subclass of nnlib.layers.Layer); "
                                f"got {type(layer).__name__}")
        for i in range(len(layers) - 1):
            if layers[i].n_out != layers[i + 1].n_in:
                raise ValueError(
                    f"layer {i} has n_out = {layers[i].n_out} but layer {i + 1} expects n_in = {layers[i + 1].n_in}"
                )
        self.layers = tuple(layers)
        self.n_in = int(layers[0].n_in)
        self.n_out = int(layers[-1].n_out)
        self.offsets = np.cumsum([0] + [int(layer.n_params) for layer in layers])
        self.n_params = int(self.offsets[-1])

    def __repr__(self):
        return "Sequential(" + ", ".join(repr(layer) for layer in self.layers) + ")"

    def __len__(self):
        return len(self.layers)

    @classmethod
    def test_cases(cls):
        from .conv import AvgPool1D, Conv1D

        return [
            (cls(Dense(3, 4, "tanh"), Dense(4, 2, "sigmoid")), 5),
            (cls(Dense(2, 3, "softplus"), Residual(Dense(3, 3, "tanh"), step=0.5), Residual(Dense(3, 3, "relu"))), 4),
            (cls(Conv1D(1, 2, 8, 3, boundary="periodic"), AvgPool1D(2, 8), Dense(8, 3, "identity")), 3),
            (cls([Dense(1, 1, "tanh")]), 1),
        ]

    def split_params(self, theta):
        """Views ``theta_l`` of the flat ``theta``, one per layer."""
        return [theta[self.offsets[i] : self.offsets[i + 1]] for i in range(len(self.layers))]

    def init_params(self, rng, dtype=np.float64):
        """Each layer's ``init_params(rng)`` in order, stacked.

        Parameters
        ----------
        rng : numpy.random.Generator
        dtype : numpy dtype, default float64
        """
        dtype = check_float_dtype(dtype)
        check_rng(rng)
        return np.concatenate([np.asarray(layer.init_params(rng), dtype=dtype) for layer in self.layers])

    def states(self, theta, Y):
        """All states ``[Y_0, Y_1, ..., Y_N]`` of the forward pass (``Y_0 = Y``)."""
        theta, Y = self.check_input(theta, Y)
        out = [Y]
        for layer, theta_l in zip(self.layers, self.split_params(theta)):
            out.append(layer.forward(theta_l, out[-1]))
        return out

    def forward(self, theta, Y):
        """Return ``Y_N`` of shape ``(n_out, n_examples)``."""
        return self.states(theta, Y)[-1]

    def forward_and_jacobian(self, theta, Y):
        """``Z`` and ``jacobian_params(theta, Y)`` from one forward pass."""
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        A, B = [], []
        state = Y
        for k, (layer, theta_l) in enumerate(zip(self.layers, self.split_params(theta))):
            # the input of the first layer is the data: its J_Y is never applied
            state, J_theta, J_Y = layer.forward_and_jacobians(theta_l, state, need_input=k > 0)
            A.append(J_theta)
            B.append(J_Y)
        offsets = self.offsets

        def matvec(v):
            v = np.ravel(v)
            dY = A[0].matvec(v[offsets[0] : offsets[1]])
            for k in range(1, len(A)):
                dY = B[k].matvec(dY) + A[k].matvec(v[offsets[k] : offsets[k + 1]])
            return dY

        def rmatvec(w):
            G = np.ravel(w)
            grads = [None] * len(A)
            for k in range(len(A) - 1, -1, -1):
                grads[k] = np.ravel(A[k].rmatvec(G))
                if k > 0:
                    G = np.ravel(B[k].rmatvec(G))
            return np.concatenate(grads)

        return state, FunctionJacobian((state.size, self.n_params), matvec, rmatvec, dtype, state.shape)

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Y_N)`` with respect to ``theta`` as a :class:`~nnlib.jacobian.JacobianOperator`."""
        return self.forward_and_jacobian(theta, Y)[1]

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Y_N)`` with respect to ``vec(Y)`` as a :class:`~nnlib.jacobian.JacobianOperator`."""
        theta, Y = self.check_input(theta, Y)
        B, state = [], Y
        for layer, theta_l in zip(self.layers, self.split_params(theta)):
            state, _, J_Y = layer.forward_and_jacobians(theta_l, state)
            B.append(J_Y)

        def matvec(v):
            for op in B:
                v = op.matvec(np.ravel(v))
            return np.ravel(v)

        def rmatvec(w):
            for op in reversed(B):
                w = op.rmatvec(np.ravel(w))
            return np.ravel(w)

        return FunctionJacobian((state.size, Y.size), matvec, rmatvec, result_dtype(theta, Y), state.shape)


class Residual(Layer, register=True):
    """A residual (skip) connection around a layer, ``Z = Y + h f(theta, Y)``.

    Parameters
    ----------
    layer : Layer
        The residual function ``f``; it must keep the shape (``n_in == n_out``).
    step : float, default 1.0
        The step size ``h > 0``.  A ResNet of such blocks is the forward Euler
        method with step ``h`` for the ODE ``dY/dt = f(theta(t), Y)``.

    Notes
    -----
    Shapes: ``Y`` and ``Z`` are ``(n, n_examples)``, ``theta`` is the wrapped
    layer's.  With ``A = J_theta f`` and ``B = J_Y f``:

    * ``J_theta = h A``,
    * ``J_Y = I + h B``: the identity carries the signal (and the gradient,
      ``J_Y^T = I + h B^T``) past the layer, whatever ``B`` is.
    """

    def __init__(self, layer, step=1.0):
        if not isinstance(layer, Layer):
            raise TypeError(f"Residual needs an nnlib Layer; got {type(layer).__name__}")
        if layer.n_in != layer.n_out:
            raise ValueError(
                f"a residual layer must keep the shape: expected n_out == n_in = {layer.n_in}, got n_out = {layer.n_out}"
            )
        step = check_positive(step, "step")
        self.layer = layer
        self.step = float(step)
        self.n_in = self.n_out = int(layer.n_in)
        self.n_params = int(layer.n_params)

    def __repr__(self):
        return f"Residual({self.layer!r}, step={self.step:g})"

    @classmethod
    def test_cases(cls):
        from .parametric import ParametricDense

        return [
            (cls(Dense(3, 3, "tanh")), 4),
            (cls(Dense(2, 2, "relu"), step=0.1), 6),
            (cls(ParametricDense("antisymmetric", 4), step=0.25), 3),
        ]

    def init_params(self, rng, dtype=np.float64):
        """The wrapped layer's ``init_params(rng)``."""
        dtype = check_float_dtype(dtype)
        return np.asarray(self.layer.init_params(rng), dtype=dtype)

    def forward(self, theta, Y):
        """Return ``Y + h f(theta, Y)``."""
        theta, Y = self.check_input(theta, Y)
        F = self.layer.forward(theta, Y)
        return Y + np.asarray(self.step, dtype=F.dtype) * F

    def forward_and_jacobian(self, theta, Y):
        """``Z`` and ``jacobian_params(theta, Y)`` from one forward pass of the wrapped layer."""
        theta, Y = self.check_input(theta, Y)
        h = self.step
        F, A = self.layer.forward_and_jacobian(theta, Y)
        A = as_jacobian(A, F.shape)
        Z = Y + np.asarray(h, dtype=F.dtype) * F
        dtype = result_dtype(theta, Y)

        def input_jacobian():  # I + h J_Y f, with J_Y f from the same forward pass where the layer can
            B = A.input_jacobian()
            if B is None:
                B = self.layer.jacobian_input(theta, Y)
            return FunctionJacobian((Y.size, Y.size), lambda v: v + h * np.ravel(B.matvec(v)),
                                    lambda w: w + h * np.ravel(B.rmatvec(w)), dtype, Z.shape)

        J = FunctionJacobian(A.shape, lambda v: h * np.ravel(A.matvec(v)), lambda w: h * np.ravel(A.rmatvec(w)),
                             dtype, Z.shape, input_jacobian=input_jacobian)
        return Z, J

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``theta``: ``h J_theta f``."""
        return self.forward_and_jacobian(theta, Y)[1]

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``vec(Y)``: ``I + h J_Y f``."""
        return self.forward_and_jacobian(theta, Y)[1].input_jacobian()
