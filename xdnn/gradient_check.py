"""The tutorial's two-sided finite-difference gradient check, as a public utility.

For every parameter entry ``theta_i``::

    gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
    difference   = ||grad - gradapprox|| / (||grad|| + ||gradapprox||)

A correct backward pass in float64 gives ``difference`` around 1e-9 or below
(< 1e-7 is the usual pass mark).  Perturbations are made on host copies and each
perturbed parameter set is moved once, so this works on any backend; it costs two
forward passes per parameter entry -- use small networks.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from xdnn import _validation, labels
from xdnn._namespace import to_numpy


def relative_difference(grad: np.ndarray, approx: np.ndarray) -> float:
    """``||grad - approx|| / (||grad|| + ||approx||)`` (0 when both are zero)."""
    numerator = float(np.linalg.norm(grad - approx))
    denominator = float(np.linalg.norm(grad) + np.linalg.norm(approx))
    return 0.0 if denominator == 0.0 else numerator / denominator


def gradient_check(
    cost: Callable[[dict[str, Any]], Any] | Any,
    parameters: Mapping[str, Any] | Any,
    gradients: Mapping[str, Any] | None = None,
    *,
    epsilon: float = 1e-7,
) -> float:
    """Relative difference between analytic and finite-difference gradients.

    Two forms:

    * ``gradient_check(cost_function, parameters, gradients)`` -- ``cost_function``
      maps a parameter dict (``W1``, ``b1``, ... as NumPy float64 arrays) to the
      scalar cost; ``gradients`` holds ``dW1``, ``db1``, ... (e.g. from
      :func:`xdnn.functional.L_model_backward`);
    * ``gradient_check(network, X, y)`` -- checks a :class:`xdnn.Network` (float64)
      on ``(X, y)`` with dropout masks held fixed and batch-norm statistics of the batch.
    """
    from xdnn.network import Network

    epsilon = _validation.check_positive(epsilon, "epsilon")
    if isinstance(cost, Network):
        return network_gradient_check(cost, parameters, gradients, epsilon=epsilon)
    if gradients is None:
        raise TypeError("gradient_check(cost_function, parameters, gradients) needs the analytic gradients")
    host = {name: np.array(to_numpy(value), dtype=np.float64) for name, value in parameters.items()}
    missing = [f"d{name}" for name in host if "d" + name not in gradients]
    if missing:
        raise ValueError(f"gradients is missing {', '.join(missing)} (one entry d<name> per parameter)")
    names = list(host)
    for name in names:
        if tuple(np.shape(to_numpy(gradients["d" + name]))) != host[name].shape:
            raise ValueError(
                f"d{name} has shape {tuple(np.shape(to_numpy(gradients['d' + name])))} "
                f"but {name} has shape {host[name].shape}"
            )
    analytic = np.concatenate([np.ravel(to_numpy(gradients["d" + name])).astype(np.float64) for name in names])
    approx = _finite_differences(lambda params: float(cost(params)), host, names, epsilon)
    return relative_difference(analytic, approx)


def _finite_differences(cost: Callable[[dict], float], host: dict[str, np.ndarray], names: list[str], epsilon: float):
    approx = []
    for name in names:
        original = host[name]
        for index in np.ndindex(original.shape):
            value = original[index]
            original[index] = value + epsilon
            plus = cost(host)
            original[index] = value - epsilon
            minus = cost(host)
            original[index] = value
            approx.append((plus - minus) / (2.0 * epsilon))
    return np.asarray(approx)


def network_gradient_check(network: Any, X: Any, y: Any, *, epsilon: float = 1e-7) -> float:
    """:func:`gradient_check` for a :class:`xdnn.Network` on ``(X, y)`` (see there)."""
    from xdnn._random import HostRandom

    epsilon = _validation.check_positive(epsilon, "epsilon")
    if network.dtype_name != "float64":
        raise ValueError("gradient checks need float64: build the network with dtype='float64'")
    y = labels.encoded_targets(network, y, new=False)[0]  # class labels of a network fitted on them: indices
    context = network.context_for(X, y)
    X, Y = network.prepare_data(X, y, context)
    if not network.built:
        network.build(X.shape[1], context)
    Xt, Yt = X.T, Y.T
    seed = 12345

    def fixed_masks():
        return HostRandom(network.context, seed)

    saved = network.parameters
    _, _, grads = network.cost_and_gradients(Xt, Yt, fixed_masks(), update_state=False)
    names = list(saved)
    analytic = np.concatenate([np.ravel(to_numpy(grads["d" + name])) for name in names])

    def cost(host_parameters):
        network.parameters = {name: network.context.asarray(value) for name, value in host_parameters.items()}
        value, _, _ = network.cost_and_gradients(Xt, Yt, fixed_masks(), update_state=False)
        return float(value)

    host = {name: np.array(to_numpy(value), dtype=np.float64) for name, value in saved.items()}
    try:
        approx = _finite_differences(cost, host, names, epsilon)
    finally:
        network.parameters = saved
    difference = relative_difference(analytic, approx)
    if not math.isfinite(difference):
        raise ValueError("the cost or gradients are not finite; gradient check is meaningless here")
    return difference
