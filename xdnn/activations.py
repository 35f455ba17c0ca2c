"""Activation functions g(Z) and their backward passes, written once for any Array API namespace.

Every activation is an :class:`Activation` with

* ``forward(Z, xp=...) -> A``                 elementwise ``A = g(Z)`` (softmax: over axis 0);
* ``backward(dA, saved, xp=...) -> dZ``       ``dZ = dA * g'(Z)`` (softmax: its Jacobian-vector product);
* ``backward_uses_output`` -- whether ``saved`` is the output ``A`` (sigmoid, tanh, relu, ...) or
  the input ``Z`` (gelu).  Keeping only what the derivative needs halves what a layer caches.

Shapes: ``Z``, ``A``, ``dA``, ``dZ`` all have the same shape, ``(n_units, m)`` in the tutorial
layout.  Dtypes follow the input.  No function here imports NumPy or asks for a backend: ``xp``
is passed in.  A backend may run a definition faster through an executor registered against it
(:mod:`xdnn.executors`); a layer asks for that once when it binds to a namespace.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from xdnn import executors

Array = Any


def identity(Z: Array, *, xp: Any) -> Array:
    """``A = Z``."""
    return Z


def identity_backward(dA: Array, saved: Array, *, xp: Any) -> Array:
    """``dZ = dA``."""
    return dA


def relu(Z: Array, *, xp: Any) -> Array:
    """``A = max(Z, 0)``."""
    return xp.maximum(Z, 0.0)


def relu_backward(dA: Array, saved: Array, *, xp: Any) -> Array:
    """``dZ = dA * [Z > 0]``; ``saved`` may be ``Z`` or ``A`` (same sign pattern).

    Written as a product with the 0/1 mask: on NumPy an elementwise product is an order of
    magnitude faster than ``where`` with a scalar.
    """
    return dA * xp.astype(saved > 0, dA.dtype)


def sigmoid(Z: Array, *, xp: Any) -> Array:
    """``A = 1 / (1 + exp(-Z))``, computed without overflow for any ``|Z|``.

    Every ``exp`` is of a non-positive number, so nothing overflows:
    ``A = 1/(1+e)`` for ``Z >= 0`` and ``A = e/(1+e)`` for ``Z < 0`` with ``e = exp(-|Z|)``,
    i.e. ``A = exp(min(Z, 0)) / (1 + exp(-|Z|))`` -- one expression, no branch.
    """
    return xp.exp(xp.minimum(Z, 0.0)) / (1.0 + xp.exp(-xp.abs(Z)))


def sigmoid_backward(dA: Array, A: Array, *, xp: Any) -> Array:
    """``dZ = dA * A * (1 - A)`` from the output ``A = sigmoid(Z)``."""
    return dA * A * (1.0 - A)


def tanh(Z: Array, *, xp: Any) -> Array:
    """``A = tanh(Z)``."""
    return xp.tanh(Z)


def tanh_backward(dA: Array, A: Array, *, xp: Any) -> Array:
    """``dZ = dA * (1 - A**2)`` from the output ``A = tanh(Z)``."""
    return dA * (1.0 - A * A)


def exp(Z: Array, *, xp: Any) -> Array:
    """``A = exp(Z)``: the log link of a Poisson output (positive predictions)."""
    return xp.exp(Z)


def exp_backward(dA: Array, A: Array, *, xp: Any) -> Array:
    """``dZ = dA * A`` from the output ``A = exp(Z)``."""
    return dA * A


LEAKY_RELU_SLOPE = 0.01


def leaky_relu(Z: Array, *, xp: Any) -> Array:
    """``A = Z`` for ``Z > 0`` else ``0.01 * Z``, i.e. ``max(Z, 0.01 Z)``."""
    return xp.maximum(Z, LEAKY_RELU_SLOPE * Z)


def leaky_relu_backward(dA: Array, saved: Array, *, xp: Any) -> Array:
    """``dZ = dA`` where ``Z > 0`` else ``0.01 * dA`` (``saved`` is ``Z`` or ``A``)."""
    return dA * (xp.astype(saved > 0, dA.dtype) * (1.0 - LEAKY_RELU_SLOPE) + LEAKY_RELU_SLOPE)


def elu(Z: Array, *, xp: Any) -> Array:
    """``A = Z`` for ``Z > 0`` else ``exp(Z) - 1`` (alpha = 1); ``exp`` only sees ``min(Z, 0)``."""
    return xp.where(Z > 0, Z, xp.expm1(xp.minimum(Z, 0.0)))


def elu_backward(dA: Array, A: Array, *, xp: Any) -> Array:
    """``dZ = dA`` where ``A > 0`` else ``dA * (A + 1)`` (since ``exp(Z) = A + 1`` there)."""
    return xp.where(A > 0, dA, dA * (A + 1.0))


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(Z: Array, *, xp: Any) -> Array:
    """Tanh-approximated GELU: ``A = Z/2 * (1 + tanh(c (Z + 0.044715 Z^3)))``, ``c = sqrt(2/pi)``."""
    return 0.5 * Z * (1.0 + xp.tanh(_GELU_C * (Z + 0.044715 * Z * Z * Z)))


def gelu_backward(dA: Array, Z: Array, *, xp: Any) -> Array:
    """``dZ = dA * (0.5 (1 + t) + 0.5 Z (1 - t^2) c (1 + 3*0.044715 Z^2))``, ``t = tanh(c(Z + 0.044715 Z^3))``."""
    t = xp.tanh(_GELU_C * (Z + 0.044715 * Z * Z * Z))
    derivative = 0.5 * (1.0 + t) + 0.5 * Z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * Z * Z)
    return dA * derivative


def softmax(Z: Array, *, xp: Any) -> Array:
    """``A[k, i] = exp(Z[k, i] - max_k Z[:, i]) / sum_k exp(...)`` over the class axis 0."""
    shifted = xp.exp(Z - xp.max(Z, axis=0, keepdims=True))
    return shifted / xp.sum(shifted, axis=0, keepdims=True)


def softmax_backward(dA: Array, A: Array, *, xp: Any) -> Array:
    """Jacobian-vector product of softmax: ``dZ = A * (dA - sum_k(dA * A))`` per column."""
    return A * (dA - xp.sum(dA * A, axis=0, keepdims=True))


# Executor variants of an activation (see xdnn.executors): ``IN_PLACE`` forwards write ``A`` over
# ``Z`` and backwards ``dZ`` over ``dA``; an ``OVER_OUTPUT`` backward may also use ``A`` as scratch.
IN_PLACE = executors.IN_PLACE
OVER_OUTPUT = "in_place_over_output"


@dataclasses.dataclass(frozen=True)
class Activation:
    """An activation ``g`` with its backward pass and what that pass needs saved."""

    name: str
    forward: Callable[..., Array]
    backward: Callable[..., Array]
    backward_uses_output: bool = True

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    def bind(self, xp: Any) -> tuple[Callable[[Array], Array], Callable[[Array, Array], Array]]:
        """``(forward(Z) -> A, backward(dA, saved) -> dZ)`` on ``xp``, resolved once: each definition's
        executor where a backend registers one for it (:mod:`xdnn.executors`), else the definition."""
        return executors.bind(self.forward, xp), executors.bind(self.backward, xp)


ACTIVATIONS: dict[str, Activation] = {
    activation.name: activation
    for activation in (
        Activation("identity", identity, identity_backward),
        Activation("relu", relu, relu_backward),
        Activation("sigmoid", sigmoid, sigmoid_backward),
        Activation("tanh", tanh, tanh_backward),
        Activation("leaky_relu", leaky_relu, leaky_relu_backward),
        Activation("elu", elu, elu_backward),
        Activation("gelu", gelu, gelu_backward, backward_uses_output=False),
        Activation("softmax", softmax, softmax_backward),
        Activation("exp", exp, exp_backward),
    )
}
_ALIASES = {"linear": "identity", "none": "identity", "leakyrelu": "leaky_relu", "logistic": "sigmoid"}


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation by name (``relu``, ``sigmoid``, ``tanh``, ``identity``, ...)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid activations are: {', '.join(ACTIVATIONS)}") from None
