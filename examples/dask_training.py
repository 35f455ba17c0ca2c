"""Training on Dask arrays: out of core in one process, then data-parallel on a LocalCluster.

The data set (two noisy interleaved spirals lifted to 20 features) is a dask array made block by
block, never held whole by this process.  First ``Network.fit`` streams it: chunks are computed one
at a time, the next one prefetched while the current one trains.  Then, with a
``dask.distributed`` client active, the same call trains where the partitions live: each worker
computes the gradients of its rows of every batch, and one optimizer step applies their
size-weighted mean, so the result equals the in-process fit of the same data.

    python examples/dask_training.py            # 400,000 rows in chunks of 20,000, 2 workers
    python examples/dask_training.py --quick    # a small run
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import xdnn

FEATURES = 20


def spiral_block(block_index: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` samples of the two-spiral problem, lifted to ``FEATURES`` features by a fixed random
    map: the block's own seed makes every block reproducible on whichever worker computes it."""
    rng = np.random.default_rng([seed, block_index])
    labels = rng.integers(0, 2, rows)
    radius = rng.uniform(0.2, 1.0, rows)
    angle = 3.0 * np.pi * radius + np.pi * labels + rng.normal(0.0, 0.15, rows)
    plane = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    lift = np.random.default_rng(seed).normal(size=(2, FEATURES))
    return np.tanh(plane @ lift), labels.astype(np.float64)


def dask_data(rows: int, chunk: int, seed: int = 0):
    """``(X, y)`` as dask arrays of ``rows`` samples in chunks of ``chunk`` rows, built lazily."""
    import dask
    import dask.array as da

    sizes = [min(chunk, rows - start) for start in range(0, rows, chunk)]
    blocks = [dask.delayed(spiral_block)(index, size, seed) for index, size in enumerate(sizes)]
    pairs = list(zip(blocks, sizes, strict=True))
    X = da.concatenate([da.from_delayed(block[0], (size, FEATURES), np.float64) for block, size in pairs])
    y = da.concatenate([da.from_delayed(block[1], (size,), np.float64) for block, size in pairs])
    return X, y


def network() -> xdnn.Network:
    return xdnn.Network([FEATURES, 32, 16, 1], activation="tanh", optimizer="adam", learning_rate=0.01,
                        dtype="float64", seed=0)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small data set and one epoch")
    parser.add_argument("--backend", default="numpy", help="the backend of the network (default numpy)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    arguments = parser.parse_args()
    rows, chunk, epochs = (20_000, 4_000, 1) if arguments.quick else (400_000, 20_000, 3)
    X, y = dask_data(rows, chunk)
    print(f"data: {rows} rows x {FEATURES} features in {X.numblocks[0]} chunks of {chunk} rows (dask arrays)")

    with xdnn.use_backend(arguments.backend) as backend:
        print(f"backend: {backend.name}")
        streamed = network()
        start = time.perf_counter()
        streamed.fit(X, y, epochs=epochs, batch_size=256, shuffle=False, verbose=0)
        seconds = time.perf_counter() - start
        scores = streamed.evaluate(X, y)
        print(f"out of core, one process: {epochs} epochs in {seconds:.1f} s, loss {scores['loss']:.4f}, "
              f"accuracy {scores['accuracy']:.3f}")  # fmt: skip

        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=arguments.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster):  # fmt: skip
            parallel = network()
            start = time.perf_counter()
            parallel.fit(X, y, epochs=epochs, batch_size=256, shuffle=False, verbose=0)
            seconds = time.perf_counter() - start
        difference = max(
            float(np.max(np.abs(xdnn.to_numpy(streamed.parameters[name]) - xdnn.to_numpy(value))))
            for name, value in parallel.parameters.items()
        )
        print(f"data-parallel on {arguments.workers} workers: {epochs} epochs in {seconds:.1f} s; "
              f"largest parameter difference from the streamed fit {difference:.2e}")  # fmt: skip
        predictions = parallel.predict(X)  # a lazy dask array, computed block by block
        accuracy = float((predictions == y).mean().compute())
        print(f"predict on the dask array: accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
