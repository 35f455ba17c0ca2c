"""The L2 penalty on a network's weights, and its gradient.

For weights ``W[1], ..., W[L]`` and a batch of ``m`` samples (or a total sample weight ``m``):

    J_L2  = (l2 / (2 m)) sum_l ||W[l]||^2          (added to the cost)
    dW[l] += (l2 / m) W[l]                          (added to each weight gradient)

Biases and batch-norm parameters are not penalised.  Dropout lives with its layer
(:class:`xdnn.layers.Dropout`).
"""

from __future__ import annotations

from typing import Any, Sequence

Array = Any


def l2_penalty(weights: Sequence[Array], l2: float, m: Any, *, xp: Any) -> Array:
    """``(l2 / (2 m)) sum ||W||^2`` over ``weights``."""
    total = 0.0
    for W in weights:
        total = total + xp.sum(W * W)
    return (l2 / (2.0 * m)) * total


def l2_gradient(W: Array, l2: float, m: Any) -> Array:
    """``(l2 / m) W``: the penalty's gradient with respect to ``W``."""
    return (l2 / m) * W
