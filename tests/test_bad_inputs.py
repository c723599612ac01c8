"""Bad inputs a careless user gives: each gets a clear ValueError or TypeError from nnlib
(never an IndexError, ZeroDivisionError, MemoryError or AttributeError from deep inside numpy,
and never a silently wrong value)."""

import subprocess
import sys

import numpy as np
import pytest

from nnlib import Dense, LeastSquares, SoftmaxCrossEntropy, checks, data
from nnlib.conv import Conv1D, circulant_eigenvalues, conv_matrix
from nnlib.losses import log_softmax, softmax
from nnlib.objective import LinearHeadObjective
from nnlib.optim import adam, conjugate_gradient, gauss_newton, sgd, steepest_descent, varpro
from nnlib.parametric import ParametricDense

RNG = np.random.default_rng(0)


def small_objective():
    rng = np.random.default_rng(1)
    return LinearHeadObjective(Dense(2, 3), LeastSquares(), rng.standard_normal((2, 5)), rng.standard_normal((1, 5)))


CASES = {
    "fft conv, no examples": (lambda: Conv1D(1, 1, 8, 3, method="fft").forward(np.zeros(4), np.zeros((8, 0))),
                              "at least one example"),
    "least squares, no examples": (lambda: LeastSquares().value(np.zeros((1, 0)), np.zeros((1, 0))), "at least one"),
    "cross-entropy, no examples": (lambda: SoftmaxCrossEntropy().gradient(np.zeros((2, 0)), np.zeros((2, 0))),
                                   "at least one"),
    "objective, no examples": (lambda: LinearHeadObjective(Dense(2, 3), LeastSquares(), np.zeros((2, 0)),
                                                           np.zeros((1, 0))), "at least one"),
    "softmax of a list of strings": (lambda: softmax([["a"], ["b"]]), "numeric"),
    "softmax of NaN": (lambda: softmax(np.array([[np.nan], [1.0]])), "finite"),
    "log_softmax of inf": (lambda: log_softmax(np.array([[np.inf], [1.0]])), "finite"),
    "softmax of zero rows": (lambda: softmax(np.zeros((0, 3))), "at least one row"),
    "conv_matrix with NaN": (lambda: conv_matrix(np.array([1.0, np.nan, 1.0]), 8), "finite"),
    "circulant_eigenvalues of a scalar": (lambda: circulant_eigenvalues(2.0, 8), "1-D or 2-D"),
    "init_params with an integer dtype": (lambda: Dense(2, 3).init_params(RNG, dtype=int), "floating-point"),
    "batch index out of range": (lambda: small_objective().value_and_gradient(np.zeros(12), np.array([7])),
                                 r"\[0, 4\]"),
    "negative batch index": (lambda: small_objective().value_and_gradient(np.zeros(12), np.array([-1])),
                             r"\[0, 4\]"),
    "varpro without an objective": (lambda: varpro(None, np.zeros(3)), "LinearHeadObjective"),
    "sgd with nesterov='no'": (lambda: sgd(small_objective(), np.zeros(12), nesterov="no"), "True or False"),
    "CG with a NaN right-hand side": (lambda: conjugate_gradient(np.eye(3), np.array([1.0, np.nan, 0.0])), "finite"),
    "peaks with noise=None": (lambda: data.peaks(10, RNG, noise=None), "noise"),
    "peaks_thresholds, grid 1": (lambda: data.peaks_thresholds(3, grid_size=1), "grid_size"),
    "peaks_thresholds, grid 2.5": (lambda: data.peaks_thresholds(3, grid_size=2.5), "grid_size"),
    "peaks_function, shapes differ": (lambda: data.peaks_function([0.0, 1.0], [0.0]), "same shape"),
    "labels of zero columns": (lambda: data.labels_from_one_hot(np.zeros((3, 0))), "at least one"),
    "Taylor test, no steps": (lambda: checks.taylor_test(np.sin, np.eye(2), np.ones(2), n_steps=0, rng=RNG),
                              "n_steps"),
    "Taylor test, h0 = 0": (lambda: checks.taylor_test(np.sin, np.eye(2), np.ones(2), h0=0.0, rng=RNG), "h0"),
    "Taylor test, v = 0": (lambda: checks.taylor_test(np.sin, 3 * np.eye(2), np.ones(2), v=np.zeros(2)), "nonzero"),
    "Taylor test, min_order 3": (lambda: checks.taylor_test(np.sin, np.eye(2), np.ones(2), rng=RNG, min_order=3),
                                 "min_order"),
    "Taylor test, rng=0": (lambda: checks.taylor_test(np.sin, np.eye(2), np.ones(2), rng=0), "Generator"),
    "adjoint test, rtol=inf": (lambda: checks.adjoint_test(np.array([[1.0, 2.0], [3.0, 4.0]]), rng=RNG,
                                                          rtol=np.inf), "rtol"),
    "a 10^6 x 10^6 layer": (lambda: Dense(10**6, 10**6).init_params(RNG), "GiB"),
    "an antisymmetric kernel of 10^5": (lambda: ParametricDense("antisymmetric", 10**5), "GiB"),
    "10^12 peaks points": (lambda: data.peaks(10**12, RNG), "GiB"),
    "one-hot of 10^12 classes": (lambda: data.one_hot(np.array([0, 1]), 10**12), "GiB"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gets_a_clear_error(name):
    make, match = CASES[name]
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_huge_scores_give_a_finite_cross_entropy():
    S = np.array([[1e308, -1e308], [-1e308, 1e308]])
    C = np.array([[0.0, 1.0], [1.0, 0.0]])
    loss = SoftmaxCrossEntropy()
    assert np.isfinite(loss.value(S, C)) and np.all(np.isfinite(loss.gradient(S, C)))


@pytest.mark.parametrize("solver", [steepest_descent, gauss_newton])
def test_a_nan_gradient_is_named_by_descent_methods(solver):
    class NaNGradient(type(small_objective())):
        def value_and_gradient(self, x, batch=None):
            value, gradient = super().value_and_gradient(x)
            return value, np.full_like(gradient, np.nan)

    rng = np.random.default_rng(1)
    objective = NaNGradient(Dense(2, 3), LeastSquares(), rng.standard_normal((2, 5)), rng.standard_normal((1, 5)))
    result = solver(objective, np.zeros(12))
    assert "gradient became NaN" in result.message and not result.success


def test_adam_with_a_nan_gradient_says_so():
    class NaNGradient(type(small_objective())):
        def value_and_gradient(self, x, batch=None):
            value, gradient = super().value_and_gradient(x)
            return value, np.full_like(gradient, np.nan)

    rng = np.random.default_rng(1)
    objective = NaNGradient(Dense(2, 3), LeastSquares(), rng.standard_normal((2, 5)), rng.standard_normal((1, 5)))
    assert "gradient became NaN" in adam(objective, np.zeros(12), max_iter=3).message


@pytest.mark.parametrize(
    "args",
    [["--data", "TRUNCATED"], ["--data", "EMPTY"], ["--n-train", "1000000000000"], ["--width", "1000000000"]],
)
def test_bench_exits_2_with_a_message(args, tmp_path):
    if "TRUNCATED" in args:
        path = tmp_path / "truncated.npz"
        np.savez(path, Y=np.zeros((2, 3)), C=np.zeros((1, 3)), Yval=np.zeros((2, 3)), Cval=np.zeros((1, 3)))
        path.write_bytes(path.read_bytes()[:200])
        args = ["--data", str(path)]
    if "EMPTY" in args:
        path = tmp_path / "empty.npz"
        np.savez(path, Y=np.zeros((2, 0)), C=np.zeros((1, 0)), Yval=np.zeros((2, 3)), Cval=np.zeros((1, 3)))
        args = ["--data", str(path)]
    done = subprocess.run([sys.executable, "-m", "nnlib.bench", "peaks", *args, "--max-iter", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr
