"""Training xdnn networks on data held by Dask: out-of-core streaming and data-parallel fits on a cluster.

:class:`xdnn.Network` (``fit``, ``predict``, ``predict_proba``, ``evaluate``) and the estimators hand
``dask.array.Array`` inputs (and dask data frames) to this package; nothing else imports it, and
importing it imports no Dask: the functions below load what they use on first call.

* :func:`fit_on_dask` -- with a ``distributed`` client (given as ``client=`` or the default one),
  data-parallel training on the cluster (:mod:`xdnn.dask.data_parallel`); without one, a fit in this
  process that streams the chunks through the network (:mod:`xdnn.dask.streaming`): peak memory is
  a few chunks, not the data set.
* :func:`predict_on_dask` -- a lazy dask array of predictions, one block per block of ``X``;
  :func:`evaluate_on_dask` -- the loss and metrics over every chunk (:mod:`xdnn.dask.inference`).

The layout every function expects (:mod:`xdnn.dask.chunks`): ``X (n_samples, n_features)`` chunked
along samples only, and ``y`` (and ``sample_weight``) with the same row chunks.
"""

from __future__ import annotations

import sys
from typing import Any

import array_api_compat


def is_dask_collection(value: Any) -> bool:
    """Whether ``value`` is a Dask array, data frame or series (or another Dask collection); never
    imports Dask (a Dask object exists only once Dask is loaded)."""
    if value is None:
        return False
    if array_api_compat.is_dask_array(value):
        return True
    module = type(value).__module__
    return module == "dask" or module.startswith("dask.")


def default_client() -> Any:
    """The ``distributed`` client this process would compute on, or ``None`` (also when
    ``distributed`` has not been imported: a client exists only once it has)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client as current_client

    try:
        return current_client()
    except ValueError:  # "No clients found"
        return None


def fit_on_dask(network: Any, X: Any, y: Any, *, client: Any = None, names: Any = None, **options: Any) -> Any:
    """Train ``network`` on Dask-held ``X`` and ``y`` with :meth:`xdnn.Network.fit`'s ``options``
    (``epochs``, ``batch_size``, ``validation_data``, ``callbacks``, ``verbose``, ``print_cost``,
    ``print_every``, ``shuffle``, ``cuda_graph``, ``sample_weight``); returns the history.

    With a ``distributed`` client (``client``, or :func:`default_client`) the fit is data parallel on
    the cluster (:func:`xdnn.dask.data_parallel.fit_data_parallel`); otherwise it streams the chunks
    through this process (:func:`xdnn.dask.streaming.stream_fit`).  :meth:`xdnn.Network.fit` calls this
    (holding the network's usage guard); call that rather than this.  ``names`` (a dask data frame's
    columns) become the network's ``feature_names_in_``, and text labels its ``classes_``.
    """
    from xdnn.dask.labels import encoded_dask_targets
    from xdnn.labels import names_adopted

    y, classes = encoded_dask_targets(network, y)
    if client is None:
        client = default_client()
    with names_adopted(network, classes, names):
        if client is not None:
            from xdnn.dask.data_parallel import fit_data_parallel

            return fit_data_parallel(network, X, y, client=client, **options)
        from xdnn.dask.streaming import stream_fit

        return stream_fit(network, X, y, **options)


def predict_on_dask(network: Any, X: Any, method: str) -> Any:
    """``network.predict`` (``method="predict"``) or ``predict_proba`` of a Dask ``X`` as a lazy dask
    array (:func:`xdnn.dask.inference.predict_on_dask`)."""
    from xdnn.dask.inference import predict_on_dask as predict

    return predict(network, X, method)


def evaluate_on_dask(network: Any, X: Any, y: Any) -> dict[str, float]:
    """``network.evaluate`` of Dask-held ``(X, y)``, chunk by chunk (:func:`xdnn.dask.inference.evaluate_on_dask`)."""
    from xdnn.dask.inference import evaluate_on_dask as evaluate
    from xdnn.dask.labels import encoded_dask_targets

    return evaluate(network, X, encoded_dask_targets(network, y, new=False)[0])


__all__ = [
    "WorkerLostError",
    "default_client",
    "evaluate_on_dask",
    "fit_on_dask",
    "is_dask_collection",
    "predict_on_dask",
]


def __getattr__(name: str) -> Any:
    """``WorkerLostError`` on first use: its module imports ``distributed``, which a streamed fit never needs."""
    if name == "WorkerLostError":
        from xdnn.dask.cluster import WorkerLostError

        return WorkerLostError
    raise AttributeError(f"module 'xdnn.dask' has no attribute {name!r}")
