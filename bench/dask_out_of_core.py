"""Out-of-core training: a data set on disk several times larger than the memory the process may use.

Writes ``--gigabytes`` of float32 features (``.npy``) to ``--folder``, builds a dask array whose
chunks are read from the file with positioned reads (``numpy.fromfile(offset=...)``: pages of a
memory map the process touches would count in its resident set as file-backed pages, reads into
fresh buffers do not), streams one epoch of ``Network.fit`` over it in a child process and reports
the child's peak resident set (``ru_maxrss``) against ``--limit-gb``.

    python bench/dask_out_of_core.py --gigabytes 4 --limit-gb 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

FEATURES = 100
CHUNK_ROWS = 100_000  # 40 MB of float32 per chunk


def write_data(path: str, rows: int, seed: int = 0) -> None:
    """``rows x FEATURES`` standard-normal float32 as an .npy file, written a chunk at a time."""
    rng = np.random.default_rng(seed)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, rows)
        array[start:stop] = rng.standard_normal((stop - start, FEATURES), dtype=np.float32)
    array.flush()
    del array


def read_rows(path: str, offset: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the .npy file whose data begin at byte ``offset``, read into a new buffer."""
    count = (stop - start) * FEATURES
    values = np.fromfile(path, dtype=np.float32, count=count, offset=offset + start * FEATURES * 4)
    return values.reshape(stop - start, FEATURES)


def labels_of(X: np.ndarray) -> np.ndarray:
    """A fixed rule the network can learn: the sign of a weighted sum of the first ten features."""
    weights = np.linspace(-1.0, 1.0, 10, dtype=np.float32)
    return (X[:, :10] @ weights > 0).astype(np.float32)


def train(path: str, epochs: int, batch: int) -> dict:
    """(In the child process.) One streamed fit; returns timings and the peak resident set."""
    import dask
    import dask.array as da

    import xdnn

    with open(path, "rb") as stream:
        np.lib.format.read_magic(stream)
        shape, _, _ = np.lib.format.read_array_header_1_0(stream)
        offset = stream.tell()
    rows = shape[0]
    spans = [(start, min(start + CHUNK_ROWS, rows)) for start in range(0, rows, CHUNK_ROWS)]
    blocks = [dask.delayed(read_rows)(path, offset, start, stop) for start, stop in spans]
    X = da.concatenate(
        [
            da.from_delayed(block, (stop - start, FEATURES), np.float32)
            for block, (start, stop) in zip(blocks, spans, strict=True)
        ]
    )
    y = X.map_blocks(labels_of, drop_axis=1, dtype=np.float32)
    network = xdnn.Network([FEATURES, 32, 1], optimizer="adam", learning_rate=0.003, dtype="float32", seed=0)
    start = time.perf_counter()
    history = network.fit(X, y, epochs=epochs, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": seconds,
        "loss": history["loss"][-1],
        "accuracy": history["accuracy"][-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--limit-gb", type=float, default=1.0)
    parser.add_argument("--folder", default="/tmp")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.write:
        write_data(arguments.write[0], int(arguments.write[1]))
        return
    if arguments.child:
        print(json.dumps(train(arguments.child, arguments.epochs, arguments.batch)))
        return
    path = os.path.join(arguments.folder, f"xdnn-out-of-core-{arguments.gigabytes:g}gb.npy")
    rows = int(arguments.gigabytes * 2**30 / (FEATURES * 4))
    if not os.path.exists(path) or os.path.getsize(path) < rows * FEATURES * 4:
        start = time.perf_counter()
        # (in a process of its own: a child forked from a process holding the written pages would
        # start with that process's peak resident set in its own ru_maxrss)
        subprocess.run([sys.executable, __file__, "--write", path, str(rows)], check=True)
        print(f"wrote {path}: {rows} x {FEATURES} float32 in {time.perf_counter() - start:.0f} s")
    command = [
        sys.executable,
        __file__,
        "--child",
        path,
        "--epochs",
        str(arguments.epochs),
        "--batch",
        str(arguments.batch),
    ]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    size_gb = os.path.getsize(path) / 2**30
    verdict = "within" if result["peak_rss_mb"] < arguments.limit_gb * 1024 else "OVER"
    print(
        f"data {size_gb:.2f} GB on disk ({result['rows']} rows), "
        f"{arguments.epochs} epoch(s) in {result['seconds']:.0f} s, "
        f"loss {result['loss']:.4f}, accuracy {result['accuracy']:.3f}; peak RSS {result['peak_rss_mb']:.0f} MB, "
        f"{verdict} the {arguments.limit_gb:g} GB limit ({size_gb / arguments.limit_gb:.1f}x the limit on disk)"
    )


if __name__ == "__main__":
    main()
