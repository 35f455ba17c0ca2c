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
from typing import Any, Iterable, Mapping, Sequence

from xdnn import _validation
from xdnn import activations as _activations
from xdnn import backprop as _backprop
from xdnn import dask as _dask
from xdnn import executors as _executors
from xdnn import inference as _inference
from xdnn import inputs as _inputs
from xdnn import labels as _labels
from xdnn import losses as _losses
from xdnn import optimizers as _optimizers
from xdnn import regularization as _regularization
from xdnn import sparse_input as _sparse_input
from xdnn import training as _training
from xdnn import training_data as _training_data
from xdnn import weights as _weights
from xdnn._backend import resolve_backend
from xdnn._namespace import (
    ArrayContext,
    array_context,
    floating_dtype_name,
    is_host_data,
    to_host,
)
from xdnn._random import DeviceRandom, HostRandom, host_generator
from xdnn.callbacks import History
from xdnn.checkpoint import all_finite
from xdnn.initializers import HostDraws
from xdnn.interrupts import DeferredInterrupt
from xdnn.layers import Activation, BatchNorm, Dense, Dropout, Layer, build_layers
from xdnn.usage import UsageGuard, exclusive_use, shared_use

Array = Any

_LOSS_OF_OUTPUT = {
    "sigmoid": "binary_crossentropy",
    "softmax": "categorical_crossentropy",
    "identity": "mse",
    "exp": "poisson",
}
_CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy")
_RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu")


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

    Notes
    -----
    ``metadata`` is a free JSON-serialisable dict saved with the model (the command
    line keeps class names, feature names and scaling there).

    Threads and interrupts (:mod:`xdnn.usage`, :mod:`xdnn.interrupts`): ``predict``,
    ``predict_proba``, ``evaluate``, ``save`` and ``get_weights`` may run from any number of
    threads at once; ``fit``, ``set_weights`` and ``gradient_check`` change the network, and while a
    ``fit`` runs any other call from another thread, or a second ``fit`` from its callbacks, raises
    :class:`xdnn.usage.NetworkBusyError` (its callbacks may read and ``set_weights``).  Each training
    step is applied whole or not at all: Ctrl-C stops a fit between two steps, and a step that raises
    (a loss or optimizer rule of one's own) changes nothing; the history keeps the epochs completed.

    >>> import random, xdnn
    >>> net = xdnn.Network([2, 8, 1], activation="tanh", seed=0)
    >>> rng = random.Random(0); X = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(64)]
    >>> y = [int(row[0] > 0) for row in X]
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
            layers = [int(item) for item in layers]  # integer scalars of array libraries too
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
        self.classes_: Any = None  # the class labels of text targets, sorted (xdnn.labels); None for numbers
        self.feature_names_in_: Any = None  # a data frame's column names, from the first fit given one
        self.history = History()
        self.stop_training = False
        self.epochs_trained = 0
        self.diverged_epoch: int | None = None
        self.n_features: int | None = None
        self.context: ArrayContext | None = None
        self.parameters: dict[str, Array] = {}
        self.state: dict[str, Array] = {}
        self.shuffle_generator = host_generator(self.seed, 1)  # each epoch's permutation, on the host
        self.dropout_random: Any = None  # dropout's masks (see xdnn._random), made with the parameters
        self.usage_guard = UsageGuard()  # one fit at a time; reads from other threads refused during it
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
        build_layers(self.layers, n_features)
        draws = HostDraws(self.seed)
        host_parameters: dict[str, Any] = {}
        host_state: dict[str, Any] = {}
        for layer in self.layers:
            host_parameters.update(layer.host_parameters(draws, self.initialization))
            host_state.update(layer.host_state(draws))
        self.n_features = int(n_features)
        self.place(context, host_parameters, host_state, optimizer_state=None)

    def place(
        self, context: ArrayContext, parameters: Mapping, state: Mapping, optimizer_state: Mapping | None
    ) -> None:
        """Move host (or foreign) arrays onto ``context`` in this network's dtype."""
        dtype = getattr(context.xp, self.dtype_name)

        def move(value):
            return context.asarray(to_host(value), dtype=dtype)

        self.context = context
        self.parameters = {name: move(value) for name, value in parameters.items()}
        self.state = {name: move(value) for name, value in state.items()}
        if optimizer_state is None:
            self.optimizer.initialize(self.parameters, xp=context.xp)
        else:
            self.optimizer.state = {name: move(value) for name, value in optimizer_state.items()}
        self.dropout_random = (DeviceRandom if self.dropout_masks == "device" else HostRandom)(context, self.seed)

    def to(self, backend: str) -> "Network":
        """Move parameters, state and optimizer state to ``backend`` (see :data:`xdnn.BACKEND_NAMES`); returns self."""
        resolved = resolve_backend(backend)
        if not self.built:
            raise ValueError("the network has no parameters yet: fit it (or give its input size) first")
        self.place(ArrayContext(resolved.xp, resolved.device), self.parameters, self.state, self.optimizer.state)
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

    @shared_use("get_weights")
    def get_weights(self) -> dict[str, dict[str, Array]]:
        """Copies of parameters, state and optimizer state (restorable with :meth:`set_weights`)."""
        return _weights.copied_weights(self)

    @exclusive_use("set_weights")
    def set_weights(self, weights: Mapping[str, Any]) -> None:
        """Restore what :meth:`get_weights` returned (arrays are copied in, in the network's dtype).

        ``weights["parameters"]`` and ``weights["state"]`` must name exactly this network's arrays,
        with their shapes; anything else raises ``ValueError`` before any array is replaced.
        ``weights["optimizer"]`` (optional) is restored when it names the optimizer's state (with its
        shapes), and left out when it is another optimizer's (one replaced since ``get_weights``).
        (Non-finite values are taken: a bias of -inf silences a unit; :meth:`save` refuses them.)
        """
        _inference.check_fitted(self)
        _weights.restore_weights(self, weights)

    # --- input handling -------------------------------------------------------------------------

    def resolve_context(self, *values: Any) -> ArrayContext:
        """The call's namespace, changing nothing: the data's backend when the network is unbuilt,
        or untrained and given backend arrays (then :meth:`adopt` moves it once the data is
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
            raise _inputs.mismatch_error(self, context)
        return context

    def adopt(self, context: ArrayContext) -> None:
        """Move a built, untrained network to ``context`` (from :meth:`resolve_context`)."""
        if self.built and context is not self.context:
            self.place(context, self.parameters, self.state, None)

    def prepare_data(self, X: Any, y: Any, context: ArrayContext) -> tuple[Array, Array]:
        """Checked ``X (n, f)`` and ``Y (n, k)`` on ``context`` (:mod:`xdnn.inputs`); changes nothing."""
        return _inputs.prepare_data(self, X, y, context)

    def context_for(self, *values: Any) -> ArrayContext:
        """:meth:`resolve_context`, adopting its backend at once (for callers that check nothing)."""
        context = self.resolve_context(*values)
        self.adopt(context)
        return context

    # --- forward / backward (the step's internal interface, used by xdnn.training and gradient checks) ---

    def bind_layers(self):
        """Every layer and the loss bound to the network's namespace (:func:`xdnn.backprop.bind_layers`),
        once per fit or inference call rather than per step."""
        return _backprop.bind_layers(self.layers, self.loss, self.context.xp, outputs_private=self._layers_built_in())

    def _layers_built_in(self) -> bool:
        """Whether every layer is one of xdnn's own (not a subclass): such a layer keeps no array it
        hands on -- neither the input its backward has used nor the gradients it returns."""
        return all(type(layer) in (Dense, BatchNorm, Activation, Dropout) for layer in self.layers)

    def splits_exactly(self) -> bool:
        """Whether a batch's cost and gradients are the size-weighted means of its slices': every
        layer is a built-in :class:`Dense` or :class:`Activation` (batch normalisation's statistics
        and dropout's masks are the whole batch's), and the loss is a built-in one (a mean over samples)."""
        built_in_loss = _losses.LOSSES.get(self.loss.name) is self.loss
        return built_in_loss and all(type(layer) in (Dense, Activation) for layer in self.layers)

    def may_overwrite_grads(self) -> bool:
        """Whether a step's update may write over its gradients (``overwrite_grads``): they are read by
        the update alone, built-in layers keep none of them, and the optimizer's update takes the keyword."""
        return self._layers_built_in() and _optimizers.overwrites_grads(self.optimizer)

    def forward(self, Xt: Array, *, training: bool, random: Any, update_state: bool = True, bound=None):
        """Tutorial-layout forward: ``(Z_L, A_L, backwards)`` (``bound`` from :meth:`bind_layers`)."""
        bound = bound if bound is not None else self.bind_layers()
        return _backprop.forward_pass(
            bound, self.parameters, self.state if update_state else None, Xt, training, random
        )

    def cost_and_gradients(
        self,
        Xt: Array,
        Yt: Array,
        random: Any,
        update_state: bool = True,
        bound=None,
        weights: Array | None = None,
        l2: bool = True,
    ):
        """Training-mode ``(cost, A, grads)`` of one batch in tutorial layout, the cost with its L2 term
        unless ``l2`` is false.

        ``weights`` (``(1, m)``, sample weights) make the cost the weighted mean of the samples'
        costs and the L2 term ``l2 / (2 sum(w)) ||W||^2``, scikit-learn's ``sample_weight``: the
        tutorial's ``m`` becomes ``sum(w)`` (a batch of zero weights contributes only its L2 term, over ``m``).
        """
        bound = bound if bound is not None else self.bind_layers()
        state = self.state if update_state else None
        m = Xt.shape[1]
        if weights is None:
            cost, A, grads = _backprop.cost_and_gradients(bound, self.parameters, state, Xt, Yt, random)
        else:
            xp = self.context.xp
            Z, A, backwards = _backprop.forward_pass(bound, self.parameters, state, Xt, True, random)
            total = xp.sum(weights)
            positive = total > 0
            # Weights whose sum overflows (each finite, e.g. 64 of 1e38 in float32) are first divided
            # by the largest, in two halves (1 / 1e38 alone is subnormal, which XLA flushes to zero);
            # otherwise by 1.0, which changes no bit.
            root = xp.sqrt(xp.where(xp.isfinite(total), 1.0, xp.max(weights)))
            shrunk = (weights / root) / root
            # w / sum(w) first, then * m: tiny (subnormal) weights give their proportions, not inf
            normalized = xp.where(positive, shrunk / xp.where(positive, xp.sum(shrunk), 1.0), 0.0) * m
            cost, dZ = self.loss.cost_and_gradient(Z, A, Yt, xp=xp, weights=normalized)
            grads = _backprop.backward_pass(backwards, dZ)
            m = xp.where(positive, total, float(m))  # the L2 term's sample count
        return (self.with_l2(cost, grads, m) if l2 else cost), A, grads

    def with_l2(self, cost: Array, grads: dict[str, Array], m: Any) -> Array:
        """The cost plus the L2 term (:mod:`xdnn.regularization`), its gradient added to each ``dW``
        in ``grads`` (nothing without ``l2``)."""
        if not self.l2:
            return cost
        weights = [layer.W for layer in self.layers if isinstance(layer, Dense)]
        for name in weights:
            if "d" + name in grads:
                grads["d" + name] = grads["d" + name] + _regularization.l2_gradient(self.parameters[name], self.l2, m)
        penalty = _regularization.l2_penalty(
            [self.parameters[name] for name in weights], self.l2, m, xp=self.context.xp
        )
        return cost + penalty

    def correct_count(self, A: Array, Yt: Array) -> Any:
        """Number of correct predictions in a batch (multi-label: fraction of correct entries per sample)."""
        xp = self.context.xp
        if self.loss.name == "categorical_crossentropy":
            return xp.sum(xp.astype(xp.argmax(A, axis=0) == xp.argmax(Yt, axis=0), A.dtype))
        hits = xp.astype((A > 0.5) == (Yt > 0.5), A.dtype)
        return xp.sum(hits) / A.shape[0]

    def log_names(self, validation: bool) -> list[str]:
        """The history's columns: ``loss``, the metrics, and their ``val_`` twins with validation data."""
        names = ["loss", *self.metrics]
        return names + [f"val_{name}" for name in names] if validation else names

    # --- training ------------------------------------------------------------------------------

    @exclusive_use("fit")
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
        client: Any = None,
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

        A sparse ``X`` (``scipy.sparse`` on NumPy or CuPy, ``cupyx.scipy.sparse`` on CuPy; CSR, other
        formats converted once), here and in ``validation_data``, ``predict`` and ``evaluate``, is never
        densified: the first layer's products read its stored values only, and the results are the dense
        fit's (:mod:`xdnn.sparse_input`).  Other backends refuse it, saying what to do instead.

        ``cuda_graph=True`` (CuPy, full batch, networks of Dense and Activation layers) records the
        training step once as a CUDA graph and launches it each epoch -- one launch instead of a
        few dozen kernels, the same sums (its products added in another order, about one rounding
        apart; see :mod:`xdnn.backends.cuda_graph`); elsewhere it raises a
        ``ValueError`` that says why.

        Dask input (``X`` and ``y`` as ``dask.array.Array``, or dask data frames; ``sample_weight``
        too): without a ``distributed`` client the fit streams the data (:mod:`xdnn.dask.streaming`):
        row chunks are computed and moved to the backend one at a time, the next one computed while
        the current one trains, so peak memory is about two chunks, not the data set.  Every chunk is
        checked first, in a pass that reads the data once more.  With ``shuffle``, an epoch visits the
        chunks in a seeded order and each chunk's rows in a seeded permutation (both drawn from the
        network's seed), batches running across chunk ends; ``shuffle=False`` gives exactly the batches,
        and so the results, of the in-memory fit.  A dask ``validation_data`` (with any ``X``) is
        computed into memory once.  With a client (``client=``, or ``distributed.default_client()``)
        training is data parallel on the cluster (:mod:`xdnn.dask.data_parallel`): the result equals the
        in-process fit of the same data; a lost worker is recovered from, or ends the fit with
        ``xdnn.dask.WorkerLostError`` at the last completed step.

        Returns the :class:`~xdnn.callbacks.History` (also ``self.history``).
        """
        epochs = _validation.check_count(epochs, "epochs", minimum=0)
        if batch_size is not None:
            batch_size = _validation.check_count(batch_size, "batch_size (or None for full batch)", minimum=1)
        if validation_data is not None and (
            not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
        ):
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        if validation_data is not None:  # a dask validation set is computed into memory, once
            validation_data = tuple(
                value.compute() if _dask.is_dask_collection(value) else value for value in validation_data
            )
        names = self.checked_feature_names(X)
        if validation_data is not None:  # (against X's names when the network has none yet)
            self.checked_feature_names(validation_data[0], "X_val", names)
        if any(_dask.is_dask_collection(value) for value in (X, y, sample_weight)):
            return _dask.fit_on_dask(
                self, X, y, names=names, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                callbacks=callbacks, verbose=verbose, print_cost=print_cost, print_every=print_every,
                shuffle=shuffle, cuda_graph=cuda_graph, sample_weight=sample_weight, client=client,
            )  # fmt: skip
        if client is not None:
            raise ValueError("client= applies to Dask arrays (data-parallel training); X and y here are in memory")
        y, classes = _labels.encoded_targets(self, y)
        if validation_data is not None:
            X_val, y_val = validation_data
            validation_data = (X_val, _labels.encoded_targets(self, y_val, "y_val", classes)[0])
        extra = tuple(validation_data) if validation_data is not None else ()
        context = self.resolve_context(X, y, *extra, sample_weight)
        X, Y = _inputs.prepare_data(self, X, y, context)
        weights = None
        if sample_weight is not None:
            weights = _inputs.prepare_sample_weight(self, sample_weight, X.shape[0], context)
        validation = self.prepare_validation(validation_data, context, X.shape[1])
        callback_list = self.checked_callbacks(callbacks, validation is not None)
        m = X.shape[0]
        batch = m if batch_size is None else min(int(batch_size), m)
        n_features, source = X.shape[1], None
        if _sparse_input.is_sparse(X):  # batches gathered from the rows of a sparse X, never densified
            source = _sparse_input.SparseBatches(
                self, X, Y, weights, context, batch=batch, epochs=epochs, cuda_graph=cuda_graph
            )
            X, Y, weights = None, None, None
        graph_step = None  # the factory of a step recorded as a CUDA graph (cuda_graph=True)
        if cuda_graph:
            reason, graph_step = _executors.resolve(_training_data.graph_step_factory, context.xp)(
                self, batch, m, weights is not None, xp=context.xp
            )
            if reason is not None:
                raise ValueError(reason)
        with _labels.names_adopted(self, classes, names):
            return self.train(
                context, n_features, X, Y, weights, epochs=epochs, batch=batch, shuffle=shuffle, validation=validation,
                callbacks=callback_list, verbose=verbose, print_cost=print_cost, print_every=print_every,
                graph_step=graph_step, source=source,
            )  # fmt: skip

    def prepare_validation(self, validation_data: Any, context: ArrayContext, n_features: int) -> Any:
        """``validation_data`` (a pair, or ``None``) checked and on ``context`` as ``(X_val, Y_val)``, with
        ``n_features`` columns; changes nothing."""
        if validation_data is None:
            return None
        validation = _inputs.prepare_data(self, *validation_data, context, ("X_val", "y_val"))
        if validation[0].shape[1] != n_features:
            raise ValueError(f"X_val has {validation[0].shape[1]} features but X has {n_features}")
        return validation

    def checked_callbacks(self, callbacks: Iterable[Any] | None, validation: bool) -> list:
        """``callbacks`` as a list, each asked (``check_logs``) whether the history's columns -- with
        ``val_`` ones when there is ``validation`` data -- hold what it reads."""
        callback_list = list(callbacks or [])
        for callback in callback_list:
            _training.call_hook(callback, "check_logs", self.log_names(validation))
        return callback_list

    def train(self, context: ArrayContext, n_features: int, X: Array | None, Y: Array | None,
              weights: Array | None, *, source: Any = None, **options: Any) -> History:  # fmt: skip
        """The training of checked data (``X``, ``Y``, ``weights`` from :mod:`xdnn.inputs`, or a
        ``source`` of batches, see :class:`xdnn.training.Fit`) on ``context``: builds the network for
        ``n_features`` inputs if needed and runs a :class:`~xdnn.training.Fit` with ``options``
        (``epochs``, ``batch``, ``shuffle``, ``validation``, ``callbacks``, ``verbose``, ...).  Called
        by :meth:`fit` (which holds the network's usage guard) and by fits of data elsewhere."""
        with DeferredInterrupt() as interrupts:  # from here on, Ctrl-C stops training between two steps
            if not self.built:
                self.build(n_features, context)
            self.adopt(context)
            if not self.optimizer.has_state_for(self.parameters):  # one set since the last fit (Keras' compile)
                self.optimizer.initialize(self.parameters, xp=self.context.xp)
            run = _training.start_fit(self, X, Y, weights, interrupts=interrupts, source=source, **options)
            return run.run()

    def checked_feature_names(self, X: Any, name: str = "X", expected: Any = None) -> Any:
        """The column names of a data frame ``X`` (``None`` for other data), refused (``ValueError``) when
        they differ from the ``feature_names_in_`` the network was fitted with, or from ``expected`` when the
        network has none (the names of a fit's ``X``, for its ``X_val``) (:mod:`xdnn.labels`)."""
        names = _labels.feature_names(X)
        fitted = self.feature_names_in_ if self.feature_names_in_ is not None else expected
        _labels.check_feature_names(fitted, names, name)
        return names

    def parameters_finite(self) -> bool:
        """True when no parameter or running statistic holds NaN or inf (one device read)."""
        return all_finite([*self.parameters.values(), *self.state.values()], self.context.xp)

    # --- inference (xdnn.inference) -------------------------------------------------------------

    @shared_use("predict_proba")
    def predict_proba(self, X: Any) -> Array:
        """Output activations ``(n_samples, k)``: probabilities for sigmoid/softmax outputs.

        Raises ``ValueError`` when an output is NaN or inf (activations that overflow the dtype), naming
        the largest input and parameter magnitudes, rather than returning it.  A dask ``X`` gives a lazy
        dask array (:func:`xdnn.dask.inference.predict_on_dask`)."""
        _inference.check_fitted(self)
        if _dask.is_dask_collection(X):
            self.checked_feature_names(X)
            return _dask.predict_on_dask(self, X, "predict_proba")
        return _inference.predict_proba(self, X)

    @shared_use("predict")
    def predict(self, X: Any) -> Array:
        """Class labels ``(n_samples,)`` (0/1 or 0..k-1; multi-label: ``(n_samples, k)`` of 0/1; the original
        labels, a NumPy array, when fitted on class labels: ``classes_[index]``), or regression values
        ``(n_samples,)`` / ``(n_samples, k)``; on the network's backend.  A dask ``X`` gives a lazy dask array
        of NumPy blocks, one per row chunk, computed in this process's threads with the parameters the
        network has then (:func:`xdnn.dask.inference.predict_on_dask`)."""
        _inference.check_fitted(self)
        if _dask.is_dask_collection(X):
            self.checked_feature_names(X)
            return _dask.predict_on_dask(self, X, "predict")
        return _inference.predict(self, X)

    def evaluate_prepared(
        self, X: Array, Y: Array, *, bound: Any = None, check: bool = False, l2: bool = True
    ) -> dict[str, float]:
        """:meth:`evaluate` of checked data (:func:`xdnn.inference.evaluate_prepared`)."""
        return _inference.evaluate_prepared(self, X, Y, bound=bound, check=check, l2=l2)

    @shared_use("evaluate")
    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """Inference-mode ``{"loss": ..., "accuracy": ...}`` on ``(X, y)`` (loss includes the L2 term);
        ``ValueError`` rather than a NaN or inf result (outputs or loss that overflow the dtype).  Dask
        ``X`` and ``y`` are evaluated chunk by chunk (:func:`xdnn.dask.inference.evaluate_on_dask`)."""
        _inference.check_fitted(self)
        if _dask.is_dask_collection(X) or _dask.is_dask_collection(y):
            self.checked_feature_names(X)
            return _dask.evaluate_on_dask(self, X, y)
        return _inference.evaluate(self, X, y)

    # --- persistence and checks -----------------------------------------------------------------

    def __reduce__(self):
        """Pickling (``pickle``, ``joblib``, ``copy.deepcopy``) goes through the ``.npz`` model file,
        carried as bytes: a built network comes back on its backend and device (NumPy where that
        backend is missing), exactly as :func:`xdnn.load` would restore it."""
        if not self.built:
            return super().__reduce__()
        from xdnn.serialization import network_from_state, network_state

        return network_from_state, (network_state(self),)

    @shared_use("save")
    def save(self, path: Any) -> None:
        """Write a single ``.npz`` (parameters, optimizer state, architecture as JSON) atomically."""
        from xdnn.serialization import save_network

        save_network(self, path)

    @shared_use("to_onnx")
    def to_onnx(self, path: Any = None) -> Any:
        """The ONNX model (``onnx.ModelProto``) of :meth:`predict` and :meth:`predict_proba`, written to
        ``path`` if given: input ``X (N, n_features)`` in the network's dtype; outputs ``label`` (``classes_``
        when set) and ``probabilities`` (classifiers) or ``prediction`` (regression).  Recorded by running this
        network's own forward on ndonnx (:mod:`xdnn.onnx_export`); needs ``pip install "xdnn-array[onnx]"``."""
        from xdnn.onnx_export import export_network

        return export_network(self, path, classes=getattr(self, "classes_", None))

    @exclusive_use("gradient_check")
    def gradient_check(self, X: Any, y: Any, *, epsilon: float = 1e-7) -> float:
        """Relative difference between backprop and two-sided finite differences (see :func:`xdnn.gradient_check`)."""
        from xdnn.gradient_check import network_gradient_check

        return network_gradient_check(self, X, y, epsilon=epsilon)
