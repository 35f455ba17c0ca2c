"""Step time of a data-parallel fit on a local Dask cluster against the in-process fit.

    python bench/dask_data_parallel.py [--workload wide] [--samples 65536] [--epochs 2] [--repeats 3]
                                       [--dtype float32 ...]

(needs ``dask[array]``, ``distributed`` and ``threadpoolctl``.)  For the workload (``bench/run.py``'s,
default ``wide``) it times ``network.fit`` in this process, one worker's share alone (half of each
batch on one core, BLAS on one thread) in this process, and
:func:`xdnn.dask.data_parallel.fit_data_parallel` on a ``LocalCluster`` of 2 worker processes of 1
thread each, the client talking to the workers through the scheduler (Dask's default) and directly
(``Client(direct_to_workers=True)``).  Each kind is warmed up by a one-epoch fit, then timed
``repeats`` times round-robin; the medians are shown.  The cluster's times leave out its set-up
(the partitions' computation and the replicas).  Per step: the wall time, the round trip of the
exchange with the workers, the slowest worker's computing within it, the rest of the round trip
(serialisation, transfer, scheduling: the overhead), and the bytes sent and received; then the
round trip of a tiny network's step (the latency alone).  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402  (bench/run.py: the workloads)

import xdnn  # noqa: E402


def in_process(spec, X, labels, dtype):
    """``run(epochs) -> {"step": seconds}`` of ``network.fit`` in this process."""
    network = run.benchmark_network(spec, dtype)

    def fit(epochs):
        began = time.perf_counter()
        network.fit(X, labels, epochs=epochs, batch_size=spec["batch"], verbose=0)
        return {"step": (time.perf_counter() - began) / (epochs * -(-X.shape[0] // spec["batch"]))}

    return fit


def one_core_half_batch(spec, X, labels, dtype):
    """The same for one worker's share (half of each batch) on one core: BLAS on one thread
    (threadpoolctl), steps not split -- what each of the 2 workers computes."""
    from threadpoolctl import threadpool_limits

    half = in_process(dict(spec, batch=spec["batch"] // 2), X[: X.shape[0] // 2], labels[: X.shape[0] // 2], dtype)

    def fit(epochs):
        xdnn.set_num_threads(1)
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                return half(epochs)
        finally:
            xdnn.set_num_threads(None)

    return fit


def on_cluster(client, spec, X_dask, y_dask, dtype, batch):
    """``run(epochs) -> {...}`` of a data-parallel fit through ``client``, per step: wall time (set-up
    left out), round trip, slowest worker's computing, bytes sent and received."""
    from xdnn.dask.data_parallel import fit_data_parallel

    network = run.benchmark_network(spec, dtype)

    def fit(epochs):
        stats = {}
        began = time.perf_counter()
        fit_data_parallel(network, X_dask, y_dask, client=client, epochs=epochs, batch_size=batch, verbose=0,
                          stats=stats)  # fmt: skip
        steps = stats["steps"]
        return {
            "step": (time.perf_counter() - began - stats["setup_seconds"]) / steps,
            "exchange": stats["exchange_seconds"] / steps,
            "worker": stats["worker_seconds"] / steps,
            "sent": stats["bytes_sent"] / steps,
            "received": stats["bytes_received"] / steps,
        }

    return fit


def medians(runs, epochs, repeats):
    """Each of ``runs`` warmed up (one epoch), then timed ``repeats`` times round-robin (a slow spell
    of a shared machine reaches all alike): the median of each of its numbers."""
    for fit in runs:
        fit(1)
    samples = [[] for _ in runs]
    for _ in range(repeats):
        for fit, results in zip(runs, samples, strict=True):
            results.append(fit(epochs))
    return [{key: statistics.median(result[key] for result in results) for key in results[0]} for results in samples]


def main() -> None:
    import dask.array as da
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="wide", choices=sorted(run.WORKLOADS))
    parser.add_argument("--samples", type=int, default=None, help="samples (default: the workload's)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each timed fit")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits of each kind (the median is shown)")
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"])
    options = parser.parse_args()
    spec = run.WORKLOADS[options.workload]
    m = options.samples or spec["m"]
    batch = spec["batch"] or m
    xdnn.set_backend("numpy")
    warnings.filterwarnings("ignore", message="Sending large graph")  # (the data, sent once to be persisted)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    routed, direct = Client(cluster), Client(cluster, direct_to_workers=True)
    blas = set(routed.run(lambda: os.environ.get("OPENBLAS_NUM_THREADS")).values())
    print(f"{options.workload}: layers {spec['dims']}, m = {m}, batch = {batch}; workers' OPENBLAS_NUM_THREADS {blas}")
    print()
    print("| dtype | fit | step (ms) | round trip (ms) | worker compute (ms) | overhead (ms) | MB sent | MB received |")
    print("|---|---|---|---|---|---|---|---|")
    tiny = xdnn.Network([4, 4, 1], seed=0)
    tiny_X = da.from_array(np.random.default_rng(0).normal(size=(512, 4)), chunks=(256, 4))
    tiny_y = da.from_array((np.arange(512) % 2).astype(float), chunks=(256,))
    for dtype in options.dtype or ["float32", "float64"]:
        X, labels = run.make_data(spec, m, dtype)
        X_dask = routed.persist(da.from_array(X, chunks=(m // 2, -1)))
        y_dask = routed.persist(da.from_array(labels, chunks=(m // 2,)))
        runs = {
            "in process (2 cores)": in_process(spec, X, labels, dtype),
            "in process, half the batch on 1 core": one_core_half_batch(spec, X, labels, dtype),
            "2 workers, via the scheduler": on_cluster(routed, spec, X_dask, y_dask, dtype, batch),
            "2 workers, direct": on_cluster(direct, spec, X_dask, y_dask, dtype, batch),
        }
        for name, result in zip(runs, medians(list(runs.values()), options.epochs, options.repeats), strict=True):
            cells = [f"{result['step'] * 1e3:.1f}"]
            if "exchange" in result:
                overhead = result["exchange"] - result["worker"]
                cells += [f"{result['exchange'] * 1e3:.1f}", f"{result['worker'] * 1e3:.1f}", f"{overhead * 1e3:.1f}"]
                cells += [f"{result['sent'] / 1e6:.2f}", f"{result['received'] / 1e6:.2f}"]
            else:
                cells += [""] * 5
            print(f"| {dtype} | {name} | " + " | ".join(cells) + " |")
        del X_dask, y_dask
    from xdnn.dask.data_parallel import fit_data_parallel

    for name, client in (("via the scheduler", routed), ("direct", direct)):
        stats = {}
        fit_data_parallel(tiny, tiny_X, tiny_y, client=client, epochs=20, batch_size=64, verbose=0, stats=stats)
        print(
            f"\ntiny [4, 4, 1] step, {name}: round trip {stats['exchange_seconds'] / stats['steps'] * 1e3:.2f} ms, "
            f"of which workers computing {stats['worker_seconds'] / stats['steps'] * 1e3:.2f} ms"
        )
    direct.close()
    routed.close()
    cluster.close()


if __name__ == "__main__":
    main()
