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
    "work_units", "wall_seconds", "time_to_target", "work_to_target", "time_to_accuracy", "work_to_accuracy", "inner_work", "inner_iterations",
    "status", "success", "message", "history",
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
        (["peaks", "--solver", "sgd", "--batch-size", "100", *TINY], "must not exceed the number of training examples"),
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


def test_iterate_log_keeps_one_iterate_per_history_entry():
    from nnlib.optim import gauss_newton

    args = bench.make_parser().parse_args(["peaks", "--loss", "softmax", "--n-classes", "3", *TINY])
    objective, x0, validation, _ = bench.build_problem(args)
    log = bench.IterateLog(objective)
    result = gauss_newton(log, x0, max_iter=4)
    assert len(log.iterates) == len(result.history.loss)
    assert np.array_equal(log.iterates[-1], result.x)
    k = bench.first_accurate(log, result, objective, validation, 0.0)
    assert k == 0  # every iterate has an accuracy of at least 0
