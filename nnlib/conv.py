"""Convolution layers: structured, weight-sharing parametric models.

A convolution ``z = theta * y`` with a small stencil ``theta`` is a linear map
``z = K(theta) y`` whose matrix is Toeplitz (zero boundary conditions) or
circulant (periodic boundary conditions).  Layers here:

=================== ======================================================
:class:`Conv1D`     multi-channel 1-D convolution, optional stride, bias, activation
:class:`Conv2D`     the same for images
:class:`AvgPool1D`  average over non-overlapping windows (no parameters)
:class:`AvgPool2D`  the same for images
=================== ======================================================

Data layout
-----------
A column of ``Y`` is one example, flattened in C order from the array
``(channels, length)`` (1-D) or ``(channels, height, width)`` (2-D):
``Y[:, j] = y_j.ravel()`` and ``y_j = Y[:, j].reshape(c, h, w)``.
Internally the layers work on ``Y.reshape(c, h, w, n)`` (examples last), which
is a view, not a copy.

Two algorithms compute the same thing:

* ``"fft"``: the circulant ``K(theta) = F^* diag(lambda) F`` is diagonalized by
  the discrete Fourier transform, ``lambda = F(K(theta) u_1)`` from its first
  column (the stencil placed around index 0); zero boundary conditions are the
  periodic ones on a grid padded with ``k`` zeros on each side.
* ``"direct"``: ``z = sum_a theta_a (shifted y)`` over the ``(2k+1)^d`` stencil
  entries.  On the padded input flattened with the examples last, every shift is
  a fixed offset, so a strided view holds all shifted copies at once; a block of
  it, copied into an "im2col" matrix ``(c_in (2k+1)^d, block)``, turns the whole
  multi-channel sum into one matrix product
  ``(c_out, c_in (2k+1)^d) @ (c_in (2k+1)^d, block)``, and ``J_theta^T w`` into
  the transposed product.  For 3 x 3 stencils this beats the FFT.

``method="auto"`` picks direct for stencils with at most :data:`DIRECT_MAX_TAPS`
entries and FFT above.  Both methods are matrix-free: no ``K``, ``Q`` or
Jacobian matrix is ever formed (:func:`conv_matrix` builds ``K`` for teaching).
"""

import math

import numpy as np
import scipy.fft as sfft
import scipy.sparse as sp
from numpy.lib.stride_tricks import as_strided

from ._validation import check_float_dtype, check_positive_int, check_rng, check_vector, result_dtype
from .activations import get_activation
from .jacobian import FunctionJacobian
from .layers import Layer, ParameterFreeLayer

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "DIRECT_MAX_TAPS",
    "TINY_PRODUCT",
    "DIRECT_BLOCK_BYTES",
    "CONV_MATRIX_MAX_SIZE",
    "conv_matrix",
    "circulant_eigenvalues",
    "Conv1D",
    "Conv2D",
    "AvgPool1D",
    "AvgPool2D",
]

#: The boundary conditions, ``"periodic"`` (circulant ``K``) or ``"zero"`` (Toeplitz ``K``).
BOUNDARIES = ("periodic", "zero")
#: The algorithms; ``"auto"`` chooses by :data:`DIRECT_MAX_TAPS` (see the module docstring).
METHODS = ("auto", "direct", "fft")

#: ``method="auto"`` uses the direct sum for stencils with at most this many entries
#: (3 x 3 stencils, 1-D stencils up to 11 points) and the FFT above: on 28 x 28 images,
#: batch 64, the direct sum wins for 3 x 3 and the FFT for 5 x 5 and larger
#: (benchmarks/conv_benchmark.py measures the 3 x 3 case).
DIRECT_MAX_TAPS = 11

#: stencils with at most this many entries in total (c_out * c_in * taps) skip BLAS
TINY_PRODUCT = 32

#: memory budget (bytes) of one block of the direct method's im2col matrix; larger blocks
#: mean fewer, larger BLAS calls, which matters when BLAS threads compete for busy cores
DIRECT_BLOCK_BYTES = 32 * 2**20

#: largest number of grid points for which :func:`conv_matrix` builds a sparse matrix
CONV_MATRIX_MAX_SIZE = 4096


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _as_tuple(value, ndim, name, positive=True):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * ndim
    try:
        value = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a tuple of {ndim} ints; got {value!r}") from None
    if len(value) != ndim:
        raise ValueError(f"{name} must be an int or a tuple of {ndim} ints; got {value!r}")
    return tuple(check_positive_int(v, name) for v in value)


def _check_kernel(kernel, shape, name="kernel_size"):
    for kk, s in zip(kernel, shape):
        if kk % 2 == 0:
            raise ValueError(f"{name} must be odd (a centred stencil of size 2k+1); got {kernel}")
        if kk > s:
            raise ValueError(f"{name} {kernel} must not exceed the grid size {shape}")
    return kernel


def _embed_indices(kernel, grid):
    """Grid indices ``a mod S`` of the stencil offsets ``a = -k..k`` along each axis."""
    return [np.arange(-(kk // 2), kk // 2 + 1) % S for kk, S in zip(kernel, grid)]


def _shift_matrix(s, a, periodic):
    """``(S_a y)_i = y_{i-a}`` on ``s`` points (zero or periodic extension), sparse."""
    i = np.arange(s)
    j = i - a
    if periodic:
        j = j % s
        keep = np.ones(s, dtype=bool)
    else:
        keep = (j >= 0) & (j < s)
    return sp.csr_matrix((np.ones(keep.sum()), (i[keep], j[keep])), shape=(s, s))


def _check_stencil(stencil):
    """A finite 1-D or 2-D array of numbers."""
    try:
        stencil = np.asarray(stencil, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"stencil must be a 1-D or 2-D array of numbers; got {stencil!r}") from None
    if stencil.ndim not in (1, 2):
        raise ValueError(f"stencil must be 1-D or 2-D; got shape {stencil.shape}")
    if not np.all(np.isfinite(stencil)):
        raise ValueError(f"stencil must be finite; got {stencil}")
    return stencil


def conv_matrix(stencil, shape, boundary="periodic"):
    """Sparse matrix ``K`` of a single-channel convolution, ``vec(z) = K vec(y)``.

    Parameters
    ----------
    stencil : array_like, shape (2k+1,) or (2k_1+1, 2k_2+1)
        Stencil ``theta``; entry ``[k + a]`` multiplies ``y_{i-a}``.
    shape : int or tuple of int
        Grid ``(n_f,)`` or ``(h, w)``; at most :data:`CONV_MATRIX_MAX_SIZE` points.
    boundary : {"periodic", "zero"}
        Circulant (periodic) or Toeplitz (zero) structure.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (prod(shape), prod(shape))

    Notes
    -----
    ``z_i = sum_{a=-k}^{k} theta_a y_{i-a}`` (in 2-D the sum runs over both
    offsets).  ``K = sum_a theta_a S_a`` (1-D) or
    ``sum_{a,b} theta_ab (S_a kron S_b)`` (2-D, C order), with ``S_a`` the shift
    ``(S_a y)_i = y_{i-a}``.  For teaching and testing only: the layers never
    form ``K``.
    """
    stencil = _check_stencil(stencil)
    ndim = stencil.ndim
    shape = _as_tuple(shape, ndim, "shape")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")
    size = math.prod(shape)
    if size > CONV_MATRIX_MAX_SIZE:
        raise ValueError(
            f"conv_matrix builds K only for grids with at most {CONV_MATRIX_MAX_SIZE} points; "
            f"got {shape} ({size} points). Use Conv1D/Conv2D, which are matrix-free."
        )
    _check_kernel(stencil.shape, shape, "stencil shape")
    periodic = boundary == "periodic"
    K = sp.csr_matrix((size, size))
    for idx in np.ndindex(*stencil.shape):
        if stencil[idx] == 0:
            continue
        shifts = [_shift_matrix(s, i - kk // 2, periodic) for s, i, kk in zip(shape, idx, stencil.shape)]
        S = shifts[0] if ndim == 1 else sp.kron(shifts[0], shifts[1], format="csr")
        K = K + stencil[idx] * S
    return K.tocsr()


def circulant_eigenvalues(stencil, shape):
    """Eigenvalues ``lambda = F(K u_1)`` of the periodic convolution with ``stencil``.

    Parameters
    ----------
    stencil : array_like, shape (2k+1,) or (2k_1+1, 2k_2+1)
    shape : int or tuple of int
        Grid size; the result has this shape.

    Returns
    -------
    ndarray of complex
        ``lambda`` with ``K y = real(ifftn(lambda * fftn(y)))`` (NumPy's FFT
        conventions), i.e. ``K = F^{-1} diag(lambda) F``.

    Notes
    -----
    The first column ``K u_1`` of the circulant ``K`` is the stencil wrapped
    around index 0: entry ``theta_a`` sits at index ``a mod n``.  Placing it
    there is the linear map ``theta -> Q theta`` of the lecture notes.
    """
    stencil = _check_stencil(stencil)
    shape = _as_tuple(shape, stencil.ndim, "shape")
    _check_kernel(stencil.shape, shape, "stencil shape")
    first_column = np.zeros(shape)
    first_column[np.ix_(*_embed_indices(stencil.shape, shape))] = stencil
    return sfft.fftn(first_column)


def _fold_periodic(G, axis, s, k):
    """Adjoint of periodic padding by ``k`` along ``axis``: add the halo back onto the core."""
    sl = [slice(None)] * G.ndim

    def take(a, b):
        sl[axis] = slice(a, b)
        return tuple(sl)

    core = G[take(k, k + s)].copy()
    if k:
        core[take(s - k, s)] += G[take(0, k)]
        core[take(0, k)] += G[take(k + s, k + s + k)]
    return core


# ---------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------


class _DirectEngine:
    """The direct method of a convolution: im2col of the padded input and one matrix product.

    ``prepare(X)`` returns ``(strided view of the padded input, n, kept)``, where
    ``kept`` keeps the im2col matrix once formed, shared by the Jacobian products.
    """

    def __init__(self, conv):
        self.conv = conv

    def prepare(self, X):
        conv = self.conv
        return conv._direct_view(conv._pad(X)), X.shape[-1], []

    def linear(self, stencils, prep):
        return self.conv._direct_apply(stencils, prep)

    def adjoint_stencil(self, prep, W):
        return self.conv._direct_adjoint_stencil(prep, W)

    def adjoint_input(self, stencils, W):
        return self.conv._direct_adjoint_input(stencils, W)


class _FFTEngine:
    """The FFT method: channel mixing as products of the stencils' eigenvalues with the input's transform.

    ``prepare(X)`` returns ``(the transform of the input, n, None)``; strides subsample
    the full-grid result (and upsample in the adjoints).
    """

    def __init__(self, conv):
        self.conv = conv

    def prepare(self, X):
        return self.conv._to_freq(X), X.shape[-1], None

    def linear(self, stencils, prep):
        return self.conv._subsample(self.conv._fft_apply(stencils, prep[0]))

    def adjoint_stencil(self, prep, W):
        return self.conv._fft_adjoint_stencil(prep[0], self.conv._upsample(W))

    def adjoint_input(self, stencils, W):
        return self.conv._fft_adjoint_input(stencils, self.conv._upsample(W))


class _Convolution:
    """Implementation shared by :class:`Conv1D` and :class:`Conv2D` (not a Layer itself).

    The method (direct or FFT) is an engine object chosen once at construction.
    """

    _ndim = None

    def _setup(self, c_in, c_out, shape, kernel_size, boundary, stride, bias, activation, method):
        d = self._ndim
        self.c_in = check_positive_int(c_in, "c_in")
        self.c_out = check_positive_int(c_out, "c_out")
        self.shape = _as_tuple(shape, d, "shape" if d == 1 else "image_shape")
        self.kernel_size = _check_kernel(_as_tuple(kernel_size, d, "kernel_size"), self.shape)
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")
        self.boundary = boundary
        self.stride = _as_tuple(stride, d, "stride")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        self.method = method
        if method == "auto":
            method = "direct" if math.prod(self.kernel_size) <= DIRECT_MAX_TAPS else "fft"
        self._method = method
        self._engine = (_DirectEngine if method == "direct" else _FFTEngine)(self)  # chosen once
        # Products this small are memory-bound: NumPy's own loops (einsum) do them as fast as
        # BLAS and never wait for BLAS threads, which stall when the cores are busy.
        self._tiny = self.c_in * self.c_out * math.prod(self.kernel_size) <= TINY_PRODUCT
        self.bias = bool(bias)
        self.activation = get_activation(activation)
        self.out_shape = tuple(-(-s // st) for s, st in zip(self.shape, self.stride))
        self.half = tuple(kk // 2 for kk in self.kernel_size)
        self.stencil_shape = (self.c_out, self.c_in) + self.kernel_size
        self.n_stencil = math.prod(self.stencil_shape)
        self.n_in = self.c_in * math.prod(self.shape)
        self.n_out = self.c_out * math.prod(self.out_shape)
        self.n_params = self.n_stencil + (self.c_out if self.bias else 0)
        # Grid on which the circular convolution runs: the input padded by k on each side
        # (zero values for "zero"; for the direct method also wrapped values for "periodic").
        self._padded = tuple(s + 2 * k for s, k in zip(self.shape, self.half))
        self._fft_grid = self.shape if boundary == "periodic" else self._padded

    def __repr__(self):
        args = [f"c_in={self.c_in}", f"c_out={self.c_out}", f"shape={self.shape}"]
        args.append(f"kernel_size={self.kernel_size}")
        args.append(f"boundary={self.boundary!r}")
        if any(st != 1 for st in self.stride):
            args.append(f"stride={self.stride}")
        if not self.bias:
            args.append("bias=False")
        args.append(f"activation={self.activation.name!r}")
        if self.method != "auto":
            args.append(f"method={self.method!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    # --- parameters -----------------------------------------------------------

    def unpack(self, theta):
        """Split ``theta`` into the stencils ``(c_out, c_in, *kernel_size)`` and ``b`` (c_out,)."""
        theta = check_vector(theta, "theta", self.n_params)
        return theta[: self.n_stencil].reshape(self.stencil_shape), theta[self.n_stencil :]

    def pack(self, stencils, b=None):
        """Stack stencils ``(c_out, c_in, *kernel_size)`` and bias ``b`` into ``theta``."""
        stencils = np.asarray(stencils, dtype=float)
        if stencils.shape != self.stencil_shape:
            raise ValueError(f"stencils must have shape {self.stencil_shape}; got shape {stencils.shape}")
        parts = [stencils.ravel()]
        if self.bias:
            parts.append(check_vector(np.zeros(self.c_out) if b is None else b, "b", self.c_out))
        elif b is not None:
            raise ValueError("this layer has no bias (bias=False); got b")
        return np.concatenate(parts)

    def init_params(self, rng, dtype=np.float64):
        """Stencil entries N(0, 1 / (c_in * taps)), bias N(0, 1) scaled by 0.1.

        Parameters
        ----------
        rng : numpy.random.Generator
        dtype : numpy dtype, default float64
        """
        dtype = check_float_dtype(dtype)
        check_rng(rng)
        fan_in = self.c_in * math.prod(self.kernel_size)
        parts = [rng.standard_normal(self.n_stencil) / np.sqrt(fan_in)]
        if self.bias:
            parts.append(0.1 * rng.standard_normal(self.c_out))
        return np.concatenate(parts).astype(dtype)

    # --- layout ---------------------------------------------------------------

    def _grid(self, Y):
        """``(n_in, n)`` -> ``(c_in, *shape, n)`` (a view for C-contiguous ``Y``)."""
        return Y.reshape((self.c_in,) + self.shape + (Y.shape[1],))

    def _pad(self, X):
        """Pad the spatial axes of ``X`` by ``k`` (wrapped for periodic, zeros for zero)."""
        width = [(0, 0)] + [(k, k) for k in self.half] + [(0, 0)]
        return np.pad(X, width, mode="wrap" if self.boundary == "periodic" else "constant")

    def _unpad(self, G):
        """Adjoint of :meth:`_pad`."""
        if self.boundary == "periodic":
            for axis, (s, k) in enumerate(zip(self.shape, self.half), start=1):
                G = _fold_periodic(G, axis, s, k)
            return G
        core = (slice(None),) + tuple(slice(k, k + s) for s, k in zip(self.shape, self.half))
        return G[core]

    def _subsample(self, A):
        """Keep every ``stride``-th output point (the identity for stride 1)."""
        if all(st == 1 for st in self.stride):
            return A
        return A[(slice(None),) + tuple(slice(None, None, st) for st in self.stride)]

    def _upsample(self, W):
        """Adjoint of :meth:`_subsample`: put ``W`` back on the full grid, zeros elsewhere."""
        if all(st == 1 for st in self.stride):
            return W
        full = np.zeros((W.shape[0],) + self.shape + (W.shape[-1],), dtype=W.dtype)
        full[(slice(None),) + tuple(slice(None, None, st) for st in self.stride)] = W
        return full

    # --- direct method --------------------------------------------------------
    # Output point q of the (strided) output grid needs the padded input at q * stride + a'
    # for the flipped stencil offsets a' = 0..2k (a' = k - a, per axis).  A strided view
    # V[c, a', q, e] = P[c, q * stride + a', e] (every spatial axis) holds all of them without
    # copying; a block of it copied into the "im2col" matrix (c_in * taps, points * n) turns the
    # multi-channel sum into ONE matrix product (c_out, c_in * taps) @ (c_in * taps, points * n),
    # whose result is already laid out as the output grid (c_out, *out_shape, n).  Only the
    # output points that are kept are computed (a stride s costs 1/s of stride 1 per axis).
    # Inputs larger than DIRECT_BLOCK_BYTES are processed in blocks of the first output axis;
    # a single-block im2col matrix is kept with the prepared input, so the Jacobian products
    # of one forward pass reuse it instead of copying it again.

    def _direct_view(self, P):
        """Read-only view ``V[c, a', q, e] = P[c, q * stride + a', e]`` of the padded input, no copy."""
        d = self._ndim
        spatial = P.strides[1 : 1 + d]
        shape = (self.c_in,) + self.kernel_size + self.out_shape + (P.shape[-1],)
        strides = (P.strides[0],) + spatial + tuple(st * s for st, s in zip(spatial, self.stride)) + (P.strides[-1],)
        return as_strided(P, shape=shape, strides=strides, writeable=False)

    def _direct_blocks(self, n, itemsize):
        """Ranges ``(q0, q1)`` of the first output axis, one per im2col block of at most DIRECT_BLOCK_BYTES."""
        per_row = self.c_in * math.prod(self.kernel_size) * math.prod(self.out_shape[1:]) * n * itemsize
        rows = max(1, min(self.out_shape[0], DIRECT_BLOCK_BYTES // per_row))
        return [(q, min(q + rows, self.out_shape[0])) for q in range(0, self.out_shape[0], rows)]

    def _block_width(self, n):
        """Columns of the output grid per point of its first axis."""
        return math.prod(self.out_shape[1:]) * n

    def _direct_columns(self, prep):
        """Yield ``((q0, q1), im2col block)``; a single block is kept in the prepared input."""
        V, n, kept = prep
        if kept:
            yield (0, self.out_shape[0]), kept[0]
            return
        blocks = self._direct_blocks(n, V.itemsize)
        for q0, q1 in blocks:
            block = V[(slice(None),) * (1 + self._ndim) + (slice(q0, q1),)]
            cols = block.reshape(self.c_in * math.prod(self.kernel_size), -1)  # a copy: im2col
            if len(blocks) == 1:
                kept.append(cols)
            yield (q0, q1), cols

    def _flipped(self, stencils):
        """Stencils in the order of the view: ``(c_out, c_in * taps)`` with flipped offsets."""
        flip = (slice(None), slice(None)) + (slice(None, None, -1),) * self._ndim
        return stencils[flip].reshape(self.c_out, -1)

    def _direct_apply(self, stencils, prep):
        n = prep[1]
        theta = self._flipped(stencils)
        A = np.empty((self.c_out, math.prod(self.out_shape) * n), dtype=prep[0].dtype)
        width = self._block_width(n)
        for (q0, q1), cols in self._direct_columns(prep):
            out = A[:, q0 * width : q1 * width]
            if self._tiny:
                np.einsum("ok,kl->ol", theta, cols, out=out)
            else:
                np.matmul(theta, cols, out=out)
        return A.reshape((self.c_out,) + self.out_shape + (n,))

    def _direct_adjoint_stencil(self, prep, W):
        n = prep[1]
        Wflat = np.ascontiguousarray(W).reshape(self.c_out, -1)
        G = np.zeros((self.c_out, self.c_in * math.prod(self.kernel_size)), dtype=prep[0].dtype)
        width = self._block_width(n)
        for (q0, q1), cols in self._direct_columns(prep):
            Wb = Wflat[:, q0 * width : q1 * width]
            G += np.einsum("ol,kl->ok", Wb, cols) if self._tiny else Wb @ cols.T
        flip = (slice(None), slice(None)) + (slice(None, None, -1),) * self._ndim
        return G.reshape(self.stencil_shape)[flip]

    def _direct_adjoint_input(self, stencils, W):
        n = W.shape[-1]
        thetaT = self._flipped(stencils).T  # (c_in * taps, c_out)
        Wflat = np.ascontiguousarray(W).reshape(self.c_out, -1)
        G = np.zeros((self.c_in,) + self._padded + (n,), dtype=W.dtype)
        width = self._block_width(n)
        for q0, q1 in self._direct_blocks(n, W.itemsize):
            # adjoint of the im2col copy: every tap's rows are added back onto its shifted positions
            cols = (thetaT @ Wflat[:, q0 * width : q1 * width]).reshape(
                (self.c_in,) + self.kernel_size + (q1 - q0,) + self.out_shape[1:] + (n,)
            )
            counts = (q1 - q0,) + self.out_shape[1:]
            firsts = (q0,) + (0,) * (self._ndim - 1)
            for taps in np.ndindex(*self.kernel_size):
                target = tuple(
                    slice(a + q * s, a + q * s + (c - 1) * s + 1, s)
                    for a, q, s, c in zip(taps, firsts, self.stride, counts)
                )
                G[(slice(None),) + target] += cols[(slice(None),) + taps]
        return self._unpad(G)

    # --- FFT method -------------------------------------------------------------
    # The transforms run on the layout (n, c, *grid), where the transformed axes are the
    # contiguous ones; channel mixing is a batched matrix product over the frequencies f,
    # on arrays of shape (f, channels, n).

    def _spatial_axes(self, lead=2):
        return tuple(range(lead, lead + self._ndim))

    def _crop_slices(self, lead=2):
        return (slice(None),) * lead + tuple(slice(k, k + s) for s, k in zip(self.shape, self.half))

    def _to_freq(self, X):
        """``(channels, *shape, n)`` -> ``F`` of it on the FFT grid as ``(f, channels, n)``."""
        Xn = np.moveaxis(X, -1, 0)  # (n, c, *shape), a view
        if self.boundary == "zero":
            Xn = np.pad(Xn, [(0, 0), (0, 0)] + [(k, k) for k in self.half])
        else:
            Xn = np.ascontiguousarray(Xn)
        Xh = sfft.rfftn(Xn, axes=self._spatial_axes())
        n, c = Xh.shape[:2]
        return Xh.reshape(n, c, -1).transpose(2, 1, 0)

    def _from_freq(self, Zf):
        """Inverse of :meth:`_to_freq`, cropped for zero boundary conditions: ``(c, *shape, n)``."""
        f, c, n = Zf.shape
        freq = self._fft_grid[:-1] + (self._fft_grid[-1] // 2 + 1,)
        Zn = np.ascontiguousarray(Zf.transpose(2, 1, 0)).reshape((n, c) + freq)
        A = sfft.irfftn(Zn, s=self._fft_grid, axes=self._spatial_axes())
        if self.boundary == "zero":
            A = A[self._crop_slices()]
        return np.moveaxis(A, 0, -1)

    def _eigenvalues(self, stencils):
        """``lambda = F(Q theta)`` for every (c_out, c_in) pair, as ``(f, c_out, c_in)``."""
        E = np.zeros(self.stencil_shape[:2] + self._fft_grid, dtype=stencils.dtype)
        E[(slice(None), slice(None)) + np.ix_(*_embed_indices(self.kernel_size, self._fft_grid))] = stencils
        lam = sfft.rfftn(E, axes=self._spatial_axes())
        return lam.reshape(self.c_out, self.c_in, -1).transpose(2, 0, 1)

    def _fft_apply(self, stencils, Xf):
        return self._from_freq(self._eigenvalues(stencils) @ Xf)

    def _fft_adjoint_stencil(self, Xf, W):
        Wf = self._to_freq(W)  # (f, c_out, n)
        Gf = Wf @ Xf.conj().transpose(0, 2, 1)  # sum over examples: (f, c_out, c_in)
        freq = self._fft_grid[:-1] + (self._fft_grid[-1] // 2 + 1,)
        Gh = np.ascontiguousarray(Gf.transpose(1, 2, 0)).reshape(self.stencil_shape[:2] + freq)
        G = sfft.irfftn(Gh, s=self._fft_grid, axes=self._spatial_axes())
        return G[(slice(None), slice(None)) + np.ix_(*_embed_indices(self.kernel_size, self._fft_grid))]

    def _fft_adjoint_input(self, stencils, W):
        lam = self._eigenvalues(stencils)  # (f, c_out, c_in)
        return self._from_freq(lam.conj().transpose(0, 2, 1) @ self._to_freq(W))

    # --- the linear part K(theta) y, prepared per input ------------------------

    def _prepare(self, X):
        """What the chosen method needs from the input (see the engines below)."""
        return self._engine.prepare(X)

    def _linear(self, stencils, prep):
        """``K(theta) y`` on the output grid (stride applied): ``(c_out, *out_shape, n)``."""
        return self._engine.linear(stencils, prep)

    def _linear_adjoint_stencil(self, prep, W):
        return self._engine.adjoint_stencil(prep, W)

    def _linear_adjoint_input(self, stencils, W):
        return self._engine.adjoint_input(stencils, W)

    # --- the layer contract -------------------------------------------------------

    def _point(self, theta, Y):
        """Validated ``theta`` and ``Y`` in one dtype; stencils, bias and the grid of ``Y``."""
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        theta = theta.astype(dtype, copy=False)
        Y = np.ascontiguousarray(Y, dtype=dtype)
        stencils, b = self.unpack(theta)
        return stencils, b, self._grid(Y), dtype

    def _add_bias(self, A, b):
        """``A + b`` per output channel, in place: ``A`` is always a fresh result of ``_linear``."""
        if self.bias:
            A += b.reshape((-1,) + (1,) * (A.ndim - 1)).astype(A.dtype, copy=False)
        return A

    def _derivative(self, stencils, b, prep):
        """``sigma'(A)`` on the output grid, or None for the identity activation."""
        if self.activation.name == "identity":
            return None
        return self.activation.derivative(self._add_bias(self._linear(stencils, prep), b))

    def forward(self, theta, Y):
        """Return ``Z = sigma(K(theta) Y + b)`` of shape ``(n_out, n_examples)``."""
        stencils, b, X, dtype = self._point(theta, Y)
        A = self._add_bias(self._linear(stencils, self._prepare(X)), b)
        Z = self.activation.value(A)
        return np.ascontiguousarray(Z, dtype=dtype).reshape(self.n_out, -1)

    def forward_and_jacobian(self, theta, Y):
        """``Z`` and ``jacobian_params(theta, Y)`` from one pass over the input.

        Overrides the default of :class:`~nnlib.layers.Layer`: the padded input
        (direct method) or its Fourier transform (FFT method) and ``sigma'(A)`` are
        computed once and shared, also with the input Jacobian.

        Returns
        -------
        Z : ndarray, shape (n_out, n_examples)
        J : JacobianOperator, shape (Z.size, n_params)
        """
        stencils, b, X, dtype = self._point(theta, Y)
        prep = self._prepare(X)
        A = self._add_bias(self._linear(stencils, prep), b)
        Z = np.ascontiguousarray(self.activation.value(A), dtype=dtype).reshape(self.n_out, -1)
        D = None if self.activation.name == "identity" else self.activation.derivative(A)
        J = self._params_operator(prep, D, X.shape[-1], dtype,
                                  input_jacobian=lambda: self._input_operator(stencils, D, X.shape[-1], dtype))
        return Z, J

    def _out_grid(self, w, n):
        return np.reshape(w, (self.c_out,) + self.out_shape + (n,))

    def jacobian_params(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``theta`` (stencils, bias) as a :class:`~nnlib.jacobian.JacobianOperator`."""
        stencils, b, X, dtype = self._point(theta, Y)
        prep = self._prepare(X)
        return self._params_operator(prep, self._derivative(stencils, b, prep), X.shape[-1], dtype)

    def _params_operator(self, prep, D, n, dtype, input_jacobian=None):
        ns = self.n_stencil

        def matvec(v):
            v = np.asarray(v, dtype=dtype).ravel()
            dA = self._linear(v[:ns].reshape(self.stencil_shape), prep)
            if self.bias:
                dA = self._add_bias(dA, v[ns:])
            if D is not None:
                dA = D * dA
            return np.ascontiguousarray(dA, dtype=dtype).ravel()

        def rmatvec(w):
            W = self._out_grid(np.asarray(w, dtype=dtype), n)
            if D is not None:
                W = D * W
            parts = [self._linear_adjoint_stencil(prep, W).ravel()]
            if self.bias:
                parts.append(W.reshape(self.c_out, -1).sum(axis=1))
            return np.concatenate(parts).astype(dtype, copy=False)

        return FunctionJacobian((self.n_out * n, self.n_params), matvec, rmatvec, dtype, (self.n_out, n),
                                input_jacobian=input_jacobian)

    def jacobian_input(self, theta, Y):
        """Jacobian of ``vec(Z)`` with respect to ``vec(Y)`` as a :class:`~nnlib.jacobian.JacobianOperator`."""
        stencils, b, X, dtype = self._point(theta, Y)
        D = self._derivative(stencils, b, self._prepare(X))
        return self._input_operator(stencils, D, X.shape[-1], dtype)

    def _input_operator(self, stencils, D, n, dtype):
        """``J_Y``: ``V -> D * (K V)`` and ``W -> K^T (D * W)`` with ``D = sigma'(A)`` (None: identity)."""

        def matvec(v):
            V = self._grid(np.asarray(v, dtype=dtype).reshape(self.n_in, n))
            dA = self._linear(stencils, self._prepare(V))
            if D is not None:
                dA = D * dA
            return np.ascontiguousarray(dA, dtype=dtype).ravel()

        def rmatvec(w):
            W = self._out_grid(np.asarray(w, dtype=dtype), n)
            if D is not None:
                W = D * W
            G = self._linear_adjoint_input(stencils, W)
            return np.ascontiguousarray(G, dtype=dtype).ravel()

        return FunctionJacobian((self.n_out * n, self.n_in * n), matvec, rmatvec, dtype, (self.n_out, n))


_CONV_NOTES = """
    Notes
    -----
    Shapes: ``Y`` is ``(c_in * {grid}, n)``, one example per column flattened
    in C order from ``(c_in, {grid_t})``; ``Z`` is ``(c_out * {out}, n)`` in
    the same layout with the output grid ``{out_t}``, ``out = ceil(size / stride)``.
    ``theta = (stencils.ravel(), b)`` with stencils of shape
    ``(c_out, c_in, {kern})`` and ``b`` of shape ``(c_out,)`` (if ``bias``), so
    ``n_params = c_out c_in {taps} (+ c_out)``.

    For output channel ``o`` (the lecture's block matrix of convolutions,
    ``z_o = sum_c K^{{oc}}(theta^{{oc}}) y_c``)

    ``A_o[i] = sum_c sum_{{a=-k}}^{{k}} theta^{{oc}}_a y_c[i - a] + b_o``,
    ``Z_o = sigma(A_o)`` sampled at ``i = stride * j``,

    where ``theta_a`` is stencil entry ``[k + a]`` and ``y_c[i - a]`` outside the
    grid is 0 (``boundary="zero"``: Toeplitz ``K``) or wraps around
    (``"periodic"``: circulant ``K``).  This is convolution, not correlation:
    it equals ``scipy.signal.convolve(y_c, theta^{{oc}}, mode="same")``.

    Periodic via the FFT: ``K y = real(F^* (lambda * F y))`` with
    ``lambda = F(Q theta)``, ``Q theta`` the stencil placed around index 0 (the
    first column of ``K``).  The Jacobians with ``D = sigma'(A)``:

    * ``J_theta v = D * (K(v) y + v_b)`` (the same formula, linear in theta);
    * ``J_theta^T w = real(Q^T F diag(F y) F^* w')``, ``w' = D * w``
      (lecture notes; NumPy conventions give
      ``Q^T irfftn(conj(rfftn(y)) * rfftn(w'))``, a correlation of ``w'`` with
      ``y``, summed over examples), and ``sum(w')`` per channel for ``b``;
    * ``J_y v = D * (K v)`` and ``J_y^T w = K^T (D * w)`` with
      ``K^T = F^* diag(conj(lambda)) F``.

    Zero boundary conditions use the same formulas on the grid padded by ``k``
    zeros on each side, then cropped.  The direct method computes the same sums
    (see the module docstring): with ``X`` the im2col matrix of shifted padded
    inputs, ``A = Theta X``, ``J_theta^T w = (D * w) X^T`` and
    ``J_y^T w = im2col^T(Theta^T (D * w))``.  Stride keeps every
    ``stride``-th output point; its adjoint scatters back with zeros between.
    Every product is matrix-free: no ``K``, ``Q`` or Jacobian matrix is formed.
"""


class Conv1D(_Convolution, Layer, register=True):
    __doc__ = (
    """Multi-channel 1-D convolution layer ``Z = sigma(K(theta) Y + b)``.

    Parameters
    ----------
    c_in, c_out : int
        Numbers of input and output channels.
    length : int
        Number of grid points ``n_f`` of each channel.
    kernel_size : int, default 3
        Odd stencil size ``2k + 1`` (at most ``length``).
    boundary : {"periodic", "zero"}, default "periodic"
    stride : int, default 1
        Keep every ``stride``-th output point.
    bias : bool, default True
        Add a learned bias per output channel.
    activation : str or Activation, default "identity"
    method : {"auto", "direct", "fft"}, default "auto"
    """ + _CONV_NOTES.format(
        grid="n_f", grid_t="n_f", out="n_out_f", out_t="(c_out, n_out_f)", kern="2k+1", taps="(2k+1)"
    ))

    _ndim = 1

    def __init__(
        self, c_in, c_out, length, kernel_size=3, boundary="periodic", stride=1, bias=True,
        activation="identity", method="auto",
    ):
        self._setup(c_in, c_out, length, kernel_size, boundary, stride, bias, activation, method)

    @classmethod
    def test_cases(cls):
        return [
            (cls(1, 1, 8), 3),
            (cls(2, 3, 7, 3, "zero", activation="tanh"), 2),
            (cls(2, 2, 9, 5, "periodic", stride=2, method="fft", activation="sigmoid"), 2),
            (cls(3, 2, 6, 3, "zero", stride=3, bias=False, method="fft"), 1),
            (cls(1, 2, 5, 5, "periodic", method="direct", activation="softplus"), 2),
        ]


class Conv2D(_Convolution, Layer, register=True):
    __doc__ = (
    """Multi-channel 2-D convolution layer ``Z = sigma(K(theta) Y + b)``.

    Parameters
    ----------
    c_in, c_out : int
        Numbers of input and output channels (e.g. 3 for an RGB image).
    image_shape : int or (int, int)
        ``(h, w)`` of each channel.
    kernel_size : int or (int, int), default 3
        Odd stencil sizes ``(2k_1 + 1, 2k_2 + 1)``.
    boundary : {"periodic", "zero"}, default "periodic"
    stride : int or (int, int), default 1
    bias : bool, default True
    activation : str or Activation, default "identity"
    method : {"auto", "direct", "fft"}, default "auto"
    """ + _CONV_NOTES.format(
        grid="h * w", grid_t="h, w", out="h_out * w_out", out_t="(c_out, h_out, w_out)",
        kern="2k_1+1, 2k_2+1", taps="(2k_1+1)(2k_2+1)",
    ))

    _ndim = 2

    def __init__(
        self, c_in, c_out, image_shape, kernel_size=3, boundary="periodic", stride=1, bias=True,
        activation="identity", method="auto",
    ):
        self._setup(c_in, c_out, image_shape, kernel_size, boundary, stride, bias, activation, method)

    @classmethod
    def test_cases(cls):
        return [
            (cls(1, 1, (5, 6)), 2),
            (cls(3, 2, (4, 5), 3, "zero", activation="tanh"), 2),
            (cls(2, 2, (6, 5), (3, 5), "periodic", method="fft", activation="sigmoid"), 2),
            (cls(2, 3, (5, 4), 3, "zero", stride=2, bias=False, method="fft"), 1),
            (cls(1, 2, (6, 6), 3, "periodic", stride=(2, 3), method="direct", activation="softplus"), 3),
        ]


# ---------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------


class _AvgPool:
    """Implementation shared by :class:`AvgPool1D` and :class:`AvgPool2D`."""

    _ndim = None
    n_params = 0

    def _setup(self, channels, shape, pool):
        d = self._ndim
        self.channels = check_positive_int(channels, "channels")
        self.shape = _as_tuple(shape, d, "shape" if d == 1 else "image_shape")
        self.pool = _as_tuple(pool, d, "pool")
        for s, p in zip(self.shape, self.pool):
            if s % p:
                raise ValueError(f"pool {self.pool} must divide the grid {self.shape} exactly")
        self.out_shape = tuple(s // p for s, p in zip(self.shape, self.pool))
        self.n_in = self.channels * math.prod(self.shape)
        self.n_out = self.channels * math.prod(self.out_shape)
        self.n_params = 0

    def __repr__(self):
        return f"{type(self).__name__}(channels={self.channels}, shape={self.shape}, pool={self.pool})"

    def _blocks(self, n):
        """Shape ``(c, s_1/p_1, p_1, ..., n)`` that exposes the pooling windows."""
        split = ()
        for o, p in zip(self.out_shape, self.pool):
            split += (o, p)
        return (self.channels,) + split + (n,)

    def _window_axes(self):
        return tuple(2 + 2 * i for i in range(self._ndim))

    def _pool(self, X):
        n = X.shape[-1]
        return X.reshape(self._blocks(n)).mean(axis=self._window_axes()).reshape(self.n_out, n)

    def _pool_T(self, W):
        n = W.shape[-1]
        W = W.reshape((self.channels,) + self.out_shape + (n,))
        W = np.expand_dims(W, self._window_axes()) / math.prod(self.pool)
        return np.broadcast_to(W, self._blocks(n)).reshape(self.n_in, n)

    def forward(self, theta, Y):
        """Window averages, shape ``(n_out, n_examples)``."""
        theta, Y = self.check_input(theta, Y)
        return self._pool(Y.astype(result_dtype(theta, Y), copy=False))

    def jacobian_input(self, theta, Y):
        """The pooling matrix itself (the layer is linear), as a :class:`~nnlib.jacobian.JacobianOperator`."""
        theta, Y = self.check_input(theta, Y)
        dtype = result_dtype(theta, Y)
        n = Y.shape[1]

        def matvec(v):
            return self._pool(np.asarray(v, dtype=dtype).reshape(self.n_in, n)).ravel()

        def rmatvec(w):
            return self._pool_T(np.asarray(w, dtype=dtype).reshape(self.n_out, n)).ravel()

        return FunctionJacobian((self.n_out * n, self.n_in * n), matvec, rmatvec, dtype, (self.n_out, n))


_POOL_NOTES = """
    Notes
    -----
    Layout as for the convolutions: ``Y`` is ``(channels * {grid}, n)``, each
    column a C-order flattening of ``(channels, {grid_t})``; ``Z`` is
    ``(channels * {out}, n)`` with ``out = size / pool`` per axis.
    ``Z_c[j] = mean of Y_c over the window pool * j ... pool * (j + 1) - 1``
    (in each axis); windows do not overlap, ``pool`` must divide the size.
    The layer is linear with no parameters: ``n_params = 0``,
    ``J_Y = P`` (the averaging matrix, applied matrix-free by a reshape and a
    mean) and ``J_Y^T w`` spreads each ``w_j / |window|`` over its window.
"""


class AvgPool1D(_AvgPool, ParameterFreeLayer, register=True):
    __doc__ = (
    """Average pooling of 1-D multi-channel signals over windows of ``pool`` points.

    Parameters
    ----------
    channels : int
    length : int
    pool : int, default 2
    """ + _POOL_NOTES.format(grid="n_f", grid_t="n_f", out="n_f/pool"))

    _ndim = 1

    def __init__(self, channels, length, pool=2):
        self._setup(channels, length, pool)

    @classmethod
    def test_cases(cls):
        return [(cls(1, 4), 3), (cls(2, 9, 3), 2)]


class AvgPool2D(_AvgPool, ParameterFreeLayer, register=True):
    __doc__ = (
    """Average pooling of images over non-overlapping ``pool`` windows.

    Parameters
    ----------
    channels : int
    image_shape : int or (int, int)
    pool : int or (int, int), default 2
    """ + _POOL_NOTES.format(grid="h * w", grid_t="h, w", out="(h/p_1) * (w/p_2)"))

    _ndim = 2

    def __init__(self, channels, image_shape, pool=2):
        self._setup(channels, image_shape, pool)

    @classmethod
    def test_cases(cls):
        return [(cls(1, (4, 4)), 2), (cls(3, (6, 4), (3, 2)), 2)]
