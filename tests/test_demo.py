"""xdnn.demo (the main job) and the planar data set it trains on."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from xdnn import demo
from xdnn.datasets import load_planar_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The planar notebook's printed costs for n_h = 4, learning rate 1.2 (identical in every published
# version up to iteration 7000; later ones differ between versions in the fifth decimal).
TUTORIAL_COSTS = {
    0: 0.693048,
    1000: 0.288083,
    2000: 0.254385,
    3000: 0.233864,
    4000: 0.226792,
    5000: 0.222644,
    6000: 0.219731,
    7000: 0.217504,
}


def printed_costs(text: str) -> dict[int, float]:
    return {int(i): float(cost) for i, cost in re.findall(r"Cost after iteration (\d+): ([0-9.]+)", text)}


def tutorial_planar_dataset():
    """The tutorial's planar_utils.load_planar_dataset, as published (global legacy seed 1)."""
    np.random.seed(1)
    m = 400
    N = int(m / 2)
    D = 2
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    a = 4
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


@pytest.fixture
def global_numpy_state():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_load_planar_dataset_is_the_tutorials(global_numpy_state):
    X, Y = load_planar_dataset()
    assert X.shape == (2, 400) and Y.shape == (1, 400)
    assert X.dtype == np.float64 and Y.dtype == np.uint8
    assert np.bincount(Y[0]).tolist() == [200, 200]
    np.testing.assert_array_equal(Y[0, :200], 0)
    expected_X, expected_Y = tutorial_planar_dataset()
    np.testing.assert_array_equal(X[:, :10], expected_X[:, :10])  # the first points, then all of them
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(Y, expected_Y)


def test_load_planar_dataset_leaves_the_global_generator_alone(global_numpy_state):
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    load_planar_dataset()
    assert np.random.rand() == expected


def test_run_demo_smoke(backend, capsys):
    accuracy = demo.run_demo(num_iterations=12, print_every=5)
    printed = capsys.readouterr().out
    assert f"backend: {backend.name}" in printed, printed
    assert sorted(printed_costs(printed)) == [0, 5, 10], printed  # every print_every iterations, as the tutorial
    assert abs(printed_costs(printed)[0] - TUTORIAL_COSTS[0]) < 1e-6, f"{backend.name}: {printed}"
    assert "training accuracy:" in printed
    assert 0.0 <= accuracy <= 1.0


def test_full_demo_reaches_the_tutorials_accuracy(backend, capsys):
    if backend.name != "numpy":
        pytest.skip("the full 10 000-iteration demo runs on the numpy backend only, to keep the suite fast")
    accuracy = demo.run_demo()
    printed = capsys.readouterr().out
    costs = printed_costs(printed)
    assert sorted(costs) == list(range(0, 10_000, 1000)), printed
    for iteration, expected in TUTORIAL_COSTS.items():
        assert abs(costs[iteration] - expected) < 1e-5, f"iteration {iteration}: {costs[iteration]} vs {expected}"
    assert accuracy >= 0.88, printed
    assert f"{accuracy * 100:.1f}%" in printed


def test_python_m_xdnn_demo_exits_zero():
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environment["XDNN_BACKEND"] = "numpy"
    completed = subprocess.run(
        [sys.executable, "-m", "xdnn", "demo", "--iterations", "200"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "backend: numpy" in completed.stdout
    assert sorted(printed_costs(completed.stdout)) == [0], completed.stdout
    assert "training accuracy:" in completed.stdout
