"""The command line, run as a user would: `python -m xdnn ...` in a subprocess.

Its reading, checking and writing are host-side, the same whatever the backend: these tests run once, in
the numpy session; tests/test_cli_backend.py trains, predicts and evaluates on every session's backend."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import xdnn
from xdnn import cli
from xdnn.datasets import moons_host

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(
    os.environ.get("XDNN_BACKEND", "numpy") != "numpy",
    reason="the command line's input and output handling is host-side: tested once, in the numpy session",
)


def run_cli(*arguments, cwd=None):
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environment.setdefault("XDNN_BACKEND", "numpy")
    return subprocess.run(
        [sys.executable, "-m", "xdnn", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=300,
    )


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    """Every command runs in the test's own folder (``xdnn train`` saves ``model.npz`` there by default)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def moons_csv(tmp_path):
    X, y = moons_host(120, noise=0.1, seed=5)
    path = tmp_path / "moons.csv"
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["first", "second", "label"])
        writer.writerows([[a, b, int(c)] for (a, b), c in zip(X, y, strict=True)])
    return path, X, y


def test_info_lists_every_backend():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr
    assert f"xdnn {xdnn.__version__}" in result.stdout
    for name in ("numpy", "cupy", "torch", "array_api_strict"):
        assert name in result.stdout


def test_train_moons_with_plots_then_predict_and_evaluate(tmp_path, moons_csv):
    model = tmp_path / "model.npz"
    plots = tmp_path / "plots"
    result = run_cli(
        "train",
        "--data",
        "moons",
        "--layers",
        "16,8",
        "--epochs",
        "60",
        "--lr",
        "0.01",
        "--out",
        str(model),
        "--plots",
        str(plots),
        "--quiet",
        "--backend",
        "numpy",
    )
    assert result.returncode == 0, result.stderr
    assert "backend: numpy" in result.stdout and "final val_accuracy" in result.stdout
    validation_accuracy = float(result.stdout.split("final val_accuracy:")[1].split()[0])
    assert validation_accuracy > 0.9
    assert model.is_file()
    for name in ("history.png", "decision_boundary.png", "confusion_matrix.png"):
        png = plots / name
        assert png.is_file() and png.stat().st_size > 1000
        with open(png, "rb") as stream:
            assert stream.read(8) == b"\x89PNG\r\n\x1a\n"

    csv_path, _, y = moons_csv
    out = tmp_path / "predictions.csv"
    result = run_cli("predict", "--model", str(model), "--data", str(csv_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    with open(out) as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["prediction"] and len(rows) == len(y) + 1
    predicted = np.array([int(row[0]) for row in rows[1:]])
    assert (predicted == y).mean() > 0.85

    result = run_cli("evaluate", "--model", str(model), "--data", str(csv_path))
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("accuracy:")[1].split()[0])
    assert accuracy == pytest.approx((predicted == y).mean(), abs=1e-4)  # printed to 4 decimals


def test_regression_from_csv_with_named_target(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    target = X @ np.array([1.0, -2.0, 0.5]) + 0.1
    path = tmp_path / "regression.csv"
    np.savetxt(path, np.c_[target, X], delimiter=",", header="price,a,b,c", comments="")
    model = tmp_path / "regression.npz"
    result = run_cli(
        "train",
        "--data",
        str(path),
        "--target",
        "price",
        "--layers",
        "16",
        "--epochs",
        "150",
        "--out",
        str(model),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split("final val_loss:")[1].split()[0]) < 0.05
    result = run_cli("predict", "--model", str(model), "--data", str(path), "--target", "price")
    assert result.returncode == 0, result.stderr
    predicted = np.array([float(line) for line in result.stdout.split()[1:]])
    assert np.corrcoef(predicted, target)[0, 1] > 0.99


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("train", "--data", "missing.csv"), "not found"),
        (("train", "--data", "moons", "--layers", "a,b"), "--layers"),
        (("train", "--data", "moons", "--epochs", "0"), "positive integer"),
        (("train", "--data", "moons", "--backend", "tpu"), "invalid choice"),
        (("train", "--data", "nonsense"), "unknown data"),
        (("predict", "--model", "missing.npz", "--data", "moons"), "not found"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_error_and_exit_code_2(arguments, message, tmp_path):
    result = run_cli(*arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_csv_problems_are_input_errors(tmp_path, moons_csv):
    csv_path, _, _ = moons_csv
    assert cli.main(["train", "--data", str(csv_path), "--target", "nope", "--quiet"]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    assert cli.main(["train", "--data", str(bad), "--quiet"]) == 2
    model = tmp_path / "m.npz"
    assert cli.main(["train", "--data", str(csv_path), "--epochs", "2", "--out", str(model), "--quiet"]) == 0
    wrong_width = tmp_path / "wide.csv"
    wrong_width.write_text("a,b,c,d,label\n1,2,3,4,0\n")
    assert cli.main(["predict", "--model", str(model), "--data", str(wrong_width)]) == 2
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    assert cli.main(["predict", "--model", str(foreign), "--data", str(csv_path)]) == 2


def test_demo_runs_from_the_command_line():
    result = run_cli("demo", "--iterations", "1001", "--backend", "numpy")
    assert result.returncode == 0, result.stderr
    assert "Cost after iteration 1000" in result.stdout and "backend: numpy" in result.stdout


# --- one-line errors (exit code 2) for the problems a new user runs into --------------------------


def assert_one_line_error(code, stderr, *fragments):
    """Exit code 2, exactly one non-empty line on stderr, no traceback, and the line names the problem."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def moons_model(tmp_path):
    path = tmp_path / "moons.npz"
    arguments = ["train", "--data", "moons", "--layers", "4", "--epochs", "1", "--out", str(path), "--quiet"]
    assert cli.main(arguments) == 0
    return path


@pytest.mark.parametrize(
    "arguments, fragments",
    [
        (("train", "--data", "moons", "--epochs", "-1"), ("--epochs", "positive integer", "'-1'")),
        (("train", "--data", "moons", "--val-split", "1.5"), ("--val-split", "expected a number in [0, 1)", "'1.5'")),
        (("train", "--data", "moons", "--backend", "tensorflow"), ("--backend", "invalid choice", "'tensorflow'")),
        (("train", "--data", "moons", "--lr", "-1"), ("--lr", "positive number")),
        (("train", "--data", "moons", "--batch-size", "0"), ("--batch-size", "positive integer")),
        (("train", "--data", "moons", "--dropout", "1.5"), ("--dropout", "[0, 1)")),
        (("train", "--data", "moons", "--dtype", "float16"), ("--dtype", "invalid choice", "'float16'")),
        (("train", "--data", "moons", "--frobnicate"), ("xdnn train", "unrecognized arguments: --frobnicate")),
        (("train", "--epochs", "3"), ("xdnn train", "required: --data")),
        (("predict", "--data", "moons"), ("xdnn predict", "required: --model")),
        (("train", "--data", "moons", "--seed", "-1"), ("argument --seed", "non-negative integer", "'-1'")),
        (("train", "--data", "moons", "--layers", ""), ("--layers", "no layer sizes", "20,7,5")),
        (("train", "--data", "moons", "--layers", ","), ("--layers", "no layer sizes")),
        (("train", "--data", "moons", "--layers", "20,,5"), ("--layers", "empty entry in '20,,5'")),
        (("train", "--data", "moons", "--layers", "20,0"), ("--layers", "positive integers")),
    ],
)
def test_usage_errors_are_one_line(arguments, fragments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(arguments))
    captured = capsys.readouterr()
    assert_one_line_error(exit_info.value.code, captured.err, "error:", *fragments)
    assert "usage:" not in captured.err and captured.out == ""


def test_usage_error_from_the_shell_is_one_line_and_help_is_still_full():
    result = run_cli("train", "--data", "moons", "--val-split", "1.5")
    assert_one_line_error(
        result.returncode, result.stderr, "xdnn train: error: argument --val-split: expected a number in [0, 1)"
    )
    result = run_cli("train", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: xdnn train") and "--val-split" in result.stdout
    assert len(result.stdout.splitlines()) > 10


@pytest.mark.parametrize(
    "make_arguments, fragments",
    [
        (lambda tmp, model: ["predict", "--model", model, "--data", "moons", "--out", tmp], ("--out", "is a folder")),
        (lambda tmp, model: ["train", "--data", "moons", "--out", tmp], ("--out", "is a folder", "model.npz")),
        (
            lambda tmp, model: ["train", "--data", "moons", "--plots", model],
            ("--plots", "is an existing file", "takes a folder"),
        ),
        (
            lambda tmp, model: ["predict", "--model", model, "--data", "moons", "--out", f"{tmp}/missing/p.csv"],
            ("--out", "missing/p.csv", "does not exist"),
        ),
        (
            lambda tmp, model: ["train", "--data", "moons", "--out", f"{tmp}/missing/m.npz"],
            ("--out", "missing/m.npz", "does not exist"),
        ),
        (
            lambda tmp, model: ["train", "--data", "moons", "--plots", f"{model}/plots"],
            ("--plots", "is a file, not a folder"),
        ),
    ],
)
def test_unusable_output_paths_are_refused_before_any_work(make_arguments, fragments, moons_model, tmp_path, capsys):
    capsys.readouterr()
    code = cli.main(make_arguments(str(tmp_path), str(moons_model)))
    captured = capsys.readouterr()
    assert_one_line_error(code, captured.err, *fragments)
    assert "[Errno" not in captured.err
    assert "trained" not in captured.out and "prediction" not in captured.out  # refused before training / predicting


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no folder can be created")
def test_plots_folder_that_cannot_be_created_is_refused_before_training(capsys):
    code = cli.main(["train", "--data", "moons", "--epochs", "1", "--plots", "/proc/xdnn-plots", "--quiet"])
    captured = capsys.readouterr()
    assert_one_line_error(code, captured.err, "--plots /proc/xdnn-plots", "cannot write in /proc")
    assert "[Errno" not in captured.err and "trained" not in captured.out


def test_backend_defaults_to_xdnn_backend(monkeypatch, capsys, tmp_path):
    pytest.importorskip("array_api_strict")
    monkeypatch.setenv("XDNN_BACKEND", "array_api_strict")
    model = tmp_path / "m.npz"
    assert cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "1", "--out", str(model), "--quiet"]) == 0
    assert "backend: array_api_strict" in capsys.readouterr().out
    assert cli.main(["evaluate", "--model", str(model), "--data", "moons"]) == 0
    # --backend still wins over the environment
    assert (
        cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "1", "--backend", "numpy", "--quiet"]) == 0
    )
    assert "backend: numpy" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "demo"])
def test_invalid_xdnn_backend_is_a_one_line_error(command, monkeypatch, capsys, moons_model):
    monkeypatch.setenv("XDNN_BACKEND", "tensorflow")
    arguments = {
        "train": ["train", "--data", "moons", "--epochs", "1", "--quiet"],
        "predict": ["predict", "--model", str(moons_model), "--data", "moons"],
        "evaluate": ["evaluate", "--model", str(moons_model), "--data", "moons"],
        "demo": ["demo", "--iterations", "1"],
    }[command]
    code = cli.main(arguments)
    assert_one_line_error(code, capsys.readouterr().err, "XDNN_BACKEND", "'tensorflow'", "--backend")


def test_csv_without_header_row_is_refused(tmp_path, capsys):
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("0.5,1.5,0\n1.0,-2.0,1\n2.0,0.0,0\n")
    code = cli.main(["train", "--data", str(headerless), "--epochs", "1", "--quiet"])
    assert_one_line_error(code, capsys.readouterr().err, "headerless.csv", "header row")


def test_evaluate_names_the_missing_target_column(tmp_path, moons_csv, capsys):
    csv_path, X, _ = moons_csv
    model = tmp_path / "m.npz"
    assert (
        cli.main(["train", "--data", str(csv_path), "--layers", "4", "--epochs", "1", "--out", str(model), "--quiet"])
        == 0
    )
    features_only = tmp_path / "new.csv"
    np.savetxt(features_only, X, delimiter=",", header="first,second", comments="")
    capsys.readouterr()
    code = cli.main(["evaluate", "--model", str(model), "--data", str(features_only)])
    assert_one_line_error(code, capsys.readouterr().err, "new.csv", "target column 'label'", "first, second")
    # predict takes the same file: the target is optional there
    assert cli.main(["predict", "--model", str(model), "--data", str(features_only)]) == 0


def test_target_option_applies_to_csv_files_only(tmp_path, moons_model, capsys):
    archive = tmp_path / "data.npz"
    np.savez(archive, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    for arguments in (
        ["train", "--data", "moons", "--target", "label", "--quiet"],
        ["train", "--data", str(archive), "--target", "label", "--quiet"],
        ["predict", "--model", str(moons_model), "--data", "moons", "--target", "label"],
        ["evaluate", "--model", str(moons_model), "--data", str(archive), "--target", "label"],
    ):
        code = cli.main(arguments)
        assert_one_line_error(code, capsys.readouterr().err, "--target applies to CSV files")


def test_nan_in_new_data_is_reported_for_prediction_not_training(tmp_path, moons_model, capsys):
    with_nan = tmp_path / "nan.csv"
    with_nan.write_text("a,b\n0.5,nan\n1.0,2.0\n")
    code = cli.main(["predict", "--model", str(moons_model), "--data", str(with_nan)])
    stderr = capsys.readouterr().err
    assert_one_line_error(code, stderr, "nan.csv", "NaN", "before predicting")
    assert "training" not in stderr


# --- saving, column names, and the rest of a new user's first session -----------------------------


def write_csv(path, header, rows):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def predictions_of(result):
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines()[1:]]


def test_train_saves_model_npz_by_default_for_predict(tmp_path, moons_csv):
    assert cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "2", "--quiet"]) == 0
    assert (tmp_path / "model.npz").is_file()
    csv_path, _, y = moons_csv
    assert len(predictions_of(run_cli("predict", "--model", "model.npz", "--data", str(csv_path)))) == len(y)


def test_train_refuses_to_replace_something_that_is_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code = cli.main(["train", "--data", "moons", "--epochs", "1", "--out", str(fifo), "--quiet"])
    assert_one_line_error(code, capsys.readouterr().err, "--out", "not a regular file")
    assert not (tmp_path / "pipe").is_file()


def test_columns_are_matched_by_name_for_a_model_trained_on_a_csv(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] > 0).astype(int)
    train = write_csv(tmp_path / "train.csv", ["a", "b", "c", "label"], np.c_[X, y].tolist())
    assert cli.main(["train", "--data", str(train), "--layers", "8", "--epochs", "20", "--quiet"]) == 0
    in_order = write_csv(tmp_path / "in_order.csv", ["a", "b", "c"], X.tolist())
    shuffled = write_csv(tmp_path / "shuffled.csv", ["id", "c", "a", "b"], np.c_[np.arange(80), X[:, [2, 0, 1]]])
    expected = predictions_of(run_cli("predict", "--model", "model.npz", "--data", str(in_order)))
    assert predictions_of(run_cli("predict", "--model", "model.npz", "--data", str(shuffled))) == expected
    renamed = write_csv(tmp_path / "renamed.csv", ["p", "q", "r"], X.tolist())
    result = run_cli("predict", "--model", "model.npz", "--data", str(renamed))
    assert_one_line_error(
        result.returncode, result.stderr, "lacks the feature column(s)", "missing: a, b, c; unexpected: p, q, r"
    )


def test_a_model_without_column_names_reads_a_csv_by_position(tmp_path, capsys):
    assert cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    rows = [[0.1, 0.2, 1], [0.4, 0.5, 0]]
    two = write_csv(tmp_path / "two.csv", ["u", "v"], [row[:2] for row in rows])
    three = write_csv(tmp_path / "three.csv", ["u", "v", "w"], rows)
    assert cli.main(["predict", "--model", "model.npz", "--data", str(two)]) == 0
    without_target = capsys.readouterr().out
    assert cli.main(["predict", "--model", "model.npz", "--data", str(three)]) == 0
    captured = capsys.readouterr()  # the last column is the target, as `train` reads a CSV, and it says so
    assert captured.out == without_target and "column 'w'" in captured.err and "target" in captured.err
    four = write_csv(tmp_path / "four.csv", ["u", "v", "w", "z"], [row + [0] for row in rows])
    code = cli.main(["predict", "--model", "model.npz", "--data", str(four)])
    assert_one_line_error(code, capsys.readouterr().err, "expects 2 features", "has 4 feature columns")
    assert cli.main(["predict", "--model", "model.npz", "--data", str(four), "--target", "z"]) == 2


def test_standardisation_uses_the_training_rows_only(tmp_path):
    from xdnn.datasets import moons_host

    assert cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "1", "--quiet"]) == 0
    metadata = xdnn.load("model.npz").metadata
    X, _ = moons_host()
    train, _ = cli._split(X.shape[0], 0.2, 0)
    np.testing.assert_allclose(metadata["feature_mean"], X[train].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(metadata["feature_std"], X[train].std(axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    "write, fragments",
    [
        (lambda path: np.savez(path, X=np.ones((10, 2)), y=np.zeros(7)), ("y must be", "one row per sample")),
        (lambda path: path.write_text("a,b,label\n1,inf,0\n2,3,1\n"), ("contains infinite feature values",)),
        (lambda path: path.write_text("a,a,label\n1,2,0\n2,3,1\n"), ("repeats column name(s) 'a'",)),
        (lambda path: path.write_text("label\n0\n1\n"), ("no feature columns",)),
    ],
    ids=["npz-lengths", "csv-inf", "csv-duplicate-names", "csv-target-only"],
)
def test_more_bad_data_files_give_one_line_errors(tmp_path, write, fragments):
    path = tmp_path / ("data.npz" if "y must be" in fragments[0] else "data.csv")
    write(path)
    result = run_cli("train", "--data", str(path), "--epochs", "1", "--quiet")
    assert_one_line_error(result.returncode, result.stderr, *fragments)


def test_a_csv_with_a_byte_order_mark_reads_its_first_column_name(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("label,a,b\n0,1,2\n1,3,4\n0,1,1\n1,4,4\n0,0,1\n".encode("utf-8-sig"))
    assert cli.main(["train", "--data", str(path), "--target", "label", "--epochs", "1", "--quiet"]) == 0


def test_predict_into_a_closed_pipe_stops_quietly(tmp_path, moons_csv):
    assert cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "1", "--quiet"]) == 0
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environment.setdefault("XDNN_BACKEND", "numpy")
    process = subprocess.Popen(
        [sys.executable, "-m", "xdnn", "predict", "--model", "model.npz", "--data", str(moons_csv[0])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    process.stdout.close()  # the reader goes away before anything is written, like `| head -0`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr


def test_evaluate_a_csv_named_like_the_models_features_plus_a_target(tmp_path):
    assert cli.main(["train", "--data", "moons", "--layers", "4", "--epochs", "2", "--quiet"]) == 0
    X, y = moons_host(30, noise=0.1, seed=2)
    rows = [[a, b, int(c)] for (a, b), c in zip(X, y, strict=True)]
    path = write_csv(tmp_path / "named.csv", ["x1", "x2", "label"], rows)
    result = run_cli("evaluate", "--model", "model.npz", "--data", str(path))
    assert result.returncode == 0 and "accuracy:" in result.stdout, result.stderr


def test_npz_labels_train_a_classifier_as_the_same_csv_labels_do(tmp_path, capsys):
    """0./1. floats in an .npz (as np.savez keeps a float array) and text labels are class labels, as
    the same column of a CSV is read; before, the floats trained a regression and the text failed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    for name, y in (("floats", (X[:, 0] > 0).astype(float)), ("text", np.where(X[:, 0] > 0, "yes", "no"))):
        data, out = tmp_path / f"{name}.npz", tmp_path / f"{name}-model.npz"
        np.savez(data, X=X, y=y)
        assert cli.main(["train", "--data", str(data), "--epochs", "2", "--out", str(out)]) in (0, None)
        network = xdnn.load(out)
        assert network.metadata["task"] == "classification" and network.loss.name == "binary_crossentropy"
        assert sorted(map(str, network.metadata["classes"])) == sorted(map(str, np.unique(y)))
    X[0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=(X[:, 1] > 0).astype(int))
    capsys.readouterr()
    code = cli.main(["evaluate", "--model", str(tmp_path / "floats-model.npz"), "--data", str(tmp_path / "nan.npz")])
    assert_one_line_error(code, capsys.readouterr().err, "NaN feature values", "before evaluating")


# --- memory: a large CSV is read into compact buffers, and predicted in chunks ---------------------


def test_reading_a_csv_peaks_near_the_size_of_its_numbers(tmp_path):
    """The reader parses row by row into flat float64 buffers: its peak (Python and NumPy allocations, as
    tracemalloc counts them) stays under 3x the float64 array plus 1 MB; reading the whole file into
    lists of Python strings, then floats, first took about 16x."""
    from xdnn import datasets

    rng = np.random.default_rng(0)
    values = np.c_[rng.normal(size=(50_000, 5)), rng.integers(0, 2, 50_000)]
    path = tmp_path / "data.csv"
    np.savetxt(path, values, delimiter=",", header="a,b,c,d,e,label", comments="", fmt="%.8g")
    tracemalloc.start()
    try:
        X, y, names = datasets.load_csv_host(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert X.shape == (50_000, 5) and y.dtype == np.int64 and names == ["a", "b", "c", "d", "e"]
    np.testing.assert_allclose(X, values[:, :5], rtol=1e-7)
    assert peak < 3 * values.nbytes + 1_000_000, f"peak {peak / 1e6:.1f} MB for {values.nbytes / 1e6:.1f} MB of data"


def test_predictions_made_in_chunks_are_those_of_one_pass(tmp_path, moons_csv, monkeypatch, capsys):
    csv_path, _, _ = moons_csv
    assert cli.main(["train", "--data", str(csv_path), "--layers", "4", "--epochs", "2", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", "model.npz", "--data", str(csv_path)]) == 0
    one_pass = capsys.readouterr().out
    monkeypatch.setattr(cli.predict, "PREDICTION_ROWS", 7)  # 120 rows: 18 chunks, the last one short
    assert cli.main(["predict", "--model", "model.npz", "--data", str(csv_path)]) == 0
    assert capsys.readouterr().out == one_pass and len(one_pass.splitlines()) == 121
