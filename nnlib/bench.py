"""Benchmark command line: train a single-layer network on peaks with any solver, or compare solvers.

Examples
--------
One run, printed as one JSON object::

    python -m nnlib.bench peaks --model single --width 32 --loss mse --solver varpro \\
        --max-iter 200 --seed 0 --json

Time to reach Adam's loss (Adam runs first and sets the target)::

    python -m nnlib.bench compare --loss mse --reference-iter 5000 --lr 1e-2 --solvers varpro gn --json

``gn`` and ``varpro`` solve their Gauss-Newton systems with ``--gn-inner``:
``auto`` (default) factorizes the dense Gauss-Newton matrix and uses
Levenberg-Marquardt damping (:func:`~nnlib.optim.levenberg_marquardt`) for least
squares with at most 1000 unknowns, and runs matrix-free CG with a line search
otherwise; ``varpro`` uses the full (Golub-Pereyra) reduced Jacobian unless
``--varpro-jacobian kaufman`` (or ``none``), and solves for ``W`` of the
cross-entropy as ``--varpro-inner`` says.  Set ``OPENBLAS_NUM_THREADS=1`` (or the like)
to time all solvers on one core alike.

The JSON object of ``peaks`` has the keys ``problem``, ``solver``, ``settings``,
``train_loss`` (objective value: data loss plus regularization),
``train_data_loss``, ``val_loss``, ``val_accuracy`` (``null`` for regression),
``n_iter``, ``work_units``, ``wall_seconds``, ``time_to_target`` and
``work_to_target`` (``null`` without ``--target-loss`` or if never reached),
``success``, ``message`` and ``history`` (lists ``loss``, ``grad_norm``,
``step``, ``time``, ``work``, ``inner_iter``).  Invalid settings print a
message and exit with status 2.
"""

import argparse
import json
import sys

import numpy as np

from .data import peaks
from .layers import Dense
from .losses import LeastSquares, SoftmaxCrossEntropy
from .objective import SingleLayerObjective
from . import threads
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
    "json_ready",
    "print_text",
    "make_parser",
    "main",
]

#: Solver names accepted by ``--solver`` and ``--solvers``.
SOLVERS = ("gn", "gn-blockdiag", "varpro", "varpro-steepest", "sgd", "adam", "steepest")
#: Learning rate of the first-order solvers when ``--lr`` is not given.
DEFAULT_LR = {"sgd": 1e-2, "adam": 1e-2}


def load_data(args, rng):
    """Training and validation arrays from ``--data`` or freshly drawn peaks."""
    if args.data is not None:
        try:
            with np.load(args.data) as archive:
                missing = [k for k in ("Y", "C", "Yval", "Cval") if k not in archive]
                if missing:
                    raise ValueError(f"{args.data} lacks the array(s) {', '.join(missing)}; it needs Y, C, Yval, Cval")
                return tuple(np.asarray(archive[k], dtype=np.float64) for k in ("Y", "C", "Yval", "Cval"))
        except OSError as error:
            raise ValueError(f"cannot read --data {args.data}: {error}") from None
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
    objective = SingleLayerObjective(layer, loss, Y, C, reg_theta=args.reg_theta, reg_W=args.reg_W)
    x0 = objective.init_params(rng)
    return objective, x0, (Yval, Cval), rng


def inner_solver(args, objective):
    """``--gn-inner``: "auto" is "direct" for least squares with at most 1000 unknowns, else "cg"."""
    if args.gn_inner != "auto":
        return args.gn_inner
    small = objective.n_params <= 1000
    return "direct" if small and isinstance(objective.loss, LeastSquares) else "cg"


def run_solver(name, objective, x0, rng, args, max_iter, target_loss=None):
    """Run one solver by its command-line name; returns an OptimizeResult."""
    if name in ("gn", "gn-blockdiag"):
        return gauss_newton(
            objective, x0, max_iter=max_iter, target_loss=target_loss, coupling=name == "gn",
            cg_rtol=args.cg_rtol, cg_max_iter=args.cg_max_iter, inner=inner_solver(args, objective),
        )
    if name == "varpro":
        if inner_solver(args, objective) == "direct":
            return varpro(objective, x0, outer="levenberg_marquardt", max_iter=max_iter, target_loss=target_loss,
                          jacobian=args.varpro_jacobian)
        return varpro(objective, x0, max_iter=max_iter, target_loss=target_loss, cg_rtol=args.cg_rtol,
                      cg_max_iter=args.cg_max_iter, jacobian=args.varpro_jacobian, inner=args.varpro_inner)
    if name == "varpro-steepest":
        return varpro(objective, x0, outer="steepest", max_iter=max_iter, target_loss=target_loss)
    if name == "steepest":
        return steepest_descent(objective, x0, max_iter=max_iter, target_loss=target_loss)
    lr = args.lr if args.lr is not None else DEFAULT_LR[name]
    if name == "sgd":
        return sgd(objective, x0, learning_rate=lr, max_iter=max_iter, batch_size=args.batch_size,
                   momentum=args.momentum, nesterov=args.nesterov, rng=rng, target_loss=target_loss)
    return adam(objective, x0, learning_rate=lr, max_iter=max_iter, batch_size=args.batch_size,
                rng=rng, target_loss=target_loss)


class IterateLog:
    """The objective, and a copy of every iterate at which a solver asks for value and gradient.

    Descent methods ask once per iterate, SGD and Adam once per step, so entry ``k``
    belongs to entry ``k`` of the solver's history (the last history entry of SGD
    and Adam is the final ``x``).  Copying ``x`` costs no work units and next to no
    time, so the run is timed as without the log; validation accuracies are
    computed afterwards (:func:`first_accurate`).
    """

    def __init__(self, objective):
        self._objective = objective
        self.iterates = []

    def __getattr__(self, name):
        return getattr(self._objective, name)

    def value_and_gradient(self, x, batch=None):
        self.iterates.append(np.array(x, copy=True))
        if batch is None:
            return self._objective.value_and_gradient(x)
        return self._objective.value_and_gradient(x, batch)


def accuracy(objective, x, Y, C):
    """Share of the columns of ``Y`` classified as their one-hot labels in ``C``."""
    return float(np.mean(np.argmax(objective.predict(x, Y), axis=0) == np.argmax(C, axis=0)))


def first_accurate(log, result, objective, validation, target_accuracy):
    """Index of the first history entry whose iterate reaches ``target_accuracy``, or ``None``."""
    Yval, Cval = validation
    iterates = log.iterates[: len(result.history.loss) - 1] + [result.x]
    for k, x in enumerate(iterates):
        if np.all(np.isfinite(x)) and accuracy(objective, x, Yval, Cval) >= target_accuracy:
            return k
    return None


def summarize(name, result, objective, validation, target_loss=None, log=None, target_accuracy=None):
    """The JSON-ready record of one run."""
    Yval, Cval = validation
    history = result.history
    reached = None if target_loss is None else history.first_reaching(target_loss)
    accurate = None
    if log is not None and target_accuracy is not None:
        accurate = first_accurate(log, result, objective, validation, target_accuracy)
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
    target; with the cross-entropy each runs ``--max-iter`` iterations and the first
    iterates reaching each target are found afterwards.
    """
    objective, x0, validation, rng = build_problem(args)
    reference = run_solver(args.reference_solver, objective, x0, rng, args, args.reference_iter)
    target = reference.loss
    classification = isinstance(objective.loss, SoftmaxCrossEntropy)
    target_accuracy = accuracy(objective, reference.x, *validation) if classification else None
    record = {
        "problem": problem_record(args, objective),
        "threads": thread_settings(),
        "threads_in_solvers": threads_in_solvers(objective),
        "target_loss": target,
        "target_accuracy": target_accuracy,
        "reference": summarize(args.reference_solver, reference, objective, validation, target),
        "solvers": [],
    }
    for name in args.solvers:
        objective, x0, validation, rng = build_problem(args)  # fresh counters, same data and start
        log = IterateLog(objective)
        budget = args.max_iter
        if name in ("sgd", "adam"):
            budget = args.reference_iter if args.first_order_iter is None else args.first_order_iter
        result = run_solver(name, log, x0, rng, args, budget, None if classification else target)
        entry = summarize(name, result, objective, validation, target, log, target_accuracy)
        for key, time_key in (("speedup", "time_to_target"), ("speedup_accuracy", "time_to_accuracy")):
            reached = entry[time_key]
            entry[key] = None if reached is None else reference.wall_time / max(reached, 1e-12)
        record["solvers"].append(entry)
    return record


def threads_in_solvers(objective):
    """What nnlib's solvers do with the BLAS threads on this problem (:mod:`nnlib.threads`)."""
    size = pass_size(objective)
    single = size is not None and size <= threads.SINGLE_THREAD_BELOW
    return (f"one BLAS thread (a pass is {size:,} multiply-adds, at most {threads.SINGLE_THREAD_BELOW:,})" if single
            else "the caller's BLAS threads (a large pass)")


def json_ready(value):
    """Replace NaN and infinities (not valid JSON) by ``None``, recursively."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def print_text(record):
    """A short human-readable report (the default without --json)."""
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


def make_parser():
    """The ``argparse`` parser of ``python -m nnlib.bench`` with its two commands."""
    parser = argparse.ArgumentParser(prog="python -m nnlib.bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", choices=["single"], default="single", help="network (single layer)")
    common.add_argument("--width", type=_positive_int, default=32, help="width m of the layer")
    common.add_argument("--activation", default="tanh", help="activation of the layer")
    common.add_argument("--loss", choices=["mse", "softmax"], default="mse",
                        help="mse: peaks regression; softmax: peaks classification")
    common.add_argument("--n-classes", type=_positive_int, default=5, help="classes for --loss softmax")
    common.add_argument("--n-train", type=_positive_int, default=2000)
    common.add_argument("--n-val", type=_positive_int, default=1000)
    common.add_argument("--data", default=None, help="FILE.npz with arrays Y, C, Yval, Cval instead of peaks")
    common.add_argument("--reg-theta", type=_nonnegative_float, default=1e-6, help="alpha of alpha/2 ||theta||^2")
    common.add_argument("--reg-W", type=_nonnegative_float, default=1e-6, help="alpha_W of alpha_W/2 ||W||^2")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--lr", type=_positive_float, default=None, help="learning rate of sgd/adam (1e-2)")
    common.add_argument("--batch-size", type=_positive_int, default=None, help="sgd/adam mini-batch (full batch)")
    common.add_argument("--momentum", type=float, default=0.0, help="sgd momentum in [0, 1)")
    common.add_argument("--nesterov", action="store_true", help="sgd with Nesterov momentum")
    common.add_argument("--cg-rtol", type=_nonnegative_float, default=0.1, help="inner CG tolerance of gn/varpro")
    common.add_argument("--cg-max-iter", type=_positive_int, default=20, help="inner CG iterations of gn/varpro")
    common.add_argument("--gn-inner", choices=["auto", "cg", "direct"], default="auto",
                        help="inner solve of gn/varpro: matrix-free CG with line search, or dense Cholesky "
                             "with Levenberg-Marquardt damping; auto: direct for least squares with at most "
                             "1000 unknowns")
    common.add_argument("--varpro-jacobian", choices=["kaufman", "golub-pereyra", "none"], default="golub-pereyra",
                        help="reduced Jacobian of varpro: Kaufman's approximation, the full one, or none")
    common.add_argument("--varpro-inner", choices=["auto", "newton", "newton-cg"], default="auto",
                        help="varpro's solve for W of the cross-entropy: Newton with the Hessian factored, or "
                             "Newton-CG; auto: Newton for at most nnlib.optim.NEWTON_MAX_UNKNOWNS entries of W")
    common.add_argument("--json", action="store_true", help="print one JSON object")

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
    compare.add_argument("--first-order-iter", type=_nonnegative_int, default=None,
                         help="iteration budget of compared sgd/adam (default: --reference-iter)")
    return parser


def main(argv=None):
    """Entry point of ``python -m nnlib.bench``: parse ``argv``, run, print; returns 0."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        record = command_peaks(args) if args.command == "peaks" else command_compare(args)
    except ValueError as error:
        parser.error(str(error))  # exits with status 2
    if args.json:
        print(json.dumps(json_ready(record), allow_nan=False))
    else:
        print_text(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
