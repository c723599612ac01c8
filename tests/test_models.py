"""The case study's networks, problems and accuracy monitor (nnlib.models)."""

import numpy as np
import pytest

from nnlib.checks import taylor_test
from nnlib.layers import AppendOnes
from nnlib.models import MODELS, AccuracyMonitor, accuracy, mnist1d_network, mnist1d_problem
from nnlib.optim import adam, gauss_newton

# Weights of the paper's PyTorch models (nn.Linear and nn.Conv1d with biases): the same here.
PAPER_SIZES = {"linear": 410, "mlp": 15210, "cnn": 5210}


@pytest.mark.parametrize("name", MODELS)
def test_networks_map_sequences_to_features_with_a_constant_row(name):
    network = mnist1d_network(name)
    assert network.n_in == 40
    rng = np.random.default_rng(0)
    theta = network.init_params(rng)
    Y = rng.standard_normal((40, 7))
    Z = network.forward(theta, Y)
    assert Z.shape == (network.n_out, 7)
    np.testing.assert_array_equal(Z[-1], 1.0)  # AppendOnes last: the scores get a bias


@pytest.mark.parametrize("name", MODELS)
def test_weights_match_the_paper(name):
    problem = mnist1d_problem(name)
    expected = {**PAPER_SIZES, "resnet": 5210 + 2 * (25 * 25 * 3 + 25)}[name]
    assert problem.objective.n_params == expected
    assert problem.x0.shape == (expected,)


def test_cnn_layers_halve_the_length_three_times():
    cnn = mnist1d_network("cnn")
    assert [layer.n_out for layer in cnn.layers] == [25 * 20, 25 * 10, 25 * 5, 25 * 5 + 1]
    assert [layer.kernel_size for layer in cnn.layers[:3]] == [(5,), (3,), (3,)]


@pytest.mark.parametrize("name", ["cnn", "resnet"])
def test_network_jacobians_pass_the_taylor_test(name):
    network = mnist1d_network(name, length=16, channels=3)
    rng = np.random.default_rng(1)
    theta = network.init_params(rng)
    Y = rng.standard_normal((16, 4))
    assert taylor_test(lambda t: network.forward(t, Y), network.jacobian_params(theta, Y), theta, rng=rng)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"name": "vgg"}, "model must be one of"),
        ({"name": "cnn", "length": 36}, "multiple of 8.*36"),
        ({"name": "mlp", "width": 0}, "width must be a positive integer; got 0"),
        ({"name": "cnn", "channels": 2.5}, "channels must be a positive integer; got 2.5"),
    ],
)
def test_network_rejects_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        mnist1d_network(**kwargs)


def test_accuracy():
    C = np.eye(3)[:, [0, 1, 2, 2]]
    S = np.array([[5, 0, 0, 1], [1, 2, 0, 0], [0, 1, 3, 0.5]])
    assert accuracy(S, C) == 0.75
    with pytest.raises(ValueError, match="one shape"):
        accuracy(S[:, :3], C)


def test_validation_split_is_fixed_and_disjoint_from_training():
    a = mnist1d_problem("linear", seed=0, validation=500)
    b = mnist1d_problem("linear", seed=7, validation=500)
    assert a.evaluation == "validation" and a.objective.n_examples == 3500 and a.Y_eval.shape == (40, 500)
    np.testing.assert_array_equal(a.Y_eval, b.Y_eval)  # the split does not depend on the seed
    train = {tuple(col) for col in a.objective.Y.T}
    assert not any(tuple(col) in train for col in a.Y_eval.T)
    assert not np.array_equal(a.x0, b.x0)
    test = mnist1d_problem("linear")
    assert test.evaluation == "test" and test.objective.n_examples == 4000 and test.Y_eval.shape == (40, 1000)
    with pytest.raises(ValueError, match=r"validation \(examples held out\) must be an integer in"):
        mnist1d_problem("linear", validation=-1)


def test_monitor_measures_every_few_iterates_and_maps_them_to_the_history():
    problem = mnist1d_problem("linear")
    monitor = AccuracyMonitor(problem.objective, problem.Y_eval, problem.C_eval, every=3)
    result = adam(problem.objective, problem.x0, learning_rate=1e-2, max_iter=7, batch_size=100,
                  rng=problem.rng, callback=monitor)
    assert monitor.calls == len(result.history) == 8
    trace = monitor.trace(result.history)
    assert trace["iteration"] == [0, 3, 6]
    assert trace["work"] == [result.history.work[i] for i in (0, 3, 6)]
    assert trace["accuracy"][0] == accuracy(problem.objective.predict(problem.x0, problem.Y_eval), problem.C_eval)


def test_monitor_stops_a_solver_at_the_target():
    problem = mnist1d_problem("linear")
    monitor = AccuracyMonitor(problem.objective, problem.Y_eval, problem.C_eval, target=0.25, stop=True)
    result = gauss_newton(problem.objective, problem.x0, max_iter=20, callback=monitor)
    assert result.status == 5 and monitor.accuracies[-1] >= 0.25
    assert all(a < 0.25 for a in monitor.accuracies[:-1])
    assert monitor.first_reaching(0.25) == len(monitor.accuracies) - 1
    with pytest.raises(ValueError, match="target"):
        AccuracyMonitor(problem.objective, problem.Y_eval, problem.C_eval, stop=True)


def test_append_ones():
    layer = AppendOnes(2)
    Z = layer.forward(np.empty(0), np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(Z, [[1, 2], [3, 4], [1, 1]])
    assert layer.n_params == 0 and layer.n_out == 3 and repr(layer) == "AppendOnes(n_in=2)"
