"""Sparse X against its dense twin: ``Network.fit`` and ``MLPClassifier.fit`` on a TF-IDF-like CSR matrix
(rows of non-negative weights, L2-normalised, a few words of each class's own vocabulary among random
ones) and on ``X.toarray()``, timed interleaved; medians in a Markdown table.

    python bench/sparse_input.py            # 300 x 2,000 at 1% and 3,000 x 20,000 at 0.5%
    python bench/sparse_input.py --quick    # the small set only, 3 repeats

The ratio dense / sparse is the speed-up of training on the sparse matrix (both on NumPy, float64
unless the row says float32); results and their reading are in bench/results/sparse-input.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse

import xdnn


def newsgroups_like(n_samples: int, n_features: int, density: float, n_classes: int = 4, seed: int = 0):
    """``(X_csr (n_samples, n_features), labels (n_samples,))``: each row a few class words among random ones."""
    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n_samples, n_features, density=density, format="lil", random_state=seed)
    labels = rng.integers(0, n_classes, n_samples)
    for row, label in enumerate(labels):
        X[row, label * 20 + rng.integers(0, 20, 3)] = rng.uniform(1.0, 2.0, 3)
    X = X.tocsr()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    return scipy.sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X, labels


def timed(fit) -> float:
    start = time.perf_counter()
    fit()
    return time.perf_counter() - start


def compare(name: str, make_fit, X, y, repeats: int) -> str:
    """One table row: the median seconds of ``make_fit(X_sparse)`` and ``make_fit(X_dense)``, interleaved."""
    dense = X.toarray()
    sparse_times, dense_times = [], []
    for _ in range(repeats):
        sparse_times.append(timed(make_fit(X, y)))
        dense_times.append(timed(make_fit(dense, y)))
    s, d = statistics.median(sparse_times), statistics.median(dense_times)
    shape = f"{X.shape[0]:,} x {X.shape[1]:,}, {100 * X.nnz / (X.shape[0] * X.shape[1]):.2g}%"
    return f"| {shape} | {name} | {s * 1e3:.0f} ms | {d * 1e3:.0f} ms | {d / s:.2f}x |"


def network_fit(dtype: str):
    def make(X, y):
        network = xdnn.Network([X.shape[1], 100, 4], dtype=dtype, seed=0)
        return lambda: network.fit(X, y, epochs=5, batch_size=200, verbose=0)

    return make


def classifier_fit(X, y):
    classifier = xdnn.MLPClassifier((100,), max_iter=10, random_state=0)
    return lambda: classifier.fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small set only, 3 repeats")
    arguments = parser.parse_args()
    xdnn.set_backend("numpy")
    rows = ["| data | model | sparse | dense | dense / sparse |", "|---|---|---|---|---|"]
    X, y = newsgroups_like(300, 2_000, 0.01)
    repeats = 3 if arguments.quick else 7
    rows.append(
        compare("`Network([2000, 100, 4])` float64, 5 epochs, batch 200", network_fit("float64"), X, y, repeats)
    )
    rows.append(compare("`MLPClassifier((100,))`, `max_iter=10`", classifier_fit, X, y, repeats))
    if not arguments.quick:
        X, y = newsgroups_like(3_000, 20_000, 0.005)
        rows.append(compare("`Network([20000, 100, 4])` float64", network_fit("float64"), X, y, 3))
        rows.append(compare("`Network([20000, 100, 4])` float32", network_fit("float32"), X, y, 3))
    print("\n".join(rows))


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # (scikit-learn's ConvergenceWarning of 10 iterations)
    main()
