"""Every example runs end to end on a reduced iteration count (the full runs are by hand)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# the examples run with --backend numpy whatever the session: once, in the numpy session (nox sets XDNN_BACKEND)
pytestmark = pytest.mark.skipif(
    os.environ.get("XDNN_BACKEND", "numpy") != "numpy",
    reason="the examples run with --backend numpy: it runs once, in the numpy session",
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(name for name in os.listdir(os.path.join(ROOT, "examples")) if name.endswith(".py"))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_quickly(script, tmp_path):
    if script == "digits_deep.py":
        pytest.importorskip("sklearn")
    if script == "dask_training.py":
        pytest.importorskip("dask.distributed")
    arguments = [sys.executable, os.path.join(ROOT, "examples", script), "--quick", "--backend", "numpy"]
    if script not in ("cpu_vs_gpu.py", "deep_200_features.py", "dask_training.py"):
        pytest.importorskip("matplotlib")
        arguments += ["--plots", str(tmp_path)]
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(arguments, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "backend: numpy" in result.stdout or "numpy:" in result.stdout
    for png in tmp_path.glob("*.png"):
        assert png.stat().st_size > 2000
