"""The networks of the MNIST-1D case study, built from nnlib's layers.

Each function returns the *feature* part of a classifier: a layer (usually a
:class:`~nnlib.networks.Sequential`) that maps the ``(40, n)`` sequences to
features ``Z``, ending with :class:`~nnlib.layers.AppendOnes`.  The linear last
layer ``W`` and the softmax cross-entropy are added by
:class:`~nnlib.objective.LinearHeadObjective`, so the scores ``S = W [Z; 1]``
have a bias, as ``torch.nn.Linear`` does, and variable projection can
eliminate ``W``.

=========== ==================================================================
``linear``  ``[Y; 1]``: multinomial logistic regression (410 weights)
``mlp``     the paper's MLP: ``Dense(40, 100, relu)``, a residual
            ``Dense(100, 100, relu)`` block, linear (15,210 weights)
``cnn``     the paper's CNN: three convolutions with 25 channels, stride 2,
            ReLU (stencils 5, 3, 3), linear on the 25 x 5 features (5,210)
``resnet``  the CNN with a residual block of 25-channel convolutions after
            its first and its second convolution (9,010 weights)
=========== ==================================================================

The paper's models (Greydanus and Kobak, ICML 2024) are PyTorch modules; the
CNN here has the same layers and weights, with centred stencils and zero
boundary conditions instead of PyTorch's ``padding=1``: the first convolution
(stencil 5) gives 20 points here and 19 in PyTorch, the next two give 10 and
5 in both.
"""

from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_positive_int
from .conv import Conv1D
from .data import mnist1d
from .layers import AppendOnes, Dense
from .losses import SoftmaxCrossEntropy
from .networks import Residual, Sequential
from .objective import LinearHeadObjective

__all__ = [
    "MODELS",
    "mnist1d_network",
    "accuracy",
    "Mnist1DProblem",
    "mnist1d_problem",
    "AccuracyMonitor",
]

#: Names accepted by :func:`mnist1d_network`.
MODELS = ("linear", "mlp", "cnn", "resnet")


def mnist1d_network(name, length=40, channels=25, width=100):
    """The feature layer of one of the case study's classifiers.

    Parameters
    ----------
    name : {"linear", "mlp", "cnn", "resnet"}
        The model (see the module docstring).
    length : int, default 40
        Length of the sequences (positions = features); a multiple of 8 for
        the convolutional models, whose three stride-2 convolutions halve it
        three times.
    channels : int, default 25
        Channels of every convolution (cnn, resnet).
    width : int, default 100
        Width of the hidden layers of the MLP.

    Returns
    -------
    Layer
        Maps ``Y`` of shape ``(length, n)`` to features ``[Z; 1]``; the
        classifier's scores are ``W @ features`` with ``W`` of shape
        ``(10, n_out)`` (the last column is the bias).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`MODELS`, or a size is not a positive
        integer (or ``length`` not a multiple of 8 for the convolutional
        models); the message names what was expected and what arrived.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {MODELS}; got {name!r}")
    for label, value in (("length", length), ("channels", channels), ("width", width)):
        check_positive_int(value, label)
    if name == "linear":
        return AppendOnes(length)
    if name == "mlp":
        return Sequential(Dense(length, width, "relu"), Residual(Dense(width, width, "relu")), AppendOnes(width))
    if length % 8:
        raise ValueError(f"length must be a multiple of 8 for the {name} (three stride-2 convolutions); got {length}")
    c = channels

    def conv(c_in, size, kernel=3, stride=2):
        return Conv1D(c_in, c, size, kernel, "zero", stride=stride, activation="relu")

    if name == "cnn":
        layers = [conv(1, length, 5), conv(c, length // 2), conv(c, length // 4)]
    else:
        layers = [
            conv(1, length, 5), Residual(conv(c, length // 2, stride=1)),
            conv(c, length // 2), Residual(conv(c, length // 4, stride=1)),
            conv(c, length // 4),
        ]
    return Sequential(*layers, AppendOnes(c * (length // 8)))


def accuracy(scores, C):
    """Share of the examples whose largest score is their class.

    Parameters
    ----------
    scores : ndarray, shape (n_classes, n)
        Scores (or probabilities) of every class for every example.
    C : ndarray, shape (n_classes, n)
        One-hot labels.

    Returns
    -------
    float
        In ``[0, 1]``; ties go to the first largest score (``argmax``).
    """
    scores, C = np.asarray(scores), np.asarray(C)
    if scores.ndim != 2 or scores.shape != C.shape:
        raise ValueError(
            f"scores and C must be matrices of one shape (n_classes, n); got {scores.shape} and {C.shape}"
        )
    return float(np.mean(np.argmax(scores, axis=0) == np.argmax(C, axis=0)))


@dataclass
class Mnist1DProblem:
    """A training problem of the case study: objective, start, evaluation data.

    Attributes
    ----------
    objective : LinearHeadObjective
        Softmax cross-entropy of the model on the training examples.
    x0 : ndarray
        Starting point ``(theta, W)`` drawn from ``rng``.
    Y_eval : ndarray
        The inputs the accuracy is measured on: the test set, or the held-out
        validation examples.
    C_eval : ndarray
        Their one-hot labels.
    evaluation : str
        ``"test"`` or ``"validation"``.
    rng
        The ``numpy.random.Generator`` that drew ``x0``; stochastic solvers
        go on drawing their mini-batches from it.
    """

    objective: LinearHeadObjective
    x0: np.ndarray
    Y_eval: np.ndarray
    C_eval: np.ndarray
    evaluation: str
    rng: object  # a numpy.random.Generator (annotated as object: the book is built offline, without numpy's docs)


def mnist1d_problem(model, seed=0, shuffle=False, validation=0, split_seed=0, reg_theta=0.0, reg_W=0.0, data=None):
    """The MNIST-1D training problem of one model, from one seed.

    Parameters
    ----------
    model : {"linear", "mlp", "cnn", "resnet"}
        See :func:`mnist1d_network`.
    seed : int, default 0
        Seed of ``np.random.default_rng(seed)``, which draws the starting
        point (and then the solver's mini-batches).
    shuffle : bool, default False
        Train and test on the variant with permuted positions
        (:func:`nnlib.data.mnist1d` with ``shuffle=True``, permutation seed 0).
    validation : int, default 0
        If positive, hold this many of the 4000 training examples out (drawn
        by ``np.random.default_rng(split_seed)``), train on the others and
        measure the accuracy on them instead of the test set: for choosing
        learning rates and other settings without looking at the test set.
    split_seed : int, default 0
        Seed of the validation split (the same split for every ``seed``).
    reg_theta, reg_W : float, default 0
        Weight decay of the network and of the last layer
        (:class:`~nnlib.objective.LinearHeadObjective`).
    data : tuple of 4 ndarray, optional
        ``(Y, C, Y_test, C_test)`` already loaded by
        :func:`nnlib.data.mnist1d` (spares reading the file again); it must be
        the variant that ``shuffle`` names.

    Returns
    -------
    Mnist1DProblem
    """
    validation = check_int(validation, "validation (examples held out)", 0, 3999)
    Y, C, Y_test, C_test = mnist1d(shuffle=shuffle) if data is None else data
    if validation:
        order = np.random.default_rng(split_seed).permutation(Y.shape[1])
        held, kept = np.sort(order[:validation]), np.sort(order[validation:])
        Y, C, Y_eval, C_eval = Y[:, kept], C[:, kept], Y[:, held], C[:, held]
    else:
        Y_eval, C_eval = Y_test, C_test
    rng = np.random.default_rng(seed)
    objective = LinearHeadObjective(mnist1d_network(model), SoftmaxCrossEntropy(), Y, C,
                                     reg_theta=reg_theta, reg_W=reg_W)
    return Mnist1DProblem(objective, objective.init_params(rng), Y_eval, C_eval,
                          "validation" if validation else "test", rng)


class AccuracyMonitor:
    """A solver callback that measures the accuracy on held-out data as training goes on.

    Parameters
    ----------
    objective : LinearHeadObjective
        Gives the scores ``objective.predict(x, Y)`` (not counted as work).
    Y, C : ndarray
        Held-out inputs and one-hot labels (test or validation data).
    every : int, default 1
        Measure at every ``every``-th iterate shown (``x_0`` always); e.g.
        once per epoch for mini-batch solvers.
    target : float, optional
        With ``stop=True``, ask the solver to stop once the accuracy is at
        least ``target``.
    stop : bool, default False

    Attributes
    ----------
    calls : int
        Iterates shown so far.  The solvers of :mod:`nnlib.optim` show every
        iterate once, in order, so call ``i`` is history entry ``i``.
    indices : list
        The iterates measured (their call numbers).
    accuracies : list
        Their accuracies.

    Notes
    -----
    The solvers leave the callback's time out of their wall time, so the
    measurement does not slow the race it observes.
    """

    def __init__(self, objective, Y, C, every=1, target=None, stop=False):
        self.objective, self.Y, self.C = objective, Y, C
        self.every = check_positive_int(every, "every")
        self.target = None if target is None else float(target)
        self.stop = bool(stop)
        if self.stop and self.target is None:
            raise ValueError("stop=True needs a target accuracy")
        self.calls = 0
        self.indices, self.accuracies = [], []

    def __call__(self, x):
        index = self.calls
        self.calls += 1
        if index % self.every:
            return False
        value = accuracy(self.objective.predict(x, self.Y), self.C)
        self.indices.append(index)
        self.accuracies.append(value)
        return self.stop and value >= self.target

    def trace(self, history):
        """The measurements against iterations, work units and seconds of the run's ``history``.

        Returns
        -------
        dict of lists
            ``iteration``, ``work``, ``time``, ``accuracy``; one entry per
            measured iterate.
        """
        return {
            "iteration": list(self.indices),
            "work": [float(history.work[i]) for i in self.indices],
            "time": [float(history.time[i]) for i in self.indices],
            "accuracy": list(self.accuracies),
        }

    def first_reaching(self, target):
        """Position in ``indices`` of the first accuracy ``>= target``, or ``None``."""
        for k, value in enumerate(self.accuracies):
            if value >= target:
                return k
        return None
