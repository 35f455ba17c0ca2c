"""The tutorial's step-by-step L-layer network, on any Array API backend.

Port a "deep neural network from scratch" notebook by changing its import::

    from xdnn.functional import (initialize_parameters_deep, L_model_forward,
                                 compute_cost, L_model_backward, update_parameters)

The planar-data notebook's one-hidden-layer (tanh) API is here too: :func:`layer_sizes`,
:func:`forward_propagation`, :func:`backward_propagation`, :func:`nn_model` and the
``predict(parameters, X)`` call form; so is the application notebook's :func:`two_layer_model`.
Two other write-ups of the same tanh network are spelled their way: GeeksforGeeks'
:func:`forward_prop` and :func:`back_propagate`, and the "2-layer network from scratch" moons
tutorial's :func:`forwardPropagation`, :func:`backPropagation` and :func:`fit`.

Names, argument order and data layout are the tutorial's: ``X`` is
``(n_features, m)``, ``Y`` is ``(1, m)``, ``W[l]`` is ``(n[l], n[l-1])``, ``b[l]`` is
``(n[l], 1)``; ``linear_cache = (A_prev, W, b)``, ``activation_cache = Z`` and
``cache = (linear_cache, activation_cache)``; parameter and gradient dictionaries
use the keys ``W1, b1, ...`` and ``dA0, dW1, db1, ...``.

Every function resolves the array namespace once from its inputs: arrays of a
backend (CuPy, PyTorch, array-api-strict) keep the computation there; lists and
NumPy arrays are moved once to the active backend (:func:`xdnn.set_backend`).
The math itself lives in :mod:`xdnn.activations`, :mod:`xdnn.linear`, :mod:`xdnn.losses` and
:mod:`xdnn.optimizers`, and the loops over layers in :mod:`xdnn.backprop`, all shared with
:class:`xdnn.Network`: the functions here only give them the tutorial's names, arguments and caches.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

from xdnn import _validation
from xdnn import activations as _activations
from xdnn import backprop as _backprop
from xdnn import initializers as _initializers
from xdnn import linear as _linear
from xdnn import losses as _losses
from xdnn import optimizers as _optimizers
from xdnn._namespace import ArrayContext, array_context, resolve_dtype
from xdnn.layers import Dense

Array = Any
Parameters = dict[str, Array]

__all__ = [
    "sigmoid",
    "relu",
    "tanh",
    "sigmoid_backward",
    "relu_backward",
    "tanh_backward",
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
    "L_layer_model",
    "two_layer_model",
    "predict",
    "layer_sizes",
    "forward_propagation",
    "backward_propagation",
    "nn_model",
    "forward_prop",
    "back_propagate",
    "forwardPropagation",
    "backPropagation",
    "fit",
]


# --- boundary helpers -------------------------------------------------------------------------


def _warn_unless_binary(Y: Array, name: str, xp: Any) -> None:
    """The course's code computes the cross-entropy of whatever ``Y`` it is given (its shape tests
    feed random real numbers); so does this API, with a warning unless ``Y`` holds 0/1 labels or
    probabilities.  (:class:`xdnn.Network` and the estimators refuse such targets.)"""
    if not bool(xp.all((Y >= 0) & (Y <= 1))):
        warnings.warn(
            f"{name} holds values outside [0, 1]: the cross-entropy is computed as written, but it is the "
            "cost of 0/1 labels (or probabilities)",
            UserWarning,
            stacklevel=3,
        )


def _floating_dtype(arrays: Sequence[Array], xp: Any) -> Any:
    """The promoted floating dtype of ``arrays`` (float32 with float64 gives float64); float64 if none."""
    floating = [array.dtype for array in arrays if xp.isdtype(array.dtype, "real floating")]
    return xp.result_type(*floating) if floating else xp.float64


def _prepare(*values: Any) -> tuple[ArrayContext, list[Array]]:
    """Resolve the namespace once; move host data; give every array the one float dtype in use
    (PyTorch's ``@`` does not promote float32 with float64, so mixed inputs are cast here)."""
    context = array_context(*values)
    arrays = [context.asarray(value) for value in values]
    dtype = _floating_dtype(arrays, context.xp)
    arrays = [array if array.dtype == dtype else context.xp.astype(array, dtype) for array in arrays]
    return context, arrays


def _prepare_parameters(parameters: Mapping[str, Array], *others: Any) -> tuple[ArrayContext, Parameters, list[Array]]:
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters must be a dict with keys W1, b1, ..., got {type(parameters).__name__}")
    names = list(parameters)
    context, arrays = _prepare(*others, *(parameters[name] for name in names))
    moved = dict(zip(names, arrays[len(others) :], strict=True))
    return context, moved, arrays[: len(others)]


def _size(array: Array) -> int:
    """Number of elements (``math.prod`` of the shape: some namespaces have no ``size``)."""
    return math.prod(int(extent) for extent in array.shape)


def _number_of_layers(parameters: Mapping[str, Array]) -> int:
    layers = 0
    while f"W{layers + 1}" in parameters:
        layers += 1
    if layers == 0 or any(f"b{layer}" not in parameters for layer in range(1, layers + 1)):
        raise ValueError(f"parameters must hold W1, b1, ..., WL, bL; got keys {sorted(parameters)}")
    return layers


# --- the tutorial's dnn_utils: activation helpers that return caches ----------------------------


def sigmoid(Z: Array) -> tuple[Array, Array]:
    """``A = 1/(1 + exp(-Z))`` (overflow-free); returns ``(A, cache=Z)``."""
    context, (Z,) = _prepare(Z)
    return _activations.sigmoid(Z, xp=context.xp), Z


def relu(Z: Array) -> tuple[Array, Array]:
    """``A = max(0, Z)``; returns ``(A, cache=Z)``."""
    context, (Z,) = _prepare(Z)
    return _activations.relu(Z, xp=context.xp), Z


def tanh(Z: Array) -> tuple[Array, Array]:
    """``A = tanh(Z)``; returns ``(A, cache=Z)``."""
    context, (Z,) = _prepare(Z)
    return _activations.tanh(Z, xp=context.xp), Z


def _activation_backward_from_Z(dA: Array, Z: Array, activation: _activations.Activation, xp: Any) -> Array:
    saved = activation.forward(Z, xp=xp) if activation.backward_uses_output else Z
    return activation.backward(dA, saved, xp=xp)


def sigmoid_backward(dA: Array, cache: Array) -> Array:
    """``dZ = dA * s * (1 - s)`` with ``s = sigmoid(Z)``, ``cache = Z``."""
    context, (dA, Z) = _prepare(dA, cache)
    return _activation_backward_from_Z(dA, Z, _activations.get_activation("sigmoid"), context.xp)


def relu_backward(dA: Array, cache: Array) -> Array:
    """``dZ = dA`` where ``Z > 0``, else 0; ``cache = Z``."""
    context, (dA, Z) = _prepare(dA, cache)
    return _activation_backward_from_Z(dA, Z, _activations.get_activation("relu"), context.xp)


def tanh_backward(dA: Array, cache: Array) -> Array:
    """``dZ = dA * (1 - tanh(Z)^2)``; ``cache = Z``."""
    context, (dA, Z) = _prepare(dA, cache)
    return _activation_backward_from_Z(dA, Z, _activations.get_activation("tanh"), context.xp)


# --- initialisation -----------------------------------------------------------------------------


def _initialize(layer_dims: Sequence[int], seed: int | None, initialization: str | float, dtype: Any) -> Parameters:
    context = array_context()
    xp_dtype = resolve_dtype(dtype, context.xp) if dtype is not None else context.xp.float64
    return _initializers.initialize_parameters(
        layer_dims, context=context, dtype=xp_dtype, initialization=initialization, seed=seed
    )


def initialize_parameters(
    n_x: int, n_h: int, n_y: int, *, seed: int | None = 1, initialization: str | float = "small", dtype: Any = None
) -> Parameters:
    """Two-layer parameters ``W1 (n_h, n_x), b1 (n_h, 1), W2 (n_y, n_h), b2 (n_y, 1)``.

    ``W = randn(...) * 0.01`` drawn on the host from ``RandomState(seed)`` (the
    tutorial seeds with 1; ``seed=None`` uses ``np.random``'s global state), ``b = 0``.
    Arrays are float64 (or ``dtype``) on the active backend.

    >>> parameters = initialize_parameters(2, 2, 1)
    >>> [round(float(w), 8) for w in xdnn.to_numpy(parameters["W1"])[0]]
    [0.01624345, -0.00611756]
    """
    return _initialize([n_x, n_h, n_y], seed, initialization, dtype)


def initialize_parameters_deep(
    layer_dims: Sequence[int], *, seed: int | None = 3, initialization: str | float = "small", dtype: Any = None
) -> Parameters:
    """L-layer parameters: ``W[l]`` is ``(layer_dims[l], layer_dims[l-1])``, ``b[l]`` is zeros ``(layer_dims[l], 1)``.

    ``initialization`` is ``"small"`` (the tutorial's ``randn * 0.01``, default),
    ``"he"``, ``"xavier"``, ``"glorot"`` or a number; see :mod:`xdnn.initializers`.
    The tutorial seeds with 3: ``initialize_parameters_deep([5, 4, 3])["W1"][0]`` is
    ``[0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388]``.
    """
    return _initialize(layer_dims, seed, initialization, dtype)


# --- forward ------------------------------------------------------------------------------------


def linear_forward(A: Array, W: Array, b: Array) -> tuple[Array, tuple[Array, Array, Array]]:
    """``Z = W A + b``; returns ``(Z, linear_cache=(A, W, b))``.

    Shapes: ``A (n[l-1], m)``, ``W (n[l], n[l-1])``, ``b (n[l], 1)`` -> ``Z (n[l], m)``.
    """
    context, (A, W, b) = _prepare(A, W, b)
    _linear.check_linear_shapes(A, W, b)
    return _linear.linear_forward(A, W, b, xp=context.xp), (A, W, b)


def _linear_activation_forward(A_prev: Array, W: Array, b: Array, activation: _activations.Activation, xp: Any):
    Z = _linear.linear_forward(A_prev, W, b, xp=xp)
    A = activation.forward(Z, xp=xp)
    return A, ((A_prev, W, b), Z)


def linear_activation_forward(A_prev: Array, W: Array, b: Array, activation: str) -> tuple[Array, tuple]:
    """``A = g(W A_prev + b)`` for ``activation`` in ``sigmoid``, ``relu``, ``tanh``, ...

    Returns ``(A, cache)`` with ``cache = ((A_prev, W, b), Z)``.
    """
    context, (A_prev, W, b) = _prepare(A_prev, W, b)
    _linear.check_linear_shapes(A_prev, W, b)
    return _linear_activation_forward(A_prev, W, b, _activations.get_activation(activation), context.xp)


def _L_model_forward(
    X: Array, parameters: Parameters, hidden: _activations.Activation, output: _activations.Activation, xp: Any
):
    L = _number_of_layers(parameters)
    caches = []
    A = X
    for layer in range(1, L + 1):
        W, b = parameters[f"W{layer}"], parameters[f"b{layer}"]
        _linear.check_linear_shapes(A, W, b)
        A, cache = _linear_activation_forward(A, W, b, output if layer == L else hidden, xp)
        caches.append(cache)
    return A, caches


def L_model_forward(
    X: Array, parameters: Mapping[str, Array], *, hidden_activation: str = "relu", output_activation: str = "sigmoid"
) -> tuple[Array, list]:
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID; returns ``(AL, caches)`` with ``len(caches) == L``.

    ``X`` is ``(n_x, m)``; ``AL`` is ``(n[L], m)``.
    """
    context, parameters, (X,) = _prepare_parameters(parameters, X)
    return _L_model_forward(
        X,
        parameters,
        _activations.get_activation(hidden_activation),
        _activations.get_activation(output_activation),
        context.xp,
    )


# --- cost ---------------------------------------------------------------------------------------


def compute_cost(AL: Array, Y: Array, parameters: Mapping[str, Array] | None = None) -> float:
    """Cross-entropy ``J = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL))`` as a Python ``float``
    (what the course's ``float(np.squeeze(cost))`` gives).

    ``AL`` and ``Y`` are ``(1, m)``.  Saturated predictions (exactly 0 or 1) give a
    finite cost.  ``compute_cost([[.8, .9, .4]], [[1, 1, 1]])`` is ``0.414931599615``
    and ``compute_cost([[.8, .9, .4]], [[1, 1, 0]])`` is ``0.2797765635793422``.
    ``parameters`` is accepted and ignored, for the planar notebook's
    ``compute_cost(A2, Y, parameters)``.
    """
    context, (AL, Y) = _prepare(AL, Y)
    xp = context.xp
    if tuple(AL.shape) != tuple(Y.shape):
        raise ValueError(f"AL and Y must have the same shape, got {tuple(AL.shape)} and {tuple(Y.shape)}")
    _validation.check_not_empty(AL, "AL")  # the mean cost of no samples is not a number
    _validation.check_finite(AL, "AL", xp=xp)
    _validation.check_finite(Y, "Y", xp=xp)
    if not bool(xp.all((AL >= 0) & (AL <= 1))):
        raise ValueError("AL must hold probabilities in [0, 1] (the output of a sigmoid)")
    _warn_unless_binary(Y, "Y", xp)
    return float(_losses.binary_cross_entropy(AL, Y, xp=xp))


# --- backward -----------------------------------------------------------------------------------


def _check_backward_shapes(dZ: Array, A_prev: Array, W: Array, b: Array, name: str = "dZ") -> None:
    """Raise a ``ValueError`` naming the shapes unless ``dZ`` is ``(n[l], m)`` for the cache's layer."""
    _linear.check_linear_shapes(A_prev, W, b)
    expected = (W.shape[0], A_prev.shape[1])
    if tuple(dZ.shape) != expected:
        raise ValueError(
            f"shape mismatch: {name} has shape {tuple(dZ.shape)}, expected {expected} "
            f"(n[l] = W.shape[0], m = A_prev.shape[1]) for W {tuple(W.shape)} and A_prev {tuple(A_prev.shape)}"
        )


def linear_backward(dZ: Array, cache: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
    """``(dA_prev, dW, db)`` from ``dZ (n[l], m)`` and ``cache = (A_prev, W, b)``.

    ``dW = (1/m) dZ A_prev^T``, ``db = (1/m) sum(dZ, axis=1)``, ``dA_prev = W^T dZ``.
    """
    A_prev, W, b = cache
    context, (dZ, A_prev, W, b) = _prepare(dZ, A_prev, W, b)
    _check_backward_shapes(dZ, A_prev, W, b)
    return _linear.linear_backward(dZ, A_prev, W, xp=context.xp)


def _linear_activation_backward(dA: Array, cache: tuple, activation: _activations.Activation, xp: Any):
    (A_prev, W, _b), Z = cache
    dZ = _activation_backward_from_Z(dA, Z, activation, xp)
    return _linear.linear_backward(dZ, A_prev, W, xp=xp)


def linear_activation_backward(dA: Array, cache: tuple, activation: str) -> tuple[Array, Array, Array]:
    """Backward of ``A = g(W A_prev + b)``: ``dZ = dA * g'(Z)``, then :func:`linear_backward`.

    ``cache = ((A_prev, W, b), Z)``; returns ``(dA_prev, dW, db)``.
    """
    (A_prev, W, b), Z = cache
    context, (dA, A_prev, W, b, Z) = _prepare(dA, A_prev, W, b, Z)
    _check_backward_shapes(Z, A_prev, W, b, name="Z (the activation cache)")
    if tuple(dA.shape) != tuple(Z.shape):
        raise ValueError(f"shape mismatch: dA has shape {tuple(dA.shape)} but Z has shape {tuple(Z.shape)}")
    return _linear_activation_backward(dA, ((A_prev, W, b), Z), _activations.get_activation(activation), context.xp)


def _layer_backward(layer: int, cache: tuple, activation: _activations.Activation, xp: Any):
    """The backward closure of layer ``layer`` from its tutorial cache, in :mod:`xdnn.backprop`'s form:
    ``backward(dA) -> (dA_prev, {dA{l-1}, dW{l}, db{l}})``."""

    def backward(dA):
        dA_prev, dW, db = _linear_activation_backward(dA, cache, activation, xp)
        return dA_prev, {f"dA{layer - 1}": dA_prev, f"dW{layer}": dW, f"db{layer}": db}

    return backward


def _sigmoid_output_backward(L: int, AL: Array, Y: Array, cache: tuple, xp: Any):
    """The last layer's backward from the tutorial's ``dAL`` (:func:`xdnn.losses.binary_cross_entropy_gradient`)
    through the sigmoid.  Where ``AL`` saturated at 0 or 1 (or is subnormal) that product is 0/0 or
    overflows; its limit there, ``dZ = AL - Y`` (:func:`xdnn.losses.probability_gradient`), is taken."""
    (A_prev, W, _b), Z = cache
    saturated = (AL < float(xp.finfo(AL.dtype).smallest_normal)) | (AL == 1.0)
    sigmoid = _activations.get_activation("sigmoid")

    def backward(dAL):
        dZ = xp.where(
            saturated, _losses.probability_gradient(AL, Y, xp=xp), _activation_backward_from_Z(dAL, Z, sigmoid, xp)
        )
        dA_prev, dW, db = _linear.linear_backward(dZ, A_prev, W, xp=xp)
        return dA_prev, {f"dA{L - 1}": dA_prev, f"dW{L}": dW, f"db{L}": db}

    return backward


def _L_model_backward(
    AL: Array, Y: Array, caches: list, hidden: _activations.Activation, output: _activations.Activation, xp: Any
):
    """Backward through all layers from the tutorial's ``dAL`` (:func:`xdnn.backprop.backward_pass`)."""
    L = len(caches)
    backwards = [_layer_backward(layer, caches[layer - 1], hidden, xp) for layer in range(1, L)]
    if output.name == "sigmoid":
        safe_AL = xp.where((AL < float(xp.finfo(AL.dtype).smallest_normal)) | (AL == 1.0), xp.ones_like(AL) / 2.0, AL)
        backwards.append(_sigmoid_output_backward(L, AL, Y, caches[-1], xp))
        return _backprop.backward_pass(backwards, _losses.binary_cross_entropy_gradient(safe_AL, Y, xp=xp))
    backwards.append(_layer_backward(L, caches[-1], output, xp))
    return _backprop.backward_pass(backwards, _losses.binary_cross_entropy_gradient(AL, Y, xp=xp))


def L_model_backward(
    AL: Array, Y: Array, caches: list, *, hidden_activation: str = "relu", output_activation: str = "sigmoid"
) -> Parameters:
    """Gradients of the cross-entropy cost for [LINEAR->RELU] x (L-1) -> LINEAR->SIGMOID.

    Starts from ``dAL = -(Y/AL - (1-Y)/(1-AL))`` and returns ``grads`` with
    ``dA{l-1}``, ``dW{l}``, ``db{l}`` for ``l = L, ..., 1`` (``dA0`` is the gradient
    with respect to ``X``).
    """
    if not caches:
        raise ValueError("caches is empty: pass the caches returned by L_model_forward")
    flat = [AL, Y]
    for (A_prev, W, b), Z in caches:
        flat.extend((A_prev, W, b, Z))
    context, arrays = _prepare(*flat)
    AL, Y = arrays[0], arrays[1]
    if tuple(Y.shape) != tuple(AL.shape):
        if _size(Y) != _size(AL):
            raise ValueError(f"AL and Y must have the same shape, got {tuple(AL.shape)} and {tuple(Y.shape)}")
        Y = context.xp.reshape(Y, AL.shape)
    moved = [((arrays[i], arrays[i + 1], arrays[i + 2]), arrays[i + 3]) for i in range(2, len(arrays), 4)]
    for layer, ((A_prev, W, b), Z) in enumerate(moved, start=1):
        _check_backward_shapes(Z, A_prev, W, b, name=f"Z of cache {layer}")
    if tuple(moved[-1][1].shape) != tuple(AL.shape):
        raise ValueError(f"AL has shape {tuple(AL.shape)} but the last cache's Z has shape {tuple(moved[-1][1].shape)}")
    return _L_model_backward(
        AL,
        Y,
        moved,
        _activations.get_activation(hidden_activation),
        _activations.get_activation(output_activation),
        context.xp,
    )


# --- update -------------------------------------------------------------------------------------


def _update_parameters(parameters: Parameters, grads: Mapping[str, Array], learning_rate: float, xp: Any) -> Parameters:
    """Gradient descent (:func:`xdnn.optimizers.gradient_descent_update`) of every ``W{l}``, ``b{l}``
    into a new dictionary."""
    names = [f"{kind}{layer}" for layer in range(1, _number_of_layers(parameters) + 1) for kind in "Wb"]
    updated = dict(parameters)
    trained = {name: parameters[name] for name in names}
    _optimizers.apply_rule(
        _optimizers.gradient_descent_update, (), trained, grads, {}, xp=xp, learning_rate=learning_rate
    )
    updated.update(trained)
    return updated


def update_parameters(
    parameters: Mapping[str, Array], grads: Mapping[str, Array], learning_rate: float = 1.2
) -> Parameters:
    """Gradient descent ``W[l] <- W[l] - learning_rate * dW[l]``, ``b[l] <- b[l] - learning_rate * db[l]``.

    Returns a new dictionary; the arrays passed in are not modified.  The default
    ``learning_rate=1.2`` is the planar notebook's; the L-layer notebook always passes one.
    """
    names = [name for name in parameters if f"d{name}" in grads]
    missing = [f"d{name}" for name in parameters if name[:1] in "Wb" and f"d{name}" not in grads]
    if missing:
        raise ValueError(f"grads is missing {', '.join(missing)}")
    context, moved, _ = _prepare_parameters(
        {**{name: parameters[name] for name in parameters}, **{f"d{name}": grads[f"d{name}"] for name in names}}
    )
    for name in names:
        if tuple(moved[f"d{name}"].shape) != tuple(moved[name].shape):
            raise ValueError(
                f"shape mismatch: d{name} has shape {tuple(moved[f'd{name}'].shape)} "
                f"but {name} has shape {tuple(moved[name].shape)}"
            )
    params = {name: moved[name] for name in parameters}
    return _update_parameters(params, moved, _validation.check_positive(learning_rate, "learning_rate"), context.xp)


# --- training loop and prediction ---------------------------------------------------------------


def L_layer_model(
    X: Array,
    Y: Array,
    layers_dims: Sequence[int],
    learning_rate: float = 0.0075,
    num_iterations: int = 3000,
    print_cost: bool = False,
    *,
    seed: int | None = 1,
    initialization: str | float = "xavier",
    hidden_activation: str = "relu",
    dtype: Any = None,
    print_every: int = 100,
    record_every: int = 100,
    print_last: bool = True,
) -> tuple[Parameters, list[Array]]:
    """Train an L-layer binary classifier by full-batch gradient descent.

    Each iteration is the tutorial's forward, cost, backward and update, run by the same code as
    :class:`xdnn.Network`'s steps (:mod:`xdnn.backprop` over :class:`xdnn.Dense` layers, then
    :class:`xdnn.GradientDescent`), so a backend's executors apply.  The output layer's gradient
    is taken as ``dZL = AL - Y`` (the same value as the tutorial's ``dAL * s'(ZL)``,
    but finite when a prediction saturates at exactly 0 or 1).  Initialisation follows the
    tutorial's application (``RandomState(1)``, ``randn / sqrt(n[l-1])``, i.e.
    ``initialization="xavier"``).  As in the tutorial, the cost is recorded every
    ``record_every`` iterations (0, 100, 200, ...) and, with ``print_cost=True``, printed
    every ``print_every`` iterations and (``print_last=True``, as the application notebook
    does) at the last one; reading it is the only device synchronisation in the loop.

    ``X`` is ``(layers_dims[0], m)``, ``Y`` is ``(1, m)`` of 0/1.  Returns
    ``(parameters, costs)`` with ``costs`` a list of 0-d arrays of the backend (the course's
    ``np.squeeze(cost)``).
    """
    context = array_context(X, Y)
    X, Y = context.asarray(X), context.asarray(Y)  # X decides the dtype; Y (labels) follows it
    xp = context.xp
    if dtype is not None:
        X = xp.astype(X, resolve_dtype(dtype, xp))
    if not xp.isdtype(X.dtype, "real floating"):
        X = xp.astype(X, xp.float64)
    Y = xp.astype(Y, X.dtype)
    _validation.check_rank(X, 2, "X")
    _validation.check_not_empty(X, "X")
    if Y.ndim == 1:
        Y = xp.reshape(Y, (1, Y.shape[0]))
    _validation.check_same_samples(X, Y, ("X", "Y"), axis=1)
    dims = _initializers.validate_layer_dims(layers_dims)
    if dims[0] != X.shape[0]:
        raise ValueError(f"layers_dims[0] = {dims[0]} but X has {X.shape[0]} features (X must be (n_x, m))")
    if dims[-1] != Y.shape[0]:
        raise ValueError(f"layers_dims[-1] = {dims[-1]} but Y has {Y.shape[0]} rows (Y must be (1, m))")
    _validation.check_finite(X, "X", xp=xp)
    _validation.check_finite(Y, "Y", xp=xp)
    _warn_unless_binary(Y, "Y", xp)
    num_iterations = _validation.check_count(num_iterations, "num_iterations", minimum=0)
    print_every = _validation.check_count(print_every, "print_every", minimum=1)
    record_every = _validation.check_count(record_every, "record_every", minimum=1)
    learning_rate = _validation.check_positive(learning_rate, "learning_rate")

    parameters = _initializers.initialize_parameters(
        dims, context=context, dtype=X.dtype, initialization=initialization, seed=seed
    )
    layers = [Dense(units, hidden_activation) for units in dims[1:-1]] + [Dense(dims[-1], "sigmoid")]
    for index, layer in enumerate(layers, start=1):
        layer.build(dims[index - 1], index)
    loss = _losses.LOSSES["binary_crossentropy"]
    bound = _backprop.bind_layers(layers, loss, xp, outputs_private=True)
    optimizer = _optimizers.GradientDescent()
    costs: list[Array] = []
    for iteration in range(num_iterations):
        _, AL, backwards = _backprop.forward_pass(bound, parameters, None, X, True, None)
        record = iteration % record_every == 0
        show = print_cost and (iteration % print_every == 0 or (print_last and iteration == num_iterations - 1))
        if record or show:  # the tutorial's compute_cost, read only when it is recorded or printed
            cost = xp.asarray(_losses.binary_cross_entropy(AL, Y, xp=xp))
            if record:
                costs.append(cost)
            if show:
                print("Cost after iteration %i: %f" % (iteration, float(cost)))
        grads = _backprop.backward_pass(backwards, loss.output_gradient(AL, Y, xp=xp))
        optimizer.update(parameters, grads, learning_rate, xp=xp, overwrite_grads=True)
    return parameters, costs


def two_layer_model(
    X: Array,
    Y: Array,
    layers_dims: Sequence[int],
    learning_rate: float = 0.0075,
    num_iterations: int = 3000,
    print_cost: bool = False,
    *,
    seed: int | None = 1,
    dtype: Any = None,
) -> tuple[Parameters, list[float]]:
    """The application notebook's LINEAR -> RELU -> LINEAR -> SIGMOID model.

    ``layers_dims = (n_x, n_h, n_y)``; initialised as :func:`initialize_parameters`
    (``randn * 0.01`` from ``RandomState(1)``), then trained exactly as
    :func:`L_layer_model`.  Returns ``(parameters, costs)``.
    """
    dims = _initializers.validate_layer_dims(layers_dims)
    if len(dims) != 3:
        raise ValueError(f"layers_dims must be (n_x, n_h, n_y), got {list(layers_dims)!r}")
    return L_layer_model(
        X,
        Y,
        dims,
        learning_rate,
        num_iterations,
        print_cost,
        seed=seed,
        initialization="small",
        hidden_activation="relu",
        dtype=dtype,
    )


def predict(
    X: Array | Mapping[str, Array],
    y: Array | Mapping[str, Array] | None = None,
    parameters: Mapping[str, Array] | None = None,
    *,
    hidden_activation: str | None = None,
    threshold: float = 0.5,
    print_accuracy: bool = True,
) -> Array:
    """Predict 0/1 labels ``p (1, m)``: ``p = 1`` where ``AL > threshold``.

    Called as in the L-layer tutorial, ``predict(X, y, parameters)`` also prints
    ``Accuracy: ...``; ``predict(X, parameters)`` only predicts.  Both use relu hidden
    layers unless ``hidden_activation`` says otherwise.  Called as in the planar
    notebook, ``predict(parameters, X)`` predicts with that notebook's tanh hidden layer
    (:func:`forward_propagation`).  ``p`` has the floating dtype of ``X`` and the
    parameters (float32 with float64 gives float64) and lives on their backend.
    """
    default_hidden = "relu"
    if isinstance(X, Mapping):  # the planar notebook's predict(parameters, X)
        if parameters is not None:
            raise TypeError("predict takes (X, y, parameters), (X, parameters) or the planar (parameters, X)")
        X, y, parameters = y, None, X
        default_hidden = "tanh"
    if parameters is None and isinstance(y, Mapping):
        parameters, y = y, None
    if parameters is None or X is None:
        raise TypeError("predict needs the data and the trained parameters: predict(X, y, parameters)")
    context, parameters, (X,) = _prepare_parameters(parameters, X)
    xp = context.xp
    hidden = _activations.get_activation(hidden_activation or default_hidden)
    AL, _ = _L_model_forward(X, parameters, hidden, _activations.get_activation("sigmoid"), xp)
    p = xp.astype(AL > threshold, AL.dtype)
    if y is not None:
        y = context.asarray(y)
        if _size(y) != p.shape[1] or y.ndim > 2:  # (1, m), (m,) or a column (m, 1)
            raise ValueError(
                f"y has shape {tuple(y.shape)}; the {p.shape[1]} predictions need y of shape (1, {p.shape[1]})"
            )
        y = xp.astype(y, p.dtype)
        _validation.check_binary_targets(y, "y", xp=xp)  # -1/1 labels would be scored against 0/1 predictions
        accuracy = float(xp.mean(xp.astype(p == xp.reshape(y, p.shape), p.dtype)))
        if print_accuracy:
            print("Accuracy: " + str(accuracy))
    return p


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
    context, parameters, (X,) = _prepare_parameters(parameters, X)
    tanh_, sigmoid_ = _activations.get_activation("tanh"), _activations.get_activation("sigmoid")
    AL, caches = _L_model_forward(X, parameters, tanh_, sigmoid_, context.xp)
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
    L = _number_of_layers(parameters)
    missing = [f"A{layer}" for layer in range(1, L + 1) if f"A{layer}" not in cache]
    if missing:
        raise ValueError(f"cache is missing {', '.join(missing)}: pass the cache returned by forward_propagation")
    layers = range(1, L + 1)
    context, arrays = _prepare(
        X, Y, *(cache[f"A{layer}"] for layer in layers), *(parameters[f"W{layer}"] for layer in layers)
    )
    xp = context.xp
    X, Y = arrays[0], arrays[1]
    A = [X, *arrays[2 : L + 2]]  # A[0] = X, A[l] = cache["Al"]
    W = [None, *arrays[L + 2 :]]  # W[l] = parameters["Wl"]
    if tuple(Y.shape) != tuple(A[L].shape):
        if _size(Y) != _size(A[L]):
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
    tanh_ = _activations.get_activation("tanh")
    grads: Parameters = {}
    dZ = A[L] - Y
    for layer in range(L, 0, -1):
        dA_prev, grads[f"dW{layer}"], grads[f"db{layer}"] = _linear.linear_backward(
            dZ, A[layer - 1], W[layer], xp=xp, input_gradient=layer > 1
        )
        if layer > 1:
            dZ = tanh_.backward(dA_prev, A[layer - 1], xp=xp)
    return {name: grads[name] for layer in layers for name in (f"dW{layer}", f"db{layer}")}


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
    last = _number_of_layers(params)
    cache = {name: value for name, value in cache.items() if name != f"A{last}"}
    cache["y"] = y
    return y, cache


def backPropagation(X: Array, Y: Array, params: Mapping[str, Array], cache: Mapping[str, Array]) -> Parameters:
    """The moons tutorial's :func:`backward_propagation`, in its argument order: the gradients
    ``{dW1, db1, dW2, db2}`` from a cache of :func:`forwardPropagation` (key ``"y"``) or of
    :func:`forward_propagation` (key ``"A2"``)."""
    last = _number_of_layers(params) if isinstance(params, Mapping) else 0
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
) -> tuple[Parameters, list[float]]:
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
