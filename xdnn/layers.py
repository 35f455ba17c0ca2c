"""Layers of a :class:`xdnn.Network`, each a forward pass that returns its own backward pass.

Following Thinc, ``forward(...)`` returns ``(output, backward)`` where ``backward``
is a closure over exactly what the derivative needs; a network is a loop over
forwards and then over the closures in reverse -- no cache dictionaries.

All layers work in the tutorial layout ``(n_units, m)`` (one column per sample) and
use the per-sample gradient convention of :mod:`xdnn.linear`: a ``backward(dY)``
receives ``m * dJ/dY`` and returns ``(dX, grads)`` with ``grads`` the true
``dJ/dparameter`` (averaged over the ``m`` samples), keyed ``dW1``, ``db1``, ...

Parameter names follow the tutorial: the ``l``-th :class:`Dense` owns ``W{l}`` and
``b{l}`` (no ``b{l}`` with ``use_bias=False``); a :class:`BatchNorm` after it owns
``gamma{l}``, ``beta{l}`` and the running statistics ``running_mean{l}``,
``running_var{l}`` (not trained).
"""

from __future__ import annotations

from typing import Any, Callable

from xdnn import activations as _activations
from xdnn import executors
from xdnn import initializers as _initializers
from xdnn import linear as _linear

Array = Any
Backward = Callable[..., tuple[Any, dict[str, Array]]]


class Layer:
    """Base class.  Subclasses set ``kind`` and implement ``build`` and ``forward``."""

    kind = "layer"
    index = 0

    def build(self, n_inputs: int, index: int) -> int:
        """Fix the input size and parameter names; return the output size."""
        self.n_inputs = n_inputs
        self.index = index
        return n_inputs

    def host_parameters(self, draws: _initializers.HostDraws, initialization: str | float) -> dict:
        """Initial trainable parameters as float64 host arrays (weights drawn in layer order)."""
        return {}

    def host_state(self, draws: _initializers.HostDraws) -> dict:
        """Initial non-trained state (e.g. running statistics) as host arrays."""
        return {}

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def bind(self, xp: Any, *, input_gradient: bool = True) -> Callable[..., tuple[Array, Any]]:
        """``forward(parameters, state, X, training, random) -> (output, backward)`` on ``xp``:
        this layer's ``forward`` with the namespace resolved once (a network binds its layers
        once per fit, not once per step)."""
        layer_forward = self.forward

        def forward(parameters, state, X, training, random):
            return layer_forward(
                parameters, state, X, training=training, xp=xp, random=random, input_gradient=input_gradient
            )

        return forward

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "kind")
        return f"{type(self).__name__}({arguments})"


class Dense(Layer):
    """``A = g(W X + b)`` with ``W (units, n_inputs)``, ``b (units, 1)``; ``g`` defaults to identity.

    ``use_bias=False`` drops ``b`` (``Z = W X``): a :class:`BatchNorm` right after subtracts the
    batch mean, so a bias there has exactly zero gradient and would hold only rounding noise --
    which Adam and RMSprop, dividing by ``sqrt(s)``, turn into steps of size ``lr``.
    """

    kind = "dense"

    def __init__(
        self,
        units: int,
        activation: str = "identity",
        initialization: str | float | None = None,
        use_bias: bool = True,
    ) -> None:
        if isinstance(units, bool) or int(units) != units or int(units) <= 0:
            raise ValueError(f"Dense units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = _activations.get_activation(activation)
        self.initialization = initialization
        self.use_bias = bool(use_bias)

    def build(self, n_inputs, index):
        super().build(n_inputs, index)
        self.W, self.dW = f"W{index}", f"dW{index}"  # parameter and gradient names, fixed once built
        self.b, self.db = (f"b{index}", f"db{index}") if self.use_bias else (None, None)
        return self.units

    def host_parameters(self, draws, initialization):
        scheme = self.initialization if self.initialization is not None else initialization
        scale = _initializers.weight_scale(scheme, self.n_inputs, self.units)
        parameters = {self.W: draws.randn(self.units, self.n_inputs) * scale}
        if self.use_bias:
            parameters[self.b] = draws.zeros(self.units, 1)
        return parameters

    def config(self):
        return {
            "kind": self.kind,
            "units": self.units,
            "activation": self.activation.name,
            "initialization": self.initialization,
            "use_bias": self.use_bias,
        }

    def forward_output(self, parameters, X, *, xp, input_gradient=True):
        """``(Z, A, backward)`` where ``backward(dZ)`` starts from the pre-activation gradient."""
        return self._output_forward(xp, input_gradient, owned=False)(parameters, X)

    def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
        """``(A, backward)``; ``backward(dA)`` leaves ``dA`` as it was and may be called again."""
        return self._forward(xp, input_gradient, owned=False)(parameters, state, X, training, random)

    def bind_output(self, xp, *, input_gradient=True):
        """:meth:`forward_output` with everything that depends on ``xp`` resolved once, for a
        network's step: ``forward(parameters, X) -> (Z, A, backward_from_Z)``.  ``Z`` is kept (the
        loss reads the logits), so the activation is never applied in place; ``backward_from_Z``
        runs once and then releases the layer's input."""
        if type(self).forward_output is not Dense.forward_output:  # a subclass's own forward_output
            layer = self
            return lambda parameters, X: layer.forward_output(parameters, X, xp=xp, input_gradient=input_gradient)
        return self._output_forward(xp, input_gradient, owned=True)

    def bind(self, xp, *, input_gradient=True, output_private=False):
        """:meth:`forward` with everything that depends on ``xp`` resolved once, for a network's
        step: ``forward(parameters, state, X, training, random) -> (A, backward)``.

        Inside a network every array a layer's backward receives is fresh (made by the layer above
        or the loss) and each backward runs once, so: where a backend registers an in-place executor
        of the activation (NumPy's relu and tanh) it overwrites the layer's own ``Z`` and its
        derivative turns ``dA`` into ``dZ`` in place, and the saved arrays are released as soon as
        the backward pass has used them.  With ``output_private`` (a network of built-in layers,
        none of which reads its input after its own backward) the derivative may also be written
        over the layer's output, saving a temporary.  A subclass that overrides :meth:`forward` is
        bound to it.
        """
        if type(self).forward is not Dense.forward:
            return Layer.bind(self, xp, input_gradient=input_gradient)
        return self._forward(xp, input_gradient, owned=True, output_private=output_private)

    def _activation_pair(self, xp, *, owned, output_private):
        """``(forward(Z), backward(dA, saved), keeps_output)`` of the activation on ``xp``: in-place
        executors for a layer that owns its arrays (:data:`xdnn.activations.IN_PLACE`), else the
        fresh executors or the definitions."""
        activation = self.activation
        in_place_forward = executors.bind(activation.forward, xp, _activations.IN_PLACE) if owned else None
        in_place_backward = executors.bind(activation.backward, xp, _activations.IN_PLACE) if owned else None
        if in_place_forward is None or in_place_backward is None or not activation.backward_uses_output:
            forward, backward = activation.bind(xp)
            return forward, backward, activation.backward_uses_output
        if output_private:
            in_place_backward = executors.bind(activation.backward, xp, _activations.OVER_OUTPUT) or in_place_backward
        return in_place_forward, in_place_backward, True

    def _output_forward(self, xp, input_gradient, *, owned):
        activation_forward, _ = self.activation.bind(xp)  # (Z is kept for the loss: never in place)
        linear_forward, linear_backward = self._bound_linear(xp)
        W_name, b_name, dW_name, db_name, use_bias = self.W, self.b, self.dW, self.db, self.use_bias

        def forward(parameters, X):
            W = parameters[W_name]
            Z = linear_forward(X, W, parameters.get(b_name))
            held = [X]

            def backward_from_Z(dZ):
                dX, dW, db = linear_backward(dZ, held.pop() if owned else held[0], W, input_gradient=input_gradient)
                return dX, ({dW_name: dW, db_name: db} if use_bias else {dW_name: dW})

            return Z, activation_forward(Z), backward_from_Z

        return forward

    def _forward(self, xp, input_gradient, *, owned, output_private=False):
        """The forward of :meth:`bind` (``owned=True``) or :meth:`forward` (``owned=False``: no
        in-place work on ``dA``, and a backward that can be called more than once).  The linear
        part is written into this one closure pair rather than called through a second pair: on a
        tutorial network's small arrays each Python call is a few per cent of the step."""
        activation_forward, activation_backward, keeps_output = self._activation_pair(
            xp, owned=owned, output_private=output_private
        )
        linear_forward, linear_backward = self._bound_linear(xp)
        W_name, b_name, dW_name, db_name, use_bias = self.W, self.b, self.dW, self.db, self.use_bias

        def forward(parameters, state, X, training, random):
            W = parameters[W_name]
            Z = linear_forward(X, W, parameters.get(b_name))
            A = activation_forward(Z)
            held = [X, A if keeps_output else Z]
            del Z

            def backward(dA):
                if owned:  # no local names for the saved arrays: popped, each is freed once used
                    dZ = activation_backward(dA, held.pop())
                    dX, dW, db = linear_backward(dZ, held.pop(), W, input_gradient=input_gradient)
                else:
                    dZ = activation_backward(dA, held[1])
                    dX, dW, db = linear_backward(dZ, held[0], W, input_gradient=input_gradient)
                return dX, ({dW_name: dW, db_name: db} if use_bias else {dW_name: dW})

            return A, backward

        return forward

    def _bound_linear(self, xp):
        """``(forward(X, W, b) -> Z, backward(dZ, X, W, input_gradient=...) -> (dX, dW, db))`` for
        ``Z = W X (+ b)`` on ``xp`` (:mod:`xdnn.linear`, or a backend's executors of it); ``b`` is
        ``None`` and ``db`` unused without a bias."""
        return executors.bind(_linear.linear_forward, xp), executors.bind(_linear.linear_backward, xp)


class Activation(Layer):
    """An activation on its own (e.g. after :class:`BatchNorm`)."""

    kind = "activation"

    def __init__(self, activation: str) -> None:
        self.activation = _activations.get_activation(activation)

    def config(self):
        return {"kind": self.kind, "activation": self.activation.name}

    def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
        forward, backward_of = self.activation.bind(xp)
        A = forward(X)
        saved = A if self.activation.backward_uses_output else X

        def backward(dA):
            return backward_of(dA, saved), {}

        return A, backward


class Dropout(Layer):
    """Inverted dropout: in training ``Y = X * D / keep`` with ``D ~ Bernoulli(keep)``; identity at inference."""

    kind = "dropout"

    def __init__(self, rate: float) -> None:
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = rate

    def config(self):
        return {"kind": self.kind, "rate": self.rate}

    def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
        if not training or self.rate == 0.0:
            return X, lambda dY: (dY, {})
        keep = 1.0 - self.rate
        mask = xp.astype(random.uniform(tuple(X.shape), X.dtype) < keep, X.dtype) / keep

        def backward(dY):
            return dY * mask, {}

        return X * mask, backward


class BatchNorm(Layer):
    """Batch normalisation over the samples of each unit.

    ``X``, ``Y`` are ``(n_units, m)``; ``gamma``, ``beta`` and the running statistics ``(n_units, 1)``.

    Training: ``mu = mean_i X``, ``var = mean_i (X - mu)^2`` (biased), ``Xhat = (X - mu) / sqrt(var + eps)``,
    ``Y = gamma Xhat + beta``, and running averages ``r = momentum r + (1 - momentum) batch`` of ``mu``
    and ``var`` (Keras' convention; PyTorch's ``momentum`` is ``1 - momentum`` and it averages the
    unbiased variance).  Inference uses the running averages and changes nothing.  Backward
    (per-sample convention): ``dX = gamma / sqrt(var + eps) * (dY - mean(dY) - Xhat mean(dY Xhat))``,
    ``dgamma = mean(dY Xhat)``, ``dbeta = mean(dY)``.  The mean subtraction cancels any bias of the
    layer before, so that :class:`Dense` needs none (``use_bias=False``).
    """

    kind = "batch_norm"

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5) -> None:
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"batch-norm momentum must be in [0, 1], got {momentum!r}")
        if not epsilon > 0.0:
            raise ValueError(f"batch-norm epsilon must be positive, got {epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, n_inputs, index):
        super().build(n_inputs, index)
        self.names = {key: f"{key}{index}" for key in ("gamma", "beta", "running_mean", "running_var")}
        return n_inputs

    def host_parameters(self, draws, initialization):
        return {self.names["gamma"]: draws.ones(self.n_inputs, 1), self.names["beta"]: draws.zeros(self.n_inputs, 1)}

    def host_state(self, draws):
        return {
            self.names["running_mean"]: draws.zeros(self.n_inputs, 1),
            self.names["running_var"]: draws.ones(self.n_inputs, 1),
        }

    def config(self):
        return {"kind": self.kind, "momentum": self.momentum, "epsilon": self.epsilon}

    def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
        names = self.names
        gamma, beta = parameters[names["gamma"]], parameters[names["beta"]]
        if not training:
            inverse_std = 1.0 / xp.sqrt(state[names["running_var"]] + self.epsilon)
            return gamma * ((X - state[names["running_mean"]]) * inverse_std) + beta, None
        mean = xp.mean(X, axis=1, keepdims=True)
        centred = X - mean
        variance = xp.mean(centred * centred, axis=1, keepdims=True)
        inverse_std = 1.0 / xp.sqrt(variance + self.epsilon)
        normalised = centred * inverse_std
        if state is not None:
            momentum = self.momentum
            state[names["running_mean"]] = momentum * state[names["running_mean"]] + (1.0 - momentum) * mean
            state[names["running_var"]] = momentum * state[names["running_var"]] + (1.0 - momentum) * variance

        def backward(dY):
            mean_dY = xp.mean(dY, axis=1, keepdims=True)
            mean_dY_normalised = xp.mean(dY * normalised, axis=1, keepdims=True)
            dX = (gamma * inverse_std) * (dY - mean_dY - normalised * mean_dY_normalised)
            return dX, {"d" + names["gamma"]: mean_dY_normalised, "d" + names["beta"]: mean_dY}

        return gamma * normalised + beta, backward


LAYER_KINDS = {cls.kind: cls for cls in (Dense, Activation, Dropout, BatchNorm)}


def build_layers(layers: list[Layer], n_features: int) -> int:
    """Give each of ``layers`` its input size and names: the l-th :class:`Dense` (1-based) and the
    layers after it up to the next one are numbered ``l`` (``W{l}``, ``b{l}``, ``gamma{l}``...).
    Returns the output size."""
    size, index = int(n_features), 0
    for layer in layers:
        index += isinstance(layer, Dense)
        size = layer.build(size, index)
    return size


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from :meth:`Layer.config` (used when loading a saved network)."""
    settings = dict(config)
    kind = settings.pop("kind", None)
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r} in the architecture")
    return LAYER_KINDS[kind](**settings)
