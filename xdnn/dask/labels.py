"""Class labels of Dask-held targets: text labels encoded chunk by chunk, as :mod:`xdnn.labels` encodes
in-memory ones (the same ``classes_``, sorted; the same indices)."""

from __future__ import annotations

from typing import Any

import numpy as np

from xdnn import labels
from xdnn.dask.chunks import as_dask_array


def holds_labels(network: Any, y: Any) -> bool:
    """Whether Dask ``y`` is class labels: text (or other non-numeric values), or anything once the
    network has ``classes_``."""
    if y is None:
        return False
    if network.classes_ is not None:
        return True
    try:
        return np.dtype(y.dtype).kind in "USO"
    except TypeError:  # a pandas extension dtype (string, category): not numbers
        return True


def encoded_dask_targets(network: Any, y: Any, name: str = "y", *, new: bool = True) -> tuple[Any, Any]:
    """``(y, classes)``: Dask labels ``y (n_samples,)`` as a lazy int64 array of class indices, with the
    network's ``classes_`` or, at its first fit, the sorted distinct labels (one pass over ``y``);
    other targets unchanged with ``None``.  An unknown or missing label raises when its chunk is
    computed, naming it, as :func:`xdnn.labels.encoded_targets` does (``new``: whether a network without
    ``classes_`` may take them, as a fit's, not an evaluation's)."""
    if not holds_labels(network, y):
        return y, None
    import dask.array as da

    y = as_dask_array(y, name)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} holds class labels in an array of shape {y.shape}: one label per sample, please")
    classes = network.classes_
    if classes is None:
        try:
            found = da.unique(y).compute()
        except TypeError:  # values that do not sort together: None or NaN among text, or mixed types
            raise ValueError(
                f"{name} holds labels that cannot be sorted together: missing labels (None, NaN) or labels of "
                "several types; every sample needs a label, all of one kind"
            ) from None
        classes = labels.encoded_targets(network, found, name, new=new)[1]

    def encode_block(block: np.ndarray) -> np.ndarray:
        if block.shape[0] == 0:
            return np.empty((0,), dtype=np.int64)
        return labels.encoded_targets(network, block, name, classes)[0]

    return y.map_blocks(encode_block, dtype=np.int64, meta=np.empty((0,), dtype=np.int64)), classes
