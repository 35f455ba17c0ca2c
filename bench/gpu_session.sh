#!/usr/bin/env bash
# The GPU checks of a session that is lent a CUDA machine (the `run` tool's device machine): the cupy
# test session and the GPU benchmark, one prepared script (device time is short).  Not a CI step.
#
# That machine cannot reach a package index.  Its image's python3 has CuPy (cupy-cuda13x), PyTorch with
# CUDA, pytest, hypothesis, scikit-learn, matplotlib and tqdm, but not array-api-compat, which xdnn
# imports.  So, here first:
#     python -m pip download --no-deps -d wheels array-api-compat
# then run this script there, carrying the (git-ignored) wheels folder:
#     run(command="bash bench/gpu_session.sh", carry=["wheels"], timeout_s=540)
# Results land in $OUT (or ./gpu-results): the test log, and bench/results/<gpu>.md to commit.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RESULTS=${OUT:-gpu-results}
mkdir -p "$RESULTS"
nvidia-smi -L | tee "$RESULTS/device.txt"
"$PYTHON" -m pip install --no-index --no-deps wheels/*.whl 2>&1 | tail -1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" XDNN_BACKEND=cupy
# The CUDA-specific tests first (they fail fast if capture or a kernel is wrong), then everything on cupy.
timeout 150 "$PYTHON" -m pytest -q -x --backend cupy tests/test_backends_cupy.py tests/test_executors.py tests/test_cuda_graph.py \
    2>&1 | tee "$RESULTS/cupy-kernels.txt" | tail -5
timeout 240 "$PYTHON" -m pytest -q --backend cupy -p no:cacheprovider 2>&1 | tee "$RESULTS/cupy-tests.txt" | tail -5
unset XDNN_BACKEND
timeout 240 "$PYTHON" bench/run.py --backend numpy --backend cupy --repeats 5 --out "$RESULTS/bench.md" \
    2>&1 | tail -40
