"""BLAS threads chosen by the size of the work.

numpy and scipy each load an OpenBLAS with its own pool of threads, by default one
per core.  For the small dense products of this course (Gauss-Newton matrices of a
few hundred unknowns, a layer of width 32 over a few thousand examples) starting and
synchronizing the threads costs more than the work, and the two pools compete for
the same cores: measured on a 2-core machine, VarPro on the peaks regression ran
2.5 times slower with the default threads than with one (see the benchmarks page).

So every solver of :mod:`nnlib.optim` runs with one BLAS thread when a pass over its
training set is small, :data:`SINGLE_THREAD_BELOW` multiply-adds or fewer, and with
the caller's settings above that, where the threads pay.  The limit is set with
threadpoolctl (as scikit-learn does) for the duration of the call and the caller's
settings are restored afterwards, whatever happens: nnlib changes no global state.
"""

import contextlib
import functools

__all__ = [
    "SINGLE_THREAD_BELOW",
    "blas_threads",
    "pass_size",
    "thread_settings",
    "with_threads_by_size",
]

#: Multiply-adds of one pass over the training set (``n * (n_theta + n_W)``) at or below
#: which solvers run single-threaded.  Measured with ``tools/thread_crossover.py`` on an idle
#: 2-core AMD EPYC (AVX2; the OpenBLAS of numpy 2.4 and scipy 1.17), time with 2 threads over
#: time with 1 for 10 iterations, width 32:
#:
#: ========== ============================= ==========================
#: pass size  varpro (least squares, dense) gauss_newton (softmax, CG)
#: ========== ============================= ==========================
#: 64,000     10.1                          0.99 (128,000)
#: 256,000    3.7                           0.99 (512,000)
#: 1,024,000  3.4                           0.92 (2,048,000)
#: 4,096,000  1.6                           0.84 (8,192,000)
#: 16,384,000 1.05                          0.84 (32,768,000)
#: ========== ============================= ==========================
#:
#: The dense solves (small matrices, many BLAS calls) lose to the threads' start-up and
#: synchronization up to about 10 million multiply-adds per pass; the matrix-free ones gain
#: at most 16 % above 2 million.  On a loaded machine the threads lose everywhere (up to
#: 20 times slower measured at load 4).
SINGLE_THREAD_BELOW = 10_000_000

_controller = None


def _threadpools():
    """The process-wide ThreadpoolController (created on first use: it scans the loaded libraries),
    or ``None`` where threadpoolctl is not installed (nnlib then leaves the threads alone)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _controller = ThreadpoolController()
    return _controller


def thread_settings():
    """The BLAS/OpenMP thread pools loaded in this process: a list of dicts
    (``internal_api``, ``num_threads``, ``version``, ``architecture``, ``filepath``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "num_threads", "version", "architecture", "filepath")
    return [{key: info.get(key) for key in keys} for info in threadpool_info()]


def pass_size(objective, batch_size=None):
    """Multiply-adds of one pass: examples (or the mini-batch) times the unknowns."""
    n = getattr(objective, "n_examples", None)
    p = getattr(objective, "n_params", None)
    if n is None or p is None:
        return None
    if batch_size is not None:
        n = min(n, batch_size)
    return int(n) * int(p)


@contextlib.contextmanager
def blas_threads(size):
    """One BLAS thread while the block runs if ``size <= SINGLE_THREAD_BELOW``; else the caller's settings.

    ``size=None`` (unknown) leaves the settings alone.  The previous settings
    are restored on exit.
    """
    controller = None if size is None or size > SINGLE_THREAD_BELOW else _threadpools()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def with_threads_by_size(solver):
    """Decorator for a solver ``solver(objective, x0, ...)``: run it under :func:`blas_threads`.

    The size is that of a pass over the training set, or over a mini-batch when the
    solver is given ``batch_size``.
    """

    @functools.wraps(solver)
    def run(objective, *args, **kwargs):
        with blas_threads(pass_size(objective, kwargs.get("batch_size"))):
            return solver(objective, *args, **kwargs)

    return run
