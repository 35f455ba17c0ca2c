"""xdnn.plot writes real PNG files of the requested size from arrays of any backend."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import xdnn

pytest.importorskip("matplotlib")
from xdnn import plot  # noqa: E402


def png_size(path):
    with open(path, "rb") as stream:
        header = stream.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", header[16:24])


def test_history_boundary_and_confusion_pngs(tmp_path, backend, to_device):
    rng = np.random.default_rng(0)
    X_host = rng.normal(size=(80, 2))
    y_host = (X_host[:, 0] > 0).astype(np.int64)
    network = xdnn.Network([2, 6, 1], seed=0, learning_rate=0.05)
    history = network.fit(to_device(X_host), to_device(y_host), epochs=5, verbose=0, validation_data=(X_host, y_host))
    figures = {
        "history.png": plot.plot_history(history, path=tmp_path / "history.png"),
        "boundary.png": plot.plot_decision_boundary(
            network, to_device(X_host), to_device(y_host), path=tmp_path / "boundary.png", resolution=50
        ),
        "confusion.png": plot.plot_confusion_matrix(
            to_device(y_host), network.predict(X_host), path=tmp_path / "confusion.png"
        ),
    }
    for name, figure in figures.items():
        path = tmp_path / name
        assert path.stat().st_size > 2000, name
        assert png_size(path) == (640, 480), name
        assert figure.axes, name
    plot.plot_history([0.7, 0.5, 0.3], path=tmp_path / "costs.png", size=(4, 3), dpi=50)
    assert png_size(tmp_path / "costs.png") == (200, 150)


def test_confusion_matrix_counts_match_a_direct_count():
    truth = np.array([0, 1, 2, 2, 1, 0, 2])
    predicted = np.array([0, 2, 2, 2, 1, 1, 0])
    counts, labels = plot.confusion_matrix(truth, predicted)
    assert labels == [0, 1, 2]
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(counts, expected)


def test_decision_boundary_needs_two_features():
    with pytest.raises(ValueError, match="n_samples, 2"):
        plot.plot_decision_boundary(lambda points: points[:, 0] > 0, np.zeros((5, 3)), np.zeros(5))


def test_import_xdnn_loads_neither_matplotlib_nor_scikit_learn_until_asked():
    code = (
        "import sys, xdnn; "
        "assert 'matplotlib' not in sys.modules and 'sklearn' not in sys.modules, 'imported too early'; "
        "plot = xdnn.plot; "
        "assert plot is sys.modules['xdnn.plot'] and callable(plot.plot_history); "
        "plot.plot_history([0.5, 0.25]); "
        "assert 'matplotlib' in sys.modules; "
        "print('ok')"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
