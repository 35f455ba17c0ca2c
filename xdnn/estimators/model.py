"""The :class:`xdnn.Network` behind an estimator: built from its parameters with scikit-learn's
initialisation, checked against them when ``warm_start`` or ``partial_fit`` continues it, and seen
through scikit-learn's ``coefs_`` / ``intercepts_``.  ``params`` is the estimator, read only through
its parameters."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from xdnn import activations
from xdnn._namespace import floating_dtype_name, to_numpy
from xdnn.estimators.hyperparameters import hidden_sizes, optimizer_for, training_dtype
from xdnn.layers import Activation, BatchNorm, Dense, Dropout
from xdnn.network import Network

Array = Any

# xdnn's output activations by scikit-learn's names (``out_activation_``).
OUTPUT_NAMES = {"sigmoid": "logistic", "softmax": "softmax", "identity": "identity", "exp": "exp"}


def dense_layers(network: Network) -> list[Dense]:
    """The network's :class:`xdnn.Dense` layers, input side first: scikit-learn's layers."""
    return [layer for layer in network.layers if isinstance(layer, Dense)]


def architecture_of(layers: list) -> tuple[str | None, float, bool]:
    """``(hidden activation, dropout rate, batch norm)`` of an estimator's network (no hidden layer:
    ``None``, 0 and whether it has batch norm)."""
    hidden = [layer.activation.name for layer in layers[:-1] if isinstance(layer, (Dense, Activation))]
    hidden = [name for name in hidden if name != "identity"] or hidden  # (a batch-norm layer's Dense)
    rates = [layer.rate for layer in layers if isinstance(layer, Dropout)]
    return (
        hidden[-1] if hidden else None,
        rates[0] if rates else 0.0,
        any(isinstance(layer, BatchNorm) for layer in layers),
    )


def new_network(params: Any, X: Array, n_outputs: int, seed: int | None, output_activation: str) -> Network:
    """The network ``params`` describe for ``X (n_samples, n_features)`` and ``n_outputs`` outputs,
    initialised as scikit-learn's MLP is (:func:`initialize_as_scikit_learn`)."""
    network = Network(
        [X.shape[1], *hidden_sizes(params.hidden_layer_sizes), n_outputs],
        activation=params.activation,
        output_activation=output_activation,
        optimizer=optimizer_for(params),
        learning_rate=params.learning_rate_init,
        l2=params.alpha,
        dropout=params.dropout,
        batch_norm=params.batch_norm,
        dtype=training_dtype(params.dtype, X),
        seed=seed,
        metrics=[],
    )
    initialize_as_scikit_learn(network, seed, params.activation)
    return network


def initialize_as_scikit_learn(network: Network, seed: int | None, activation: str) -> None:
    """scikit-learn's MLP initialisation: every weight and bias drawn uniformly from
    ``[-r, r]``, ``r = sqrt(6 / (fan_in + fan_out))`` (``sqrt(2 / ...)`` for a logistic hidden
    ``activation``), layer by layer -- not the normal He / Xavier draws of :class:`xdnn.Network`,
    whose larger first-layer weights cost about a point of test accuracy on small data sets.
    ``seed`` is the integer of ``random_state`` (``None``: fresh entropy)."""
    factor = 2.0 if activations.get_activation(activation).name == "sigmoid" else 6.0
    draws = np.random.RandomState(seed)
    weights = network.get_weights()
    parameters = {name: to_numpy(value) for name, value in weights["parameters"].items()}
    for layer in dense_layers(network):
        units, fan_in = parameters[layer.W].shape
        bound = math.sqrt(factor / (fan_in + units))
        # scikit-learn's draws in its order and layout -- coef_ (fan_in, fan_out), then the intercept
        # -- so that an integer random_state starts from scikit-learn's very weights
        # (copied into row-major memory, as every other weight is: a product's kernel, and so its last
        # bit, may depend on the layout -- PyTorch's does)
        parameters[layer.W] = np.ascontiguousarray(draws.uniform(-bound, bound, (fan_in, units)).T)
        intercept = draws.uniform(-bound, bound, units)
        if layer.use_bias:
            parameters[layer.b] = intercept.reshape(units, 1)
    network.set_weights({"parameters": parameters, "state": weights["state"]})


def check_continued(
    params: Any, network: Network, n_outputs: int, output_activation: str, *, incremental: bool
) -> None:
    """``warm_start`` and ``partial_fit`` continue the fitted network: it must be the network the
    current parameters describe (layer sizes, activation, loss, dropout, batch norm, dtype), or the call
    would silently train something ``get_params()`` does not describe."""
    how = "partial_fit continues" if incremental else "warm_start=True continues"
    restart = "fit a new estimator" if incremental else "set warm_start=False to train a new network"
    sizes = [layer.units for layer in dense_layers(network)]
    if sizes[:-1] != list(hidden_sizes(params.hidden_layer_sizes)) or sizes[-1] != n_outputs:
        raise ValueError(
            f"{how} the fitted network, whose hidden layers are {tuple(sizes[:-1])} with "
            f"{sizes[-1]} outputs, but hidden_layer_sizes={params.hidden_layer_sizes!r} and the data need "
            f"{n_outputs}; {restart}"
        )
    built_output = network.layers[-1].activation.name
    if built_output != output_activation:  # MLPRegressor's loss (the classifier's follows the data)
        raise ValueError(
            f"{how} the fitted network, whose output is {OUTPUT_NAMES[built_output]!r}, but "
            f"loss={getattr(params, 'loss', None)!r} needs {OUTPUT_NAMES[output_activation]!r}; {restart}"
        )
    built_with = (*architecture_of(network.layers), network.dtype_name)
    activation = activations.get_activation(params.activation).name if len(sizes) > 1 else None
    dtype = network.dtype_name if params.dtype is None else floating_dtype_name(params.dtype)
    hidden = len(sizes) > 1  # (without hidden layers there is nothing to drop out or normalise)
    wanted = (activation, float(params.dropout) if hidden else 0.0, bool(params.batch_norm) and hidden, dtype)
    if wanted != built_with:
        names = ("activation", "dropout", "batch_norm", "dtype")
        raise ValueError(
            f"{how} the fitted network, built with "
            + ", ".join(f"{name}={value!r}" for name, value in zip(names, built_with, strict=True))
            + ", but the estimator now has "
            + ", ".join(f"{name}={value!r}" for name, value in zip(names, wanted, strict=True))
            + f"; {restart}"
        )


def coefs_of(network: Network) -> list[Array]:
    """scikit-learn's ``coefs_``: ``(n_inputs, n_units)`` views ``W{i+1}.T`` of the network's weights."""
    return [network.parameters[layer.W].T for layer in dense_layers(network)]


def intercepts_of(network: Network) -> list[Array]:
    """scikit-learn's ``intercepts_``: ``(n_units,)`` views of ``b{i+1}`` (zeros for a bias-free
    layer before a batch norm)."""
    xp = network.context.xp
    intercepts = []
    for layer in dense_layers(network):
        W = network.parameters[layer.W]
        b = network.parameters.get(layer.b) if layer.b is not None else None
        zeros = None if b is not None else xp.zeros(W.shape[0], dtype=W.dtype, device=network.context.device)
        intercepts.append(b[:, 0] if b is not None else zeros)
    return intercepts


def set_dense_arrays(
    network: Network, values: list[Any], attribute: str, shape_of: Callable[[Dense], tuple], kind: str
) -> None:
    """Set the ``kind`` (``"W"`` or ``"b"``) arrays of the network's Dense layers from ``values``,
    scikit-learn-shaped (``shape_of(layer)``): check every array (count, shape, finite) before
    writing any, then copy them into the network's parameters in its dtype and on its backend."""
    layers = dense_layers(network)
    values = list(values)
    if len(values) != len(layers):
        raise ValueError(f"{attribute} needs {len(layers)} arrays, one per layer, got {len(values)}")
    host = []
    for index, (layer, value) in enumerate(zip(layers, values, strict=True)):
        array = np.array(to_numpy(value), dtype=np.float64, copy=True)  # never the caller's memory
        if array.shape != shape_of(layer):
            raise ValueError(f"{attribute}[{index}] must have shape {shape_of(layer)}, got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{attribute}[{index}] contains NaN or infinity")
        if kind == "b" and layer.b is None and np.any(array):
            raise ValueError(f"{attribute}[{index}]: layer {index + 1} has no bias (batch_norm=True); pass zeros")
        host.append(array)
    dtype = getattr(network.context.xp, network.dtype_name)
    for layer, array in zip(layers, host, strict=True):
        if kind == "W":
            network.parameters[layer.W] = network.context.asarray(np.ascontiguousarray(array.T), dtype=dtype)
        elif layer.b is not None:
            network.parameters[layer.b] = network.context.asarray(array.reshape(-1, 1), dtype=dtype)
