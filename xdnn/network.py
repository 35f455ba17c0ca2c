"""``xdnn.Network``: a multilayer perceptron with ``fit``/``predict``, on any Array API backend.

Data layout
-----------
The high-level API takes ``X`` of shape ``(n_samples, n_features)`` and ``y`` of
shape ``(n_samples,)`` or ``(n_samples, n_outputs)``, as scikit-learn and Keras do.
Internally (and in :mod:`xdnn.functional`) the tutorial layout is used: one column
per sample, ``(n_features, m)``; the network transposes once per batch, as a view.
Parameters keep the tutorial's names and shapes: ``W1 (n[1], n[0])``, ``b1 (n[1], 1)``.

Where it runs
-------------
A network lives on one backend.  An untrained network adopts the backend of the
first data it is fitted on (CuPy or PyTorch arrays keep it there; lists and NumPy
arrays go to the active backend); after that, host data is moved to it once per
call, and arrays of another backend are refused (use :meth:`Network.to`).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from xdnn import _cuda_graph, _glibc_heap, _numpy_fast, _numpy_threads, _validation
from xdnn import activations as _activations
from xdnn import losses as _losses
from xdnn import optimizers as _optimizers
from xdnn._backend import resolve_backend
from xdnn._namespace import (
    ArrayContext,
    BackendMismatchError,
    array_context,
    floating_dtype_name,
    is_host_data,
    to_numpy,
)
from xdnn._random import DeviceRandom, HostRandom, host_generator
from xdnn.callbacks import History, PrintCost, ProgressBar
from xdnn.checkpoint import Checkpoint, all_finite
from xdnn.initializers import HostDraws
from xdnn.layers import Activation, BatchNorm, Dense, Dropout, Layer

Array = Any

_LOSS_OF_OUTPUT = {
    "sigmoid": "binary_crossentropy",
    "softmax": "categorical_crossentropy",
    "identity": "mse",
    "exp": "poisson",
}
_CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy")
_RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu")


ACCELERATOR_SYNC_EVERY = 32
# On the CPU the parameters are copied aside about once every this many steps (at an epoch's first
# cost, once it reads finite); training that diverges falls back to the last such copy, so the
# parameters kept always had a finite cost (the ones that met the NaN/inf cost did not).
CPU_CHECKPOINT_STEPS = 16
# Without callbacks or validation data, the CPU's (already read) epoch costs go into the history this
# many epochs at a time: per-epoch bookkeeping is a tenth of a tutorial network's step.
CPU_REPORT_EVERY = 64


class _BoundStep(NamedTuple):
    """A network's layers and loss bound to its namespace (:meth:`Network._bound_layers`):
    ``hidden[i](parameters, state, A, training, random) -> (A, backward)``,
    ``output(parameters, A) -> (Z, A, backward_from_Z)`` and ``cost_and_gradient(Z, A, Y) -> (cost, dZ)``."""

    hidden: list
    output: Callable[..., Any]
    cost_and_gradient: Callable[..., Any]


class _PermutationFeed:
    """Each epoch's shuffle, drawn on the host from the seeded generator (the same order on
    every backend) and moved to the device up to ``epochs_per_transfer`` epochs at a time, so
    a GPU is not stopped by a host-to-device copy every epoch."""

    MAX_INDICES_PER_TRANSFER = 1 << 22

    def __init__(self, generator: Any, m: int, context: ArrayContext, epochs_per_transfer: int) -> None:
        self.generator, self.m, self.context = generator, m, context
        self.block = max(1, min(epochs_per_transfer, self.MAX_INDICES_PER_TRANSFER // max(m, 1)))
        self.queue: list[Array] = []

    def next(self) -> Array:
        if not self.queue:
            drawn = [self.generator.permutation(self.m) for _ in range(self.block)]
            moved = self.context.asarray(drawn)
            self.queue = [moved[row, ...] for row in range(self.block)]
        return self.queue.pop(0)


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the cost (or, after a fit's last update, a parameter) became NaN or infinite."""


def _layers_from_sizes(
    sizes: Sequence[int], activation: str, output_activation: str, dropout: float, batch_norm: bool
) -> list[Layer]:
    layers: list[Layer] = []
    for units in sizes[1:-1]:
        if batch_norm:
            # BatchNorm subtracts the batch mean, so a bias before it would get a zero gradient
            layers += [Dense(units, use_bias=False), BatchNorm(), Activation(activation)]
        else:
            layers.append(Dense(units, activation))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], output_activation))
    return layers


class Network:
    """A feed-forward network trained by backpropagation.

    Parameters
    ----------
    layers
        Layer sizes including the input, e.g. ``[2, 4, 1]`` (input 2, hidden 4,
        output 1), or a list of :mod:`xdnn.layers` objects ending in a ``Dense``
        (the input size is then taken from the first ``fit``).
    activation
        Hidden activation for the sizes form: ``relu``, ``tanh``, ``sigmoid``,
        ``leaky_relu``, ``elu``, ``gelu``.
    output_activation, loss
        ``sigmoid`` + ``binary_crossentropy`` (binary / multi-label),
        ``softmax`` + ``categorical_crossentropy`` (k classes), ``identity`` + ``mse``
        (regression), ``exp`` + ``poisson`` (counts, rates: non-negative targets).  Give
        either; the default is sigmoid for one output unit, softmax for several.
    optimizer, learning_rate
        ``"sgd"``, ``"momentum"``, ``"rmsprop"``, ``"adam"`` (or an instance from
        :mod:`xdnn.optimizers`); the rate is a number or a schedule.
    l2, dropout, batch_norm
        L2 penalty ``l2/(2m) sum ||W||^2``; inverted-dropout rate after each hidden
        layer; batch normalisation before each hidden activation.
    initialization
        ``he`` (default for the relu family), ``xavier`` (default otherwise),
        ``glorot``, ``small`` or a number.
    dtype
        ``"float32"`` (default) or ``"float64"``.
    seed
        Seeds initialisation, shuffling and dropout (independent streams).
    dropout_masks
        ``"device"`` (the backend's own generator, default) or ``"host"`` (drawn on the
        host: identical masks on every backend, for reproducibility checks).
    metrics
        ``"auto"`` (accuracy for classifiers), or a list, e.g. ``[]`` or ``["accuracy"]``.

    ``metadata`` is a free JSON-serialisable dict saved with the model (the command
    line keeps class names, feature names and scaling there).

    >>> import xdnn, numpy as np
    >>> net = xdnn.Network([2, 8, 1], activation="tanh", seed=0)
    >>> X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0).astype(int)
    >>> history = net.fit(X, y, epochs=50, batch_size=16, verbose=0)
    >>> net.evaluate(X, y)["accuracy"] > 0.9
    True
    """

    def __init__(
        self,
        layers: Sequence[int] | Sequence[Layer],
        *,
        activation: str = "relu",
        output_activation: str | None = None,
        loss: str | None = None,
        optimizer: str | _optimizers.Optimizer = "adam",
        learning_rate: float | _optimizers.Schedule = 0.001,
        l2: float = 0.0,
        dropout: float = 0.0,
        batch_norm: bool = False,
        initialization: str | float | None = None,
        dtype: str = "float32",
        seed: int | None = None,
        dropout_masks: str = "device",
        metrics: str | Sequence[str] = "auto",
    ) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("layers is empty: give sizes like [n_features, 16, 1] or a list of layers")
        if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not (l2 >= 0 and math.isfinite(l2)):
            raise ValueError(f"l2 must be a non-negative number, got {l2!r}")
        _validation.check_fraction(dropout, "dropout", noun="rate")
        if all(isinstance(item, Layer) for item in layers):
            self.layers = layers
            n_features = None
        elif all(isinstance(item, numbers.Integral) and not isinstance(item, bool) for item in layers):
            layers = [int(item) for item in layers]  # NumPy integers too (np.int64 from an array of sizes)
            if len(layers) < 2 or min(layers) <= 0:
                raise ValueError(f"layer sizes must be >= 2 positive integers (inputs, ..., outputs), got {layers}")
            hidden = _activations.get_activation(activation).name
            output = self._output_activation(output_activation, loss, layers[-1])
            self.layers = _layers_from_sizes(layers, hidden, output, float(dropout), bool(batch_norm))
            n_features = layers[0]
        else:
            raise TypeError("layers must be a list of ints (sizes) or a list of xdnn.layers objects, not a mix")
        output_layer = self.layers[-1]
        if not isinstance(output_layer, Dense):
            raise ValueError(f"the last layer must be Dense (the output layer), got {output_layer!r}")
        output_name = output_layer.activation.name
        if output_name not in _LOSS_OF_OUTPUT:
            raise ValueError(
                f"output activation {output_name!r} has no matching loss; use sigmoid, softmax, identity or exp"
            )
        if output_name == "softmax" and output_layer.units < 2:
            raise ValueError("a softmax output needs at least 2 units; use one sigmoid unit for binary labels")
        self.loss = _losses.get_loss(loss if loss is not None else _LOSS_OF_OUTPUT[output_name])
        if self.loss.output_activation != output_name:
            raise ValueError(
                f"loss {self.loss.name!r} needs a {self.loss.output_activation} output, "
                f"but the output layer uses {output_name}"
            )
        if dropout_masks not in ("device", "host"):
            raise ValueError(f"dropout_masks must be 'device' or 'host', got {dropout_masks!r}")
        self.optimizer = _optimizers.get_optimizer(optimizer)
        self.learning_rate = _optimizers.get_schedule(learning_rate)
        self.l2 = float(l2)
        self.dtype_name = floating_dtype_name(dtype)
        hidden_names = [layer.activation.name for layer in self.layers[:-1] if isinstance(layer, (Dense, Activation))]
        relu_like = any(name in _RELU_FAMILY for name in hidden_names) or not hidden_names
        self.initialization = initialization if initialization is not None else ("he" if relu_like else "xavier")
        self.seed = _validation.check_seed(seed)
        self.dropout_masks = dropout_masks
        self.metrics = self._metrics(metrics)
        self.metadata: dict[str, Any] = {}
        self.history = History()
        self.stop_training = False
        self.epochs_trained = 0
        self._bound = None  # the layers bound to the namespace during a fit (see _bound_layers)
        self._overwrite_grads = False  # during a fit: the update may write over the step's gradients
        self.diverged_epoch: int | None = None
        self.n_features: int | None = None
        self.context: ArrayContext | None = None
        self.parameters: dict[str, Array] = {}
        self.state: dict[str, Array] = {}
        self._shuffle_generator = host_generator(self.seed, 1)
        self._random: Any = None
        self._full_batch: tuple[Array, Array] | None = None
        self._captured_step: Any = None  # a fit's CUDA-graph step (see xdnn._cuda_graph)
        self._split_steps: _numpy_threads.SplitSteps | None = None  # a fit's threads (xdnn._numpy_threads)
        self._weighted = False  # a fit with sample weights (carried as the targets' last column)
        self._permutations: _PermutationFeed | None = None
        if n_features is not None:
            self.build(n_features)

    # --- construction ---------------------------------------------------------------------------

    @staticmethod
    def _output_activation(output_activation: str | None, loss: str | None, units: int) -> str:
        if output_activation is not None:
            return _activations.get_activation(output_activation).name
        if loss is not None:
            return _losses.get_loss(loss).output_activation
        return "sigmoid" if units == 1 else "softmax"

    def _metrics(self, metrics: str | Sequence[str]) -> tuple[str, ...]:
        if metrics == "auto":
            return ("accuracy",) if self.is_classifier else ()
        chosen = (metrics,) if isinstance(metrics, str) else tuple(metrics)  # "accuracy", as Keras takes it
        for name in chosen:
            if name != "accuracy":
                raise ValueError(f"unknown metric {name!r}; available: accuracy")
            if not self.is_classifier:
                raise ValueError("accuracy needs a classification output (sigmoid or softmax)")
        return chosen

    @property
    def is_classifier(self) -> bool:
        return self.loss.name in _CLASSIFICATION_LOSSES

    @property
    def output_units(self) -> int:
        return self.layers[-1].units

    @property
    def built(self) -> bool:
        return self.context is not None

    def build(self, n_features: int, context: ArrayContext | None = None) -> None:
        """Create the parameters for ``n_features`` inputs on ``context`` (default: active backend)."""
        if context is None:
            context = array_context()
        size = int(n_features)
        index = 0
        for layer in self.layers:
            if isinstance(layer, Dense):
                index += 1
            size = layer.build(size, index)
        draws = HostDraws(self.seed)
        host_parameters: dict[str, Any] = {}
        host_state: dict[str, Any] = {}
        for layer in self.layers:
            host_parameters.update(layer.host_parameters(draws, self.initialization))
            host_state.update(layer.host_state(draws))
        self.n_features = int(n_features)
        self._place(context, host_parameters, host_state, optimizer_state=None)

    def _place(
        self, context: ArrayContext, parameters: Mapping, state: Mapping, optimizer_state: Mapping | None
    ) -> None:
        """Move host (or foreign) arrays onto ``context`` in this network's dtype."""
        dtype = getattr(context.xp, self.dtype_name)

        def move(value):
            return context.asarray(to_numpy(value), dtype=dtype)

        self.context = context
        self.parameters = {name: move(value) for name, value in parameters.items()}
        self.state = {name: move(value) for name, value in state.items()}
        if optimizer_state is None:
            self.optimizer.initialize(self.parameters, xp=context.xp)
        else:
            self.optimizer.state = {name: move(value) for name, value in optimizer_state.items()}
        self._random = (DeviceRandom if self.dropout_masks == "device" else HostRandom)(context, self.seed)

    def to(self, backend: str) -> "Network":
        """Move parameters, state and optimizer state to ``backend`` (e.g. ``"numpy"``); returns ``self``."""
        resolved = resolve_backend(backend)
        if not self.built:
            raise ValueError("the network has no parameters yet: fit it (or give its input size) first")
        self._place(ArrayContext(resolved.xp, resolved.device), self.parameters, self.state, self.optimizer.state)
        return self

    @property
    def dtype(self) -> Any:
        return getattr(self.context.xp, self.dtype_name) if self.built else self.dtype_name

    @property
    def backend(self) -> str | None:
        """Name of the backend the parameters live on."""
        return self.context.backend_name if self.built else None

    def __repr__(self) -> str:
        sizes = [self.n_features] + [layer.units for layer in self.layers if isinstance(layer, Dense)]
        return (
            f"Network(sizes={sizes}, loss={self.loss.name!r}, optimizer={self.optimizer!r}, "
            f"backend={self.backend!r}, dtype={self.dtype_name!r})"
        )

    # --- weights --------------------------------------------------------------------------------

    def get_weights(self) -> dict[str, dict[str, Array]]:
        """Copies of parameters, state and optimizer state (restorable with :meth:`set_weights`)."""
        xp = self.context.xp

        def copy(arrays):
            return {name: xp.asarray(value, copy=True) for name, value in arrays.items()}

        return {
            "parameters": copy(self.parameters),
            "state": copy(self.state),
            "optimizer": copy(self.optimizer.state),
            "optimizer_iterations": self.optimizer.iterations,
        }

    def set_weights(self, weights: Mapping[str, Any]) -> None:
        """Restore what :meth:`get_weights` returned (arrays are copied in, in the network's dtype).

        ``weights["parameters"]`` and ``weights["state"]`` must name exactly this network's arrays,
        with their shapes; anything else raises ``ValueError`` before any array is replaced.
        ``weights["optimizer"]`` (optional) is restored when it names the optimizer's state (with its
        shapes), and left out when it is another optimizer's (one replaced since ``get_weights``).
        (Non-finite values are taken: a bias of -inf silences a unit; :meth:`save` refuses them.)
        """
        self._check_fitted()
        groups = [("parameters", self.parameters), ("state", self.state)]
        optimizer_state = weights.get("optimizer")
        # Another optimizer's state (the optimizer was replaced since get_weights) is left out.
        same_optimizer = isinstance(optimizer_state, Mapping) and set(optimizer_state) == set(self.optimizer.state)
        if same_optimizer:
            groups.append(("optimizer", self.optimizer.state))
        dtype = getattr(self.context.xp, self.dtype_name)
        replaced = []
        for key, target in groups:
            given = weights.get(key)
            if not isinstance(given, Mapping) or set(given) != set(target):
                names = sorted(given) if isinstance(given, Mapping) else given
                raise ValueError(f"set_weights: weights[{key!r}] must name {sorted(target)}, got {names!r}")
            for name, value in given.items():
                foreign = not is_host_data(value) and array_context(value).xp is not self.context.xp
                array = self.context.asarray(to_numpy(value) if foreign else value, dtype=dtype)
                if tuple(array.shape) != tuple(target[name].shape):
                    raise ValueError(
                        f"set_weights: {key}/{name} has shape {tuple(array.shape)}, this network's has "
                        f"{tuple(target[name].shape)}"
                    )
                replaced.append((target, name, array))
        for target, name, array in replaced:  # everything checked: now replace
            target[name] = self.context.xp.asarray(array, copy=True)
        if same_optimizer or optimizer_state is None:
            self.optimizer.iterations = int(weights.get("optimizer_iterations", self.optimizer.iterations))

    # --- input handling -------------------------------------------------------------------------

    def _resolve_context(self, *values: Any) -> ArrayContext:
        """The call's namespace, changing nothing: the data's backend when the network is unbuilt,
        or untrained and given backend arrays (then :meth:`_adopt` moves it once the data is
        checked); otherwise the network's own.  Raises :class:`BackendMismatchError` for a
        trained network given arrays of another backend."""
        if self.built and all(v is None or is_host_data(v) for v in values):
            return self.context  # host data goes to the network's backend: the active one is not consulted
        context = array_context(*values)
        if not self.built:
            return context
        if context.xp is self.context.xp and context.device == self.context.device:
            return self.context
        if self.optimizer.iterations > 0 or self.epochs_trained > 0:
            raise _mismatch_error(self, context)
        return context

    def _adopt(self, context: ArrayContext) -> None:
        """Move a built, untrained network to ``context`` (from :meth:`_resolve_context`)."""
        if self.built and context is not self.context:
            self._place(context, self.parameters, self.state, None)

    def _context_for(self, *values: Any) -> ArrayContext:
        """:meth:`_resolve_context`, adopting its backend at once (for callers that check nothing)."""
        context = self._resolve_context(*values)
        self._adopt(context)
        return context

    def _prepare_X(self, X: Any, context: ArrayContext, name: str = "X") -> Array:
        """Checked ``X (n, f)`` on ``context`` in the network dtype; changes nothing."""
        X = _asarray(X, context, name)
        _validation.check_rank(X, 2, name)
        _validation.check_not_empty(X, name)
        if not context.xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{name} must hold real numbers (floats, integers or booleans), got dtype {X.dtype}")
        X = _validation.as_finite_dtype(X, getattr(context.xp, self.dtype_name), name, xp=context.xp, copy=False)
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but this network was built for {self.n_features} features"
            )
        return X

    def _prepare_targets(
        self, y: Any, n_samples: int, context: ArrayContext, names: tuple[str, str] = ("X", "y")
    ) -> Array:
        """Targets as ``(n_samples, k)`` in the network dtype, checked against the output layer."""
        xp = context.xp
        name = names[1]
        y = _asarray(y, context, name)
        if not xp.isdtype(y.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{name} must hold real numbers (floats, integers or booleans), got dtype {y.dtype}")
        if y.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D, got an array of shape {tuple(y.shape)}")
        if y.shape[0] != n_samples:
            raise ValueError(f"{names[0]} and {name} have different numbers of samples: {n_samples} and {y.shape[0]}")
        dtype = getattr(xp, self.dtype_name)
        y = _validation.as_finite_dtype(y, dtype, name, xp=xp)
        k = self.output_units
        if self.loss.name == "categorical_crossentropy" and (y.ndim == 1 or y.shape[1] == 1):
            labels = xp.reshape(y, (-1,))
            if not bool(xp.all((labels == xp.round(labels)) & (labels >= 0) & (labels < k))):
                raise ValueError(
                    f"{name} must hold integer class labels 0..{k - 1} for a softmax output of {k} units "
                    "(or one-hot rows)"
                )
            classes = xp.arange(k, dtype=dtype, device=context.device)
            return xp.astype(xp.reshape(labels, (-1, 1)) == xp.reshape(classes, (1, k)), dtype)
        if y.ndim == 1:
            y = xp.reshape(y, (-1, 1))
        if y.shape[1] != k:
            raise ValueError(f"{name} has {y.shape[1]} columns but the output layer has {k} units")
        if self.loss.name == "binary_crossentropy" and not bool(xp.all((y >= 0) & (y <= 1))):
            raise ValueError(
                f"{name} must hold 0/1 labels (or probabilities in [0, 1]) for a sigmoid output; "
                'for regression targets use loss="mse" (an identity output)'
            )
        if self.loss.name == "poisson" and not bool(xp.all(y >= 0)):
            raise ValueError(f"{name} must hold non-negative targets (counts, rates) for a Poisson loss")
        if self.loss.name == "categorical_crossentropy":
            row_sums = xp.sum(y, axis=1)  # (n_samples,)
            if not (bool(xp.all(y >= 0)) and bool(xp.all(xp.abs(row_sums - 1.0) < 1e-3))):
                raise ValueError(f"{name} rows must be one-hot (or probabilities summing to 1) for a softmax output")
        return y

    def _prepare_sample_weight(self, sample_weight: Any, n_samples: int, context: ArrayContext) -> Array:
        """Checked sample weights ``(n_samples,)`` in the network dtype on ``context`` (a number
        weights every sample alike); changes nothing."""
        xp = context.xp
        weights = _asarray(sample_weight, context, "sample_weight")
        if not xp.isdtype(weights.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"sample_weight must hold real numbers, got dtype {weights.dtype}")
        if weights.ndim == 0:
            weights = xp.broadcast_to(weights, (n_samples,))
        if weights.ndim != 1 or weights.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight must have shape ({n_samples},), one weight per sample, got {tuple(weights.shape)}"
            )
        weights = _validation.as_finite_dtype(weights, getattr(xp, self.dtype_name), "sample_weight", xp=xp)
        _validation.check_sample_weight_values(weights, xp=xp)
        return weights

    def _prepare_data(
        self, X: Any, y: Any, context: ArrayContext, names: tuple[str, str] = ("X", "y")
    ) -> tuple[Array, Array]:
        """Checked ``X (n, f)`` and ``Y (n, k)`` on ``context``; changes nothing."""
        X = self._prepare_X(X, context, names[0])
        return X, self._prepare_targets(y, X.shape[0], context, names)

    # --- forward / backward ---------------------------------------------------------------------

    def _bound_layers(self) -> _BoundStep:
        """Every layer bound to the network's namespace (:meth:`xdnn.layers.Layer.bind`), and the
        loss (:meth:`xdnn.losses.Loss.bind`), once per fit or inference call rather than per step.
        The first layer computes no gradient with respect to the data."""
        xp = self.context.xp
        # Built-in layers read their input only up to their own backward, so a Dense layer's output
        # is free to overwrite in its backward; a custom layer might keep it for later.
        private = self._layers_built_in()
        hidden = [
            layer.bind(xp, input_gradient=position > 0, output_private=True)
            if private and type(layer) is Dense
            else layer.bind(xp, input_gradient=position > 0)
            for position, layer in enumerate(self.layers[:-1])
        ]
        output = self.layers[-1].bind_output(xp, input_gradient=len(self.layers) > 1)
        return _BoundStep(hidden, output, self.loss.bind(xp))

    def _layers_built_in(self) -> bool:
        """Whether every layer is one of xdnn's own (not a subclass): such a layer keeps no array it
        hands on -- neither the input its backward has used nor the gradients it returns."""
        return all(type(layer) in (Dense, BatchNorm, Activation, Dropout) for layer in self.layers)

    def _splits_exactly(self) -> bool:
        """Whether a batch's cost and gradients are the size-weighted means of its slices' (see
        :mod:`xdnn._numpy_threads`): every layer is a built-in :class:`Dense` or :class:`Activation`
        (batch normalisation's statistics and dropout's masks are the whole batch's), and the loss
        is a built-in one (a mean over samples)."""
        built_in_loss = _losses.LOSSES.get(self.loss.name) is self.loss
        return built_in_loss and all(type(layer) in (Dense, Activation) for layer in self.layers)

    def _may_overwrite_grads(self) -> bool:
        """Whether a step's update may write over its gradients (``overwrite_grads``): they are read by
        the update alone, built-in layers keep none of them, and the optimizer's update takes the
        keyword.  Asked again after callbacks run, as one may replace the optimizer."""
        return self._layers_built_in() and _optimizers.overwrites_grads(self.optimizer)

    def _forward(self, Xt: Array, *, training: bool, random: Any, update_state: bool = True, bound=None):
        """Tutorial-layout forward: returns ``(Z_L, A_L, backwards)`` (``bound`` from :meth:`_bound_layers`)."""
        hidden, output, _ = bound if bound is not None else self._bound_layers()
        parameters = self.parameters
        state = self.state if update_state else None
        A = Xt
        backwards = []
        for forward in hidden:
            A, backward = forward(parameters, state, A, training, random)
            backwards.append(backward)
        Z, A, output_backward = output(parameters, A)
        backwards.append(output_backward)
        return Z, A, backwards

    def _penalty(self, m: int) -> Any:
        xp = self.context.xp
        total = 0.0
        for layer in self.layers:
            if isinstance(layer, Dense):
                W = self.parameters[layer.W]
                total = total + xp.sum(W * W)
        return (self.l2 / (2.0 * m)) * total

    def _cost_and_gradients(
        self,
        Xt: Array,
        Yt: Array,
        random: Any,
        update_state: bool = True,
        bound=None,
        weights: Array | None = None,
        l2: bool = True,
    ):
        """Training-mode cost (with L2 unless ``l2`` is false) and ``dJ/dparameter`` for one batch in
        tutorial layout.

        ``weights`` (``(1, m)``, sample weights) make the cost the weighted mean of the samples'
        costs and the L2 term ``l2 / (2 sum(w)) ||W||^2``, scikit-learn's ``sample_weight``: the
        tutorial's ``m`` becomes ``sum(w)`` (a batch of zero weights contributes only its L2 term, over ``m``).
        """
        xp = self.context.xp
        bound = bound if bound is not None else self._bound_layers()
        Z, A, backwards = self._forward(Xt, training=True, random=random, update_state=update_state, bound=bound)
        m = Xt.shape[1]
        if weights is None:
            cost, gradient = bound.cost_and_gradient(Z, A, Yt)
        else:
            total = xp.sum(weights)
            positive = total > 0
            # Weights whose sum overflows (each finite, e.g. 64 of 1e38 in float32) are first divided
            # by the largest; otherwise by 1.0, which changes no bit.
            shrunk = weights / xp.where(xp.isfinite(total), 1.0, xp.max(weights))
            # w / sum(w) first, then * m: tiny (subnormal) weights give their proportions, not inf
            normalized = xp.where(positive, shrunk / xp.where(positive, xp.sum(shrunk), 1.0), 0.0) * m
            cost, gradient = self.loss.cost_and_gradient(Z, A, Yt, xp=xp, weights=normalized)
            m = xp.where(positive, total, float(m))  # the L2 term's sample count
        grads: dict[str, Array] = {}
        for backward in reversed(backwards):
            gradient, layer_grads = backward(gradient)
            grads.update(layer_grads)
        return (self._with_l2(cost, grads, m) if l2 else cost), A, grads

    def _with_l2(self, cost: Array, grads: dict[str, Array], m: Any) -> Array:
        """The cost plus the L2 term ``l2 / (2 m) sum ||W||^2``, and its gradient ``(l2 / m) W`` added
        to each ``dW`` in ``grads`` (nothing without ``l2``)."""
        if not self.l2:
            return cost
        for layer in self.layers:
            if isinstance(layer, Dense):
                grads["d" + layer.W] = grads["d" + layer.W] + (self.l2 / m) * self.parameters[layer.W]
        return cost + self._penalty(m)

    def _step_gradients(self, Xt: Array, Yt: Array, weights: Array | None):
        """:meth:`_cost_and_gradients` of one training step of :meth:`fit`; on NumPy a large batch is
        split across threads by samples where it may be (:mod:`xdnn._numpy_threads`)."""
        if self._split_steps is not None and weights is None:
            bound, random = self._bound, self._random

            def unpenalised(X_slice, Y_slice):
                # (l2 = 0 for the slices: the L2 term is the whole batch's, added once below)
                return self._cost_and_gradients(X_slice, Y_slice, random, bound=bound, l2=False)

            split = self._split_steps.run(unpenalised, Xt, Yt)
            if split is not None:
                cost, A, grads = split
                return self._with_l2(cost, grads, Xt.shape[1]), A, grads
        return self._cost_and_gradients(Xt, Yt, self._random, bound=self._bound, weights=weights)

    def _correct_count(self, A: Array, Yt: Array) -> Any:
        """Number of correct predictions in a batch (multi-label: fraction of correct entries per sample)."""
        xp = self.context.xp
        if self.loss.name == "categorical_crossentropy":
            return xp.sum(xp.astype(xp.argmax(A, axis=0) == xp.argmax(Yt, axis=0), A.dtype))
        hits = xp.astype((A > 0.5) == (Yt > 0.5), A.dtype)
        return xp.sum(hits) / A.shape[0]

    # --- training ------------------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 100,
        batch_size: int | None = 32,
        *,
        validation_data: tuple[Any, Any] | None = None,
        callbacks: Iterable[Any] | None = None,
        verbose: int | bool = 1,
        print_cost: bool = False,
        print_every: int = 100,
        shuffle: bool = True,
        cuda_graph: bool = False,
        sample_weight: Any = None,
    ) -> History:
        """Train for ``epochs`` passes over ``(X, y)`` in mini-batches of ``batch_size``.

        ``X (n_samples, n_features)``; ``y`` is ``(n_samples,)`` labels (0/1 for sigmoid,
        0..k-1 for softmax), one-hot / multi-label ``(n_samples, k)``, or regression
        targets.  ``batch_size=None`` trains full-batch.  The batch order comes from a
        seeded host permutation each epoch, the same on every backend.  Every input is
        checked before anything changes.  If the cost becomes NaN/inf, training stops and
        rolls back to its last checkpoint -- parameters whose cost read finite, taken at an
        epoch start about every 16 steps (every epoch with 16 or more batches) -- the history
        forgets the epochs undone, a :class:`DivergenceWarning` names the epoch and how far
        it rolled back, and ``diverged_epoch`` records it.

        ``sample_weight`` (``(n_samples,)``, finite, non-negative, not all zero) weights each sample's
        cost and gradient, as scikit-learn's ``sample_weight``: each batch's cost is the weighted mean
        of its samples' costs (the validation loss and metrics stay unweighted).

        ``cuda_graph=True`` (CuPy, full batch, networks of Dense and Activation layers) records the
        training step once as a CUDA graph and launches it each epoch -- one launch instead of a
        few dozen kernels, the same sums (its products added in another order, about one rounding
        apart; see :mod:`xdnn._cuda_graph`); elsewhere it raises a
        ``ValueError`` that says why.

        Returns the :class:`~xdnn.callbacks.History` (also ``self.history``).
        """
        epochs = _validation.check_count(epochs, "epochs", minimum=0)
        if batch_size is not None:
            batch_size = _validation.check_count(batch_size, "batch_size (or None for full batch)", minimum=1)
        if validation_data is not None and (
            not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
        ):
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        extra = tuple(validation_data) if validation_data is not None else ()
        context = self._resolve_context(X, y, *extra, sample_weight)
        X, Y = self._prepare_data(X, y, context)
        weights = None if sample_weight is None else self._prepare_sample_weight(sample_weight, X.shape[0], context)
        validation = None
        if validation_data is not None:
            X_val, Y_val = self._prepare_data(validation_data[0], validation_data[1], context, ("X_val", "y_val"))
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
            validation = (X_val, Y_val)
        callback_list = list(callbacks or [])
        log_names = ["loss", *self.metrics]
        if validation is not None:
            log_names += [f"val_{name}" for name in log_names]
        for callback in callback_list:
            _call(callback, "check_logs", log_names)
        m = X.shape[0]
        batch = m if batch_size is None else min(int(batch_size), m)
        if cuda_graph:
            reason = _cuda_graph.refusal(self, context, batch, m, weighted=weights is not None)
            if reason is not None:
                raise ValueError(reason)
        if not self.built:
            self.build(X.shape[1], context)
        self._adopt(context)
        if not self.optimizer.has_state_for(self.parameters):  # one set since the last fit (Keras' compile)
            self.optimizer.initialize(self.parameters, xp=self.context.xp)
        if print_cost:
            callback_list.insert(0, PrintCost(print_every, epochs=epochs))
        if verbose:
            callback_list.insert(0, ProgressBar(epochs))
        history = History(log_names)
        self.history = history
        self.stop_training = False
        self.diverged_epoch = None
        for callback in callback_list:
            _call(callback, "on_train_begin", self)
        # On the CPU a cost is read before each update, so a batch whose cost is NaN/inf is never
        # applied, and training rolls back to the last checkpoint (taken at an epoch's first finite
        # cost).  On a GPU reading waits for the device: with nothing to report each epoch the costs
        # are read every ACCELERATOR_SYNC_EVERY epochs, and a checkpoint taken at each read (of
        # finite parameters) is restored if training diverged in between.  With no callback and no
        # validation data the history is written in blocks of epochs (CPU_REPORT_EVERY on the CPU).
        on_accelerator = self.context.backend_name == "cupy" or "cuda" in str(self.context.device)
        per_epoch = bool(callback_list) or validation is not None
        sync_every = 1 if per_epoch else (ACCELERATOR_SYNC_EVERY if on_accelerator else CPU_REPORT_EVERY)
        checkpoint = Checkpoint(self)
        self._epochs_before_fit = self.epochs_trained
        # The full batch in tutorial layout, made once per fit: on NumPy a large one is the view
        # X.T (samples-major, see xdnn._numpy_fast); otherwise row-major (n_features, m) and (k, m)
        # copies, as a product with a contiguous operand dispatches faster than with a transposed view
        # (on NumPy transposed a block of rows at a time, _numpy_fast.feature_major_copy).
        xp = self.context.xp
        if _numpy_fast.ops_for(xp):  # each step's freed arrays kept for the next (see xdnn._glibc_heap)
            _glibc_heap.keep_freed_blocks()
        self._weighted = weights is not None
        if self._weighted:  # the weights ride along as the targets' last column: batched and shuffled with them
            Y = xp.concat([Y, xp.reshape(weights, (-1, 1))], axis=1)
        self._full_batch = None
        if batch >= m:
            if _numpy_fast.ops_for(xp):
                self._full_batch = _numpy_fast.full_batch(X, Y)
            else:
                self._full_batch = tuple(xp.reshape(A.T, (A.shape[1], A.shape[0]), copy=True) for A in (X, Y))
        self._bound = self._bound_layers()  # the layers bound to the namespace once for this fit
        self._overwrite_grads = self._may_overwrite_grads()
        self._captured_step = _cuda_graph.CapturedStep(self, *self._full_batch, self._bound) if cuda_graph else None
        self._permutations = _PermutationFeed(
            self._shuffle_generator, m, self.context, epochs_per_transfer=epochs if on_accelerator else 1
        )
        checkpoint_every = max(1, CPU_CHECKPOINT_STEPS // -(-m // batch))  # in epochs
        pending: list[tuple[int, Any, Any]] = []  # epochs trained, costs not yet in the history
        self._split_steps = None
        if _numpy_fast.ops_for(xp) and not self._weighted and not cuda_graph and self._splits_exactly():
            dense = [layer for layer in self.layers if isinstance(layer, Dense)]
            multiply_adds = sum(layer.n_inputs * layer.units for layer in dense) / max(len(dense), 1)
            self._split_steps = _numpy_threads.SplitSteps.for_batches(min(batch, m), multiply_adds)
        try:
            self._epoch_loop(
                epochs, X, Y, batch, shuffle, history, callback_list, validation, checkpoint, on_accelerator,
                sync_every, checkpoint_every, m, pending,
            )  # fmt: skip
        except BaseException:  # an exception or Ctrl-C: the finished epochs still go into the history
            if pending and not on_accelerator:  # (their costs are already read on the CPU)
                self._report(pending, m, history, [], None, None)
            raise
        finally:
            if self._split_steps is not None:
                self._split_steps.close()
            self._full_batch = self._permutations = self._bound = self._captured_step = self._split_steps = None
            self._weighted = self._overwrite_grads = False
        # No cost is read after the last update: one that made a parameter NaN or inf is undone too
        # (not parameters that were already so, e.g. a dead unit's bias set to -inf by the user).
        if epochs and self.diverged_epoch is None and not self.parameters_finite() and checkpoint.finite():
            last = self.epochs_trained - 1 - self._epochs_before_fit
            self._roll_back(
                checkpoint, history, last, "its last update made a parameter or running statistic NaN or inf"
            )
        for callback in callback_list:
            _call(callback, "on_train_end", self)
        return history

    def _epoch_loop(
        self, epochs, X, Y, batch, shuffle, history, callback_list, validation, checkpoint, on_accelerator,
        sync_every, checkpoint_every, m, pending,
    ):  # fmt: skip
        """The epochs of :meth:`fit`; ``pending`` holds the trained epochs not yet reported."""
        for epoch in range(epochs):
            learning_rate = self.learning_rate(self.epochs_trained)
            capture = not on_accelerator and epoch % checkpoint_every == 0
            loss_sum, correct, diverged = self._train_epoch(
                X, Y, batch, shuffle, learning_rate, checkpoint if capture else None, check=not on_accelerator
            )
            if diverged:  # (CPU) the epochs before it first go into the history, as they would have
                self._report(pending, m, history, callback_list, validation, None)
                cause = loss_sum if isinstance(loss_sum, str) else f"the cost became {loss_sum}"
                self._roll_back(checkpoint, history, epoch, cause)
                break
            self.epochs_trained += 1
            pending.append((epoch, loss_sum, correct))
            if len(pending) < sync_every and epoch + 1 < epochs:
                continue
            if self._report(pending, m, history, callback_list, validation, checkpoint if on_accelerator else None):
                break

    def _roll_back(self, checkpoint: Checkpoint, history: History, epoch: int, cause: str) -> None:
        """Training diverged at ``epoch`` (``cause`` says how): restore the checkpoint (parameters
        whose cost read finite), drop the history of the epochs undone, record ``diverged_epoch`` and warn."""
        undone = self.epochs_trained - checkpoint.epochs_trained
        checkpoint.restore()
        history.truncate(checkpoint.epochs_trained - self._epochs_before_fit)
        self.diverged_epoch = epoch
        warnings.warn(
            f"training diverged at epoch {epoch} of this fit (0-based, as in the history): {cause}; stopped and "
            f"restored the parameters after {checkpoint.epochs_trained} epochs of training, the last checkpoint "
            f"whose cost was finite ({undone} completed epochs undone). Try a smaller learning rate.",
            DivergenceWarning,
            stacklevel=3,
        )

    def _report(self, pending, m, history, callback_list, validation, checkpoint) -> bool:
        """Read the pending epochs' costs, record them, run callbacks; True when training must stop.

        Each epoch leaves ``pending`` once it is recorded, so that what an exception leaves there is
        exactly what the history still lacks."""
        while pending:
            epoch, loss_sum, correct = pending[0]
            loss = float(loss_sum) / m
            if not math.isfinite(loss):  # only reachable on an accelerator (see fit)
                pending.clear()  # this epoch and those after it are undone
                self._roll_back(checkpoint, history, epoch, f"the cost became {loss}")
                return True
            logs = {"loss": loss}
            if "accuracy" in self.metrics:
                logs["accuracy"] = float(correct) / m
            if validation is not None:
                logs.update({f"val_{name}": value for name, value in self._evaluate_prepared(*validation).items()})
            history.record(epoch, logs)
            pending.pop(0)
            for callback in callback_list:
                _call(callback, "on_epoch_end", self, epoch, logs)
            if callback_list:  # (a callback may have replaced the optimizer)
                self._overwrite_grads = self._may_overwrite_grads()
            if self.stop_training:
                return True
        if checkpoint is not None and self.parameters_finite():  # not after an update that overflowed
            checkpoint.capture()
        return False

    def parameters_finite(self) -> bool:
        """True when no parameter or running statistic holds NaN or inf (one device read)."""
        return all_finite([*self.parameters.values(), *self.state.values()], self.context.xp)

    def _train_epoch(
        self,
        X: Array,
        Y: Array,
        batch: int,
        shuffle: bool,
        learning_rate: float,
        checkpoint: Checkpoint | None,
        *,
        check: bool,
    ):
        """One pass over the data: ``(sum of batch costs x sizes, correct count, diverged)``.

        With ``check`` each batch's cost is read before its update and a non-finite cost -- or a
        running statistic (batch norm's) that overflowed, checked at the epoch's end -- stops the
        epoch (``diverged=True``, first value the cost, whose batch is left unapplied, or for a
        statistic the cause);
        the parameters are captured into ``checkpoint`` (if given) when the epoch's first
        cost reads finite.  Without ``check``, costs stay on the device (accelerators).
        """
        xp = self.context.xp
        m = X.shape[0]
        loss_sum = 0.0
        correct = 0.0
        track_accuracy = "accuracy" in self.metrics
        if batch >= m:
            batches = (self._full_batch,)
        elif shuffle:
            indices = self._permutations.next()
            spans = [(start, min(start + batch, m)) for start in range(0, m, batch)]
            batches = (
                (xp.take(X, indices[start:stop], axis=0).T, xp.take(Y, indices[start:stop], axis=0).T)
                for start, stop in spans
            )
        else:
            spans = [(start, min(start + batch, m)) for start in range(0, m, batch)]
            batches = ((X[start:stop, ...].T, Y[start:stop, ...].T) for start, stop in spans)
        for position, (Xt, Yt) in enumerate(batches):
            weights = None
            if self._weighted:  # the sample weights travel as the targets' last row (see fit)
                Yt, weights = Yt[:-1, ...], Yt[-1:, ...]
            if self._captured_step is not None:  # forward, backward and update in one graph launch
                cost, A = self._captured_step.run(learning_rate)
                grads = None
            else:
                cost, A, grads = self._step_gradients(Xt, Yt, weights)
            size = Xt.shape[1]
            if check:
                value = float(cost)
                if not math.isfinite(value):
                    return value, correct, True
                # (this batch's forward has updated the running statistics: a checkpoint keeps only finite ones)
                if (
                    position == 0
                    and checkpoint is not None
                    and (not self.state or all_finite(self.state.values(), xp))
                ):
                    checkpoint.capture()
                loss_sum += value * size
            else:
                loss_sum = loss_sum + cost * size
            if track_accuracy:
                correct = correct + self._correct_count(A, Yt)
            if grads is None:
                continue
            if self._overwrite_grads:
                self.optimizer.update(self.parameters, grads, learning_rate, xp=xp, overwrite_grads=True)
            else:
                self.optimizer.update(self.parameters, grads, learning_rate, xp=xp)
        # Running statistics that overflowed (batch norm of finite inputs whose squares do not fit the
        # dtype) while every cost read finite: once an epoch, the checkpoint it goes back to is its start.
        if check and self.state and not all_finite(self.state.values(), xp):
            return "a batch-normalisation running statistic became NaN or inf", correct, True
        return loss_sum, correct, False

    # --- inference ------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.built:
            raise ValueError("this network has not been fitted yet: call fit(X, y) first")

    def _output(self, X: Any) -> Array:
        """``A_L`` in tutorial layout ``(k, n_samples)`` for raw input ``X``."""
        self._check_fitted()
        context = self._resolve_context(X)
        X = self._prepare_X(X, context)
        self._adopt(context)
        _, A, _ = self._forward(X.T, training=False, random=None)
        return A

    def predict_proba(self, X: Any) -> Array:
        """Output activations ``(n_samples, k)``: probabilities for sigmoid/softmax outputs."""
        return self._output(X).T

    def predict(self, X: Any) -> Array:
        """Class labels ``(n_samples,)`` (0/1 or 0..k-1; multi-label: ``(n_samples, k)`` of 0/1),
        or regression values ``(n_samples,)`` / ``(n_samples, k)``; on the network's backend."""
        A = self._output(X)
        xp = self.context.xp
        if self.loss.name == "categorical_crossentropy":
            return xp.argmax(A, axis=0)
        if self.loss.name == "binary_crossentropy":
            labels = xp.astype(A > 0.5, xp.int64)
            return labels[0, ...] if A.shape[0] == 1 else labels.T
        return A[0, ...] if A.shape[0] == 1 else A.T

    def _evaluate_prepared(self, X: Array, Y: Array) -> dict[str, float]:
        xp = self.context.xp
        Z, A, _ = self._forward(X.T, training=False, random=None, bound=self._bound)
        Yt = Y.T
        cost = self.loss.cost(Z, A, Yt, xp=xp)
        if self.l2:
            cost = cost + self._penalty(X.shape[0])
        results = {"loss": float(cost)}
        if "accuracy" in self.metrics:
            results["accuracy"] = float(self._correct_count(A, Yt)) / X.shape[0]
        return results

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """Inference-mode ``{"loss": ..., "accuracy": ...}`` on ``(X, y)`` (loss includes the L2 term)."""
        self._check_fitted()
        context = self._resolve_context(X, y)
        X, Y = self._prepare_data(X, y, context)
        self._adopt(context)
        return self._evaluate_prepared(X, Y)

    # --- persistence and checks -----------------------------------------------------------------

    def __reduce__(self):
        """Pickling (``pickle``, ``joblib``, ``copy.deepcopy``) goes through the ``.npz`` model file,
        carried as bytes: a built network comes back on its backend and device (NumPy where that
        backend is missing), exactly as :func:`xdnn.load` would restore it."""
        if not self.built:
            return super().__reduce__()
        from xdnn.serialization import network_from_state, network_state

        return network_from_state, (network_state(self),)

    def save(self, path: Any) -> None:
        """Write a single ``.npz`` (parameters, optimizer state, architecture as JSON) atomically."""
        from xdnn.serialization import save_network

        save_network(self, path)

    def gradient_check(self, X: Any, y: Any, *, epsilon: float = 1e-7) -> float:
        """Relative difference between backprop and two-sided finite differences (see :func:`xdnn.gradient_check`)."""
        from xdnn.gradient_check import network_gradient_check

        return network_gradient_check(self, X, y, epsilon=epsilon)


def _mismatch_error(network: Network, context: ArrayContext) -> Exception:
    return BackendMismatchError(
        f"this network lives on backend {network.backend!r} (device {network.context.device}) but the data is on "
        f"{context.backend_name!r} (device {context.device}); move the data with xdnn.to_numpy(...) "
        f"or the network with network.to({context.backend_name!r})"
    )


def _asarray(data: Any, context: ArrayContext, name: str) -> Array:
    """``data`` on ``context``; a non-numeric host array is refused with its argument's name."""
    try:
        return context.asarray(data)
    except TypeError as error:
        raise TypeError(f"{name}: {error}") from None
    except ValueError as error:  # e.g. ragged rows: NumPy's "inhomogeneous shape" message
        raise ValueError(f"{name} is not a rectangular array of numbers: {error}") from None


def _call(callback: Any, hook: str, *arguments: Any) -> None:
    method = getattr(callback, hook, None)
    if method is not None:
        method(*arguments)
