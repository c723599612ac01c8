"""Benchmark: Conv2D forward plus J^T w (w.r.t. the stencils) against SciPy baselines.

Workload (issue #4): a batch of 64 images of 28 x 28, 3 x 3 stencils, with
1 -> 1 and 16 -> 16 channels, periodic and zero boundary conditions, float64.
One "run" is ``Z = K(theta) Y`` followed by ``g = J_theta^T W`` for a given
``W`` of the shape of ``Z`` -- the work of one gradient evaluation.

Contestants
-----------
nnlib (auto)        ``Conv2D.forward`` + ``Conv2D.jacobian_params(...).rmatvec``
                    (input validation included); "auto" picks the direct sum here
nnlib (fft)         the same layer with ``method="fft"``
signal loop         ``scipy.signal.convolve2d`` / ``correlate2d`` per image and
                    channel pair (direct convolution, the baseline the issue names)
signal batched      ``scipy.signal.oaconvolve`` over all images and channel pairs
                    at once (broadcast along the non-convolved axes)
scipy.fft by hand   ``rfft2`` of the images and stencils, products summed over
                    channels, ``irfft2``; the adjoint as a correlation in Fourier space

Every baseline is checked against nnlib's result before it is timed.  Times
are medians over repeats of ``time.perf_counter`` differences.  The target:
nnlib (auto) within 2x of the fastest baseline.

Run: ``python benchmarks/conv_benchmark.py [--repeats 7]``.
"""

import argparse
import os
import platform
import sys
import time

if __name__ == "__main__" and "--blas-threads" in sys.argv:
    # Must happen before NumPy loads its BLAS.
    _threads = sys.argv[sys.argv.index("--blas-threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _threads

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.fft as sfft  # noqa: E402
import scipy.signal as ss  # noqa: E402

from nnlib.conv import Conv2D  # noqa: E402

N_EXAMPLES, H, W, KSIZE = 64, 28, 28, 3
K = KSIZE // 2


def median_times(fns, repeats):
    """Median wall time of each function; the functions take turns in every repeat.

    Interleaving exposes all contestants to the same background load, which on a
    shared machine drifts over seconds.
    """
    for fn in fns.values():
        fn()  # warm up (FFT plans, caches)
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: float(np.median(s)) for name, s in samples.items()}


# --------------------------------------------------------------------------
# baselines; data in the natural (n, c, h, w) layout; return (Z, G)
# --------------------------------------------------------------------------


def signal_loop(X, S, Wt, boundary):
    n, c_in = X.shape[:2]
    c_out = S.shape[0]
    sig = "wrap" if boundary == "periodic" else "fill"
    Z = np.zeros((n, c_out, H, W))
    for e in range(n):
        for o in range(c_out):
            for c in range(c_in):
                Z[e, o] += ss.convolve2d(X[e, c], S[o, c], mode="same", boundary=sig)
    mode = "wrap" if boundary == "periodic" else "constant"
    Xp = np.pad(X, ((0, 0), (0, 0), (K, K), (K, K)), mode=mode)
    G = np.zeros_like(S)
    for e in range(n):
        for o in range(c_out):
            for c in range(c_in):
                G[o, c] += ss.correlate2d(Xp[e, c], Wt[e, o], mode="valid")
    return Z, G[:, :, ::-1, ::-1]


def signal_batched(X, S, Wt, boundary):
    mode = "wrap" if boundary == "periodic" else "constant"
    Xp = np.pad(X, ((0, 0), (0, 0), (K, K), (K, K)), mode=mode)
    # (n, 1, c, h, w) * (1, o, c, kh, kw), convolved over the last two axes, summed over c
    Z = ss.oaconvolve(Xp[:, None], S[None], mode="valid", axes=(3, 4)).sum(axis=2)
    # G[o, c, a] = sum_e sum_i W[e, o, i] X[e, c, i - a]: correlate the padded images with W
    G = ss.oaconvolve(Xp[:, None], Wt[:, :, None, ::-1, ::-1], mode="valid", axes=(3, 4)).sum(axis=0)
    return Z, G[:, :, ::-1, ::-1]


def fft_by_hand(X, S, Wt, boundary):
    n, c_in = X.shape[:2]
    c_out = S.shape[0]
    if boundary == "zero":
        X = np.pad(X, ((0, 0), (0, 0), (K, K), (K, K)))
    gh, gw = X.shape[2:]
    idx = np.ix_(np.arange(-K, K + 1) % gh, np.arange(-K, K + 1) % gw)
    E = np.zeros((c_out, c_in, gh, gw))
    E[:, :, idx[0], idx[1]] = S
    lam = sfft.rfft2(E)  # (o, c, f1, f2): eigenvalues F(K u_1)
    Xh = sfft.rfft2(X)  # (n, c, f1, f2)
    Zh = np.einsum("ocxy,ncxy->noxy", lam, Xh, optimize=True)
    Z = sfft.irfft2(Zh, s=(gh, gw))
    if boundary == "zero":
        Z = Z[:, :, K : K + H, K : K + W]
        Wp = np.zeros((n, c_out, gh, gw))
        Wp[:, :, K : K + H, K : K + W] = Wt
    else:
        Wp = Wt
    Gh = np.einsum("noxy,ncxy->ocxy", sfft.rfft2(Wp), Xh.conj(), optimize=True)
    G = sfft.irfft2(Gh, s=(gh, gw))[:, :, idx[0], idx[1]]
    return Z, G


BASELINES = {"signal loop": signal_loop, "signal batched": signal_batched, "scipy.fft by hand": fft_by_hand}


def run_case(c_in, c_out, boundary, repeats, rng):
    auto = Conv2D(c_in, c_out, (H, W), KSIZE, boundary, bias=False)
    fft = Conv2D(c_in, c_out, (H, W), KSIZE, boundary, bias=False, method="fft")
    theta = auto.init_params(rng)
    Y = rng.standard_normal((auto.n_in, N_EXAMPLES))
    Wflat = rng.standard_normal(auto.n_out * N_EXAMPLES)
    X = Y.T.reshape(N_EXAMPLES, c_in, H, W)
    S = theta.reshape(auto.stencil_shape)
    Wt = Wflat.reshape(c_out, H, W, N_EXAMPLES).transpose(3, 0, 1, 2)

    def nnlib_run(layer):
        return layer.forward(theta, Y), layer.jacobian_params(theta, Y).rmatvec(Wflat)

    Z_ref, g_ref = nnlib_run(auto)
    Z_ref_nat = Z_ref.T.reshape(N_EXAMPLES, c_out, H, W)
    Z, g = nnlib_run(fft)
    assert np.allclose(Z, Z_ref, atol=1e-10) and np.allclose(g, g_ref, atol=1e-8), "nnlib fft"
    for name, fn in BASELINES.items():
        Z, G = fn(X, S, Wt, boundary)
        assert np.allclose(Z, Z_ref_nat, atol=1e-10), f"{name}: forward differs from nnlib"
        assert np.allclose(G.ravel(), g_ref, atol=1e-8), f"{name}: J^T w differs from nnlib"
    fast = {"nnlib (auto)": lambda: nnlib_run(auto), "nnlib (fft)": lambda: nnlib_run(fft)}
    slow = {}
    for name, fn in BASELINES.items():
        # the per-pair Python loops are 10-100x slower with 256 channel pairs: fewer repeats
        target = slow if (c_in * c_out > 1 and name.startswith("signal")) else fast
        target[name] = lambda fn=fn: fn(X, S, Wt, boundary)
    times = median_times(fast, repeats)
    times.update(median_times(slow, max(1, repeats // 5)))
    return auto._method, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument(
        "--blas-threads", default=None,
        help="set OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads (default: the environment's)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"Conv2D forward + J_theta^T w; batch {N_EXAMPLES} x {H}x{W}, {KSIZE}x{KSIZE} stencils, float64")
    print(
        f"numpy {np.__version__}, scipy {scipy.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; "
        f"median of {args.repeats} interleaved repeats (scipy.signal at 16->16: {max(1, args.repeats // 5)})"
    )
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f}")
    names = ["nnlib (auto)", "nnlib (fft)"] + list(BASELINES)
    header = f"{'channels':>9} {'boundary':>9} " + " ".join(f"{n:>17}" for n in names)
    header += f" {'auto uses':>9} {'auto/best base':>15} {'target <= 2x':>12}"
    print(header)
    print("-" * len(header))
    all_met = True
    for c_in, c_out in ((1, 1), (16, 16)):
        for boundary in ("periodic", "zero"):
            method, times = run_case(c_in, c_out, boundary, args.repeats, rng)
            best = min(times[n] for n in BASELINES)
            ratio = times["nnlib (auto)"] / best
            met = ratio <= 2.0
            all_met &= met
            cells = " ".join(f"{times[n] * 1e3:14.2f} ms" for n in names)
            print(
                f"{c_in:>4} ->{c_out:>3} {boundary:>9} {cells} {method:>9} {ratio:15.2f} "
                f"{'met' if met else 'MISSED':>12}"
            )
    print("2x target met in every case" if all_met else "2x target MISSED in at least one case")


if __name__ == "__main__":
    main()
