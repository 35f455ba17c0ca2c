"""A network's weights as plain data: :meth:`xdnn.Network.get_weights` copies them out and
:meth:`xdnn.Network.set_weights` puts them back, checked whole before anything is replaced.

The weights are a dict of four entries: ``parameters`` (``W1 (n[1], n[0])``, ``b1 (n[1], 1)``, ...),
``state`` (batch normalisation's running statistics), ``optimizer`` (its per-parameter state, e.g.
Adam's ``v`` and ``s``) and ``optimizer_iterations`` (the step count ``t``).
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

from xdnn import _validation
from xdnn._namespace import array_context, is_host_data, to_host

Array = Any


def copied_weights(network: Any) -> dict[str, Any]:
    """Copies of ``network``'s parameters, state and optimizer state, on its backend."""
    xp = network.context.xp

    def copy(arrays):
        return {name: xp.asarray(value, copy=True) for name, value in arrays.items()}

    return {
        "parameters": copy(network.parameters),
        "state": copy(network.state),
        "optimizer": copy(network.optimizer.state),
        "optimizer_iterations": network.optimizer.iterations,
    }


def restore_weights(network: Any, weights: Mapping[str, Any]) -> None:
    """Put ``weights`` (as :func:`copied_weights` gives them; arrays of any backend, or host data) into the
    built ``network`` in its dtype: every name, shape and the step count is checked first, then all are
    replaced; an error replaces nothing.  Another optimizer's state is left out (see
    :meth:`xdnn.Network.set_weights`)."""
    if not isinstance(weights, Mapping):
        kind = type(weights).__name__
        raise TypeError(f"set_weights: weights must be a mapping, as get_weights returns, not {kind}")
    groups = [("parameters", network.parameters), ("state", network.state)]
    optimizer_state = weights.get("optimizer")
    # Another optimizer's state (the optimizer was replaced since get_weights) is left out.
    same_optimizer = isinstance(optimizer_state, Mapping) and set(optimizer_state) == set(network.optimizer.state)
    iterations = network.optimizer.iterations
    if same_optimizer:
        groups.append(("optimizer", network.optimizer.state))
    if same_optimizer or optimizer_state is None:
        iterations = weights.get("optimizer_iterations", iterations)
        if not isinstance(iterations, numbers.Real) and getattr(iterations, "shape", None) == ():
            iterations = float(iterations)  # a 0-d array (as to_numpy of get_weights gives)
        iterations = _validation.check_count(iterations, "set_weights: optimizer_iterations", minimum=0)
    context = network.context
    dtype = getattr(context.xp, network.dtype_name)
    replaced = []
    for key, target in groups:
        given = weights.get(key)
        if not isinstance(given, Mapping) or set(given) != set(target):
            names = sorted(given) if isinstance(given, Mapping) else given
            raise ValueError(f"set_weights: weights[{key!r}] must name {sorted(target)}, got {names!r}")
        for name, value in given.items():
            foreign = not is_host_data(value) and array_context(value).xp is not context.xp
            try:
                array = context.asarray(to_host(value) if foreign else value, dtype=dtype)
            except (TypeError, ValueError) as error:
                raise type(error)(f"set_weights: {key}/{name}: {error}") from None
            if tuple(array.shape) != tuple(target[name].shape):
                raise ValueError(
                    f"set_weights: {key}/{name} has shape {tuple(array.shape)}, this network's has "
                    f"{tuple(target[name].shape)}"
                )
            replaced.append((target, name, array))
    for target, name, array in replaced:  # everything checked: now replace
        target[name] = context.xp.asarray(array, copy=True)
    network.optimizer.iterations = iterations
