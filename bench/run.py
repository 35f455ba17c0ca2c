"""xdnn benchmark suite: xdnn on each backend beside plain NumPy, PyTorch and scikit-learn.

    python bench/run.py [--quick] [--workload tiny ...] [--backend numpy ...] [--out FILE]

For every workload it times one training step (full-batch gradient descent, or one
mini-batch for ``wide``) of each implementation, reports the median over repeats
after a warm-up, the ratio of each competitor's time to xdnn's (same backend,
same dtype), and each time as a multiple of the FLOP floor: the workload's
matrix-multiply FLOPs (forward ``2 m n_in n_out`` per layer, backward twice that)
at the machine's measured matmul rate, taken in the same run.  GPU times use CUDA
events.  Results go to ``bench/results/<device>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import baseline_numpy  # noqa: E402

import xdnn  # noqa: E402
from xdnn._backend import BackendError, resolve_backend  # noqa: E402

WORKLOADS = {
    "tiny": dict(dims=[2, 4, 1], m=400, hidden="tanh", output="sigmoid", batch=None, lr=1.2),
    "tutorial-deep": dict(dims=[12288, 20, 7, 5, 1], m=209, hidden="relu", output="sigmoid", batch=None, lr=0.0075),
    "wide": dict(dims=[784, 1024, 1024, 10], m=65536, hidden="relu", output="softmax", batch=4096, lr=0.01),
    "deep-narrow": dict(dims=[64] + [64] * 10 + [1], m=8192, hidden="relu", output="sigmoid", batch=None, lr=0.01),
}
QUICK_SAMPLES = {"wide": 8192}

# glibc returns large freed blocks to the system and maps fresh (zero-filled) pages for the next
# one, so a step's time depended on which competitor ran before it (deep-narrow's 2 MB temporaries
# swung 2x between runs).  The script re-runs itself once with these thresholds raised, for every
# competitor alike: freed blocks are reused, as in a long training run.
STABLE_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


# --- timing -------------------------------------------------------------------------------------


class Timer:
    """Wall time on the CPU; CUDA events (with a final synchronisation) on a GPU."""

    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, function) -> float:
        if self.kind == "cupy":
            import cupy

            start, end = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            function()
            end.record()
            end.synchronize()
            return cupy.cuda.get_elapsed_time(start, end) / 1000.0
        if self.kind == "torch-cuda":
            import torch

            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            function()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1000.0
        begin = time.perf_counter()
        function()
        return time.perf_counter() - begin


# Seconds of rest before each timed block.  BLAS and OpenMP worker threads keep spinning for a while
# after their last call (OpenBLAS's for about 0.1 s): without the rest, the first calls of each
# block shared the two cores with the previous competitor's spinning threads (PyTorch's step after
# the NumPy code's ran about 4% slower than after a rest).
SETTLE_SECONDS = 0.25


def interleaved_step_times(
    runs, steps_per_epoch: int, repeats: int, target_seconds: float, settle_seconds: float = SETTLE_SECONDS
) -> list:
    """The step times (one per repeat) of each ``(run_epochs, timer)`` in ``runs``, timed round-robin.

    Each competitor is warmed up and probed once, given the number of epochs that takes about
    ``target_seconds``, and then timed ``repeats`` times -- every repeat times every competitor
    once, one after the other, so a slow spell of this shared machine reaches all of them alike
    and the ratios stay meaningful; each block starts after ``settle_seconds`` of rest, when the
    previous one's worker threads have gone to sleep.  A competitor that fails gets its exception
    instead of a time.
    """
    epochs, samples = [], []
    for run, timer in runs:
        try:
            run(1)
            probe = timer(lambda run=run: run(1))
            epochs.append(max(1, min(2000, int(target_seconds / max(probe, 1e-6)))))
            samples.append([])
        except Exception as error:  # a competitor that cannot run here is reported, not fatal
            epochs.append(None)
            samples.append(error)
    for _ in range(repeats):
        for index, (run, timer) in enumerate(runs):
            if epochs[index] is None:
                continue
            gc.collect()
            time.sleep(settle_seconds)
            count = epochs[index]
            samples[index].append(timer(lambda run=run, count=count: run(count)) / (count * steps_per_epoch))
    return samples


def matmul_rate(kind: str, dtype: str, n: int, repeats: int = 7) -> float:
    """Measured FLOP/s of an ``n x n`` matrix product on ``kind`` (numpy, torch, torch-cuda, cupy):
    the fastest of ``repeats`` products.  A ceiling is the best the machine does; on a shared
    machine a slow spell lowers a median (one run's median fell to 175 GFLOP/s where others gave
    227, and wide's step then read 0.8 of its floor)."""
    if kind == "cupy":
        import cupy as lib

        a = lib.ones((n, n), dtype=dtype)
    elif kind.startswith("torch"):
        import torch as lib

        device = "cuda" if kind == "torch-cuda" else "cpu"
        a = lib.ones((n, n), dtype=getattr(lib, dtype), device=device)
    else:
        lib = np
        a = np.ones((n, n), dtype=dtype)
    b = a * 0.5
    timer = Timer(kind)
    timer(lambda: a @ b)
    seconds = min(timer(lambda: a @ b) for _ in range(repeats))
    return 2.0 * n**3 / seconds


def workload_flops(dims, batch: int) -> float:
    """Matmul FLOPs of one step: forward ``2 m n_in n_out`` per layer, backward twice that."""
    return sum(6.0 * batch * n_in * n_out for n_in, n_out in zip(dims[:-1], dims[1:], strict=True))


# --- data ---------------------------------------------------------------------------------------


def make_data(spec, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, spec["dims"][0])).astype(dtype)
    k = spec["dims"][-1]
    labels = rng.integers(0, max(k, 2), size=m)
    return X, labels


def one_hot_rows(labels, k, dtype):
    if k == 1:
        return labels.reshape(-1, 1).astype(dtype)
    return np.eye(k, dtype=dtype)[labels]


# --- competitors --------------------------------------------------------------------------------


def benchmark_network(spec, dtype):
    """The workload's network as xdnn builds it (on the active backend): plain gradient descent, He init."""
    return xdnn.Network(
        spec["dims"],
        activation=spec["hidden"],
        output_activation=spec["output"],
        optimizer="sgd",
        learning_rate=spec["lr"],
        dtype=dtype,
        seed=0,
        metrics=[],
        initialization="he",
    )


def xdnn_runner(spec, X, labels, dtype, backend, cuda_graph=False):
    with xdnn.use_backend(backend):
        X_device, y_device = xdnn.asarray(X), xdnn.asarray(labels)
        network = benchmark_network(spec, dtype)

    def run(epochs):
        with xdnn.use_backend(backend):
            network.fit(X_device, y_device, epochs=epochs, batch_size=spec["batch"], verbose=0, cuda_graph=cuda_graph)

    return run


def functional_runner(spec, X, labels, dtype):
    """The tutorial API's own training loop, ``xdnn.functional.L_layer_model`` (full batch, sigmoid
    output, plain gradient descent), on NumPy; each block initialises its parameters, as a call does."""
    Xt = np.ascontiguousarray(X.T)
    Yt = np.ascontiguousarray(one_hot_rows(labels, spec["dims"][-1], dtype).T)

    def run(epochs):
        with xdnn.use_backend("numpy"):
            xdnn.functional.L_layer_model(
                Xt,
                Yt,
                spec["dims"],
                spec["lr"],
                epochs,
                hidden_activation=spec["hidden"],
                dtype=dtype,
                initialization="he",
            )

    return run


def numpy_baseline_runner(spec, X, labels, dtype):
    Xt = np.ascontiguousarray(X.T)
    Yt = np.ascontiguousarray(one_hot_rows(labels, spec["dims"][-1], dtype).T)
    state = {"parameters": baseline_numpy.initialize(spec["dims"], dtype)}

    def run(epochs):
        baseline_numpy.train(
            Xt,
            Yt,
            state["parameters"],
            epochs=epochs,
            learning_rate=spec["lr"],
            hidden=spec["hidden"],
            output=spec["output"],
            batch_size=spec["batch"],
        )

    return run


def torch_manual_runner(spec, X, labels, dtype, device):
    """PyTorch tensors, forward and backward written by hand (no autograd), as the tutorial does."""
    import torch

    torch_dtype = getattr(torch, dtype)
    Xt = torch.as_tensor(X.T.copy(), device=device)
    Yt = torch.as_tensor(one_hot_rows(labels, spec["dims"][-1], dtype).T.copy(), device=device)
    host = baseline_numpy.initialize(spec["dims"], dtype)
    params = {key: torch.as_tensor(value, dtype=torch_dtype, device=device) for key, value in host.items()}
    L = len(spec["dims"]) - 1
    generator = np.random.default_rng(0)

    def step(Xb, Yb):
        m = Xb.shape[1]
        cache = []
        A = Xb
        for l in range(1, L + 1):
            Z = torch.addmm(params[f"b{l}"], params[f"W{l}"], A)
            A_prev = A
            if l < L:
                A = torch.relu(Z) if spec["hidden"] == "relu" else torch.tanh(Z)
            else:
                A = torch.sigmoid(Z) if spec["output"] == "sigmoid" else torch.softmax(Z, dim=0)
            cache.append((A_prev, A))
        dZ = A - Yb
        dA = None  # gradient flowing into the layer below, set at each layer
        for l in range(L, 0, -1):
            A_prev, A_l = cache[l - 1]
            if l < L:
                dZ = dA * (A_l > 0) if spec["hidden"] == "relu" else dA * (1 - A_l * A_l)
            if l > 1:
                dA = params[f"W{l}"].T @ dZ
            params[f"W{l}"].sub_(dZ @ A_prev.T, alpha=spec["lr"] / m)
            params[f"b{l}"].sub_(dZ.sum(dim=1, keepdim=True), alpha=spec["lr"] / m)

    def run(epochs):
        m = Xt.shape[1]
        for _ in range(epochs):
            if spec["batch"] is None or spec["batch"] >= m:
                step(Xt, Yt)
                continue
            order = torch.as_tensor(generator.permutation(m), device=device)
            for s in range(0, m, spec["batch"]):
                index = order[s : s + spec["batch"]]
                step(Xt[:, index], Yt[:, index])

    return run


def torch_autograd_runner(spec, X, labels, dtype, device):
    """``torch.nn.Sequential`` + autograd + ``torch.optim.SGD``: how PyTorch users write it."""
    import torch

    torch.manual_seed(0)
    dims = spec["dims"]
    layers = []
    for n_in, n_out in zip(dims[:-2], dims[1:-1], strict=True):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU() if spec["hidden"] == "relu" else torch.nn.Tanh()]
    layers.append(torch.nn.Linear(dims[-2], dims[-1]))
    model = torch.nn.Sequential(*layers).to(device=device, dtype=getattr(torch, dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=spec["lr"])
    X_device = torch.as_tensor(X, device=device)
    if spec["output"] == "sigmoid":
        y_device = torch.as_tensor(labels.reshape(-1, 1).astype(dtype), device=device)
        loss_function = torch.nn.BCEWithLogitsLoss()
    else:
        y_device = torch.as_tensor(labels, device=device)
        loss_function = torch.nn.CrossEntropyLoss()
    generator = np.random.default_rng(0)

    def run(epochs):
        m = X_device.shape[0]
        for _ in range(epochs):
            if spec["batch"] is None or spec["batch"] >= m:
                batches = [(X_device, y_device)]
            else:
                order = torch.as_tensor(generator.permutation(m), device=device)
                batches = [
                    (X_device[order[s : s + spec["batch"]]], y_device[order[s : s + spec["batch"]]])
                    for s in range(0, m, spec["batch"])
                ]
            for Xb, yb in batches:
                optimizer.zero_grad(set_to_none=True)
                loss = loss_function(model(Xb), yb)
                loss.backward()
                optimizer.step()

    return run


def sklearn_runner(spec, X, labels, dtype):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    batch = X.shape[0] if spec["batch"] is None else spec["batch"]

    def run(epochs):
        model = MLPClassifier(
            hidden_layer_sizes=tuple(spec["dims"][1:-1]),
            activation=spec["hidden"],
            solver="sgd",
            momentum=0.0,
            learning_rate_init=spec["lr"],
            alpha=0.0,
            batch_size=batch,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=10**9,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, labels)

    return run


# --- memory ---------------------------------------------------------------------------------------


class _StepPeak(xdnn.Callback):
    """Traces allocations from the end of the first epoch to the end of training: the peak of the
    steady-state steps, without the once-per-fit input checks and layout copies."""

    def on_epoch_end(self, network, epoch, logs):
        if epoch == 0:
            tracemalloc.start()
            tracemalloc.reset_peak()
            self.base, _ = tracemalloc.get_traced_memory()

    def on_train_end(self, network):
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.peak = peak - self.base


def memory_report(spec, m, dtype):
    """Peak traced memory of xdnn NumPy training steps vs parameters + activations + a working set."""
    X, labels = make_data(spec, m, dtype)
    with xdnn.use_backend("numpy"):
        network = benchmark_network(spec, dtype)
        probe = _StepPeak()
        network.fit(X, labels, epochs=2, batch_size=spec["batch"], verbose=0, callbacks=[probe])
    itemsize = np.dtype(dtype).itemsize
    dims = spec["dims"]
    batch = m if spec["batch"] is None else spec["batch"]
    parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(dims[:-1], dims[1:], strict=True)) * itemsize
    activations = sum(dims) * batch * itemsize  # A[0] (the batch) to A[L], as the tutorial's caches hold
    working = (
        2 * max(dims) * batch * itemsize
        + max(n_in * n_out for n_in, n_out in zip(dims[:-1], dims[1:], strict=True)) * itemsize
    )
    step_peak = probe.peak
    budget = parameters + activations + working
    return step_peak, parameters, activations, working, budget


# --- driver ---------------------------------------------------------------------------------------


def cpuinfo_fields() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (``"model name"``, ``"cpu family"``, ``"flags"``,
    ...), or an empty dict where there is none (not Linux)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_name() -> str:
    fields = cpuinfo_fields()
    if "model name" in fields:
        return fields["model name"]
    return platform.processor() or platform.machine()


def result_name() -> str:
    """The CPU's name for its results file, with its family and model where Linux gives them: one
    model name ("AMD EPYC") has covered hosts whose tables differ (Zen 3 and Zen 5)."""
    fields = cpuinfo_fields()
    if "cpu family" not in fields:
        return cpu_name()
    return f"{cpu_name()} family{fields['cpu family']} model{fields.get('model', '')}"


def cpu_details() -> str:
    """The CPU's family and model (Linux), NumPy's BLAS with its kernels and ``OPENBLAS_*`` settings, and
    PyTorch's CPU capability: the same model name covers several CPU generations, and the host and
    the kernels a run lands on move the products' speed."""
    fields = cpuinfo_fields()
    parts = []
    if "cpu family" in fields:
        simd = "avx512f" if "avx512f" in fields.get("flags", "").split() else "no avx512"
        parts.append(f"family {fields['cpu family']} model {fields.get('model', '?')}, {simd}")
    try:
        import threadpoolctl

        for pool in threadpoolctl.threadpool_info():
            if pool.get("user_api") == "blas":
                kernel = f", {pool['architecture']} kernels" if pool.get("architecture") else ""
                settings = ", ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_"))
                kernel += f" ({settings})" if settings else ""
                parts.append(f"NumPy BLAS {pool['internal_api']} {pool.get('version') or ''}{kernel}".strip())
                break
    except Exception:
        pass
    if available("torch"):
        import torch

        parts.append(
            f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads)"
        )
    return "; ".join(parts)


def gpu_name() -> str | None:
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:
        return None
    return None


def torch_has_cuda() -> bool:
    """Whether PyTorch is installed with a usable CUDA device (a CPU build on a GPU host has none)."""
    if not available("torch"):
        return False
    import torch

    return torch.cuda.is_available()


def device_of(kind: str) -> str:
    """``"gpu"`` for the timers of a CUDA device (CuPy, PyTorch CUDA), else ``"cpu"``: each
    competitor's ratio is to the eager xdnn step on its device."""
    return "gpu" if kind in ("cupy", "torch-cuda") else "cpu"


def available(module: str) -> bool:
    try:
        __import__(module)
    except Exception:
        return False
    return True


def competitors(spec, X, labels, dtype, xdnn_backends, include_gpu):
    """(label, backend, device-kind, runner-factory) for everything that can run here."""
    entries = []
    for backend in xdnn_backends:
        try:
            resolved = resolve_backend(backend)
        except BackendError:
            continue
        kind = (
            "cupy"
            if backend == "cupy"
            else ("torch-cuda" if backend == "torch" and "cuda" in str(resolved.device) else "cpu")
        )
        entries.append((f"xdnn [{backend}]", backend, kind, lambda b=backend: xdnn_runner(spec, X, labels, dtype, b)))
        if backend == "cupy" and spec["batch"] is None:  # the whole step as one CUDA graph (xdnn.backends.cuda_graph)
            entries.append(
                ("xdnn [cupy, CUDA graph]", backend, kind, lambda: xdnn_runner(spec, X, labels, dtype, "cupy", True))
            )
    entries.append(("plain NumPy tutorial code", "numpy", "cpu", lambda: numpy_baseline_runner(spec, X, labels, dtype)))
    if spec["output"] == "sigmoid" and spec["batch"] is None and "numpy" in xdnn_backends:
        entries.append(
            ("xdnn.functional.L_layer_model [numpy]", "numpy", "cpu", lambda: functional_runner(spec, X, labels, dtype))
        )
    if available("torch"):
        import torch

        entries.append(
            ("PyTorch CPU, manual backward", "torch", "cpu", lambda: torch_manual_runner(spec, X, labels, dtype, "cpu"))
        )
        entries.append(
            ("PyTorch CPU, nn + autograd", "torch", "cpu", lambda: torch_autograd_runner(spec, X, labels, dtype, "cpu"))
        )
        if include_gpu and torch.cuda.is_available():
            entries.append(
                (
                    "PyTorch CUDA, manual backward",
                    "torch",
                    "torch-cuda",
                    lambda: torch_manual_runner(spec, X, labels, dtype, "cuda"),
                )
            )
            entries.append(
                (
                    "PyTorch CUDA, nn + autograd",
                    "torch",
                    "torch-cuda",
                    lambda: torch_autograd_runner(spec, X, labels, dtype, "cuda"),
                )
            )
    if available("sklearn"):
        entries.append(("scikit-learn MLPClassifier", "numpy", "cpu", lambda: sklearn_runner(spec, X, labels, dtype)))
    return entries


def run_dask_section(quick: bool) -> None:
    """The two Dask benchmarks, each in a process of its own (needs ``pip install -e ".[dask]"``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    parallel = [sys.executable, os.path.join(here, "dask_data_parallel.py")]
    out_of_core = [sys.executable, os.path.join(here, "dask_out_of_core.py")]
    if quick:
        parallel += ["--samples", "8192", "--epochs", "1", "--repeats", "1"]
        out_of_core += ["--gigabytes", "0.05", "--limit-gb", "1"]
    for command in (parallel, out_of_core):
        subprocess.run(command, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="xdnn benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and one repeat: a smoke run, not a measurement"
    )
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    parser.add_argument(
        "--backend", action="append", help="xdnn backends to time (default: numpy, and cupy if present)"
    )
    parser.add_argument("--dtype", action="append", choices=("float32", "float64"))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", help="markdown output (default bench/results/<device>.md; '-' for none)")
    parser.add_argument(
        "--dask",
        action="store_true",
        help="the Dask section instead: bench/dask_data_parallel.py (wide, in process vs a 2-worker LocalCluster) and "
        "bench/dask_out_of_core.py (4 GB on disk, 1 GB RSS limit); results in bench/results/dask.md",
    )
    arguments = parser.parse_args(argv)
    if arguments.dask:
        run_dask_section(arguments.quick)
        return

    gpu = gpu_name()
    workloads = arguments.workload or list(WORKLOADS)
    backends = arguments.backend or (["numpy", "cupy"] if gpu else ["numpy"])
    dtypes = arguments.dtype or ["float32", "float64"]
    repeats = arguments.repeats or (1 if arguments.quick else 7)
    kinds = (
        {"cpu"}
        | ({"cupy"} if "cupy" in backends and gpu else set())
        | ({"torch-cuda"} if gpu and torch_has_cuda() else set())
    )

    lines = [f"# xdnn benchmark — {gpu or cpu_name()}", ""]
    lines.append(
        f"- date: {datetime.date.today().isoformat()}; python {platform.python_version()}; numpy {np.__version__}; "
        f"xdnn {xdnn.__version__}" + ("; QUICK smoke run, not a measurement" if arguments.quick else "")
    )
    lines.append(f"- CPU: {cpu_name()} ({os.cpu_count()} logical cores)" + (f"; GPU: {gpu}" if gpu else "; no GPU"))
    details = cpu_details()
    if details:
        lines.append(f"- host: {details}")
    lines.append(
        f"- xdnn NumPy steps: split across up to {xdnn.get_num_threads()} threads "
        "(xdnn/backends/numpy_threads.py; 1: not split)"
    )
    pinned = all(os.environ.get(name) == value for name, value in STABLE_MALLOC.items())
    lines.append(
        "- allocator: "
        + ("glibc malloc thresholds raised (see STABLE_MALLOC in bench/run.py)" if pinned else "process default")
    )
    lines.append(
        f"- step time = median of {repeats} repeats after a warm-up, the competitors timed round-robin within each "
        "repeat (a slow spell of the machine reaches them all alike), each block after "
        f"{0.0 if arguments.quick else SETTLE_SECONDS} s of rest (the previous block's BLAS threads asleep); "
        "ratio = median over the repeats of "
        "competitor time / xdnn time in that repeat "
        "(same dtype, eager xdnn on the competitor's device: the CUDA-graph row's ratio below 1 is its speed-up); "
        "floor = matmul FLOPs of the step at the measured matmul rate (the fastest of 7 products)"
    )
    lines.append("")

    rates = {}
    size = {
        "cpu": 256 if arguments.quick else 2048,
        "cupy": 1024 if arguments.quick else 8192,
        "torch-cuda": 1024 if arguments.quick else 8192,
    }
    lines.append("## Matrix-multiply ceiling (measured in this run)\n")
    lines.append("| device | dtype | n | GFLOP/s |")
    lines.append("|---|---|---|---|")
    for kind in sorted(kinds):
        for dtype in dtypes:
            library = "numpy" if kind == "cpu" else kind
            rates[(kind, dtype)] = matmul_rate(library, dtype, size[kind])
            lines.append(f"| {kind} | {dtype} | {size[kind]} | {rates[(kind, dtype)] / 1e9:.1f} |")
    lines.append("")

    for name in workloads:
        spec = WORKLOADS[name]
        m = QUICK_SAMPLES.get(name, spec["m"]) if arguments.quick else spec["m"]
        batch = m if spec["batch"] is None else min(spec["batch"], m)
        steps_per_epoch = -(-m // batch)
        target_seconds = 0.05 if arguments.quick else 1.0
        lines.append(
            f"## {name}: layers {spec['dims'] if len(spec['dims']) < 8 else str(spec['dims'][:3])[:-1] + ', ...]'}, "
            f"m = {m}, batch = {batch}, {spec['hidden']} / {spec['output']}\n"
        )
        lines.append("| implementation | dtype | device | step (ms) | ratio to xdnn | x floor |")
        lines.append("|---|---|---|---|---|---|")
        for dtype in dtypes:
            X, labels = make_data(spec, m, dtype)
            flops = workload_flops(spec["dims"], batch)
            results, prepared = [], []
            for label, _backend, kind, factory in competitors(spec, X, labels, dtype, backends, bool(gpu)):
                try:
                    prepared.append((label, kind, factory()))
                except Exception as error:  # a competitor that cannot run here is reported, not fatal
                    lines.append(f"| {label} | {dtype} | {kind} | failed: {type(error).__name__}: {error} | | |")
            times = interleaved_step_times(
                [(run, Timer(kind)) for _, kind, run in prepared],
                steps_per_epoch,
                repeats,
                target_seconds,
                settle_seconds=0.0 if arguments.quick else SETTLE_SECONDS,
            )
            for (label, kind, _), samples in zip(prepared, times, strict=True):
                if isinstance(samples, Exception):
                    lines.append(f"| {label} | {dtype} | {kind} | failed: {type(samples).__name__}: {samples} | | |")
                    continue
                results.append((label, kind, samples))
            reference = {}  # the first xdnn entry of each device: the eager step
            for label, kind, samples in results:
                if label.startswith("xdnn"):
                    reference.setdefault(device_of(kind), samples)
            for label, kind, samples in results:
                seconds = statistics.median(samples)
                # The ratio of each repeat's pair of times (taken back to back), then their median:
                # a drift of the machine between repeats cancels out of it.
                mine = reference.get(device_of(kind))
                ratio = (
                    statistics.median(ours / xdnn_time for ours, xdnn_time in zip(samples, mine, strict=True))
                    if mine is not None
                    else float("nan")
                )
                floor = flops / rates.get((kind, dtype), float("nan"))
                lines.append(
                    f"| {label} | {dtype} | {kind} | {seconds * 1e3:.4f} | {ratio:.2f} | {seconds / floor:.1f} |"
                )
                print(
                    f"{name:14s} {dtype:8s} {kind:10s} {label:32s} {seconds * 1e3:10.4f} ms  ratio {ratio:5.2f}",
                    flush=True,
                )
        lines.append("")

    lines.append("## Memory of one xdnn training step (NumPy backend, float32, tracemalloc)\n")
    lines.append(
        "| workload | step peak (MB) | parameters | activations A[0..L] | working set | budget | peak / budget |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for name in workloads:
        spec = WORKLOADS[name]
        m = QUICK_SAMPLES.get(name, spec["m"]) if arguments.quick else spec["m"]
        peak, parameters, activations, working, budget = memory_report(spec, m, "float32")
        lines.append(
            f"| {name} | {peak / 1e6:.2f} | {parameters / 1e6:.2f} | {activations / 1e6:.2f} | {working / 1e6:.2f} | "
            f"{budget / 1e6:.2f} | {peak / budget:.2f} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if arguments.out != "-":
        device = re.sub(r"[^A-Za-z0-9]+", "-", gpu or result_name()).strip("-").lower()
        path = arguments.out or os.path.join(HERE, "results", f"{device}{'-quick' if arguments.quick else ''}.md")
        with open(path, "w") as stream:
            stream.write(report)
        print(f"written to {path}")
    return 0


def run_with_stable_allocator() -> None:
    """Re-execute this script once with :data:`STABLE_MALLOC` in the environment (Linux/glibc)."""
    if sys.platform.startswith("linux") and any(os.environ.get(k) != v for k, v in STABLE_MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STABLE_MALLOC})


if __name__ == "__main__":
    run_with_stable_allocator()
    raise SystemExit(main())
