"""Inference of a fitted :class:`xdnn.Network`: ``predict``, ``predict_proba`` and ``evaluate`` on data in
memory (Dask-held data goes to :mod:`xdnn.dask.inference`, which calls :func:`evaluate_prepared` per chunk).

Each function takes the network and raw data, checks the data (:mod:`xdnn.inputs`, the names of
:mod:`xdnn.labels`), runs the inference-mode forward (batch norm on its running statistics, no
dropout) and answers in the sklearn/Keras layout ``(n_samples, ...)``:

* ``predict_proba``: the output activations ``A_L.T``, ``(n_samples, k)``;
* ``predict``: the decision of :func:`xdnn.losses.predictions` (class indices, 0/1 labels or the
  values), through ``classes_`` when the network was fitted on class labels;
* ``evaluate``: ``{"loss": J(A_L, Y) + l2/(2m) sum ||W||^2, "accuracy": ...}``.

None of them changes the network beyond moving an untrained one to the data's backend.
"""

from __future__ import annotations

import math
from typing import Any

from xdnn import inputs as _inputs
from xdnn import labels as _labels
from xdnn import losses as _losses
from xdnn._namespace import to_host

Array = Any


def check_fitted(network: Any) -> None:
    if not network.built:
        raise ValueError("this network has not been fitted yet: call fit(X, y) first")


def output_activations(network: Any, X: Any, call: str) -> Array:
    """``A_L`` in tutorial layout ``(k, n_samples)`` for raw input ``X (n_samples, n_features)``, checked
    finite (``call`` names the method in the error)."""
    check_fitted(network)
    network.checked_feature_names(X)
    context = network.resolve_context(X)
    X = _inputs.prepare_X(network, X, context)
    network.adopt(context)
    _, A, _ = network.forward(X.T, training=False, random=None)
    _inputs.check_finite_output(network, call, X, A)
    return A


def predict_proba(network: Any, X: Any) -> Array:
    """The output activations ``(n_samples, k)`` on the network's backend."""
    return output_activations(network, X, "predict_proba").T


def predict(network: Any, X: Any) -> Array:
    """:func:`xdnn.losses.predictions` of ``X``'s outputs, ``(n_samples,)`` or ``(n_samples, k)``: on the
    network's backend, or the network's ``classes_`` (a NumPy array) when it has them."""
    A = output_activations(network, X, "predict")
    answer = _losses.predictions(A, network.loss.name, network.output_units, xp=network.context.xp)
    answer = answer if answer.ndim == 1 else answer.T  # (m,) or (k, m) -> (m, k)
    return answer if network.classes_ is None else _labels.decode(to_host(answer), network.classes_)


def evaluate(network: Any, X: Any, y: Any) -> dict[str, float]:
    """:func:`evaluate_prepared` of raw ``(X, y)`` (class labels encoded through ``classes_``), checked:
    a NaN or inf output or loss is refused rather than returned."""
    check_fitted(network)
    network.checked_feature_names(X)
    y, _ = _labels.encoded_targets(network, y, new=False)
    context = network.resolve_context(X, y)
    X, Y = _inputs.prepare_data(network, X, y, context)
    network.adopt(context)
    return evaluate_prepared(network, X, Y, check=True)


def evaluate_prepared(
    network: Any, X: Array, Y: Array, *, bound: Any = None, check: bool = False, l2: bool = True
) -> dict[str, float]:
    """Inference-mode loss (and accuracy) of checked ``X (n, f)``, ``Y (n, k)`` on the network's namespace
    (``bound`` from :meth:`~xdnn.Network.bind_layers`).  ``check`` refuses a non-finite output or loss (a
    fit's validation records it instead); without ``l2`` the loss leaves out the L2 term (a part of a
    larger set, whose term is over all its samples)."""
    xp = network.context.xp
    Z, A, _ = network.forward(X.T, training=False, random=None, bound=bound)
    if check:
        _inputs.check_finite_output(network, "evaluate", X, A)
    Yt = Y.T
    cost = network.loss.cost(Z, A, Yt, xp=xp)
    if network.l2 and l2:
        cost = network.with_l2(cost, {}, X.shape[0])
    results = {"loss": float(cost)}
    if check and not math.isfinite(results["loss"]):
        raise ValueError(
            f"evaluate: the loss is {results['loss']} although every output is finite: the errors are too large "
            f"for {network.dtype_name} (targets far from the outputs); scale the targets, or use float64"
        )
    if "accuracy" in network.metrics:
        results["accuracy"] = float(network.correct_count(A, Yt)) / X.shape[0]
    return results
