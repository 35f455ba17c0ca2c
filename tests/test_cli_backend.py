"""The command line on the session's backend (``XDNN_BACKEND``, as nox sets it): train, predict and evaluate
a CSV of text labels in process; the model file then loads on NumPy and answers the same labels."""

from __future__ import annotations

import csv

import numpy as np

import xdnn
from xdnn import cli
from xdnn.datasets import moons_host


def test_train_predict_evaluate_on_the_session_backend(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    X, y = moons_host(120, noise=0.1, seed=5)
    names = np.array(["left", "right"])[y.astype(np.int64)]
    with open("moons.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["first", "second", "side"])
        writer.writerows([[a, b, side] for (a, b), side in zip(X, names, strict=True)])
    assert cli.main(["train", "--data", "moons.csv", "--layers", "8", "--epochs", "30", "--lr", "0.05"]) == 0
    trained = capsys.readouterr().out
    backend = xdnn.get_backend()
    assert f"backend: {backend}" in trained
    assert cli.main(["predict", "--model", "model.npz", "--data", "moons.csv", "--out", "predicted.csv"]) == 0
    with open("predicted.csv", newline="") as stream:
        predicted = np.array([row[-1] for row in csv.reader(stream)][1:])
    assert set(predicted) <= {"left", "right"}
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", "model.npz", "--data", "moons.csv"]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy:")[1])
    assert accuracy == np.mean(predicted == names).round(4) and accuracy > 0.8, backend
    loaded = xdnn.load("model.npz", backend="numpy")
    scaled = (X - loaded.metadata["feature_mean"]) / loaded.metadata["feature_std"]
    np.testing.assert_array_equal(loaded.predict(scaled), predicted)
