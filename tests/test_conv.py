"""Tests of :mod:`nnlib.conv` beyond the generic layer suite.

The generic suite (``test_layers.py``) runs Taylor and adjoint tests on every
``test_cases()`` instance of Conv1D, Conv2D, AvgPool1D and AvgPool2D.  Here the
layers are compared with independent references: the sparse Toeplitz /
circulant matrices, ``scipy.signal.convolve``, the FFT formulas of the lecture
notes written out literally, and each other (FFT against direct).
"""

import numpy as np
import pytest
import scipy.signal

from nnlib.conv import (
    CONV_MATRIX_MAX_SIZE,
    AvgPool1D,
    AvgPool2D,
    Conv1D,
    Conv2D,
    circulant_eigenvalues,
    conv_matrix,
)
from nnlib.layers import Layer


def _materialize(J):
    m, p = J.shape
    return np.column_stack([J.matvec(e) for e in np.eye(p)]), np.column_stack([J.rmatvec(e) for e in np.eye(m)]).T


# --------------------------------------------------------------------------
# the structured matrices of the lecture notes
# --------------------------------------------------------------------------


def test_seed_4x4_toeplitz_and_circulant():
    t1, t2, t3 = theta = np.array([1.0, 2.0, 3.0])
    # z_i = sum_j theta_j y_{i-j}: stencil entry [k + a] multiplies y_{i-a}; the notes' (t1, t2, t3)
    # sit on the (super, main, sub) diagonals, i.e. theta_{-1} = t1, theta_0 = t2, theta_1 = t3.
    toeplitz = np.array([[t2, t1, 0, 0], [t3, t2, t1, 0], [0, t3, t2, t1], [0, 0, t3, t2]])
    circulant = toeplitz + np.array([[0, 0, 0, t3], [0, 0, 0, 0], [0, 0, 0, 0], [t1, 0, 0, 0]])
    np.testing.assert_array_equal(conv_matrix(theta, 4, "zero").toarray(), toeplitz)
    np.testing.assert_array_equal(conv_matrix(theta, 4, "periodic").toarray(), circulant)


def test_circulant_eigenvalues_from_first_column():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(3)
    K = conv_matrix(theta, 16, "periodic").toarray()
    lam = circulant_eigenvalues(theta, 16)
    np.testing.assert_allclose(lam, np.fft.fft(K[:, 0]), atol=1e-14)
    np.testing.assert_allclose(np.sort_complex(lam), np.sort_complex(np.linalg.eigvals(K)), atol=1e-12)
    y = rng.standard_normal(16)
    np.testing.assert_allclose(K @ y, np.real(np.fft.ifft(lam * np.fft.fft(y))), atol=1e-13)
    # ... and the transpose uses conj(lambda)
    np.testing.assert_allclose(K.T @ y, np.real(np.fft.ifft(lam.conj() * np.fft.fft(y))), atol=1e-13)


def test_conv_matrix_2d_is_kronecker_and_refuses_large_grids():
    rng = np.random.default_rng(1)
    theta = rng.standard_normal((3, 3))
    y = rng.standard_normal((5, 6))
    for boundary, sig in [("zero", "fill"), ("periodic", "wrap")]:
        K = conv_matrix(theta, (5, 6), boundary)
        expected = scipy.signal.convolve2d(y, theta, mode="same", boundary=sig)
        np.testing.assert_allclose((K @ y.ravel()).reshape(5, 6), expected, atol=1e-13)
    with pytest.raises(ValueError, match=str(CONV_MATRIX_MAX_SIZE)):
        conv_matrix(theta, (65, 64))


# --------------------------------------------------------------------------
# layers against independent references
# --------------------------------------------------------------------------

CONV_CONFIGS = [
    pytest.param(Conv1D, (2, 3, 11), dict(kernel_size=5), id="1d-k5"),
    pytest.param(Conv1D, (1, 1, 8), dict(kernel_size=3, stride=2), id="1d-stride2"),
    pytest.param(Conv2D, (3, 2, (7, 6)), dict(kernel_size=3), id="2d-k3"),
    pytest.param(Conv2D, (2, 2, (6, 7)), dict(kernel_size=(5, 3), stride=(2, 3)), id="2d-k53-stride"),
]


def _reference_forward(layer, theta, Y, boundary):
    """Sum over channels of scipy.signal convolutions, per example, then stride, bias."""
    stencils, b = layer.unpack(theta)
    n = Y.shape[1]
    X = Y.T.reshape((n, layer.c_in) + layer.shape)
    out = np.zeros((n, layer.c_out) + layer.shape)
    for e in range(n):
        for o in range(layer.c_out):
            for c in range(layer.c_in):
                if layer._ndim == 1:
                    yy = np.concatenate([X[e, c]] * 3) if boundary == "periodic" else X[e, c]
                    full = np.convolve(yy, stencils[o, c], mode="same")
                    s = layer.shape[0]
                    out[e, o] += full[s : 2 * s] if boundary == "periodic" else full
                else:
                    sig = "wrap" if boundary == "periodic" else "fill"
                    out[e, o] += scipy.signal.convolve2d(X[e, c], stencils[o, c], mode="same", boundary=sig)
    out = out[(slice(None), slice(None)) + tuple(slice(None, None, st) for st in layer.stride)]
    out = out + (b if layer.bias else 0).reshape((1, -1) + (1,) * layer._ndim)
    return out.reshape(n, -1).T


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("boundary", ["periodic", "zero"])
@pytest.mark.parametrize("cls, args, kwargs", CONV_CONFIGS)
def test_forward_matches_scipy_signal(cls, args, kwargs, boundary, method):
    layer = cls(*args, boundary=boundary, method=method, **kwargs)
    rng = np.random.default_rng(2)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((layer.n_in, 3))
    np.testing.assert_allclose(layer.forward(theta, Y), _reference_forward(layer, theta, Y, boundary), atol=1e-12)


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
@pytest.mark.parametrize("cls, args, kwargs", CONV_CONFIGS)
def test_fft_and_direct_agree_including_jacobians(cls, args, kwargs, boundary):
    direct = cls(*args, boundary=boundary, method="direct", activation="tanh", **kwargs)
    fft = cls(*args, boundary=boundary, method="fft", activation="tanh", **kwargs)
    rng = np.random.default_rng(3)
    theta = direct.init_params(rng)
    Y = rng.standard_normal((direct.n_in, 2))
    np.testing.assert_allclose(direct.forward(theta, Y), fft.forward(theta, Y), atol=1e-12)
    for name in ("jacobian_params", "jacobian_input"):
        Jd = getattr(direct, name)(theta, Y)
        Jf = getattr(fft, name)(theta, Y)
        v = rng.standard_normal(Jd.shape[1])
        w = rng.standard_normal(Jd.shape[0])
        np.testing.assert_allclose(Jd.matvec(v), Jf.matvec(v), atol=1e-12)
        np.testing.assert_allclose(Jd.rmatvec(w), Jf.rmatvec(w), atol=1e-12)


@pytest.mark.parametrize("cls, shape", [(Conv1D, 80), (Conv2D, (9, 8))])
def test_direct_method_in_several_blocks(cls, shape, monkeypatch):
    """Force the smallest im2col blocks so that the block loop runs more than once."""
    import nnlib.conv

    monkeypatch.setattr(nnlib.conv, "DIRECT_BLOCK_BYTES", 1)
    direct = cls(2, 3, shape, 3, "zero", method="direct", activation="tanh")
    fft = cls(2, 3, shape, 3, "zero", method="fft", activation="tanh")
    rng = np.random.default_rng(8)
    theta = direct.init_params(rng)
    Y = rng.standard_normal((direct.n_in, 40))
    assert len(direct._direct_blocks(40, 8)) > 2
    np.testing.assert_allclose(direct.forward(theta, Y), fft.forward(theta, Y), atol=1e-12)
    for name in ("jacobian_params", "jacobian_input"):
        Jd, Jf = getattr(direct, name)(theta, Y), getattr(fft, name)(theta, Y)
        w = rng.standard_normal(Jd.shape[0])
        np.testing.assert_allclose(Jd.rmatvec(w), Jf.rmatvec(w), atol=1e-11)


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
def test_single_channel_layer_is_conv_matrix(boundary):
    layer = Conv2D(1, 1, (4, 5), 3, boundary, bias=False)
    rng = np.random.default_rng(4)
    theta = layer.init_params(rng)
    K = conv_matrix(theta.reshape(3, 3), (4, 5), boundary).toarray()
    Y = rng.standard_normal((20, 1))
    Ji, JiT = _materialize(layer.jacobian_input(theta, Y))
    np.testing.assert_allclose(Ji, K, atol=1e-14)
    np.testing.assert_allclose(JiT, K, atol=1e-14)


def test_seed_transpose_formula_for_the_stencil():
    """J^T w = real(Q^T F diag(F y) F^* w), written literally with full complex FFTs."""
    n, k = 16, 1
    layer = Conv1D(1, 1, n, 2 * k + 1, "periodic", bias=False, method="fft")
    rng = np.random.default_rng(5)
    theta = layer.init_params(rng)
    y = rng.standard_normal(n)
    w = rng.standard_normal(n)
    F = np.fft.fft(np.eye(n))  # DFT matrix, symmetric: F^T = F
    Finv = np.conj(F) / n  # NumPy's ifft = F^{-1} = F^* / n
    Q = np.zeros((n, 2 * k + 1))  # places theta_a at index a mod n: K u_1 = Q theta
    for a in range(-k, k + 1):
        Q[a % n, a + k] = 1.0
    # K y = real(F^{-1} diag(F y) F Q theta)  and its transpose in theta:
    Ky = np.real(Finv @ (np.diag(F @ y) @ (F @ (Q @ theta))))
    JTw = np.real(Q.T @ F @ np.diag(F @ y) @ Finv @ w)
    np.testing.assert_allclose(layer.forward(theta, y[:, None]).ravel(), Ky, atol=1e-13)
    np.testing.assert_allclose(layer.jacobian_params(theta, y[:, None]).rmatvec(w), JTw, atol=1e-13)
    # the same with NumPy's FFT calls instead of matrices
    np.testing.assert_allclose(np.real(Q.T @ np.fft.fft(np.fft.fft(y) * np.fft.ifft(w))), JTw, atol=1e-12)


def test_rgb_example_block_structure():
    """Z = [K^{oc}] applied to (y_R, y_G, y_B): 4 output channels, 3 input channels."""
    layer = Conv2D(3, 4, (5, 5), 3, "periodic", bias=False)
    rng = np.random.default_rng(6)
    theta = layer.init_params(rng)
    stencils, _ = layer.unpack(theta)
    blocks = [[conv_matrix(stencils[o, c], (5, 5)).toarray() for c in range(3)] for o in range(4)]
    y = rng.standard_normal((75, 1))
    np.testing.assert_allclose(layer.forward(theta, y), np.block(blocks) @ y, atol=1e-13)


def test_layout_and_known_values():
    # A single 1 at pixel (1, 2) of channel 0 spreads the (flipped) stencil around it.
    layer = Conv2D(2, 1, (4, 4), 3, "zero")
    stencils = np.zeros((1, 2, 3, 3))
    stencils[0, 0] = np.arange(9).reshape(3, 3)
    theta = layer.pack(stencils, [10.0])
    img = np.zeros((2, 4, 4))
    img[0, 1, 2] = 1.0
    Z = layer.forward(theta, img.reshape(-1, 1)).reshape(4, 4)
    expected = np.full((4, 4), 10.0)
    # z[i, j] = theta[i - 1 + 1, j - 2 + 1] for |i - 1|, |j - 2| <= 1
    expected[0:3, 1:4] += np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(Z, expected)


@pytest.mark.parametrize("activation", ["identity", "tanh"])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_forward_and_jacobian_matches_the_separate_calls(method, activation):
    layer = Conv2D(2, 3, (5, 6), 3, "zero", stride=2, activation=activation, method=method)
    rng = np.random.default_rng(9)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((layer.n_in, 3))
    Z, J = layer.forward_and_jacobian(theta, Y)
    J0 = layer.jacobian_params(theta, Y)
    np.testing.assert_array_equal(Z, layer.forward(theta, Y))
    v, w = rng.standard_normal(J.shape[1]), rng.standard_normal(J.shape[0])
    np.testing.assert_allclose(J.matvec(v), J0.matvec(v), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(J.rmatvec(w), J0.rmatvec(w), rtol=1e-14, atol=1e-14)


def test_float32_stays_float32_and_is_accurate():
    layer = Conv2D(2, 3, (6, 6), 3, "periodic", activation="tanh")
    rng = np.random.default_rng(7)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((layer.n_in, 4))
    for method in ("direct", "fft"):
        lay = Conv2D(2, 3, (6, 6), 3, "periodic", activation="tanh", method=method)
        Z32 = lay.forward(theta.astype(np.float32), Y.astype(np.float32))
        assert Z32.dtype == np.float32
        np.testing.assert_allclose(Z32, lay.forward(theta, Y), atol=1e-5)


def test_auto_method_choice():
    assert Conv2D(1, 1, (28, 28), 3)._method == "direct"
    assert Conv2D(1, 1, (28, 28), 5)._method == "fft"
    assert Conv1D(1, 1, 28, 11)._method == "direct"
    assert Conv2D(1, 1, (28, 28), 9, method="direct")._method == "direct"


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------


def test_avgpool2d_values_and_transpose():
    layer = AvgPool2D(2, (4, 6), (2, 3))
    Y = np.arange(48.0).reshape(-1, 1)
    Z = layer.forward(np.empty(0), Y)
    img = Y.reshape(2, 4, 6)
    expected = img.reshape(2, 2, 2, 2, 3).mean(axis=(2, 4))
    np.testing.assert_array_equal(Z.reshape(2, 2, 2), expected)
    J, JT = _materialize(layer.jacobian_input(np.empty(0), Y))
    np.testing.assert_array_equal(J, JT)
    np.testing.assert_allclose(J.sum(axis=1), 1.0)


def test_avgpool1d_and_pool_after_conv():
    Y = np.array([[1.0, 3.0, 5.0, 7.0]]).T
    np.testing.assert_array_equal(AvgPool1D(1, 4).forward(np.empty(0), Y), [[2.0], [6.0]])
    assert AvgPool1D(1, 4).jacobian_params(np.empty(0), Y).shape == (2, 0)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: Conv2D(1, 1, (5, 5), 4), "odd"),
        (lambda: Conv2D(1, 1, (5, 5), 7), "exceed"),
        (lambda: Conv2D(1, 1, (5, 5), boundary="reflect"), "boundary"),
        (lambda: Conv2D(1, 1, (5, 5), method="winograd"), "method"),
        (lambda: Conv2D(1, 1, (5, 5, 5)), "image_shape"),
        (lambda: Conv1D(0, 1, 5), "c_in"),
        (lambda: Conv1D(1, 1, 5, stride=0), "stride"),
        (lambda: AvgPool2D(1, (5, 4), 2), "divide"),
        (lambda: Conv2D(1, 1, 4, bias=False).pack(np.zeros((1, 1, 3, 3)), [1.0]), "bias"),
        (lambda: Conv2D(1, 1, 4).pack(np.zeros((1, 1, 3))), r"\(1, 1, 3, 3\)"),
    ],
)
def test_bad_arguments(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


def test_registered_and_repr():
    for name in ("Conv1D", "Conv2D", "AvgPool1D", "AvgPool2D"):
        assert name in Layer.registry
    assert "_Convolution" not in Layer.registry
    assert repr(Conv2D(3, 8, 28, stride=2)) == (
        "Conv2D(c_in=3, c_out=8, shape=(28, 28), kernel_size=(3, 3), boundary='periodic', "
        "stride=(2, 2), activation='identity')"
    )
    layer = Conv2D(3, 8, (28, 28), stride=2)
    assert layer.n_in == 3 * 784 and layer.n_out == 8 * 14 * 14 and layer.n_params == 8 * 3 * 9 + 8
