"""The planar notebook's one-hidden-layer (tanh) API, and the same network as two other write-ups
spell it (GeeksforGeeks' ``forward_prop`` / ``back_propagate``, the moons tutorial's
``forwardPropagation`` / ``backPropagation`` / ``fit``)."""

from __future__ import annotations

from typing import Any, Mapping

from xdnn import activations as _activations
from xdnn import backprop as _backprop
from xdnn import linear as _linear
from xdnn import losses as _losses
from xdnn.functional.boundary import number_of_layers, prepare, prepare_parameters, size
from xdnn.functional.deep import L_layer_model, model_forward, update_parameters

Array = Any
Parameters = dict[str, Array]


# --- the planar notebook: one tanh hidden layer ------------------------------------------------


def layer_sizes(X: Array, Y: Array, n_h: int = 4) -> tuple[int, int, int]:
    """``(n_x, n_h, n_y)``: features of ``X (n_x, m)``, hidden units (the notebook's 4), rows of ``Y (n_y, m)``."""
    n_x = int(X.shape[0]) if hasattr(X, "shape") else len(X)
    if hasattr(Y, "shape"):
        n_y = int(Y.shape[0]) if len(Y.shape) == 2 else 1
    else:
        n_y = len(Y)
    return n_x, int(n_h), n_y


def forward_propagation(X: Array, parameters: Mapping[str, Array]) -> tuple[Array, Parameters]:
    """LINEAR -> TANH -> LINEAR -> SIGMOID; returns ``(A2, cache)``, ``cache = {Z1, A1, Z2, A2}``.

    ``X`` is ``(n_x, m)``; ``W1 (n_h, n_x)``, ``b1 (n_h, 1)``, ``W2 (n_y, n_h)``, ``b2 (n_y, 1)``.
    More layers (``W3``, ...) are tanh hidden layers too and add ``Z3``, ``A3``, ... to the cache.
    """
    context, parameters, (X,) = prepare_parameters(parameters, X)
    tanh_, sigmoid_ = _activations.get_activation("tanh"), _activations.get_activation("sigmoid")
    AL, caches = model_forward(X, parameters, tanh_, sigmoid_, context.xp)
    cache: Parameters = {}
    for layer, ((A_prev, _W, _b), Z) in enumerate(caches, start=1):
        if layer > 1:
            cache[f"A{layer - 1}"] = A_prev
        cache[f"Z{layer}"] = Z
    cache[f"A{len(caches)}"] = AL
    return AL, cache


def backward_propagation(parameters: Mapping[str, Array], cache: Mapping[str, Array], X: Array, Y: Array) -> Parameters:
    """Gradients of the cross-entropy for :func:`forward_propagation`'s network.

    ``dZ2 = A2 - Y``, ``dW2 = (1/m) dZ2 A1^T``, ``db2 = (1/m) sum(dZ2, axis=1)``,
    ``dZ1 = (W2^T dZ2) * (1 - A1^2)``, ``dW1 = (1/m) dZ1 X^T``, ``db1 = (1/m) sum(dZ1, axis=1)``.
    Returns ``{dW1, db1, dW2, db2}`` (and so on for more layers).
    """
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters must be a dict with keys W1, b1, ..., got {type(parameters).__name__}")
    L = number_of_layers(parameters)
    missing = [f"A{layer}" for layer in range(1, L + 1) if f"A{layer}" not in cache]
    if missing:
        raise ValueError(f"cache is missing {', '.join(missing)}: pass the cache returned by forward_propagation")
    layers = range(1, L + 1)
    context, arrays = prepare(
        X, Y, *(cache[f"A{layer}"] for layer in layers), *(parameters[f"W{layer}"] for layer in layers)
    )
    xp = context.xp
    X, Y = arrays[0], arrays[1]
    A = [X, *arrays[2 : L + 2]]  # A[0] = X, A[l] = cache["Al"]
    W = [None, *arrays[L + 2 :]]  # W[l] = parameters["Wl"]
    if tuple(Y.shape) != tuple(A[L].shape):
        if size(Y) != size(A[L]):
            raise ValueError(
                f"Y has shape {tuple(Y.shape)} but A{L} is {tuple(A[L].shape)} for X of shape {tuple(X.shape)}: "
                "the tutorial layout is X (n_x, m), Y (n_y, m) -- transpose samples-major data (X.T)"
            )
        Y = xp.reshape(Y, A[L].shape)
    for layer in layers:  # each cached A[l] is (n[l], m) for this X: a cache of other data fails here
        expected = (W[layer].shape[0], X.shape[1])
        if W[layer].shape[1] != A[layer - 1].shape[0] or tuple(A[layer].shape) != expected:
            raise ValueError(
                f"cache A{layer} has shape {tuple(A[layer].shape)} and W{layer} {tuple(W[layer].shape)}, but X of "
                f"shape {tuple(X.shape)} needs A{layer} of shape {expected}: pass the cache forward_propagation "
                "returned for this X"
            )
    tanh = _activations.get_activation("tanh")
    backwards = [_cached_layer_backward(layer, A, W, None if layer == L else tanh, xp) for layer in layers]
    grads = _backprop.backward_pass(backwards, _losses.probability_gradient(A[L], Y, xp=xp))
    return {name: grads[name] for layer in layers for name in (f"dW{layer}", f"db{layer}")}


def _cached_layer_backward(layer: int, A: list, W: list, activation: Any, xp: Any):
    """Layer ``layer``'s backward closure (:mod:`xdnn.backprop`'s form) from the planar cache's
    ``A[l]``: through ``activation``'s derivative from its output (the output layer, ``None``, is
    given ``dZ`` directly), then the linear part."""

    def backward(gradient):
        dZ = gradient if activation is None else activation.backward(gradient, A[layer], xp=xp)
        dA_prev, dW, db = _linear.linear_backward(dZ, A[layer - 1], W[layer], xp=xp, input_gradient=layer > 1)
        return dA_prev, {f"dW{layer}": dW, f"db{layer}": db}

    return backward


def nn_model(
    X: Array,
    Y: Array,
    n_h: int,
    num_iterations: int = 10000,
    print_cost: bool = False,
    *,
    learning_rate: float = 1.2,
    seed: int | None = 2,
    dtype: Any = None,
) -> Parameters:
    """The planar notebook's model: ``n_h`` tanh units, sigmoid output, gradient descent.

    Initialised as in the notebook (``randn * 0.01`` from ``RandomState(2)``, zero
    biases), learning rate 1.2; with ``print_cost=True`` prints the cost every 1000
    iterations, as the notebook does.  Each iteration is :func:`forward_propagation`,
    :func:`compute_cost`, :func:`backward_propagation`, :func:`update_parameters`, run
    by :func:`L_layer_model`.  Returns the trained parameters.
    """
    n_x, _, n_y = layer_sizes(X, Y)
    parameters, _costs = L_layer_model(
        X,
        Y,
        [n_x, n_h, n_y],
        learning_rate,
        num_iterations,
        print_cost,
        seed=seed,
        initialization="small",
        hidden_activation="tanh",
        dtype=dtype,
        print_every=1000,
        record_every=1000,
        print_last=False,
    )
    return parameters


# --- the same tanh network as two other write-ups spell it ---------------------------------------


def forward_prop(X: Array, W1: Array, W2: Array, b1: Array, b2: Array) -> tuple[Array, Parameters]:
    """GeeksforGeeks' :func:`forward_propagation`, the parameters passed one by one in its order
    ``(W1, W2, b1, b2)``: ``Z1 = W1 X + b1``, ``A1 = tanh(Z1)``, ``Z2 = W2 A1 + b2``,
    ``A2 = sigmoid(Z2)``; returns ``(A2, {Z1, A1, Z2, A2})``."""
    return forward_propagation(X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})


def back_propagate(
    W1: Array,
    b1: Array,
    W2: Array,
    b2: Array,
    cache: Mapping[str, Array],
    X: Array,
    Y: Array,
    learning_rate: float = 1.2,
) -> tuple[Array, Array, Array, Array]:
    """GeeksforGeeks' backward step: :func:`backward_propagation`'s gradients and one gradient-descent
    update ``W = W - learning_rate * dW``, returned in that write-up's order ``(W1, W2, b1, b2)``.

    The write-up reads ``X``, ``Y`` and ``learning_rate`` from global variables; here they follow
    ``cache`` (from :func:`forward_prop`) as arguments, the rate defaulting to the planar notebook's 1.2.
    """
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    updated = update_parameters(parameters, backward_propagation(parameters, cache, X, Y), learning_rate)
    return updated["W1"], updated["W2"], updated["b1"], updated["b2"]


def forwardPropagation(X: Array, params: Mapping[str, Array]) -> tuple[Array, Parameters]:
    """The moons tutorial's :func:`forward_propagation`: returns ``(y, cache)`` with the prediction
    ``y (n_y, m)`` stored in ``cache`` as ``"y"`` -- ``{Z1, Z2, A1, y}`` -- instead of ``"A2"``."""
    y, cache = forward_propagation(X, params)
    last = number_of_layers(params)
    cache = {name: value for name, value in cache.items() if name != f"A{last}"}
    cache["y"] = y
    return y, cache


def backPropagation(X: Array, Y: Array, params: Mapping[str, Array], cache: Mapping[str, Array]) -> Parameters:
    """The moons tutorial's :func:`backward_propagation`, in its argument order: the gradients
    ``{dW1, db1, dW2, db2}`` from a cache of :func:`forwardPropagation` (key ``"y"``) or of
    :func:`forward_propagation` (key ``"A2"``)."""
    last = number_of_layers(params) if isinstance(params, Mapping) else 0
    if "y" in cache and f"A{last}" not in cache:
        cache = {**cache, f"A{last}": cache["y"]}
    return backward_propagation(params, cache, X, Y)


def fit(
    X: Array,
    Y: Array,
    learning_rate: float,
    hidden_size: int,
    number_of_iterations: int = 5000,
    *,
    seed: int | None = None,
    dtype: Any = None,
) -> tuple[Parameters, list[Array]]:
    """The moons tutorial's training loop: ``hidden_size`` tanh units and a sigmoid output,
    He-initialised (``W[l] = randn(n[l], n[l-1]) * sqrt(2 / n[l-1])``, zero biases), full-batch
    gradient descent for ``number_of_iterations``.  Returns ``(params, cost_)``, ``cost_`` the
    cross-entropy before each update (a list of 0-d arrays, one per iteration).

    ``X`` is ``(n_x, m)``, ``Y`` is ``(n_y, m)`` of 0/1.  The tutorial draws its weights from
    ``np.random`` unseeded; so does ``seed=None`` (seed ``np.random`` to repeat a run), while an
    integer seed draws from ``RandomState(seed)``.  The tutorial's run::

        X, Y = make_moons(n_samples=500, noise=0.2); X, Y = X.T, Y.reshape(1, -1)
        params, cost_ = fit(X, Y, 0.3, 5, 5000)     # cost falls from about 0.74 to about 0.06
    """
    n_x, _, n_y = layer_sizes(X, Y)
    return L_layer_model(
        X,
        Y,
        [n_x, hidden_size, n_y],
        learning_rate,
        number_of_iterations,
        seed=seed,
        initialization="he",
        hidden_activation="tanh",
        dtype=dtype,
        record_every=1,
    )
