"""Benchmark command line: train on peaks or MNIST-1D with any solver, or compare and race solvers.

Examples
--------
One run on peaks, printed as one JSON object::

    python -m nnlib.bench peaks --model single --width 32 --loss mse --solver varpro \\
        --max-iter 200 --seed 0 --json

Time to reach Adam's loss (Adam runs first and sets the target)::

    python -m nnlib.bench compare --loss mse --reference-iter 5000 --lr 1e-2 --solvers varpro gn --json

MNIST-1D (the case study's data, :func:`nnlib.data.mnist1d`): the paper's recipe
(Adam, learning rate 1e-2, batches of 100, 8000 steps) for the CNN, three seeds,
with the time and work until the test accuracy first reaches 93.6%::

    OPENBLAS_NUM_THREADS=1 python -m nnlib.bench mnist1d --model cnn --solver adam --lr 1e-2 \\
        --batch-size 100 --max-iter 8000 --seeds 0 1 2 --target-accuracy 0.936 --json

The race of SGD, Adam, Gauss-Newton and VarPro on one model: learning rates
(SGD, Adam) and weight decay (Gauss-Newton, VarPro) are chosen on a validation
split of the training set, then every solver trains on all 4000 examples from
each seed and its test accuracy is recorded against work units and time::

    OPENBLAS_NUM_THREADS=1 python -m nnlib.bench mnist1d-race --model cnn --seeds 0 1 2 --json

``gn`` and ``varpro`` solve their Gauss-Newton systems with ``--gn-inner``:
``auto`` (default) factorizes the dense Gauss-Newton matrix and uses
Levenberg-Marquardt damping (:func:`~nnlib.optim.levenberg_marquardt`) for least
squares with at most 1000 unknowns, and runs matrix-free CG with a line search
otherwise (``varpro`` on the cross-entropy with a projected reduced Jacobian: matrix-free
Levenberg-Marquardt, the rule of :func:`~nnlib.optim.varpro`; ``varpro-gn`` takes
Gauss-Newton with a line search there too); ``varpro`` uses the full (Golub-Pereyra) reduced Jacobian unless
``--varpro-jacobian kaufman`` (or ``none``, or ``auto``: the rule of
:func:`~nnlib.optim.varpro`, which drops the reduced Jacobian when ``W`` of
the cross-entropy is solved by Newton-CG), and solves for ``W`` of the
cross-entropy as ``--varpro-inner`` says.  Set ``OPENBLAS_NUM_THREADS=1`` (or the like)
to time all solvers on one core alike.

The JSON object of ``peaks`` has the keys ``problem``, ``solver``, ``settings``,
``train_loss`` (objective value: data loss plus regularization),
``train_data_loss``, ``val_loss``, ``val_accuracy`` (``null`` for regression),
``n_iter``, ``work_units``, ``wall_seconds``, ``iterations_to_target``, ``time_to_target`` and
``work_to_target`` (``null`` without ``--target-loss`` or if never reached),
``success``, ``message`` and ``history`` (lists ``loss``, ``grad_norm``,
``step``, ``time``, ``work``, ``inner_iter``).

The JSON object of ``mnist1d`` has the keys ``command`` (the command line),
``problem``, ``solver``, ``settings``, ``runs`` (one record per seed, see
:func:`mnist1d_run`) and ``median`` (medians over the seeds, see
:func:`median_summary`); that of ``mnist1d-race`` has ``command``,
``problem``, ``target_accuracy``, ``budget``, ``tuning`` (every candidate
setting and its validation accuracy, and the ``chosen`` ones) and
``solvers`` (one ``mnist1d`` object per solver).  The accuracy is measured on
held-out data every ``--eval-every`` steps of SGD and Adam (every iteration of
Gauss-Newton and VarPro) by a callback whose time the solvers leave out of
their wall time.  Invalid settings print a message and exit with status 2.
"""

import argparse
import json
import sys
import zipfile

import numpy as np

from . import threads
from .data import mnist1d, peaks
from .layers import Dense
from .losses import LeastSquares, SoftmaxCrossEntropy
from .models import MODELS, AccuracyMonitor, mnist1d_problem
from .objective import LinearHeadObjective
from .optim import adam, gauss_newton, sgd, steepest_descent, varpro
from .threads import pass_size, thread_settings

__all__ = [
    "SOLVERS",
    "DEFAULT_LR",
    "load_data",
    "build_problem",
    "inner_solver",
    "run_solver",
    "summarize",
    "problem_record",
    "command_peaks",
    "command_compare",
    "MNIST1D_SOLVERS",
    "MNIST1D_MAX_ITER",
    "mnist1d_run",
    "median_summary",
    "command_mnist1d",
    "command_mnist1d_race",
    "json_ready",
    "print_text",
    "make_parser",
    "main",
]

#: Solver names accepted by ``--solver`` and ``--solvers``.
SOLVERS = ("gn", "gn-blockdiag", "varpro", "varpro-gn", "varpro-steepest", "sgd", "adam", "steepest")
#: Learning rate of the first-order solvers when ``--lr`` is not given.
DEFAULT_LR = {"sgd": 1e-2, "adam": 1e-2}
#: Solvers of the ``mnist1d`` and ``mnist1d-race`` commands.
MNIST1D_SOLVERS = ("sgd", "adam", "gn", "varpro")
#: Iterations of each solver on MNIST-1D when ``--max-iter`` is not given: the paper's 8000 steps
#: of batches of 100 for SGD and Adam (400 work units), 40 iterations of Gauss-Newton and VarPro.
MNIST1D_MAX_ITER = {"sgd": 8000, "adam": 8000, "gn": 40, "varpro": 40}
_FIRST_ORDER = ("sgd", "adam")


def load_data(args, rng):
    """Training and validation arrays from ``--data`` or freshly drawn peaks."""
    if args.data is not None:
        try:
            with np.load(args.data) as archive:
                missing = [k for k in ("Y", "C", "Yval", "Cval") if k not in archive]
                if missing:
                    raise ValueError(f"{args.data} lacks the array(s) {', '.join(missing)}; it needs Y, C, Yval, Cval")
                return tuple(np.asarray(archive[k], dtype=np.float64) for k in ("Y", "C", "Yval", "Cval"))
        except (OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"cannot read --data {args.data} (not a complete .npz file?): {error}") from None
    n_classes = args.n_classes if args.loss == "softmax" else None
    Y, C = peaks(args.n_train, rng, n_classes=n_classes)
    Yval, Cval = peaks(args.n_val, rng, n_classes=n_classes)
    return Y, C, Yval, Cval


def build_problem(args):
    """Objective, starting point, validation data and the generator for stochastic solvers."""
    rng = np.random.default_rng(args.seed)
    Y, C, Yval, Cval = load_data(args, rng)
    if Yval.shape[0] != Y.shape[0] or Cval.shape[0] != C.shape[0]:
        raise ValueError(
            f"validation arrays must have the rows of the training arrays: Yval ({Y.shape[0]}, n_val), "
            f"Cval ({C.shape[0]}, n_val); got {Yval.shape} and {Cval.shape}"
        )
    layer = Dense(Y.shape[0], args.width, args.activation)
    loss = LeastSquares() if args.loss == "mse" else SoftmaxCrossEntropy()
    objective = LinearHeadObjective(layer, loss, Y, C, reg_theta=args.reg_theta, reg_W=args.reg_W)
    x0 = objective.init_params(rng)
    return objective, x0, (Yval, Cval), rng


def inner_solver(args, objective):
    """``--gn-inner``: "auto" is "direct" for least squares with at most 1000 unknowns, else "cg"."""
    if args.gn_inner != "auto":
        return args.gn_inner
    small = objective.n_params <= 1000
    return "direct" if small and isinstance(objective.loss, LeastSquares) else "cg"


def run_solver(name, objective, x0, rng, args, max_iter, target_loss=None, callback=None):
    """Run one solver by its command-line name; returns an OptimizeResult.

    ``callback(x_k)`` is passed on to the solver (see :mod:`nnlib.optim`).
    """
    if name in ("gn", "gn-blockdiag"):
        return gauss_newton(
            objective, x0, max_iter=max_iter, target_loss=target_loss, coupling=name == "gn",
            cg_rtol=args.cg_rtol, cg_max_iter=args.cg_max_iter, inner=inner_solver(args, objective),
            callback=callback,
        )
    if name in ("varpro", "varpro-gn"):
        if name == "varpro" and inner_solver(args, objective) == "direct":
            return varpro(objective, x0, outer="levenberg_marquardt", max_iter=max_iter, target_loss=target_loss,
                          jacobian=args.varpro_jacobian, callback=callback)
        # varpro-gn: the reduced problem by Gauss-Newton with a line search, whatever varpro's default
        return varpro(objective, x0, outer="gauss_newton" if name == "varpro-gn" else "auto", max_iter=max_iter,
                      target_loss=target_loss, cg_rtol=args.cg_rtol, cg_max_iter=args.cg_max_iter,
                      jacobian=args.varpro_jacobian, inner=args.varpro_inner, callback=callback)
    if name == "varpro-steepest":
        return varpro(objective, x0, outer="steepest", max_iter=max_iter, target_loss=target_loss, callback=callback)
    if name == "steepest":
        return steepest_descent(objective, x0, max_iter=max_iter, target_loss=target_loss, callback=callback)
    lr = args.lr if args.lr is not None else DEFAULT_LR[name]
    if name == "sgd":
        return sgd(objective, x0, learning_rate=lr, max_iter=max_iter, batch_size=args.batch_size,
                   momentum=args.momentum, nesterov=args.nesterov, rng=rng, target_loss=target_loss,
                   callback=callback)
    return adam(objective, x0, learning_rate=lr, max_iter=max_iter, batch_size=args.batch_size,
                rng=rng, target_loss=target_loss, callback=callback)


def accuracy(objective, x, Y, C):
    """Share of the columns of ``Y`` classified as their one-hot labels in ``C``."""
    return float(np.mean(np.argmax(objective.predict(x, Y), axis=0) == np.argmax(C, axis=0)))


def summarize(name, result, objective, validation, target_loss=None, monitor=None, target_accuracy=None):
    """The JSON-ready record of one run; ``monitor`` an :class:`~nnlib.models.AccuracyMonitor` that watched it."""
    Yval, Cval = validation
    history = result.history
    reached = None if target_loss is None else history.first_reaching(target_loss)
    accurate = None
    if monitor is not None and target_accuracy is not None:
        k = monitor.first_reaching(target_accuracy)
        accurate = None if k is None else monitor.indices[k]
    finite = np.all(np.isfinite(result.x))
    val_accuracy = None
    if isinstance(objective.loss, SoftmaxCrossEntropy) and finite:
        predicted = np.argmax(objective.predict(result.x, Yval), axis=0)
        val_accuracy = float(np.mean(predicted == np.argmax(Cval, axis=0)))
    return {
        "solver": name,
        "train_loss": float(result.loss),
        "train_data_loss": float(objective.data_loss(result.x)) if finite else float("nan"),
        "val_loss": float(objective.data_loss(result.x, Yval, Cval)) if finite else float("nan"),
        "val_accuracy": val_accuracy,
        "n_iter": result.n_iter,
        "work_units": result.work_units,
        "wall_seconds": result.wall_time,
        "iterations_to_target": reached,
        "iterations_to_accuracy": accurate,
        "time_to_target": None if reached is None else history.time[reached],
        "work_to_target": None if reached is None else history.work[reached],
        "time_to_accuracy": None if accurate is None else history.time[accurate],
        "work_to_accuracy": None if accurate is None else history.work[accurate],
        "inner_work": getattr(result, "inner_work", None),
        "inner_iterations": getattr(result, "inner_iterations", None),
        "status": result.status.name,
        "success": result.success,
        "message": result.message,
        "history": history.to_dict(),
    }


def problem_record(args, objective):
    """The ``problem`` entry of a JSON record: data, model, loss, sizes and seed."""
    return {
        "data": args.data or "peaks",
        "model": args.model,
        "width": args.width,
        "activation": args.activation,
        "loss": args.loss,
        "n_classes": objective.C.shape[0] if args.loss == "softmax" else None,
        "n_train": objective.n_examples,
        "reg_theta": args.reg_theta,
        "reg_W": args.reg_W,
        "seed": args.seed,
        "n_params": objective.n_params,
    }


def command_peaks(args):
    """Run the ``peaks`` command: train with one solver and return the JSON record."""
    objective, x0, validation, rng = build_problem(args)
    threads_before = thread_settings()
    result = run_solver(args.solver, objective, x0, rng, args, args.max_iter, args.target_loss)
    record = {"problem": problem_record(args, objective), "threads": threads_before,
              "threads_in_solvers": threads_in_solvers(objective)}
    record.update(summarize(args.solver, result, objective, validation, args.target_loss))
    record["settings"] = {"max_iter": args.max_iter, "lr": args.lr, "batch_size": args.batch_size,
                          "target_loss": args.target_loss}
    return record


def command_compare(args):
    """Run the ``compare`` command: a reference solver sets the targets, then every solver
    of ``--solvers`` runs from the same start and data and is timed to them (``speedup``
    relative to the reference).

    Targets: the reference's final training loss, and for the cross-entropy also its
    final validation accuracy.  With least squares each solver stops at the loss
    target; with the cross-entropy each runs its budget, and an
    :class:`~nnlib.models.AccuracyMonitor` finds the first iterate reaching the accuracy.

    With ``--repeat N`` every solver of ``--solvers`` runs ``N`` times from the same
    start; its times (``wall_seconds``, ``time_to_target``, ``time_to_accuracy``, and the
    speed-ups) are the medians, ``times`` lists the runs' wall times, and everything else
    (iterations, work, losses: the same in every run) comes from the first run.  The
    reference runs once: it is long, and its time varies less.
    """
    objective, x0, validation, rng = build_problem(args)
    reference = run_solver(args.reference_solver, objective, x0, rng, args, args.reference_iter)
    target = reference.loss
    classification = isinstance(objective.loss, SoftmaxCrossEntropy)
    target_accuracy = accuracy(objective, reference.x, *validation) if classification else None
    record = {
        "command": getattr(args, "command_line", None),
        "problem": problem_record(args, objective),
        "threads": thread_settings(),
        "threads_in_solvers": threads_in_solvers(objective),
        "target_loss": target,
        "target_accuracy": target_accuracy,
        "reference": summarize(args.reference_solver, reference, objective, validation, target),
        "solvers": [],
    }
    for name in args.solvers:
        budget = args.max_iter
        if name in ("sgd", "adam"):
            budget = args.reference_iter if args.first_order_iter is None else args.first_order_iter
        runs = []
        for _ in range(args.repeat):
            objective, x0, validation, rng = build_problem(args)  # fresh counters, same data and start
            # the monitor measures the validation accuracy of every iterate, outside the solver's clock
            monitor = AccuracyMonitor(objective, *validation) if classification else None
            result = run_solver(name, objective, x0, rng, args, budget, None if classification else target,
                                callback=monitor)
            runs.append(summarize(name, result, objective, validation, target, monitor, target_accuracy))
        entry = runs[0]
        for key in ("wall_seconds", "time_to_target", "time_to_accuracy"):
            if entry[key] is not None:
                entry[key] = float(np.median([run[key] for run in runs]))
        entry["times"] = [run["wall_seconds"] for run in runs]
        for key, time_key in (("speedup", "time_to_target"), ("speedup_accuracy", "time_to_accuracy")):
            reached = entry[time_key]
            entry[key] = None if reached is None else reference.wall_time / max(reached, 1e-12)
        record["solvers"].append(entry)
    if args.no_history:
        for entry in [record["reference"], *record["solvers"]]:
            del entry["history"]
    return record


def threads_in_solvers(objective):
    """What nnlib's solvers do with the BLAS threads on this problem (:mod:`nnlib.threads`)."""
    size = pass_size(objective)
    single = size is not None and size <= threads.SINGLE_THREAD_BELOW
    return (f"one BLAS thread (a pass is {size:,} multiply-adds, at most {threads.SINGLE_THREAD_BELOW:,})" if single
            else "the caller's BLAS threads (a large pass)")


def mnist1d_run(solver, args, seed, lr=None, reg=None, validation=0, max_iter=None, data=None):
    """Train one MNIST-1D model with one solver from one seed; the JSON-ready record of the run.

    Parameters
    ----------
    solver : {"sgd", "adam", "gn", "varpro"}
    args : argparse.Namespace
        The settings of the command (model, shuffle, solver options).
    seed : int
        Seed of the starting point and of the mini-batches.
    lr : float, optional
        Learning rate of SGD and Adam (default ``args.lr``, else :data:`DEFAULT_LR`).
    reg : float, optional
        Weight decay of both ``theta`` and ``W`` (default ``args.reg_theta``, ``args.reg_W``).
    validation : int, default 0
        Examples held out of the training set; the accuracy is then measured
        on them instead of the test set.
    max_iter : int, optional
        Default ``args.max_iter``, else :data:`MNIST1D_MAX_ITER`.
    data : tuple, optional
        The loaded data set (:func:`nnlib.data.mnist1d`).

    Returns
    -------
    dict
        ``seed``, ``lr``, ``reg_theta``, ``reg_W``, ``max_iter``,
        ``accuracy`` (at the end, on the evaluation data), ``best_accuracy``
        (over the measurements), ``train_accuracy``, ``train_loss``, ``n_iter``,
        ``work_units``, ``wall_seconds``, ``time_to_accuracy``,
        ``work_to_accuracy`` and ``iterations_to_accuracy`` (first measurement
        at or above ``args.target_accuracy``; ``None`` if never), ``success``,
        ``message`` and ``trace`` (``iteration``, ``work``, ``time``,
        ``accuracy`` of every measurement, the last iterate included).
    """
    reg_theta = args.reg_theta if reg is None else reg
    reg_W = args.reg_W if reg is None else reg
    problem = mnist1d_problem(args.model, seed=seed, shuffle=args.shuffle, validation=validation,
                              split_seed=args.split_seed, reg_theta=reg_theta, reg_W=reg_W, data=data)
    first_order = solver in _FIRST_ORDER
    if max_iter is None:
        max_iter = args.max_iter if getattr(args, "max_iter", None) is not None else MNIST1D_MAX_ITER[solver]
    run_args = argparse.Namespace(**vars(args))
    run_args.lr = lr if lr is not None else args.lr
    if first_order and run_args.lr is None:
        run_args.lr = DEFAULT_LR[solver]
    target = args.target_accuracy
    monitor = AccuracyMonitor(problem.objective, problem.Y_eval, problem.C_eval,
                              every=args.eval_every if first_order else 1,
                              target=target, stop=bool(args.stop_at_target) and target is not None)
    objective = problem.objective
    result = run_solver(solver, objective, problem.x0, problem.rng, run_args, max_iter, callback=monitor)
    finite = bool(np.all(np.isfinite(result.x)))
    final = accuracy(objective, result.x, problem.Y_eval, problem.C_eval) if finite else None
    trace = monitor.trace(result.history)
    last = len(result.history) - 1
    if final is not None and (not trace["iteration"] or trace["iteration"][-1] != last):
        # the last iterate is always measured (SGD and Adam measure every eval_every steps)
        trace["iteration"].append(last)
        trace["work"].append(float(result.history.work[last]))
        trace["time"].append(float(result.history.time[last]))
        trace["accuracy"].append(final)
    reached = None
    if target is not None:
        reached = next((k for k, value in enumerate(trace["accuracy"]) if value >= target), None)
    return {
        "seed": seed,
        "lr": run_args.lr if first_order else None,
        "reg_theta": reg_theta,
        "reg_W": reg_W,
        "max_iter": max_iter,
        "accuracy": final,
        "best_accuracy": max(trace["accuracy"]) if trace["accuracy"] else None,
        "train_accuracy": accuracy(objective, result.x, objective.Y, objective.C) if finite else None,
        "train_loss": float(result.loss),
        "n_iter": result.n_iter,
        "work_units": result.work_units,
        "wall_seconds": result.wall_time,
        "time_to_accuracy": None if reached is None else trace["time"][reached],
        "work_to_accuracy": None if reached is None else trace["work"][reached],
        "iterations_to_accuracy": None if reached is None else trace["iteration"][reached],
        "success": result.success,
        "message": result.message,
        "trace": trace,
    }


def median_summary(runs):
    """Medians over the runs (seeds) of accuracies, work and times.

    A run that never reached the target accuracy counts as infinitely slow:
    the median time to the target is ``None`` when more than half of the runs
    never reached it.  ``reached`` counts the runs that did.
    """
    def median(key):
        values = [np.inf if run[key] is None else run[key] for run in runs]
        value = float(np.median(values)) if values else np.inf
        return value if np.isfinite(value) else None

    keys = ("accuracy", "best_accuracy", "train_accuracy", "work_units", "wall_seconds",
            "time_to_accuracy", "work_to_accuracy", "iterations_to_accuracy")
    summary = {key: median(key) for key in keys}
    summary["reached"] = sum(run["time_to_accuracy"] is not None for run in runs)
    summary["runs"] = len(runs)
    return summary


def _mnist1d_problem_record(args, data, validation=0):
    Y = data[0]
    sizes = mnist1d_problem(args.model, validation=validation, data=data)
    return {
        "data": "mnist1d" + (" (shuffled)" if args.shuffle else ""),
        "model": args.model,
        "shuffle": bool(args.shuffle),
        "n_train": int(Y.shape[1]),
        "n_test": int(data[2].shape[1]),
        "n_params": sizes.objective.n_params,
        "n_theta": sizes.objective.n_theta,
        "seeds": list(args.seeds),
        "blas_threads": _blas_threads(),
        "load_average": _load_average(),
    }


def _load_average():
    """The machine's 1-minute load average when the command started (``None`` where unknown)."""
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _blas_threads():
    """The environment's BLAS thread setting (``OPENBLAS_NUM_THREADS`` and the like), for the record."""
    import os

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name):
            return f"{name}={os.environ[name]}"
    return None


def _solver_settings(solver, args, lr=None, max_iter=None):
    first_order = solver in _FIRST_ORDER
    settings = {"max_iter": max_iter, "eval_every": args.eval_every if first_order else 1,
                "target_accuracy": args.target_accuracy}
    if first_order:
        settings.update(lr=lr, batch_size=args.batch_size)
        if solver == "sgd":
            settings.update(momentum=args.momentum, nesterov=bool(args.nesterov))
    else:
        settings.update(cg_max_iter=args.cg_max_iter, cg_rtol=args.cg_rtol)
    return settings


def command_mnist1d(args, data=None):
    """Run the ``mnist1d`` command: one model, one solver, one run per seed, and the medians."""
    data = mnist1d(shuffle=args.shuffle) if data is None else data
    runs = [mnist1d_run(args.solver, args, seed, validation=args.validation, data=data) for seed in args.seeds]
    lr = runs[0]["lr"]
    record = {
        "command": getattr(args, "command_line", None),
        "problem": _mnist1d_problem_record(args, data, args.validation),
        "evaluation": "validation" if args.validation else "test",
        "solver": args.solver,
        "settings": _solver_settings(args.solver, args, lr, runs[0]["max_iter"]),
        "runs": runs,
        "median": median_summary(runs),
    }
    record["settings"].update(reg_theta=args.reg_theta, reg_W=args.reg_W, validation=args.validation)
    return record


def command_mnist1d_race(args):
    """Run the ``mnist1d-race`` command: settings chosen on validation data, then every solver on the test set.

    For each solver the candidates (``--lr-grid`` for SGD and Adam,
    ``--reg-grid`` for Gauss-Newton and VarPro, as the weight decay of both
    ``theta`` and ``W``) are trained with the first seed on the training set
    less ``--validation`` held-out examples, with the full budget; the one
    with the highest final validation accuracy (the first one on ties) is
    chosen.  Then the solver trains on all training examples from every seed
    with its chosen setting.
    """
    data = mnist1d(shuffle=args.shuffle)
    tuning = {"evaluation": "validation", "n_validation": args.validation, "split_seed": args.split_seed,
              "seed": args.seeds[0], "candidates": {}, "chosen": {}}
    entries = []
    for solver in args.solvers:
        first_order = solver in _FIRST_ORDER
        max_iter = args.first_order_iter if first_order else args.second_order_iter
        grid = args.lr_grid if first_order else args.reg_grid
        key = "lr" if first_order else "reg"
        candidates = []
        for value in grid:
            options = {"lr": value} if first_order else {"reg": value}
            run = mnist1d_run(solver, args, args.seeds[0], validation=args.validation, max_iter=max_iter,
                              data=data, **options)
            candidates.append({key: value, "accuracy": run["accuracy"], "best_accuracy": run["best_accuracy"],
                               "train_loss": run["train_loss"], "message": run["message"]})
        scored = [c for c in candidates if c["accuracy"] is not None]
        chosen = max(scored, key=lambda c: c["accuracy"]) if scored else candidates[0]
        tuning["candidates"][solver] = candidates
        tuning["chosen"][solver] = {key: chosen[key]}
        options = {"lr": chosen["lr"]} if first_order else {"reg": chosen["reg"]}
        runs = [mnist1d_run(solver, args, seed, max_iter=max_iter, data=data, **options) for seed in args.seeds]
        settings = _solver_settings(solver, args, runs[0]["lr"], max_iter)
        settings.update(reg_theta=runs[0]["reg_theta"], reg_W=runs[0]["reg_W"])
        entries.append({"solver": solver, "settings": settings, "runs": runs, "median": median_summary(runs)})
    return {
        "command": getattr(args, "command_line", None),
        "problem": _mnist1d_problem_record(args, data),
        "evaluation": "test",
        "target_accuracy": args.target_accuracy,
        "budget": {"first_order_iter": args.first_order_iter, "batch_size": args.batch_size,
                   "first_order_work": 2.0 * args.first_order_iter * args.batch_size / data[0].shape[1],
                   "second_order_iter": args.second_order_iter},
        "tuning": tuning,
        "solvers": entries,
    }


def json_ready(value):
    """Replace NaN and infinities (not valid JSON) by ``None``, recursively."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _mnist1d_lines(name, entry):
    def pct(value):
        return "   --" if value is None else f"{100 * value:5.1f}"

    def seconds(value):
        return "never" if value is None else f"{value:.1f} s"

    def work(value):
        return "never" if value is None else f"{value:.0f}"

    lines = []
    for run in entry["runs"]:
        lines.append(f"{name:>8} seed {run['seed']}: accuracy {pct(run['accuracy'])}% (best {pct(run['best_accuracy'])}%, "
                     f"train {pct(run['train_accuracy'])}%), {run['n_iter']} it, {run['work_units']:.0f} work, "
                     f"{run['wall_seconds']:.1f} s; target after {seconds(run['time_to_accuracy'])} / "
                     f"{work(run['work_to_accuracy'])} work ({run['message']})")
    median = entry["median"]
    lines.append(f"{name:>8} median: accuracy {pct(median['accuracy'])}%, {median['wall_seconds']:.1f} s, "
                 f"target reached by {median['reached']} of {median['runs']}, after "
                 f"{seconds(median['time_to_accuracy'])} / {work(median['work_to_accuracy'])} work")
    return lines


def print_text(record):
    """A short human-readable report (the default without --json)."""
    if "tuning" in record:
        for solver, candidates in record["tuning"]["candidates"].items():
            key = "lr" if solver in _FIRST_ORDER else "reg"
            tried = ", ".join(f"{c[key]:g}: {100 * c['accuracy']:.1f}%" if c["accuracy"] is not None
                              else f"{c[key]:g}: --" for c in candidates)
            print(f"{solver:>8} validation accuracy by {key}: {tried}; chosen {record['tuning']['chosen'][solver]}")
        for entry in record["solvers"]:
            print("\n".join(_mnist1d_lines(entry["solver"], entry)))
        return
    if "runs" in record:
        print("\n".join(_mnist1d_lines(record["solver"], record)))
        return

    def line(entry):
        to_target = entry["time_to_target"]
        extra = "" if to_target is None else f", target after {to_target:.3f} s / {entry['work_to_target']:.0f} work"
        speedup = "" if entry.get("speedup") is None else f", {entry['speedup']:.1f}x faster"
        if entry.get("time_to_accuracy") is not None:
            speedup += (f"; accuracy after {entry['time_to_accuracy']:.3f} s / {entry['work_to_accuracy']:.0f} work"
                        f", {entry['speedup_accuracy']:.1f}x faster")
        if entry.get("inner_work") is not None:
            speedup += f"; inner work {entry['inner_work']:.0f} in {entry['inner_iterations']} Newton iterations"
        acc = "" if entry["val_accuracy"] is None else f", val acc {entry['val_accuracy']:.3f}"
        return (f"{entry['solver']:>16}: loss {entry['train_loss']:.6g}, val {entry['val_loss']:.6g}{acc}, "
                f"{entry['n_iter']} it, {entry['work_units']:.0f} work, {entry['wall_seconds']:.3f} s{extra}{speedup}"
                f" ({entry['message']})")

    pools = ", ".join(f"{entry['internal_api']} {entry['num_threads']} thread(s)" for entry in record.get("threads", []))
    print(f"BLAS: {pools or 'no thread pools found'}; solvers use {record.get('threads_in_solvers', '?')}")
    if "reference" in record:
        accuracy_target = "" if record.get("target_accuracy") is None else (
            f", validation accuracy {record['target_accuracy']:.3f}")
        print(f"target loss {record['target_loss']:.6g}{accuracy_target} (from {record['reference']['solver']})")
        print(line(record["reference"]))
        for entry in record["solvers"]:
            print(line(entry))
    else:
        print(line(record))


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text}")
    return value


def _probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text}")
    return value


def make_parser():
    """The ``argparse`` parser of ``python -m nnlib.bench`` with its four commands."""
    parser = argparse.ArgumentParser(prog="python -m nnlib.bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    # Options of the solvers, with fresh actions per group: argparse parents share action
    # objects, so defaults set on one command would leak into the others.
    def solver_options(reg=1e-6, batch_size=None, momentum=0.0):
        solvers = argparse.ArgumentParser(add_help=False)
        solvers.add_argument("--reg-theta", type=_nonnegative_float, default=reg, help="alpha of alpha/2 ||theta||^2")
        solvers.add_argument("--reg-W", type=_nonnegative_float, default=reg, help="alpha_W of alpha_W/2 ||W||^2")
        solvers.add_argument("--lr", type=_positive_float, default=None, help="learning rate of sgd/adam (1e-2)")
        solvers.add_argument("--batch-size", type=_positive_int, default=batch_size,
                             help=f"sgd/adam mini-batch ({batch_size or 'full batch'})")
        solvers.add_argument("--momentum", type=float, default=momentum, help="sgd momentum in [0, 1)")
        solvers.add_argument("--nesterov", action="store_true", help="sgd with Nesterov momentum")
        solvers.add_argument("--cg-rtol", type=_nonnegative_float, default=0.1, help="inner CG tolerance of gn/varpro")
        solvers.add_argument("--cg-max-iter", type=_positive_int, default=20, help="inner CG iterations of gn/varpro")
        solvers.add_argument("--gn-inner", choices=["auto", "cg", "direct"], default="auto",
                             help="inner solve of gn/varpro: matrix-free CG with line search, or dense Cholesky "
                                  "with Levenberg-Marquardt damping; auto: direct for least squares with at most "
                                  "1000 unknowns")
        solvers.add_argument("--varpro-jacobian", choices=["auto", "kaufman", "golub-pereyra", "none"],
                             default="golub-pereyra",
                             help="reduced Jacobian of varpro: Kaufman's approximation, the full one, none, or the "
                                  "library's rule (auto: none with Newton-CG for the cross-entropy, else Kaufman)")
        solvers.add_argument("--varpro-inner", choices=["auto", "newton", "newton-cg"], default="auto",
                             help="varpro's solve for W of the cross-entropy: Newton with the Hessian factored, or "
                                  "Newton-CG; auto: Newton for at most nnlib.optim.NEWTON_MAX_UNKNOWNS entries of W")
        solvers.add_argument("--json", action="store_true", help="print one JSON object")
        return solvers

    common = argparse.ArgumentParser(add_help=False, parents=[solver_options()])
    common.add_argument("--model", choices=["single"], default="single", help="network (single layer)")
    common.add_argument("--width", type=_positive_int, default=32, help="width m of the layer")
    common.add_argument("--activation", default="tanh", help="activation of the layer")
    common.add_argument("--loss", choices=["mse", "softmax"], default="mse",
                        help="mse: peaks regression; softmax: peaks classification")
    common.add_argument("--n-classes", type=_positive_int, default=5, help="classes for --loss softmax")
    common.add_argument("--n-train", type=_positive_int, default=2000)
    common.add_argument("--n-val", type=_positive_int, default=1000)
    common.add_argument("--data", default=None, help="FILE.npz with arrays Y, C, Yval, Cval instead of peaks")
    common.add_argument("--seed", type=int, default=0)

    run = commands.add_parser("peaks", parents=[common], help="train with one solver")
    run.add_argument("--solver", choices=SOLVERS, default="varpro")
    run.add_argument("--max-iter", type=_nonnegative_int, default=200)
    run.add_argument("--target-loss", type=float, default=None, help="stop once the training loss is this low")

    compare = commands.add_parser("compare", parents=[common],
                                  help="run a reference solver, then time the others to its final loss")
    compare.add_argument("--reference-solver", choices=SOLVERS, default="adam")
    compare.add_argument("--reference-iter", type=_nonnegative_int, default=5000)
    compare.add_argument("--solvers", nargs="+", choices=SOLVERS, default=["varpro", "gn"])
    compare.add_argument("--max-iter", type=_nonnegative_int, default=1000,
                         help="iteration budget of the compared second-order solvers")
    compare.add_argument("--no-history", action="store_true",
                         help="leave the per-iteration histories out of the JSON record (they are long for Adam)")
    compare.add_argument("--repeat", type=_positive_int, default=1,
                         help="runs of each compared solver; times are medians (the reference runs once)")
    compare.add_argument("--first-order-iter", type=_nonnegative_int, default=None,
                         help="iteration budget of compared sgd/adam (default: --reference-iter)")

    # MNIST-1D: the data set of nnlib.data.mnist1d, the models of nnlib.models
    digits = argparse.ArgumentParser(add_help=False, parents=[solver_options(reg=0.0, batch_size=100, momentum=0.9)])
    digits.add_argument("--model", choices=MODELS, default="cnn", help="network (nnlib.models.mnist1d_network)")
    digits.add_argument("--shuffle", action="store_true", help="the variant with permuted positions")
    digits.add_argument("--seeds", type=_nonnegative_int, nargs="+", default=[0],
                        help="one run per seed (start and mini-batches); medians over them")
    digits.add_argument("--split-seed", type=_nonnegative_int, default=0, help="seed of the validation split")
    digits.add_argument("--eval-every", type=_positive_int, default=40,
                        help="sgd/adam: measure the accuracy every this many steps (gn/varpro: every iteration)")
    digits.add_argument("--stop-at-target", action="store_true", help="stop a run once it reaches --target-accuracy")

    single = commands.add_parser("mnist1d", parents=[digits], help="train one MNIST-1D model with one solver")
    single.add_argument("--solver", choices=MNIST1D_SOLVERS, default="adam")
    single.add_argument("--max-iter", type=_nonnegative_int, default=None,
                        help="iterations (default: 8000 for sgd/adam, 40 for gn/varpro)")
    single.add_argument("--validation", type=_nonnegative_int, default=0,
                        help="hold out this many training examples and measure on them instead of the test set")
    single.add_argument("--target-accuracy", type=_probability, default=None,
                        help="record the time and work until the accuracy first reaches this (e.g. 0.936)")

    race = commands.add_parser("mnist1d-race", parents=[digits],
                               help="choose settings on validation data, then race the solvers on the test set")
    race.add_argument("--solvers", nargs="+", choices=MNIST1D_SOLVERS, default=list(MNIST1D_SOLVERS))
    race.add_argument("--first-order-iter", type=_positive_int, default=8000, help="steps of sgd and adam")
    race.add_argument("--second-order-iter", type=_positive_int, default=40, help="iterations of gn and varpro")
    race.add_argument("--validation", type=_positive_int, default=500, help="training examples held out for tuning")
    race.add_argument("--lr-grid", type=_positive_float, nargs="+", default=[1e-3, 3e-3, 1e-2, 3e-2],
                      help="learning rates tried for sgd and adam")
    race.add_argument("--reg-grid", type=_nonnegative_float, nargs="+", default=[0.0, 1e-4, 1e-3],
                      help="weight decays (reg_theta = reg_W) tried for gn and varpro")
    race.add_argument("--target-accuracy", type=_probability, default=0.936,
                      help="record the time and work until the test accuracy first reaches this")
    return parser


COMMANDS = {"peaks": command_peaks, "compare": command_compare, "mnist1d": command_mnist1d,
            "mnist1d-race": command_mnist1d_race}


def main(argv=None):
    """Entry point of ``python -m nnlib.bench``: parse ``argv``, run, print; returns 0."""
    parser = make_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = "python -m nnlib.bench " + " ".join(argv)
    try:
        record = COMMANDS[args.command](args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))  # exits with status 2
    except MemoryError:
        parser.error("these sizes need more memory than this machine has; choose smaller ones")
    if args.json:
        print(json.dumps(json_ready(record), allow_nan=False))
    else:
        print_text(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
