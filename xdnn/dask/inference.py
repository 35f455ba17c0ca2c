"""Predictions and evaluation of Dask-held data: ``predict`` / ``predict_proba`` as lazy dask arrays,
``evaluate`` as numbers summed over the chunks.

Host-side glue: the blocks Dask hands a prediction are NumPy arrays, and so are the blocks it gets
back (``xdnn.to_numpy`` of the network's output, wherever the network lives).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np

from xdnn._namespace import to_numpy
from xdnn.dask.chunks import as_dask_array, samples_chunked
from xdnn.dask.streaming import ChunkSource, deciding_values

Array = Any


def output_layout(network: Any, method: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(trailing shape, dtype)`` of ``network.<method>`` per sample: ``(k,)`` or ``()`` and the
    network's dtype for probabilities and regression values, int64 for labels."""
    k = network.output_units
    loss = network.loss.name
    if method == "predict_proba":
        return (k,), np.dtype(network.dtype_name)
    if network.classes_ is not None:  # (labels: one per sample)
        return (), network.classes_.dtype
    if loss == "categorical_crossentropy":
        return (), np.dtype(np.int64)
    dtype = np.dtype(np.int64) if loss == "binary_crossentropy" else np.dtype(network.dtype_name)
    return ((), dtype) if k == 1 else ((k,), dtype)


def predict_on_dask(network: Any, X: Any, method: str) -> Any:
    """``network.predict`` (``method="predict"``) or ``network.predict_proba`` of a Dask ``X
    (n_samples, n_features)`` (array or data frame) as a lazy dask array with ``X``'s row chunks:
    ``(n_samples,)`` or ``(n_samples, k)``, int64 labels or values in the network's dtype, NumPy
    blocks (see :meth:`xdnn.Network.predict`).

    Each block is the network's ordinary prediction of one chunk, so the chunks are checked as
    in-memory data is -- when the array is computed.  Computing runs the network in this process's
    threads (a distributed client ships it to the workers, pickled) and uses its parameters *at
    compute time*: the network object is captured in the graph, not copied.  Reads from many threads
    are safe (:mod:`xdnn.usage`); a fit running meanwhile makes a block raise ``NetworkBusyError``.
    """
    X = samples_chunked(as_dask_array(X, "X", lengths=False), "X", known=False)
    if X.shape[1] != network.n_features:
        raise ValueError(f"X has {X.shape[1]} features, but this network was built for {network.n_features} features")
    tail, dtype = output_layout(network, method)

    def predict_block(block: Array) -> Array:
        if block.shape[0] == 0:  # (the network refuses empty data; Dask may hold empty chunks)
            return np.empty((0, *tail), dtype=dtype)
        return np.asarray(to_numpy(getattr(network, method)(block)), dtype=dtype)

    # A name of its own: Dask would otherwise hash the network into the key (a pickle of it)
    name = f"xdnn-{method}-{uuid.uuid4().hex}"
    meta = np.empty((0,) * (1 + len(tail)), dtype=dtype)
    if tail:
        return X.map_blocks(predict_block, dtype=dtype, chunks=(X.chunks[0], tail), meta=meta, name=name)
    return X.map_blocks(predict_block, dtype=dtype, chunks=(X.chunks[0],), drop_axis=1, meta=meta, name=name)


def evaluate_on_dask(network: Any, X: Any, y: Any) -> dict[str, float]:
    """:meth:`xdnn.Network.evaluate` of Dask-held ``(X, y)``: each chunk's loss (without the L2 term)
    and correct predictions, weighted by its rows, then the L2 term once, over all ``m`` samples:

        loss = (1/m) sum_chunks rows_c * loss_c  +  (l2 / (2 m)) sum_l ||W[l]||^2,
        accuracy = (1/m) sum_chunks rows_c * accuracy_c

    -- the in-memory result up to rounding.  Chunks are computed one at a time (the next while the
    current is evaluated); each is checked as in-memory data is, and a non-finite output raises."""
    context = network.context_for(*deciding_values(X, y))  # (as evaluate's: an untrained network may move)
    source = ChunkSource(network, X, y, context)
    loss_sum, correct = 0.0, 0.0
    for X_chunk, Y_chunk in source.prepared_chunks():
        scores = network.evaluate_prepared(X_chunk, Y_chunk, check=True, l2=False)
        rows = X_chunk.shape[0]
        loss_sum += scores["loss"] * rows
        correct += scores.get("accuracy", 0.0) * rows
    loss = float(network.with_l2(loss_sum / source.m, {}, source.m))
    if not math.isfinite(loss):
        raise ValueError(
            f"evaluate: the loss is {loss} although every output is finite: the errors are too large to sum "
            f"(targets far from the outputs); scale the targets"
        )
    results = {"loss": loss}
    if "accuracy" in network.metrics:
        results["accuracy"] = correct / source.m
    return results
