"""Costs J and their gradients, stable for saturated predictions, for any Array API namespace.

Tutorial layout: predictions and targets have shape ``(n_outputs, m)``; ``m`` samples.

* Binary cross-entropy   ``J = -(1/m) sum(Y log A + (1 - Y) log(1 - A))``  (sigmoid output)
* Categorical CE         ``J = -(1/m) sum(Y * log softmax(Z))``            (softmax output, one-hot Y)
* Mean squared error     ``J = 1/(2 m k) sum((A - Y)^2)``                  (identity output, k outputs)
* Poisson deviance       ``J = (1/m) sum(A - Y log A + Y log Y - Y)``      (exp output, counts Y >= 0)

Each output activation paired with its cost has the same simple per-sample gradient
with respect to the pre-activation: ``dZ = A - Y`` (``(A - Y) / k`` for MSE), which is
what the training code uses instead of dividing by ``A`` or ``1 - A``.  As in the
tutorial, ``dZ`` is per sample and :func:`xdnn.linear.linear_backward` averages the
parameter gradients over the ``m`` samples.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from xdnn import executors

Array = Any


def _total(values: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """``sum(values)`` as a 0-d array; with ``weights`` (a ``(1, m)`` row of sample weights)
    ``sum(values * weights)``."""
    if weights is not None:
        values = values * weights
    return xp.sum(values)


def binary_cross_entropy(AL: Array, Y: Array, *, xp: Any) -> Array:
    """Tutorial cost from probabilities ``AL``; 0-d array.

    ``AL`` and ``1 - AL`` are each floored at the dtype's smallest normal number
    before the logarithm, so a prediction that saturates at exactly 0 or 1 on the
    wrong side gives a large finite cost instead of inf/NaN, while a perfect
    prediction (``AL == Y`` in {0, 1}) costs exactly 0.
    """
    m = AL.shape[-1]
    tiny = float(xp.finfo(AL.dtype).smallest_normal)
    log_AL = xp.log(xp.clip(AL, tiny, 1.0))
    log_one_minus_AL = xp.log(xp.clip(1.0 - AL, tiny, 1.0))
    log_likelihood = Y * log_AL + (1.0 - Y) * log_one_minus_AL
    return (0.0 - xp.sum(log_likelihood)) / m  # 0 - s, not -s: a perfect prediction costs +0.0


def binary_cross_entropy_from_logits(Z: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """BCE of ``sigmoid(Z)`` computed from ``Z``: ``(1/m) sum(softplus(Z) - Z Y)``.

    ``softplus(Z) = log(1 + exp(Z)) = max(Z, 0) + log1p(exp(-|Z|))`` takes ``exp`` only of
    ``-|Z|``, so it never overflows and the cost is finite for any ``Z``.  ``weights`` (``(1, m)``,
    mean 1) weight each sample's terms.
    """
    m = Z.shape[-1]
    return _total(xp.maximum(Z, 0.0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z))), xp=xp, weights=weights) / m


def log_softmax(Z: Array, *, xp: Any) -> Array:
    """``log softmax(Z)`` over axis 0 by log-sum-exp: ``Z - max - log(sum(exp(Z - max)))``."""
    shifted = Z - xp.max(Z, axis=0, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=0, keepdims=True))


def categorical_cross_entropy_from_logits(Z: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """``J = -(1/m) sum(Y * log_softmax(Z))`` with one-hot ``Y`` of shape ``(k, m)`` (``weights``:
    a ``(1, m)`` row of sample weights, mean 1)."""
    m = Z.shape[-1]
    return -_total(Y * log_softmax(Z, xp=xp), xp=xp, weights=weights) / m


def mean_squared_error(A: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """``J = 1/(2 m k) sum((A - Y)^2)`` (scikit-learn's squared loss; ``weights``: a ``(1, m)`` row
    of sample weights, mean 1)."""
    difference = A - Y
    return _total(difference * difference, xp=xp, weights=weights) / (2.0 * A.shape[-1] * A.shape[0])


def poisson_deviance_from_logits(Z: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """Half the Poisson deviance of ``A = exp(Z)``, scikit-learn's ``loss="poisson"``:
    ``J = (1/m) sum(exp(Z) - Y Z + Y log Y - Y)`` (``0 log 0 = 0``), summed over the outputs;
    ``weights``: a ``(1, m)`` row of sample weights, mean 1.  Zero for ``exp(Z) = Y``."""
    m = Z.shape[-1]
    positive = Y > 0
    y_log_y = xp.where(positive, Y * xp.log(xp.where(positive, Y, 1.0)), 0.0)
    return _total(xp.exp(Z) - Y * Z + (y_log_y - Y), xp=xp, weights=weights) / m


def binary_cross_entropy_gradient(AL: Array, Y: Array, *, xp: Any) -> Array:
    """The tutorial's ``dAL = -(Y / AL - (1 - Y) / (1 - AL))``: ``m * dJ/dAL`` of
    :func:`binary_cross_entropy`, shape ``(1, m)`` (infinite where ``AL`` is exactly 0 or 1)."""
    return -(Y / AL - (1.0 - Y) / (1.0 - AL))


def probability_gradient(A: Array, Y: Array, *, xp: Any) -> Array:
    """``dZ = A - Y``: ``m * dJ/dZ`` of cross-entropy through sigmoid or softmax, and of the Poisson
    deviance through ``exp`` (the canonical pairs), shape ``(k, m)``."""
    return A - Y


def squared_error_gradient(A: Array, Y: Array, *, xp: Any) -> Array:
    """``dZ = (A - Y) / k``: ``m * dJ/dZ`` of :func:`mean_squared_error` through the identity, ``(k, m)``."""
    return (A - Y) / A.shape[0]


@dataclasses.dataclass(frozen=True)
class Loss:
    """A cost paired with the output activation it is computed through.

    ``cost(Z, A, Y, xp=..., weights=None)`` returns a 0-d array; ``output_gradient(A, Y, xp=...)``
    returns the per-sample ``m * dJ/dZ`` of the output layer, shape ``(k, m)``.
    """

    name: str
    output_activation: str
    cost: Callable[..., Array]
    output_gradient: Callable[..., Array]

    def cost_and_gradient(
        self, Z: Array, A: Array, Y: Array, *, xp: Any, weights: Array | None = None
    ) -> tuple[Array, Array]:
        """``(cost, dZ)`` for one batch: :attr:`cost` and :attr:`output_gradient` together.

        With ``weights`` -- a ``(1, m)`` row of sample weights scaled to mean 1 -- the cost is the
        weighted mean ``sum(w_i J_i) / sum(w_i)`` and each sample's ``dZ`` column is scaled by its
        weight (scikit-learn's MLP ``sample_weight``).
        """
        if weights is not None:
            return self.cost(Z, A, Y, xp=xp, weights=weights), self.output_gradient(A, Y, xp=xp) * weights
        return self.cost(Z, A, Y, xp=xp), self.output_gradient(A, Y, xp=xp)

    def bind(self, xp: Any) -> Callable[[Array, Array, Array], tuple[Array, Array]]:
        """``cost_and_gradient(Z, A, Y) -> (cost, dZ)`` without weights on ``xp``, resolved once for a
        network's steps: a backend's executor of this very loss (e.g. CuPy's one-kernel cost and
        gradient), else the executors of its cost and its gradient (:mod:`xdnn.executors`)."""
        fused = executors.find(self, xp, COST_AND_GRADIENT)
        if fused is not None:
            return fused
        cost = executors.resolve(self.cost, xp)
        output_gradient = executors.resolve(self.output_gradient, xp)

        def cost_and_gradient(Z: Array, A: Array, Y: Array) -> tuple[Array, Array]:
            return cost(Z, A, Y, xp=xp), output_gradient(A, Y, xp=xp)

        return cost_and_gradient


# The executor variant of a whole Loss: ``(Z, A, Y) -> (cost, dZ)`` as :meth:`Loss.bind` returns it.
COST_AND_GRADIENT = "cost_and_gradient"


# The costs as Loss.cost calls them, ``(Z, A, Y, *, xp, weights)``: module functions, so that a network pickles.
def binary_crossentropy_cost(Z: Array, A: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """:func:`binary_cross_entropy_from_logits` of the output layer's ``Z``."""
    return binary_cross_entropy_from_logits(Z, Y, xp=xp, weights=weights)


def categorical_crossentropy_cost(Z: Array, A: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """:func:`categorical_cross_entropy_from_logits` of the output layer's ``Z``."""
    return categorical_cross_entropy_from_logits(Z, Y, xp=xp, weights=weights)


def squared_error_cost(Z: Array, A: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """:func:`mean_squared_error` of the output layer's ``A``."""
    return mean_squared_error(A, Y, xp=xp, weights=weights)


def poisson_cost(Z: Array, A: Array, Y: Array, *, xp: Any, weights: Array | None = None) -> Array:
    """:func:`poisson_deviance_from_logits` of the output layer's ``Z``."""
    return poisson_deviance_from_logits(Z, Y, xp=xp, weights=weights)


LOSSES: dict[str, Loss] = {
    "binary_crossentropy": Loss("binary_crossentropy", "sigmoid", binary_crossentropy_cost, probability_gradient),
    "categorical_crossentropy": Loss(
        "categorical_crossentropy", "softmax", categorical_crossentropy_cost, probability_gradient
    ),
    "mse": Loss("mse", "identity", squared_error_cost, squared_error_gradient),
    # d/dZ of exp(Z) - Y Z is exp(Z) - Y: the same A - Y as the other canonical pairs
    "poisson": Loss("poisson", "exp", poisson_cost, probability_gradient),
}
_ALIASES = {
    "bce": "binary_crossentropy",
    "binary_cross_entropy": "binary_crossentropy",
    "log_loss": "binary_crossentropy",
    "cross_entropy": "categorical_crossentropy",
    "categorical_cross_entropy": "categorical_crossentropy",
    "mean_squared_error": "mse",
    "squared_error": "mse",
}


def get_loss(name: str | Loss) -> Loss:
    """Look up a :class:`Loss` by name (``binary_crossentropy``, ``categorical_crossentropy``, ``mse``, ``poisson``)."""
    if isinstance(name, Loss):
        return name
    key = str(name).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    try:
        return LOSSES[key]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid losses are: {', '.join(LOSSES)}") from None


def predictions(A: Array, loss_name: str, units: int, *, xp: Any) -> Array:
    """What ``predict`` answers for the output activations ``A (k, m)`` (``k = units``, given: a recording
    namespace such as ndonnx may not know the shape) of a network trained with the loss ``loss_name``
    -- the decision each loss's output stands for:

    * ``categorical_crossentropy``: the class index ``argmax_i A[i, j]``, int64 ``(m,)``;
    * ``binary_crossentropy``: ``1[A > 0.5]``, int64 ``(m,)`` for one unit, ``(k, m)`` for several
      (multi-label);
    * otherwise (regression): ``A`` itself, ``(m,)`` for one output, else ``(k, m)``.

    The one definition behind :meth:`xdnn.Network.predict` and the ONNX export's ``label``."""
    if loss_name == "categorical_crossentropy":
        return xp.argmax(A, axis=0)
    if loss_name == "binary_crossentropy":
        labels = xp.astype(A > 0.5, xp.int64)
        return labels[0, ...] if units == 1 else labels
    return A[0, ...] if units == 1 else A
