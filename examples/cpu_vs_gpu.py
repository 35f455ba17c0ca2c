"""CPU vs GPU: the same training script on NumPy and on CuPy, with both times.

Trains the same network (same seed, same batches) on each backend asked for and
prints the wall time of each; backends that are not available here are reported
and skipped (e.g. cupy without a CUDA GPU).

    python examples/cpu_vs_gpu.py --backend numpy --backend cupy [--quick]
"""

import argparse
import time

import numpy as np

import xdnn
from xdnn._backend import BackendError


def make_data(n_samples, n_features, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n_samples)
    X = centres[y] + rng.normal(size=(n_samples, n_features))
    return X.astype(np.float32), y


def time_backend(name, X, y, epochs, batch_size):
    with xdnn.use_backend(name) as backend:
        X_device, y_device = xdnn.asarray(X), xdnn.asarray(y)  # moved once, before the clock starts
        network = xdnn.Network([X.shape[1], 1024, 1024, int(y.max()) + 1], seed=0, learning_rate=1e-3)
        network.fit(X_device[:256, ...], y_device[:256], epochs=1, batch_size=256, verbose=0)  # warm-up
        start = time.perf_counter()
        network.fit(X_device, y_device, epochs=epochs, batch_size=batch_size, verbose=0)
        accuracy = network.evaluate(X_device, y_device)["accuracy"]  # reads a value: waits for the device
        seconds = time.perf_counter() - start
        return backend, seconds, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", help="backend to time (repeatable); default numpy and cupy")
    parser.add_argument("--quick", action="store_true", help="small problem (smoke test)")
    arguments = parser.parse_args()
    backends = arguments.backend or ["numpy", "cupy"]
    n_samples, epochs = (2048, 1) if arguments.quick else (65_536, 3)
    X, y = make_data(n_samples, 784, 10)
    print(f"workload: [784, 1024, 1024, 10] softmax, {n_samples} samples, batch 4096, {epochs} epochs")
    times = {}
    for name in backends:
        try:
            backend, seconds, accuracy = time_backend(name, X, y, epochs, 4096)
        except BackendError as error:
            print(f"{name:>6}: skipped ({error})")
            continue
        times[name] = seconds
        print(f"{name:>6}: {seconds:8.2f} s on {backend.device}  (train accuracy {accuracy:.1%})")
    if "numpy" in times and "cupy" in times:
        print(f"speed-up of cupy over numpy: {times['numpy'] / times['cupy']:.1f}x")


if __name__ == "__main__":
    main()
