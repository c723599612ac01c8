"""The benchmark command line: JSON output, data files, and clear errors with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from nnlib import bench

TINY = ["--n-train", "60", "--n-val", "30", "--width", "4", "--max-iter", "3", "--json"]
KEYS = {
    "threads", "threads_in_solvers", "problem", "solver", "settings", "train_loss", "train_data_loss", "val_loss", "val_accuracy", "n_iter",
    "work_units", "wall_seconds", "iterations_to_target", "iterations_to_accuracy", "time_to_target", "work_to_target",
    "time_to_accuracy", "work_to_accuracy", "inner_work", "inner_iterations", "status", "success", "message", "history",
}


def run(argv, capsys):
    assert bench.main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("solver", bench.SOLVERS)
def test_peaks_prints_json_with_documented_keys(solver, capsys):
    record = run(["peaks", "--solver", solver, *TINY], capsys)
    assert set(record) == KEYS
    # three iterations of a tiny problem: the budget ends the run, which is not success
    assert record["solver"] == solver and record["n_iter"] == 3
    assert record["status"] == "MAX_ITER" and not record["success"]
    assert record["val_accuracy"] is None
    assert set(record["history"]) == {"loss", "grad_norm", "step", "time", "work", "inner_iter"}
    assert len(record["history"]["loss"]) == 4


def test_classification_reports_accuracy(capsys):
    record = run(["peaks", "--loss", "softmax", "--n-classes", "3", "--solver", "gn", *TINY], capsys)
    assert 0.0 <= record["val_accuracy"] <= 1.0 and record["problem"]["n_classes"] == 3


def test_target_loss_and_compare(capsys):
    record = run(["peaks", "--solver", "gn", "--target-loss", "1e9", *TINY], capsys)
    assert record["time_to_target"] == record["history"]["time"][0] and record["n_iter"] == 0
    record = run(["compare", "--reference-iter", "5", "--solvers", "varpro", "gn", *TINY], capsys)
    assert record["reference"]["solver"] == "adam" and record["target_loss"] == record["reference"]["train_loss"]
    assert [entry["solver"] for entry in record["solvers"]] == ["varpro", "gn"]


@pytest.mark.parametrize(
    "extra",
    [["--gn-inner", "cg"], ["--gn-inner", "direct"], ["--gn-inner", "cg", "--varpro-jacobian", "kaufman"],
     ["--gn-inner", "direct", "--varpro-jacobian", "kaufman"]],
)
@pytest.mark.parametrize("solver", ["gn", "varpro"])
def test_inner_solver_options(solver, extra, capsys):
    record = run(["peaks", "--solver", solver, *extra, *TINY], capsys)
    assert record["status"] == "MAX_ITER" and record["history"]["loss"][-1] <= record["history"]["loss"][0]
    direct = extra[1] == "direct"
    assert all(k >= 1 for k in record["history"]["inner_iter"][1:]) or not direct


def test_auto_inner_solver_is_cg_for_softmax():
    args = bench.make_parser().parse_args(["peaks", "--loss", "softmax", *TINY])
    objective, *_ = bench.build_problem(args)
    assert bench.inner_solver(args, objective) == "cg"
    args = bench.make_parser().parse_args(["peaks", *TINY])
    assert bench.inner_solver(args, bench.build_problem(args)[0]) == "direct"


def test_data_file_is_used(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, Y=rng.standard_normal((3, 20)), C=rng.standard_normal((1, 20)),
             Yval=rng.standard_normal((3, 10)), Cval=rng.standard_normal((1, 10)))
    record = run(["peaks", "--data", str(path), "--solver", "varpro", *TINY], capsys)
    assert record["problem"]["n_train"] == 20 and record["problem"]["data"] == str(path)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["peaks", "--solver", "sgd", "--batch-size", "100", *TINY], "training examples) must be an integer in"),
        (["peaks", "--lr", "-1", *TINY], "expected a positive number"),
        (["peaks", "--max-iter", "-1"], "expected a non-negative integer"),
        (["peaks", "--solver", "newton"], "invalid choice"),
        (["peaks", "--data", "missing.npz"], "cannot read --data"),
    ],
)
def test_bad_settings_exit_with_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_divergence_is_reported_not_raised(capsys):
    record = run(["peaks", "--solver", "sgd", "--lr", "1e200", *TINY], capsys)
    assert not record["success"] and "diverged" in record["message"]


def test_module_runs_as_script():
    out = subprocess.run(
        [sys.executable, "-m", "nnlib.bench", "peaks", "--solver", "adam", *TINY],
        capture_output=True, text=True, check=True,
    ).stdout
    assert set(json.loads(out)) == KEYS


# ---------------------------------------------------------------------------- MNIST-1D

MNIST1D_KEYS = {"command", "problem", "evaluation", "solver", "settings", "runs", "median"}
RUN_KEYS = {
    "seed", "lr", "reg_theta", "reg_W", "max_iter", "accuracy", "best_accuracy", "train_accuracy", "train_loss",
    "n_iter", "work_units", "wall_seconds", "time_to_accuracy", "work_to_accuracy", "iterations_to_accuracy",
    "success", "message", "trace",
}


@pytest.mark.parametrize("solver", bench.MNIST1D_SOLVERS)
def test_mnist1d_prints_json_with_documented_keys(solver, capsys):
    argv = ["mnist1d", "--model", "linear", "--solver", solver, "--max-iter", "3", "--seeds", "0", "1",
            "--eval-every", "2", "--target-accuracy", "0.05", "--json"]
    record = run(argv, capsys)
    assert set(record) == MNIST1D_KEYS and record["solver"] == solver and record["evaluation"] == "test"
    assert record["command"] == "python -m nnlib.bench " + " ".join(argv)
    assert record["problem"]["n_train"] == 4000 and record["problem"]["n_test"] == 1000
    assert record["problem"]["n_params"] == 410 and record["problem"]["seeds"] == [0, 1]
    assert [r["seed"] for r in record["runs"]] == [0, 1]
    for entry in record["runs"]:
        assert set(entry) == RUN_KEYS and "diverged" not in entry["message"]  # (the linear model has no theta: VarPro converges at once)
        trace = entry["trace"]
        assert set(trace) == {"iteration", "work", "time", "accuracy"}
        assert trace["iteration"][0] == 0 and trace["iteration"][-1] == entry["n_iter"]
        assert trace["accuracy"][-1] == entry["accuracy"]  # the last iterate is always measured
        assert all(0 <= a <= 1 for a in trace["accuracy"]) and np.all(np.diff(trace["work"]) >= 0)
        assert entry["best_accuracy"] == max(trace["accuracy"])
        assert entry["time_to_accuracy"] == trace["time"][0]  # 5% is below chance: reached at x_0
    median = record["median"]
    assert median["runs"] == 2 and median["reached"] == 2
    assert median["accuracy"] == pytest.approx(np.median([r["accuracy"] for r in record["runs"]]))


def test_mnist1d_measures_every_eval_every_steps_and_stops_at_the_target(capsys):
    base = ["mnist1d", "--model", "linear", "--solver", "adam", "--lr", "0.05", "--json"]
    record = run([*base, "--max-iter", "10", "--eval-every", "4"], capsys)
    assert record["runs"][0]["trace"]["iteration"] == [0, 4, 8, 10]
    target = record["runs"][0]["trace"]["accuracy"][2]
    stopped = run([*base, "--max-iter", "10", "--eval-every", "4", "--target-accuracy", str(target),
                   "--stop-at-target"], capsys)["runs"][0]
    assert stopped["accuracy"] >= target and stopped["n_iter"] <= 8 and "callback" in stopped["message"]


def test_mnist1d_validation_and_shuffle(capsys):
    record = run(["mnist1d", "--model", "linear", "--solver", "gn", "--max-iter", "2", "--validation", "500",
                  "--shuffle", "--json"], capsys)
    assert record["evaluation"] == "validation" and record["settings"]["validation"] == 500
    assert record["problem"]["shuffle"] and record["problem"]["data"] == "mnist1d (shuffled)"


def test_mnist1d_race_chooses_settings_on_validation_data(capsys):
    record = run(["mnist1d-race", "--model", "linear", "--first-order-iter", "4", "--second-order-iter", "1",
                  "--validation", "200", "--lr-grid", "1e-3", "1e-1", "--reg-grid", "0", "1e-3",
                  "--seeds", "0", "1", "--eval-every", "2", "--json"], capsys)
    assert set(record) == {"command", "problem", "evaluation", "target_accuracy", "budget", "tuning", "solvers"}
    assert record["target_accuracy"] == 0.936 and record["budget"]["first_order_work"] == pytest.approx(0.2)
    tuning = record["tuning"]
    assert tuning["evaluation"] == "validation" and tuning["n_validation"] == 200
    assert [c["lr"] for c in tuning["candidates"]["adam"]] == [1e-3, 1e-1]
    assert [c["reg"] for c in tuning["candidates"]["varpro"]] == [0.0, 1e-3]
    for solver, candidates in tuning["candidates"].items():
        key = "lr" if solver in ("sgd", "adam") else "reg"
        best = max(candidates, key=lambda c: c["accuracy"])
        assert tuning["chosen"][solver] == {key: best[key]}
    assert [entry["solver"] for entry in record["solvers"]] == ["sgd", "adam", "gn", "varpro"]
    for entry in record["solvers"]:
        assert len(entry["runs"]) == 2 and entry["median"]["runs"] == 2
        chosen = tuning["chosen"][entry["solver"]]
        if "lr" in chosen:
            assert entry["settings"]["lr"] == chosen["lr"] and entry["runs"][0]["max_iter"] == 4
        else:
            assert entry["settings"]["reg_theta"] == chosen["reg"] and entry["runs"][0]["max_iter"] == 1


def test_median_counts_runs_that_never_reach_the_target_as_infinitely_slow():
    def fake(time):
        keys = ("accuracy", "best_accuracy", "train_accuracy", "work_units", "wall_seconds",
                "work_to_accuracy", "iterations_to_accuracy")
        return dict({key: 1.0 for key in keys}, time_to_accuracy=time)

    assert bench.median_summary([fake(1.0), fake(3.0), fake(None)])["time_to_accuracy"] == 3.0
    summary = bench.median_summary([fake(1.0), fake(None), fake(None)])
    assert summary["time_to_accuracy"] is None and summary["reached"] == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["mnist1d", "--model", "vgg"], "invalid choice"),
        (["mnist1d", "--solver", "steepest"], "invalid choice"),
        (["mnist1d", "--target-accuracy", "94"], "expected a number in (0, 1]"),
        (["mnist1d", "--validation", "4000", "--max-iter", "1"], "validation (examples held out) must be an integer in"),
        (["mnist1d", "--batch-size", "5000", "--max-iter", "1"], "training examples) must be an integer in"),
        (["mnist1d-race", "--validation", "0"], "expected a positive integer"),
    ],
)
def test_mnist1d_bad_settings_exit_with_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_mnist1d_text_report(capsys):
    assert bench.main(["mnist1d", "--model", "linear", "--solver", "gn", "--max-iter", "1",
                       "--target-accuracy", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "gn seed 0: accuracy" in out and "median" in out and "target reached by 1 of 1" in out


def test_compare_on_classification_reports_work_and_time_to_adams_accuracy(capsys):
    record = run(["compare", "--loss", "softmax", "--n-classes", "3", "--reference-iter", "40",
                  "--solvers", "varpro", "gn", "sgd", "--first-order-iter", "7", *TINY], capsys)
    assert 0 <= record["target_accuracy"] <= 1
    varpro_entry, gn_entry, sgd_entry = record["solvers"]
    assert varpro_entry["n_iter"] == 3 and sgd_entry["n_iter"] == 7  # second-order and first-order budgets
    assert varpro_entry["inner_iterations"] >= 1 and 0 < varpro_entry["inner_work"] < varpro_entry["work_units"]
    assert gn_entry["inner_work"] is None
    for entry in record["solvers"]:
        reached = entry["work_to_accuracy"]
        assert reached is None or reached in entry["history"]["work"]
        assert (entry["speedup_accuracy"] is None) == (entry["time_to_accuracy"] is None)
