"""The command line, run as a user would: `python -m xdnn ...` in a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import xdnn
from xdnn import cli
from xdnn.datasets import moons_host

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
