"""The L-layer notebooks' API (step by step, and the application's models): ``X (n_x, m)``,
``W[l] (n[l], n[l-1])``, caches ``((A_prev, W, b), Z)``, dictionaries ``W1, b1, ..., dA0, dW1, ...``."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from xdnn import _validation
from xdnn import activations as _activations
from xdnn import backprop as _backprop
from xdnn import initializers as _initializers
from xdnn import linear as _linear
from xdnn import losses as _losses
from xdnn import optimizers as _optimizers
from xdnn._namespace import array_context, resolve_dtype
from xdnn.functional.boundary import (
    number_of_layers,
    prepare,
    prepare_parameters,
    size,
    warn_unless_binary,
)
from xdnn.layers import Dense

Array = Any
Parameters = dict[str, Array]


# --- the tutorial's dnn_utils: activation helpers that return caches ----------------------------


def sigmoid(Z: Array) -> tuple[Array, Array]:
    """``A = 1/(1 + exp(-Z))`` (overflow-free); returns ``(A, cache=Z)``."""
    context, (Z,) = prepare(Z)
    return _activations.sigmoid(Z, xp=context.xp), Z


def relu(Z: Array) -> tuple[Array, Array]:
    """``A = max(0, Z)``; returns ``(A, cache=Z)``."""
    context, (Z,) = prepare(Z)
    return _activations.relu(Z, xp=context.xp), Z


def tanh(Z: Array) -> tuple[Array, Array]:
    """``A = tanh(Z)``; returns ``(A, cache=Z)``."""
    context, (Z,) = prepare(Z)
    return _activations.tanh(Z, xp=context.xp), Z


def _activation_backward_from_Z(dA: Array, Z: Array, activation: _activations.Activation, xp: Any) -> Array:
    saved = activation.forward(Z, xp=xp) if activation.backward_uses_output else Z
    return activation.backward(dA, saved, xp=xp)


def sigmoid_backward(dA: Array, cache: Array) -> Array:
    """``dZ = dA * s * (1 - s)`` with ``s = sigmoid(Z)``, ``cache = Z``."""
    context, (dA, Z) = prepare(dA, cache)
    return _activation_backward_from_Z(dA, Z, _activations.get_activation("sigmoid"), context.xp)


def relu_backward(dA: Array, cache: Array) -> Array:
    """``dZ = dA`` where ``Z > 0``, else 0; ``cache = Z``."""
    context, (dA, Z) = prepare(dA, cache)
    return _activation_backward_from_Z(dA, Z, _activations.get_activation("relu"), context.xp)


def tanh_backward(dA: Array, cache: Array) -> Array:
    """``dZ = dA * (1 - tanh(Z)^2)``; ``cache = Z``."""
    context, (dA, Z) = prepare(dA, cache)
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
    >>> [round(float(w), 8) for w in parameters["W1"][0, :]]
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
    context, (A, W, b) = prepare(A, W, b)
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
    context, (A_prev, W, b) = prepare(A_prev, W, b)
    _linear.check_linear_shapes(A_prev, W, b)
    return _linear_activation_forward(A_prev, W, b, _activations.get_activation(activation), context.xp)


def model_forward(
    X: Array, parameters: Parameters, hidden: _activations.Activation, output: _activations.Activation, xp: Any
):
    L = number_of_layers(parameters)
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
    context, parameters, (X,) = prepare_parameters(parameters, X)
    return model_forward(
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
    context, (AL, Y) = prepare(AL, Y)
    xp = context.xp
    if tuple(AL.shape) != tuple(Y.shape):
        raise ValueError(f"AL and Y must have the same shape, got {tuple(AL.shape)} and {tuple(Y.shape)}")
    _validation.check_not_empty(AL, "AL")  # the mean cost of no samples is not a number
    _validation.check_finite(AL, "AL", xp=xp)
    _validation.check_finite(Y, "Y", xp=xp)
    if not bool(xp.all((AL >= 0) & (AL <= 1))):
        raise ValueError("AL must hold probabilities in [0, 1] (the output of a sigmoid)")
    warn_unless_binary(Y, "Y", xp)
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
    context, (dZ, A_prev, W, b) = prepare(dZ, A_prev, W, b)
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
    context, (dA, A_prev, W, b, Z) = prepare(dA, A_prev, W, b, Z)
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


def _sigmoid_output_backward(L: int, AL: Array, Y: Array, saturated: Array, cache: tuple, xp: Any):
    """The last layer's backward from the tutorial's ``dAL`` (:func:`xdnn.losses.binary_cross_entropy_gradient`)
    through the sigmoid.  Where ``AL`` is ``saturated`` (0, 1 or subnormal) that product is 0/0 or
    overflows; its limit there, ``dZ = AL - Y`` (:func:`xdnn.losses.probability_gradient`), is taken."""
    (A_prev, W, _b), Z = cache
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
        saturated = (AL < float(xp.finfo(AL.dtype).smallest_normal)) | (AL == 1.0)
        safe_AL = xp.where(saturated, xp.ones_like(AL) / 2.0, AL)
        backwards.append(_sigmoid_output_backward(L, AL, Y, saturated, caches[-1], xp))
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
    context, arrays = prepare(*flat)
    AL, Y = arrays[0], arrays[1]
    if tuple(Y.shape) != tuple(AL.shape):
        if size(Y) != size(AL):
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


def gradient_descent_step(
    parameters: Parameters, grads: Mapping[str, Array], learning_rate: float, xp: Any
) -> Parameters:
    """Gradient descent (:func:`xdnn.optimizers.gradient_descent_update`) of every ``W{l}``, ``b{l}``
    into a new dictionary."""
    names = [f"{kind}{layer}" for layer in range(1, number_of_layers(parameters) + 1) for kind in "Wb"]
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
    context, moved, _ = prepare_parameters(
        {**{name: parameters[name] for name in parameters}, **{f"d{name}": grads[f"d{name}"] for name in names}}
    )
    for name in names:
        if tuple(moved[f"d{name}"].shape) != tuple(moved[name].shape):
            raise ValueError(
                f"shape mismatch: d{name} has shape {tuple(moved[f'd{name}'].shape)} "
                f"but {name} has shape {tuple(moved[name].shape)}"
            )
    params = {name: moved[name] for name in parameters}
    return gradient_descent_step(params, moved, _validation.check_positive(learning_rate, "learning_rate"), context.xp)


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
    warn_unless_binary(Y, "Y", xp)
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
) -> tuple[Parameters, list[Array]]:
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
    context, parameters, (X,) = prepare_parameters(parameters, X)
    xp = context.xp
    hidden = _activations.get_activation(hidden_activation or default_hidden)
    AL, _ = model_forward(X, parameters, hidden, _activations.get_activation("sigmoid"), xp)
    p = xp.astype(AL > threshold, AL.dtype)
    if y is not None:
        y = context.asarray(y)
        if size(y) != p.shape[1] or y.ndim > 2:  # (1, m), (m,) or a column (m, 1)
            raise ValueError(
                f"y has shape {tuple(y.shape)}; the {p.shape[1]} predictions need y of shape (1, {p.shape[1]})"
            )
        y = xp.astype(y, p.dtype)
        _validation.check_binary_targets(y, "y", xp=xp)  # -1/1 labels would be scored against 0/1 predictions
        accuracy = float(xp.mean(xp.astype(p == xp.reshape(y, p.shape), p.dtype)))
        if print_accuracy:
            print("Accuracy: " + str(accuracy))
    return p
