"""nnlib.threads: solvers pick BLAS threads by the size of the work and restore the caller's settings."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nnlib import Dense, LeastSquares, threads
from nnlib.data import peaks
from nnlib.objective import SingleLayerObjective
from nnlib.optim import adam, gauss_newton, levenberg_marquardt, sgd, steepest_descent, varpro


def blas_threads_now():
    return sorted(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


class Spy(SingleLayerObjective):
    """Records the BLAS threads in force whenever the solver evaluates the objective."""

    seen = []

    def value_and_gradient(self, x, batch=None):
        Spy.seen.append(blas_threads_now())
        return super().value_and_gradient(x) if batch is None else super().value_and_gradient(x, batch)


def problem(n, width=4):
    rng = np.random.default_rng(0)
    Y, C = peaks(n, rng)
    objective = Spy(Dense(2, width, "tanh"), LeastSquares(), Y, C, reg_theta=1e-4, reg_W=1e-4)
    return objective, objective.init_params(rng)


SOLVERS = {
    "steepest": lambda obj, x: steepest_descent(obj, x, max_iter=2),
    "gauss_newton": lambda obj, x: gauss_newton(obj, x, max_iter=2),
    "levenberg_marquardt": lambda obj, x: levenberg_marquardt(obj, x, max_iter=2),
    "sgd": lambda obj, x: sgd(obj, x, max_iter=3, batch_size=10, rng=np.random.default_rng(1)),
    "adam": lambda obj, x: adam(obj, x, max_iter=3),
    "varpro": lambda obj, x: varpro(obj, x, max_iter=2),
}


@pytest.mark.parametrize("name", SOLVERS)
def test_small_problems_run_single_threaded_and_the_settings_come_back(name):
    objective, x0 = problem(50)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads_now()
        Spy.seen = []
        SOLVERS[name](objective, x0)
        assert blas_threads_now() == before, "the solver changed the caller's thread settings"
    assert Spy.seen and all(set(seen) == {1} for seen in Spy.seen)


def test_large_problems_keep_the_callers_threads(monkeypatch):
    monkeypatch.setattr(threads, "SINGLE_THREAD_BELOW", 10)
    objective, x0 = problem(50)
    with threadpool_limits(limits=2, user_api="blas"):
        Spy.seen = []
        gauss_newton(objective, x0, max_iter=1)
        assert all(seen == blas_threads_now() for seen in Spy.seen)


def test_settings_come_back_after_an_exception():
    objective, x0 = problem(50)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads_now()
        with pytest.raises(ValueError):
            gauss_newton(objective, x0[:3])
        assert blas_threads_now() == before


def test_thread_settings_lists_the_blas_libraries():
    settings = threads.thread_settings()
    assert any(entry["internal_api"] == "openblas" for entry in settings)
    assert all({"num_threads", "filepath", "architecture"} <= set(entry) for entry in settings)


def test_pass_size_uses_the_batch():
    objective, _ = problem(50)
    assert threads.pass_size(objective) == 50 * objective.n_params
    assert threads.pass_size(objective, batch_size=10) == 10 * objective.n_params
    assert threads.pass_size(object()) is None
