"""Measure where BLAS threads start to pay for nnlib's solvers (sets nnlib.threads.SINGLE_THREAD_BELOW).

Usage: python tools/thread_crossover.py [--repeats 3]

Times a fixed number of iterations of variable projection (least squares, dense
Levenberg-Marquardt) and Gauss-Newton-CG (cross-entropy) on peaks data of growing
size, once with one BLAS thread and once with the machine's default, with nnlib's
own thread choice switched off, and prints the ratio.  Medians of ``--repeats`` runs.
Run it on an otherwise idle machine: a loaded machine punishes the threads twice.
"""

import argparse
import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from nnlib import Dense, LeastSquares, SoftmaxCrossEntropy, threads
from nnlib.data import peaks
from nnlib.objective import SingleLayerObjective
from nnlib.optim import gauss_newton, varpro


def problem(n, width, loss):
    rng = np.random.default_rng(0)
    Y, C = peaks(n, rng, n_classes=None if loss == "mse" else 5)
    kind = LeastSquares() if loss == "mse" else SoftmaxCrossEntropy()
    objective = SingleLayerObjective(Dense(2, width, "tanh"), kind, Y, C, reg_theta=1e-6, reg_W=1e-6)
    return objective, objective.init_params(rng)


RUNS = {
    "varpro (mse, dense)": ("mse", lambda obj, x: varpro(obj, x, outer="levenberg_marquardt", max_iter=10,
                                                         gtol=0.0, jacobian="golub-pereyra")),
    "gauss_newton (softmax, CG)": ("softmax", lambda obj, x: gauss_newton(obj, x, max_iter=10, gtol=0.0)),
}


def seconds(run, loss, n, width, limit, repeats):
    samples = []
    for _ in range(repeats):
        objective, x0 = problem(n, width, loss)
        with threadpool_limits(limits=limit, user_api="blas"):
            start = time.perf_counter()
            run(objective, x0)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=32)
    args = parser.parse_args()
    threads.SINGLE_THREAD_BELOW = -1  # measure the raw settings, not nnlib's choice
    cores = os.cpu_count()
    print(f"{'solver':>28} {'n':>7} {'pass size':>11} {'1 thread':>9} {f'{cores} threads':>10} {'ratio':>6}")
    for name, (loss, run) in RUNS.items():
        for n in (500, 2000, 8000, 32000, 128000):
            objective, _ = problem(n, args.width, loss)
            size = threads.pass_size(objective)
            one = seconds(run, loss, n, args.width, 1, args.repeats)
            many = seconds(run, loss, n, args.width, cores, args.repeats)
            print(f"{name:>28} {n:7d} {size:11,d} {one:8.3f}s {many:9.3f}s {many / one:6.2f}", flush=True)


if __name__ == "__main__":
    main()
