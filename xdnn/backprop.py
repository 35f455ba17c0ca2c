"""Backpropagation, written once: a forward pass that collects each layer's backward closure, and
a backward pass that calls them in reverse.

Layers follow Thinc's shape (see :mod:`xdnn.layers`): a bound hidden layer is
``forward(parameters, state, A, training, random) -> (A, backward)`` with ``backward(dA) ->
(dA_prev, grads)``; the output layer is ``forward(parameters, A) -> (Z, A, backward_from_Z)``.
Everything here works in the tutorial layout, one column per sample.  :class:`xdnn.Network` and the
tutorial API of :mod:`xdnn.functional` both train through these functions.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

Array = Any


class BoundLayers(NamedTuple):
    """A network's layers and loss bound to a namespace: ``hidden[i]`` and ``output`` as in the
    module docstring, ``cost_and_gradient(Z, A, Y) -> (cost, dZ)`` (:meth:`xdnn.losses.Loss.bind`)."""

    hidden: list
    output: Callable[..., Any]
    cost_and_gradient: Callable[..., Any]


def bind_layers(layers: Sequence[Any], loss: Any, xp: Any, *, outputs_private: bool) -> BoundLayers:
    """Bind ``layers`` (hidden ones, then a :class:`xdnn.Dense` output) and ``loss`` to ``xp`` once.

    The first layer computes no gradient with respect to the data.  ``outputs_private``: every layer
    is one of xdnn's own, none of which reads its input after its own backward, so a dense layer's
    output is free to overwrite in its backward.
    """
    from xdnn.layers import Dense

    hidden = [
        layer.bind(xp, input_gradient=position > 0, output_private=True)
        if outputs_private and type(layer) is Dense
        else layer.bind(xp, input_gradient=position > 0)
        for position, layer in enumerate(layers[:-1])
    ]
    output = layers[-1].bind_output(xp, input_gradient=len(layers) > 1)
    return BoundLayers(hidden, output, loss.bind(xp))


def forward_pass(bound: BoundLayers, parameters: dict, state: dict | None, X: Array, training: bool, random: Any):
    """``(Z_L, A_L, backwards)`` for the batch ``X (n_features, m)``; ``state`` (running statistics)
    is updated in training unless it is ``None``."""
    A = X
    backwards = []
    for forward in bound.hidden:
        A, backward = forward(parameters, state, A, training, random)
        backwards.append(backward)
    Z, A, output_backward = bound.output(parameters, A)
    backwards.append(output_backward)
    return Z, A, backwards


def backward_pass(backwards: Sequence[Callable[[Array], tuple[Array, dict]]], dZ: Array) -> dict[str, Array]:
    """``grads`` from the output layer's ``dZ``: each layer's backward in reverse order."""
    grads: dict[str, Array] = {}
    gradient = dZ
    for backward in reversed(backwards):
        gradient, layer_grads = backward(gradient)
        grads.update(layer_grads)
    return grads


def cost_and_gradients(
    bound: BoundLayers, parameters: dict, state: dict | None, X: Array, Y: Array, random: Any
) -> tuple[Array, Array, dict[str, Array]]:
    """Training-mode ``(cost, A_L, grads)`` of one batch: forward, the loss's cost and ``dZ``, backward."""
    Z, A, backwards = forward_pass(bound, parameters, state, X, True, random)
    cost, dZ = bound.cost_and_gradient(Z, A, Y)
    return cost, A, backward_pass(backwards, dZ)
