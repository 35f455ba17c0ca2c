"""The benchmark suite runs end to end in its --quick mode (a smoke run: no timing asserted)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import xdnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import baseline_numpy  # noqa: E402
import run as bench  # noqa: E402


def test_quick_run_writes_a_report(tmp_path, request):
    chosen = request.config.getoption("--backend")
    if chosen and "numpy" not in chosen:
        pytest.skip("the benchmark smoke run is backend-independent: it runs in the numpy session only")
    report = tmp_path / "report.md"
    arguments = [
        "--quick",
        "--workload",
        "tiny",
        "--workload",
        "deep-narrow",
        "--dtype",
        "float64",
        "--out",
        str(report),
    ]
    assert bench.main(arguments) == 0
    text = report.read_text()
    for expected in (
        "Matrix-multiply ceiling",
        "## tiny",
        "## deep-narrow",
        "xdnn [numpy]",
        "plain NumPy tutorial code",
    ):
        assert expected in text
    assert "## Memory" in text
    xdnn_rows = [line for line in text.splitlines() if line.startswith("| xdnn [numpy]")]
    assert len(xdnn_rows) == 2 and all("failed" not in row for row in xdnn_rows)


def test_host_line_names_the_cpu_family_and_the_blas_kernels(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    details = bench.cpu_details()
    try:
        with open("/proc/cpuinfo") as stream:
            cpuinfo = stream.read()
    except OSError:
        cpuinfo = ""
    if "cpu family" in cpuinfo:
        family = next(line for line in cpuinfo.splitlines() if line.startswith("cpu family")).split(":")[1].strip()
        assert f"family {family} model " in details
    try:
        import threadpoolctl
    except ImportError:
        return
    blas = [pool for pool in threadpoolctl.threadpool_info() if pool.get("user_api") == "blas"]
    if blas and blas[0]["internal_api"] == "openblas":
        assert "NumPy BLAS openblas" in details and "OPENBLAS_CORETYPE=SkylakeX" in details


def test_flop_floor_formula():
    # forward 2 m n_in n_out per layer, backward twice that: 6 m n_in n_out in all
    assert bench.workload_flops([3, 4, 2], 10) == 6 * 10 * (3 * 4 + 4 * 2)


def test_baseline_trains_like_xdnn():
    """The plain-NumPy baseline and xdnn, from the same start, reach the same parameters."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    with xdnn.use_backend("numpy"):
        network = xdnn.Network(
            [3, 5, 1], activation="tanh", optimizer="sgd", learning_rate=0.5, dtype="float64", seed=0
        )
        parameters = {name: np.array(value) for name, value in network.parameters.items()}
        network.fit(X, y, epochs=20, batch_size=None, verbose=0)
    baseline_numpy.train(
        X.T.copy(),
        y.reshape(1, -1).astype(float),
        parameters,
        epochs=20,
        learning_rate=0.5,
        hidden="tanh",
        output="sigmoid",
    )
    for name, value in parameters.items():
        np.testing.assert_allclose(xdnn.to_numpy(network.parameters[name]), value, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "spec",
    [
        dict(dims=[64, 512, 512, 10], m=4096, hidden="relu", output="softmax", batch=1024, lr=0.01),
        dict(dims=[32] + [128] * 4 + [1], m=2048, hidden="relu", output="sigmoid", batch=None, lr=0.01),
        dict(dims=[3000, 20, 7, 1], m=200, hidden="relu", output="sigmoid", batch=None, lr=0.01),
        dict(dims=[2, 4, 1], m=400, hidden="tanh", output="sigmoid", batch=None, lr=1.2),
    ],
    ids=["wide", "deep-narrow", "more-features-than-samples", "tiny-tanh"],
)
def test_a_training_steps_peak_memory_stays_within_its_budget(spec, request):
    """Peak traced memory of steady-state NumPy steps <= parameters + cached activations A[0..L] +
    one working set (the issue's memory target), e.g. no layer keeps its output alive through its
    linear backward."""
    chosen = request.config.getoption("--backend")
    if chosen and "numpy" not in chosen:
        pytest.skip("the memory budget is measured on the NumPy backend: it runs in the numpy session only")
    peak, parameters, activations, working, budget = bench.memory_report(spec, spec["m"], "float32")
    assert 0 < peak <= budget, (peak, parameters, activations, working)


def test_the_matmul_ceiling_is_the_fastest_product(monkeypatch):
    """A slow spell of a shared machine lowers a median; the ceiling is the best rate measured."""
    seconds = iter([9.0, 4.0, 1.0, 8.0, 2.0, 16.0, 3.0, 5.0])  # a warm-up, then seven products
    monkeypatch.setattr(bench.Timer, "__call__", lambda self, function: next(seconds))
    assert bench.matmul_rate("numpy", "float64", 8) == pytest.approx(2.0 * 8**3 / 1.0)


def test_gpu_competitors_are_compared_with_xdnn_on_the_gpu(monkeypatch):
    """PyTorch CUDA's rows (timer kind "torch-cuda") take their ratio from xdnn's CuPy step, not from
    nothing (their kind differs from CuPy's); the CPU rows from xdnn's NumPy step; and a CPU build of
    PyTorch on a GPU host adds no CUDA rows (its ceiling cannot be measured)."""
    assert bench.device_of("torch-cuda") == bench.device_of("cupy") != bench.device_of("cpu")
    if bench.available("torch"):
        import torch

        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        assert not bench.torch_has_cuda()


def test_each_timed_block_starts_after_a_rest(monkeypatch):
    """Every timed block (each competitor, each repeat) starts after ``settle_seconds`` of rest, so no
    competitor shares the cores with the previous one's spinning BLAS threads; warm-up is not rested."""
    rests = []
    monkeypatch.setattr(bench.time, "sleep", rests.append)
    runs = [(lambda epochs: None, bench.Timer("cpu")) for _ in range(3)]
    samples = bench.interleaved_step_times(runs, steps_per_epoch=1, repeats=4, target_seconds=0.001, settle_seconds=0.3)
    assert rests == [0.3] * 12 and [len(times) for times in samples] == [4, 4, 4]
