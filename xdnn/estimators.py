"""scikit-learn estimators on top of :class:`xdnn.Network`: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's API and parameter names (``hidden_layer_sizes``, ``alpha``,
``learning_rate_init``, ``max_iter``, ...), so they drop into ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``.  scikit-learn is an optional extra: this
module is the only part of xdnn that imports it, on first use of
``xdnn.MLPClassifier`` / ``xdnn.MLPRegressor``.

Where it runs (the convention of scikit-learn's ``array_api_dispatch``)
-----------------------------------------------------------------------
* ``X`` given as a CuPy, PyTorch or array-api-strict array: the network trains on
  that library and device, and ``predict`` / ``predict_proba`` return arrays of it.
  ``y`` (and ``classes``, ``sample_weight``) may be host data (NumPy arrays, lists),
  moved to ``X``'s device, or arrays of that same library and device; arrays of two
  different libraries or devices in one call raise
  :class:`~xdnn.BackendMismatchError`, as :class:`xdnn.Network` does -- except inside
  ``sklearn.config_context(array_api_dispatch=True)``, where scikit-learn's rule
  "everything follows ``X``" moves them to ``X``'s library and device.  (A classifier
  with non-numeric classes, e.g. strings, predicts a NumPy array: such labels cannot
  live on a device.)
* ``X`` given as NumPy arrays, lists or data frames: scikit-learn's own validation
  is used, the network trains on the active xdnn backend (:func:`xdnn.set_backend`)
  and the results are NumPy arrays.

The network computes in ``dtype``.  With the default ``dtype=None`` it follows ``X``
as scikit-learn's ``MLPClassifier`` does: float32 ``X`` trains in float32, anything
else (float64, integers, booleans, lists) in float64; ``dtype="float32"`` or
``"float64"`` forces the precision.  The first ``fit`` / ``partial_fit`` fixes it for
the fitted model.  Results come back in the floating dtype of ``X`` (float64 for
integer data), as scikit-learn's estimators do.  ``classes_`` is always a NumPy array.

Every input is checked before anything changes: a ``fit`` or ``partial_fit`` that
raises leaves the estimator exactly as it was (fitted attributes, weights and
predictions).  Inside
``sklearn.config_context(array_api_dispatch=True)``, ``predict`` refuses input from a
namespace or device other than the one ``fit`` saw, as scikit-learn's estimators do;
outside it, host data is moved to the network's backend.

Pickling works (scikit-learn needs it for ``clone``-free copies and parallel jobs);
to keep a model in a file use ``estimator.network_.save(path)`` (xdnn's ``.npz``
format, no pickle).
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from typing import Any

import array_api_compat
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from xdnn import _validation
from xdnn import activations as _activations
from xdnn import optimizers as _optimizers
from xdnn._namespace import ArrayContext, array_context, floating_dtype_name, is_host_data, to_numpy
from xdnn.callbacks import Callback
from xdnn.layers import Activation, BatchNorm, Dense, Dropout
from xdnn.checkpoint import Checkpoint
from xdnn.network import Network
from xdnn.serialization import _random_state, _restore_random_state, network_from_state, network_state

try:
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # scikit-learn < 1.6: the same checks live on BaseEstimator

    def _validate_data(estimator, X="no_validation", y="no_validation", **check_params):
        return estimator._validate_data(X, y, **check_params)


Array = Any

_SOLVERS = ("sgd", "momentum", "rmsprop", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_SKLEARN_OUTPUT_NAMES = {"sigmoid": "logistic", "softmax": "softmax", "identity": "identity", "exp": "exp"}
_REGRESSION_LOSSES = {"squared_error": "identity", "poisson": "exp"}  # loss -> output activation
# The early-stopping attributes of a fit without it: scikit-learn sets them to None.
_WITHOUT_VALIDATION = {
    "validation_loss_curve_": None,
    "best_validation_loss_": None,
    "validation_scores_": None,
    "best_validation_score_": None,
}
_HOST_FLOAT_DTYPES = (np.float64, np.float32)


class _AdaptiveLearningRate(Callback):
    """scikit-learn's ``learning_rate="adaptive"`` around a stopping rule (``stopper``, which keeps
    ``wait`` and ``stopped_epoch``): each time the rule would stop while the rate is above 1e-6,
    the rate is divided by 5 and training goes on; below it, the rule stops training."""

    SMALLEST_RATE = 1e-6

    def __init__(self, stopper: Callback) -> None:
        self.stopper = stopper

    def check_logs(self, names):
        check = getattr(self.stopper, "check_logs", None)
        if check is not None:
            check(names)

    def on_train_begin(self, network):
        self.stopper.on_train_begin(network)

    def on_epoch_end(self, network, epoch, logs):
        self.stopper.on_epoch_end(network, epoch, logs)
        rate = network.learning_rate(network.epochs_trained)
        if network.stop_training and rate > self.SMALLEST_RATE:
            network.stop_training = False
            network.learning_rate = _optimizers.Schedule(rate / 5.0)
            self.stopper.wait, self.stopper.stopped_epoch = 0, None

    def on_train_end(self, network):
        self.stopper.on_train_end(network)


class _NoImprovementStopping(Callback):
    """scikit-learn's stopping rule on a per-epoch score, higher is better (``score(network, logs)``,
    recorded in ``scores``): stop once it has failed to beat the best by ``tol`` for more than
    ``n_iter_no_change`` consecutive epochs.  For a plain ``fit`` the score is minus the training
    loss; with ``early_stopping`` the accuracy or R^2 on the held-out set, and with
    ``keep_best_weights`` training ends with the weights of the best score (``best``, at
    ``best_epoch``).  Keeps ``wait`` and ``stopped_epoch`` for :class:`_AdaptiveLearningRate`."""

    def __init__(self, score, tol: float, n_iter_no_change: int, *, keep_best_weights: bool) -> None:
        self.score = score
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.keep_best_weights = keep_best_weights

    def on_train_begin(self, network):
        self.scores: list[float] = []
        self.best, self.best_epoch, self.best_weights = -math.inf, None, None
        self.wait = 0
        self.stopped_epoch = None

    def on_epoch_end(self, network, epoch, logs):
        score = float(self.score(network, logs))
        self.scores.append(score)
        self.wait = self.wait + 1 if score < self.best + self.tol else 0  # (a NaN score resets it, as there)
        # (weights that the epoch's last update made NaN/inf -- the network rolls them back -- are not kept)
        if score > self.best and (not self.keep_best_weights or network.parameters_finite()):
            self.best, self.best_epoch = score, epoch
            if self.keep_best_weights:
                self.best_weights = network.get_weights()
        if self.wait > self.n_iter_no_change:
            self.stopped_epoch = epoch
            network.stop_training = True

    def on_train_end(self, network):
        if self.best_weights is not None:
            network.set_weights(self.best_weights)


def _array_api_dispatch_enabled() -> bool:
    return bool(sklearn.get_config().get("array_api_dispatch", False))


def _is_real_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_positive_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _check_one_backend(*values: Any) -> None:
    """Refuse arrays of two backends or devices in one call (:class:`~xdnn.BackendMismatchError`), as
    :class:`xdnn.Network` does; host data mixes with anything.  Inside
    ``sklearn.config_context(array_api_dispatch=True)`` scikit-learn's rule applies instead
    (its ``check_array_api_mixed_inputs``): everything follows ``X``, the other inputs are moved to it."""
    if not _array_api_dispatch_enabled():
        array_context(*values)


def _dense_layers(network: Network) -> list[Dense]:
    """The network's :class:`xdnn.Dense` layers, input side first: scikit-learn's layers."""
    return [layer for layer in network.layers if isinstance(layer, Dense)]


def _architecture(layers: list) -> tuple[str | None, float, bool]:
    """``(hidden activation, dropout rate, batch norm)`` of an estimator's network (no hidden layer:
    ``None``, 0 and whether it has batch norm)."""
    hidden = [layer.activation.name for layer in layers[:-1] if isinstance(layer, (Dense, Activation))]
    hidden = [name for name in hidden if name != "identity"] or hidden  # (a batch-norm layer's Dense)
    rates = [layer.rate for layer in layers if isinstance(layer, Dropout)]
    return (
        hidden[-1] if hidden else None,
        rates[0] if rates else 0.0,
        any(isinstance(layer, BatchNorm) for layer in layers),
    )


def _shape_of(data: Any) -> tuple[int, ...]:
    """The shape of an array, data frame or nested list; ``()`` for what NumPy cannot make an array of
    (the validation that follows names the problem)."""
    shape = getattr(data, "shape", None)
    if shape is not None:
        return tuple(shape)
    try:
        return np.asarray(data).shape
    except (ValueError, TypeError):
        return ()


def _take_rows(array: Any, indices: np.ndarray, context: ArrayContext) -> Any:
    """Rows ``indices`` (host integers) of a NumPy or backend array."""
    if isinstance(array, np.ndarray):
        return array[indices]
    return context.xp.take(array, context.asarray(indices), axis=0)


class _BaseMLP(BaseEstimator):
    """Parameters, validation and training shared by :class:`MLPClassifier` and :class:`MLPRegressor`."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        dtype=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.dtype = dtype

    # --- tags -----------------------------------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.non_deterministic = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"array_api_support": True, "non_deterministic": False}

    # --- hyper-parameters -----------------------------------------------------------------------

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(
                f"hidden_layer_sizes must be an int or a sequence of ints, got {self.hidden_layer_sizes!r}"
            ) from None
        if not all(_is_positive_integer(size) for size in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}")
        return tuple(int(size) for size in sizes)

    def _check_hyperparameters(self) -> None:
        """Validate the constructor parameters (in ``fit``, never in ``__init__``, as scikit-learn requires)."""
        self._hidden_sizes()
        name = self.activation.strip().lower() if isinstance(self.activation, str) else None
        known = name is not None and name not in ("softmax", "exp")  # output activations, not hidden ones
        if known:
            try:
                _activations.get_activation(name)
            except ValueError:
                known = False
        if not known:
            raise ValueError(
                "activation must be one of 'identity', 'logistic', 'tanh', 'relu' (scikit-learn's) or "
                f"'leaky_relu', 'elu', 'gelu' (xdnn's), got {self.activation!r}"
            )
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))}, got {self.solver!r}")
        if not (_is_real_number(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a non-negative number, got {self.alpha!r}")
        if not (self.batch_size == "auto" or _is_positive_integer(self.batch_size)):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        if self.learning_rate not in _LEARNING_RATES:
            raise ValueError(
                f"learning_rate must be one of {', '.join(map(repr, _LEARNING_RATES))}, got {self.learning_rate!r}"
            )
        if not (_is_real_number(self.learning_rate_init) and self.learning_rate_init > 0):
            raise ValueError(f"learning_rate_init must be a positive number, got {self.learning_rate_init!r}")
        if not (_is_real_number(self.power_t) and self.power_t >= 0):
            raise ValueError(f"power_t must be a non-negative number, got {self.power_t!r}")
        if not (_is_real_number(self.momentum) and 0 <= self.momentum <= 1):
            raise ValueError(f"momentum must be a number in [0, 1], got {self.momentum!r}")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            if not (_is_real_number(value) and 0 <= value < 1):
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
        if not (_is_real_number(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}")
        if not _is_positive_integer(self.max_fun):
            raise ValueError(f"max_fun must be a positive integer, got {self.max_fun!r}")
        if not _is_positive_integer(self.max_iter):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not (_is_real_number(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}")
        if not (_is_real_number(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if not _is_positive_integer(self.n_iter_no_change):
            raise ValueError(f"n_iter_no_change must be a positive integer, got {self.n_iter_no_change!r}")
        if not (_is_real_number(self.dropout) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if self.dtype is not None:
            floating_dtype_name(self.dtype)
        check_random_state(self.random_state)

    def _seed(self) -> int | None:
        """An integer seed for the network (and the validation split) from ``random_state``."""
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _training_dtype(self, X: Array) -> str:
        """``dtype``, or for ``dtype=None`` scikit-learn's rule: float32 for float32 ``X``, else float64."""
        if self.dtype is not None:
            return floating_dtype_name(self.dtype)
        float32 = np.float32 if isinstance(X, np.ndarray) else array_context(X).xp.float32
        return "float32" if X.dtype == float32 else "float64"

    def _optimizer(self) -> _optimizers.Optimizer:
        """The solver with its settings: scikit-learn's ``"sgd"`` (momentum, Nesterov's by default),
        ``"adam"`` (``beta_1``, ``beta_2``, ``epsilon``), or xdnn's ``"momentum"`` / ``"rmsprop"``."""
        if self.solver == "sgd":
            if self.momentum > 0:
                return _optimizers.SGDMomentum(self.momentum, nesterov=bool(self.nesterovs_momentum))
            return _optimizers.GradientDescent()
        if self.solver == "momentum":
            return _optimizers.Momentum(beta=self.momentum)
        if self.solver == "rmsprop":
            return _optimizers.RMSprop(epsilon=self.epsilon)
        return _optimizers.Adam(beta1=self.beta_1, beta2=self.beta_2, epsilon=self.epsilon)

    def _schedule(self, n_samples: int, *, samples_seen: int = 0, per_call: bool = False) -> _optimizers.Schedule:
        """``learning_rate_init``, or with ``solver="sgd"`` and ``learning_rate="invscaling"``
        scikit-learn's ``learning_rate_init / (t + 1) ** power_t`` after ``t`` samples: for a
        ``partial_fit`` (``per_call``) the rate at ``t = samples_seen``; for a ``fit``, epochs of
        ``n_samples`` counted from the network's first epoch.  ``"adaptive"`` starts constant (see
        :class:`_AdaptiveLearningRate`)."""
        if self.solver == "sgd" and self.learning_rate == "invscaling" and self.power_t > 0:
            if per_call:
                return _optimizers.Schedule(self.learning_rate_init / (samples_seen + 1) ** self.power_t)
            return _optimizers.InverseTimeDecay(self.learning_rate_init, rate=float(n_samples), power=self.power_t)
        return _optimizers.Schedule(self.learning_rate_init)

    def _new_network(self, X: Array, n_outputs: int, seed: int | None, output_activation: str) -> Network:
        network = self._network_for(X, n_outputs, seed, output_activation)
        self._initialize_as_scikit_learn(network, seed)
        return network

    def _initialize_as_scikit_learn(self, network: Network, seed: int | None) -> None:
        """scikit-learn's MLP initialisation: every weight and bias drawn uniformly from
        ``[-r, r]``, ``r = sqrt(6 / (fan_in + fan_out))`` (``sqrt(2 / ...)`` for a logistic hidden
        activation), layer by layer -- not the normal He / Xavier draws of :class:`xdnn.Network`,
        whose larger first-layer weights cost about a point of test accuracy on small data sets.
        ``seed`` is the integer of ``random_state`` (``None``: fresh entropy)."""
        factor = 2.0 if _activations.get_activation(self.activation).name == "sigmoid" else 6.0
        draws = np.random.RandomState(seed)
        weights = network.get_weights()
        parameters = {name: to_numpy(value) for name, value in weights["parameters"].items()}
        for layer in _dense_layers(network):
            units, fan_in = parameters[layer.W].shape
            bound = math.sqrt(factor / (fan_in + units))
            # scikit-learn's draws in its order and layout -- coef_ (fan_in, fan_out), then the intercept
            # -- so that an integer random_state starts from scikit-learn's very weights
            # (copied into row-major memory, as every other weight is: a product's kernel, and so its last
            # bit, may depend on the layout -- PyTorch's does)
            parameters[layer.W] = np.ascontiguousarray(draws.uniform(-bound, bound, (fan_in, units)).T)
            intercept = draws.uniform(-bound, bound, units)
            if layer.use_bias:
                parameters[layer.b] = intercept.reshape(units, 1)
        network.set_weights({"parameters": parameters, "state": weights["state"]})

    def _network_for(self, X: Array, n_outputs: int, seed: int | None, output_activation: str) -> Network:
        return Network(
            [X.shape[1], *self._hidden_sizes(), n_outputs],
            activation=self.activation,
            output_activation=output_activation,
            optimizer=self._optimizer(),
            learning_rate=self.learning_rate_init,
            l2=self.alpha,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            dtype=self._training_dtype(X),
            seed=seed,
            metrics=[],
        )

    # --- input validation -----------------------------------------------------------------------

    def _check_backend_X(self, X: Array, context: ArrayContext, *, reset: bool) -> Array:
        """scikit-learn's checks of ``X``, for an array of a backend (CuPy, PyTorch, ...); changes nothing."""
        name = type(self).__name__
        xp = context.xp
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D array X of shape (n_samples, n_features), got {X.ndim}D array of shape "
                f"{tuple(X.shape)} instead. Reshape your data with X.reshape(-1, 1) if it has a single feature "
                "or X.reshape(1, -1) if it holds a single sample."
            )
        if X.shape[0] < 1:
            raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 is required.")
        if X.shape[1] < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is required."
            )
        if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
            raise ValueError(f"X must hold real numbers, got an array of dtype {X.dtype}")
        if xp.isdtype(X.dtype, "real floating") and not bool(xp.all(xp.isfinite(X))):
            bad = "NaN" if bool(xp.any(xp.isnan(X))) else "infinity"
            raise ValueError(f"Input X contains {bad}; {name} does not accept missing values: impute them first.")
        if not reset and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {name} is expecting {self.n_features_in_} features as input."
            )
        return X

    def _validate_input(self, X: Any, y: Any, *, reset: bool, **check_params) -> tuple[Array, Any, bool, dict]:
        """``(X, y, on_host, fitted)`` with ``X`` checked, changing nothing.

        Host ``X`` gets scikit-learn's validation (with ``check_params``, ``y`` included);
        a backend ``X`` gets :meth:`_check_backend_X` and ``y`` comes back as given, for
        the subclass to check.  ``fitted`` holds the attributes to assign once the whole
        call has succeeded (``n_features_in_``, ``feature_names_in_``; ``None`` removes it).
        """
        if is_host_data(X):
            if y is not None and not is_host_data(y):
                y = to_numpy(y)
            # scikit-learn's validation records n_features_in_ on the estimator it is given: a clone when resetting.
            checker = clone(self) if reset else self
            X, y = _validate_data(checker, X, y, reset=reset, dtype=_HOST_FLOAT_DTYPES, **check_params)
            names = getattr(checker, "feature_names_in_", None)
            on_host = True
        else:
            if y is None:
                raise ValueError(
                    f"This {type(self).__name__} estimator requires y to be passed, but the target y is None."
                )
            X = self._check_backend_X(X, array_context(X), reset=reset)
            names = None
            on_host = False
        fitted = {"n_features_in_": int(X.shape[1]), "feature_names_in_": names} if reset else {}
        return X, y, on_host, fitted

    def _assign(self, fitted: dict[str, Any]) -> None:
        """Set the fitted attributes of a call that succeeded (a ``None`` feature_names_in_ removes it)."""
        for name, value in fitted.items():
            if name == "feature_names_in_" and value is None:
                self.__dict__.pop(name, None)
            else:
                setattr(self, name, value)

    def _check_same_namespace(self, X: Any, method: str) -> None:
        """Under ``array_api_dispatch``, refuse input from a namespace or device other than fit's."""
        if not _array_api_dispatch_enabled():
            return
        if is_host_data(X):
            if self._fitted_on_host:
                return
            problem = (
                f"Array namespace used during fit ({self.network_.context.xp.__name__}) is not compatible with "
                f"the array-like input passed to {method}. Only the NumPy namespace is compatible with "
                "array-like inputs."
            )
        else:
            context = array_context(X)
            if not self._fitted_on_host and context == self.network_.context:
                return
            fitted = "numpy" if self._fitted_on_host else self.network_.context.xp.__name__
            problem = (
                f"Array namespaces or devices used during fit ({fitted}) and {method} ({context.xp.__name__}) differ."
            )
        raise ValueError(
            f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace and the same device "
            f"as those passed to fit(). {problem}"
        )

    def _check_X_for_inference(self, X: Any, method: str) -> tuple[Array, bool]:
        check_is_fitted(self)
        self._check_same_namespace(X, method)
        if is_host_data(X):
            return _validate_data(self, X, reset=False, dtype=_HOST_FLOAT_DTYPES), True
        return self._check_backend_X(X, array_context(X), reset=False), False

    def _output_dtype_like(self, values: Array, X: Array, on_host: bool) -> Array:
        """``values`` on the caller's side (NumPy for host input) in the floating dtype of ``X``."""
        if on_host:
            return to_numpy(values).astype(X.dtype, copy=False)
        xp = self.network_.context.xp
        if xp.isdtype(X.dtype, "real floating") and values.dtype != X.dtype:
            return xp.astype(values, X.dtype)
        return values

    # --- training -------------------------------------------------------------------------------

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if int(self.batch_size) > n_samples:  # scikit-learn's warning, word for word
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                UserWarning,
                stacklevel=4,
            )
        return min(int(self.batch_size), n_samples)

    def _stratify_labels(self, targets: Any) -> np.ndarray | None:
        return None

    def _is_multilabel(self) -> bool:
        """Whether the fitted classifier was trained on a multilabel indicator ``y``."""
        return bool(getattr(self, "_multilabel", False))

    def _validation_split(self, X: Array, targets: Any, seed: int | None, weights: Any = None) -> tuple[tuple, tuple]:
        """``((X_train, targets_train, weights_train), (X_val, targets_val, weights_val))`` for early
        stopping (weights ``None`` without ``sample_weight``), stratified for a classifier when every
        class can be on both sides (each has 2 samples, each side room for all)."""
        context = array_context(X)
        n_samples = X.shape[0]
        stratify = self._stratify_labels(targets)
        if stratify is not None:
            n_validation = math.ceil(self.validation_fraction * n_samples)
            counts = np.unique(stratify, return_counts=True)[1]
            if counts.min() < 2 or min(n_validation, n_samples - n_validation) < counts.shape[0]:
                stratify = None
        train_rows, validation_rows = train_test_split(
            np.arange(n_samples), test_size=self.validation_fraction, random_state=seed, stratify=stratify
        )
        if validation_rows.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        return tuple(
            (
                _take_rows(X, rows, context),
                _take_rows(targets, rows, context),
                None if weights is None else _take_rows(weights, rows, context),
            )
            for rows in (train_rows, validation_rows)
        )

    def _check_sample_weight(self, sample_weight: Any, X: Array) -> Any:
        """``sample_weight`` checked -- real numbers, one per sample (a number weights every sample
        alike), finite, non-negative, not all zero -- before anything changes (the seed drawn from a
        ``RandomState`` included): a NumPy float64 ``(n_samples,)`` array for host data, or as given
        for an array of ``X``'s backend; ``None`` stays ``None``."""
        if sample_weight is None:
            return None
        # On a backend's X a weight array of that backend stays there; anything else (host data, or
        # under array_api_dispatch another library's array) comes home and follows X.
        keep = (
            not is_host_data(sample_weight) and not is_host_data(X) and array_context(sample_weight) == array_context(X)
        )
        weights = sample_weight if keep else np.asarray(to_numpy(sample_weight))
        # host weights are checked with NumPy itself (array_context would name the active backend)
        xp = array_context(weights).xp if keep else array_api_compat.array_namespace(weights)
        if not xp.isdtype(weights.dtype, ("real floating", "integral", "bool")):
            raise ValueError(f"sample_weight must hold real numbers, got an array of dtype {weights.dtype}")
        if not keep:
            weights = weights.astype(np.float64)
            if weights.ndim == 0:
                weights = np.full(X.shape[0], float(weights))
        if weights.ndim != 1 or weights.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight.shape == {tuple(weights.shape)}, expected ({X.shape[0]},): one weight per sample"
            )
        _validation.check_finite(weights, "sample_weight", xp=xp)
        _validation.check_sample_weight_values(weights, xp=xp)
        return weights

    def _check_continued(self, network: Network, n_outputs: int, output_activation: str, *, incremental: bool) -> None:
        """``warm_start`` and ``partial_fit`` continue the fitted network: it must be the network the
        current parameters describe (layer sizes, activation, loss, dropout, batch norm, dtype), or the call
        would silently train something ``get_params()`` does not describe."""
        how = "partial_fit continues" if incremental else "warm_start=True continues"
        restart = "fit a new estimator" if incremental else "set warm_start=False to train a new network"
        sizes = [layer.units for layer in _dense_layers(network)]
        if sizes[:-1] != list(self._hidden_sizes()) or sizes[-1] != n_outputs:
            raise ValueError(
                f"{how} the fitted network, whose hidden layers are {tuple(sizes[:-1])} with "
                f"{sizes[-1]} outputs, but hidden_layer_sizes={self.hidden_layer_sizes!r} and the data need "
                f"{n_outputs}; {restart}"
            )
        built_output = network.layers[-1].activation.name
        if built_output != output_activation:  # MLPRegressor's loss (the classifier's follows the data)
            raise ValueError(
                f"{how} the fitted network, whose output is {_SKLEARN_OUTPUT_NAMES[built_output]!r}, but "
                f"loss={getattr(self, 'loss', None)!r} needs {_SKLEARN_OUTPUT_NAMES[output_activation]!r}; {restart}"
            )
        built_with = (*_architecture(network.layers), network.dtype_name)
        activation = _activations.get_activation(self.activation).name if len(sizes) > 1 else None
        dtype = network.dtype_name if self.dtype is None else floating_dtype_name(self.dtype)
        hidden = len(sizes) > 1  # (without hidden layers there is nothing to drop out or normalise)
        wanted = (activation, float(self.dropout) if hidden else 0.0, bool(self.batch_norm) and hidden, dtype)
        if wanted != built_with:
            names = ("activation", "dropout", "batch_norm", "dtype")
            raise ValueError(
                f"{how} the fitted network, built with "
                + ", ".join(f"{name}={value!r}" for name, value in zip(names, built_with, strict=True))
                + ", but the estimator now has "
                + ", ".join(f"{name}={value!r}" for name, value in zip(names, wanted, strict=True))
                + f"; {restart}"
            )

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None, sample_weight: Any = None):
        """Check everything, train, then assign the fitted attributes: a call that raises changes nothing.

        ``partial_fit`` (``incremental``) runs one epoch from the current weights and optimizer state.
        ``fit`` trains a new network -- or, with ``warm_start`` and a fitted one, continues it with a
        fresh optimizer and learning rate from the current parameters, as scikit-learn does.
        """
        self._check_hyperparameters()
        _check_one_backend(X, y, classes, sample_weight)
        fitted_before = hasattr(self, "network_")
        first_call = not ((incremental or self.warm_start) and fitted_before)
        X, targets, n_outputs, on_host, fitted = self._validate_training_data(
            X, y, reset=first_call, incremental=incremental, classes=classes
        )
        weights = self._check_sample_weight(sample_weight, X)
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            # The split's checks do not depend on the seed: run them before drawing one from a RandomState.
            self._validation_split(X, targets, seed=0)
        output_activation = self._output_activation_for(n_outputs, fitted.get("_multilabel", self._is_multilabel()))
        if first_call:
            seed = self._seed()
            network = self._new_network(X, n_outputs, seed, output_activation)
            fitted.update(_split_seed=seed, _fitted_on_host=on_host)
        else:
            network = self.network_
            self._check_continued(network, n_outputs, output_activation, incremental=incremental)
        # (an estimator pickled before t_ existed continues from t_ = 0)
        previous = {} if first_call else {"loss_curve_": self.loss_curve_, "t_": getattr(self, "t_", 0)}
        verbose = 1 if self.verbose else 0
        # A warm start or partial_fit trains the fitted network in place: a call that raises (a
        # callback's error, a DivergenceWarning made an error) puts back its settings and arrays.
        settings = (network.optimizer, network.learning_rate, network.l2, network.history, network.diverged_epoch)
        before = None if first_call else (Checkpoint(network), _random_state(network))
        callbacks: list[Callback] = []
        interrupted = False
        try:
            if incremental:
                n_train = X.shape[0]
                network.learning_rate = self._schedule(n_train, samples_seen=previous.get("t_", 0), per_call=True)
                network.l2 = float(self.alpha)
                history = network.fit(
                    X,
                    targets,
                    epochs=1,
                    batch_size=self._batch_size(n_train),
                    shuffle=bool(self.shuffle),
                    verbose=verbose,
                    sample_weight=weights,
                )
            else:
                validation_data = None
                if early_stopping:
                    split_seed = fitted["_split_seed"] if first_call else self._split_seed
                    (X, targets, weights), (*validation_data, validation_weights) = self._validation_split(
                        X, targets, split_seed, weights
                    )
                    validation_score = self._validation_score_of(*validation_data, validation_weights)
                    stopper = _NoImprovementStopping(
                        lambda network, logs: validation_score(network),
                        float(self.tol),
                        int(self.n_iter_no_change),
                        keep_best_weights=True,
                    )
                else:
                    stopper = _NoImprovementStopping(
                        lambda network, logs: -logs["loss"],
                        float(self.tol),
                        int(self.n_iter_no_change),
                        keep_best_weights=False,
                    )
                adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
                callbacks.append(_AdaptiveLearningRate(stopper) if adaptive else stopper)
                n_train = X.shape[0]
                if not first_call:  # warm start: scikit-learn's fresh solver on the current weights
                    network.optimizer = self._optimizer()
                    network.optimizer.initialize(network.parameters, xp=network.context.xp)
                    network.l2 = float(self.alpha)
                network.learning_rate = self._schedule(n_train)
                history = network.fit(
                    X,
                    targets,
                    epochs=int(self.max_iter),
                    batch_size=self._batch_size(n_train),
                    validation_data=None if validation_data is None else tuple(validation_data),
                    callbacks=callbacks,
                    verbose=verbose,
                    shuffle=bool(self.shuffle),
                    sample_weight=weights,
                )
        except KeyboardInterrupt:
            # scikit-learn's behaviour: Ctrl-C ends training, keeping the epochs finished (the
            # network recorded them) and, with early stopping, the best of them.
            interrupted = True
            history = network.history if network.history is not settings[3] else {}  # (before fit began)
            for callback in callbacks:
                callback.on_train_end(network)
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=3)
        except BaseException:
            network.optimizer, network.learning_rate, network.l2, network.history, network.diverged_epoch = settings
            if before is not None:
                arrays, random_streams = before
                arrays.restore()
                _restore_random_state(network, random_streams, network.backend)
            raise
        if first_call and network.diverged_epoch is not None:  # after the network's DivergenceWarning
            raise ValueError(
                f"Solver produced non-finite parameter weights or cost (training diverged at epoch "
                f"{network.diverged_epoch}). The input data may contain large values and need to be preprocessed "
                "(e.g. sklearn.preprocessing.StandardScaler), or learning_rate_init may be too large."
            )
        new_losses = list(history.get("loss", []))
        loss_curve = [*previous.get("loss_curve_", []), *new_losses]
        fitted.update(
            network_=network,
            loss_curve_=loss_curve,
            n_iter_=len(new_losses),  # this call's epochs, as scikit-learn >= 1.3 counts (loss_curve_ keeps all)
            loss_=loss_curve[-1] if loss_curve else math.nan,
            t_=previous.get("t_", 0) + n_train * len(new_losses),
            n_outputs_=n_outputs,
            n_layers_=1 + len(_dense_layers(network)),
            out_activation_=_SKLEARN_OUTPUT_NAMES[output_activation],
        )
        converged = True  # partial_fit: one epoch by request, nothing to warn about
        if incremental:
            fitted.update(best_loss_=min(loss_curve) if loss_curve else None)
            if first_call:
                fitted.update(_WITHOUT_VALIDATION)
        elif early_stopping:
            kept = stopper.best_epoch
            validation_losses = list(history.get("val_loss", []))
            fitted.update(
                validation_loss_curve_=validation_losses,
                best_validation_loss_=validation_losses[kept]
                if kept is not None and kept < len(validation_losses)
                else None,
                validation_scores_=list(stopper.scores),
                best_validation_score_=stopper.best if kept is not None else None,
                best_loss_=None,
            )
            converged = stopper.stopped_epoch is not None
        else:
            fitted.update(_WITHOUT_VALIDATION, best_loss_=min(loss_curve) if loss_curve else None)
            converged = stopper.stopped_epoch is not None
        if not incremental:
            converged = converged or network.diverged_epoch is not None or len(new_losses) < self.max_iter
        converged = converged or interrupted
        self._assign(fitted)
        if not converged:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    @property
    def coefs_(self) -> list[Array]:
        """scikit-learn's weights: ``coefs_[i]`` of shape ``(n_inputs, n_units)`` of layer ``i + 1`` --
        ``W{i+1}.T``, a view of the network's parameter (writing it changes the network); assigning a
        list of such arrays sets the weights."""
        parameters = self.network_.parameters
        return self._as_fitted([parameters[layer.W].T for layer in _dense_layers(self.network_)])

    @property
    def intercepts_(self) -> list[Array]:
        """scikit-learn's biases: ``intercepts_[i]`` of shape ``(n_units,)`` -- a view of ``b{i+1}``
        (zeros for a bias-free layer before a batch norm)."""
        network = self.network_
        xp = network.context.xp
        intercepts = []
        for layer in _dense_layers(network):
            W = network.parameters[layer.W]
            b = network.parameters.get(layer.b) if layer.b is not None else None
            zeros = None if b is not None else xp.zeros(W.shape[0], dtype=W.dtype, device=network.context.device)
            intercepts.append(b[:, 0] if b is not None else zeros)
        return self._as_fitted(intercepts)

    @coefs_.setter
    def coefs_(self, coefs: list[Any]) -> None:
        """Set the weights from scikit-learn-shaped ``(n_inputs, n_units)`` arrays (copied in)."""
        self._set_dense_arrays(coefs, "coefs_", lambda layer: (layer.n_inputs, layer.units), "W")

    @intercepts_.setter
    def intercepts_(self, intercepts: list[Any]) -> None:
        """Set the biases from ``(n_units,)`` arrays (copied in); a bias-free layer takes only zeros."""
        self._set_dense_arrays(intercepts, "intercepts_", lambda layer: (layer.units,), "b")

    def _set_dense_arrays(self, values: list[Any], attribute: str, shape_of, kind: str) -> None:
        """Check every array (count, shape, finite) before writing any, then copy them into the
        network's parameters in its dtype and on its backend."""
        check_is_fitted(self)
        network = self.network_
        layers = _dense_layers(network)
        values = list(values)
        if len(values) != len(layers):
            raise ValueError(f"{attribute} needs {len(layers)} arrays, one per layer, got {len(values)}")
        host = []
        for index, (layer, value) in enumerate(zip(layers, values, strict=True)):
            array = np.array(to_numpy(value), dtype=np.float64, copy=True)  # never the caller's memory
            if array.shape != shape_of(layer):
                raise ValueError(f"{attribute}[{index}] must have shape {shape_of(layer)}, got {array.shape}")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{attribute}[{index}] contains NaN or infinity")
            if kind == "b" and layer.b is None and np.any(array):
                raise ValueError(f"{attribute}[{index}]: layer {index + 1} has no bias (batch_norm=True); pass zeros")
            host.append(array)
        dtype = getattr(network.context.xp, network.dtype_name)
        for layer, array in zip(layers, host, strict=True):
            if kind == "W":
                network.parameters[layer.W] = network.context.asarray(np.ascontiguousarray(array.T), dtype=dtype)
            elif layer.b is not None:
                network.parameters[layer.b] = network.context.asarray(array.reshape(-1, 1), dtype=dtype)

    def _as_fitted(self, arrays: list[Array]) -> list[Array]:
        """Arrays of the network's backend, as NumPy arrays when ``fit`` was given host data (sharing
        the memory where the backend allows: NumPy, PyTorch on the CPU)."""
        return [to_numpy(array) for array in arrays] if self._fitted_on_host else arrays

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("network_"), Network):
            state = dict(state)
            state["network_"] = network_state(state["network_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("network_"), dict):
            state = dict(state)
            state["network_"] = network_from_state(state["network_"])
        super().__setstate__(state)
        for name, value in self._PARAMETERS_ADDED_SINCE.items():  # pickled by an xdnn without them
            if name not in self.__dict__:
                setattr(self, name, value)

    # Parameters an estimator pickled by an earlier xdnn lacks, with the value that reproduces it.
    _PARAMETERS_ADDED_SINCE: dict = {}


def _shared_docs(cls):
    """Fill ``%(parameters)s`` and ``%(attributes)s`` in an estimator's docstring (one text for both)."""
    cls.__doc__ = cls.__doc__ % {"parameters": _PARAMETERS_DOC.strip(), "attributes": _ATTRIBUTES_DOC.strip()}
    return cls


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of each hidden layer (``()`` for none).
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu", "elu", "gelu"}, default="relu"
        Hidden activation.
    solver : {"adam", "sgd", "momentum", "rmsprop"}, default="adam"
        ``"adam"`` (:class:`xdnn.Adam` with ``beta_1``, ``beta_2``, ``epsilon``), ``"sgd"`` (scikit-learn's:
        :class:`xdnn.SGDMomentum` with ``momentum``, Nesterov's when ``nesterovs_momentum``; plain
        gradient descent for ``momentum=0``), or xdnn's ``"momentum"`` (the course's averaged form,
        ``beta = momentum``) and ``"rmsprop"`` (with ``epsilon``).
    alpha : float, default=1e-4
        L2 penalty ``alpha / (2 m) sum ||W||^2`` per batch of ``m`` samples (scikit-learn's).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The rate's schedule with ``solver="sgd"`` (scikit-learn's): constant; ``learning_rate_init /
        (t + 1) ** power_t`` after ``t`` samples; or constant while the stopping rule sees progress,
        divided by 5 each time it would stop, until it falls below 1e-6.
    learning_rate_init : float, default=1e-3
        The initial (or constant) learning rate.
    power_t : float, default=0.5
        The exponent of ``"invscaling"``.
    max_iter : int, default=200
        Maximum number of epochs (per ``fit``).
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Without ``early_stopping`` training stops when the training loss has not improved by
        ``tol`` for more than ``n_iter_no_change`` epochs (scikit-learn's rule); with it, when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` epochs (Keras').
    verbose : bool, default=False
        Show a progress bar while training.
    warm_start : bool, default=False
        ``fit`` continues the fitted network (same layers, classes and features) with a fresh
        solver, appending to ``loss_curve_``, instead of training a new one.
    momentum, nesterovs_momentum : float, bool, default=0.9, True
        The momentum of ``solver="sgd"`` (and the ``beta`` of ``"momentum"``); Nesterov's or classical.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers when every class
        has two samples and both sides room for every class), stop on its loss and keep the best
        epoch's weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decays and its ``epsilon`` (also RMSprop's).
    max_fun : int, default=15000
        scikit-learn's L-BFGS budget; accepted for compatibility, unused (xdnn has no L-BFGS solver).
    dropout : float, default=0.0
        Inverted-dropout rate after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation before each hidden activation.
    dtype : {"float32", "float64"} or None, default=None
        Precision of the network's computations.  ``None`` follows ``X``, as
        scikit-learn's MLP does: float32 for float32 ``X``, float64 for anything else
        (float64, integer or boolean data, lists).  Fixed by the first ``fit`` /
        ``partial_fit`` (``network_.dtype_name``).

"""

_ATTRIBUTES_DOC = """
    n_features_in_ : int
        Number of features seen during ``fit``.
    network_ : xdnn.Network
        The trained network (``network_.save(path)`` writes it to an ``.npz`` file).
    loss_curve_ : list of float
        Training loss (L2 term included) after each epoch.
    loss_ : float
        The last entry of ``loss_curve_``.
    best_loss_ : float or None
        The smallest training loss (``None`` with ``early_stopping``).
    validation_loss_curve_ : list of float or None
        Validation loss after each epoch with ``early_stopping``.
    best_validation_loss_ : float or None
        The best validation loss, whose weights are kept.
    n_iter_ : int
        Number of epochs run (over the ``warm_start`` fits and ``partial_fit`` calls too).
    t_ : int
        Number of training samples the solver has seen (``n_samples`` per epoch).
    validation_scores_ : list of float or None
        With ``early_stopping``: accuracy (classifier) or R^2 (regressor) on the held-out set after each epoch.
    best_validation_score_ : float or None
        The validation score of the epoch whose weights are kept.
    coefs_, intercepts_ : list of arrays
        scikit-learn's view of the weights: ``coefs_[i]`` is ``(n_inputs, n_units)`` (``W{i+1}.T``),
        ``intercepts_[i]`` is ``(n_units,)``; views of the network's parameters (NumPy arrays for
        host data, sharing the weights' memory on the NumPy backend; else arrays of ``X``'s library).
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units (1 for two classes, ``n_classes`` for more, ``n_targets`` for a regressor).
    out_activation_ : {"logistic", "softmax", "identity"}
        The output activation, by scikit-learn's name.

"""


@_shared_docs
class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: softmax output for k > 2 classes, one sigmoid unit for 2,
    one sigmoid unit per label for a multilabel indicator ``y (n_samples, n_labels)`` of 0/1
    (``predict`` then returns such a matrix, ``score`` is the subset accuracy).

    Labels may be of any type (strings, integers, ...); ``predict`` returns them.
    Array API inputs (CuPy, PyTorch, array-api-strict) train and predict on their own
    device; see :mod:`xdnn.estimators`.

    %(parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (a NumPy array, sorted).
    %(attributes)s
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from xdnn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multilabel": True}

    def _output_activation_for(self, n_outputs: int, multilabel: bool = False) -> str:
        return "sigmoid" if n_outputs == 1 or multilabel else "softmax"

    def _stratify_labels(self, targets):
        return targets if targets.ndim == 1 else None  # scikit-learn does not stratify multilabel targets

    def _validation_score_of(self, X_validation, targets_validation, weights_validation=None):
        """Accuracy (weighted by ``weights_validation``) on the held-out set (``targets_validation``:
        class indices, or a multilabel indicator matrix, on the host); for multilabel data the subset
        accuracy, as ``score``'s."""

        weights = None if weights_validation is None else to_numpy(weights_validation)

        def score(network):
            hits = to_numpy(network.predict(X_validation)) == targets_validation
            return float(np.average(hits.all(axis=1) if hits.ndim == 2 else hits, weights=weights))

        return score

    def _validate_multilabel(self, X, y, on_host, fitted, *, reset, incremental, classes):
        """:meth:`_validate_training_data` for a 2-D ``y``: a multilabel indicator matrix of 0/1,
        one sigmoid output per label; ``classes_`` is ``0..n_labels-1``, as scikit-learn's."""
        name = type(self).__name__
        y = to_numpy(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {y.shape[0]}]"
            )
        target_type = type_of_target(y, input_name="y")
        if target_type != "multilabel-indicator" or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"{name} takes a 2-D y only as a multilabel indicator matrix of 0/1 of shape (n_samples, n_labels); "
                f"got {target_type!r} targets of shape {y.shape}"
            )
        n_labels = y.shape[1]
        if not reset and not (self._is_multilabel() and self.classes_.shape[0] == n_labels):
            fitted_on = f"{self.classes_.shape[0]} labels" if self._is_multilabel() else "a 1-D y of class labels"
            raise ValueError(
                f"y is a multilabel matrix of {n_labels} labels, but this {name} was fitted on {fitted_on}"
            )
        if classes is not None and np.unique(to_numpy(classes)).shape[0] != n_labels:
            raise ValueError(f"classes={classes!r} must name the {n_labels} labels (columns) of the multilabel y")
        if reset and incremental and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if reset:
            fitted.update(classes_=np.arange(n_labels), _multilabel=True)
        return X, y.astype(np.int64), n_labels, on_host, fitted

    def _validate_training_data(self, X, y, *, reset, incremental, classes):
        """``(X, encoded labels 0..k-1 as NumPy int64, n_outputs, on_host, fitted)``, changing nothing;
        ``fitted`` includes ``classes_`` when resetting.  A 2-D ``y`` of several columns is a
        multilabel indicator matrix (:meth:`_validate_multilabel`)."""
        shape = _shape_of(y)
        if len(shape) == 2 and shape[1] > 1:
            X, y, on_host, fitted = self._validate_input(X, y, reset=reset, multi_output=True)
            return self._validate_multilabel(
                X, y, on_host, fitted, reset=reset, incremental=incremental, classes=classes
            )
        if not reset and self._is_multilabel():
            raise ValueError(
                f"this {type(self).__name__} was fitted on a multilabel matrix of {self.classes_.shape[0]} labels; "
                f"y of shape {shape} is not one"
            )
        X, y, on_host, fitted = self._validate_input(X, y, reset=reset)
        if reset:
            fitted["_multilabel"] = False
        if not on_host:
            y = check_array(to_numpy(y), ensure_2d=False, dtype=None, input_name="y")
            y = column_or_1d(y, warn=True)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {y.shape[0]}]"
                )
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(to_numpy(classes))
            if not reset and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on the first call to partial_fit, was: {self.classes_!r}"
                )
        elif reset and incremental:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if not reset and not incremental and not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                f"Previously got {self.classes_}, `y` has {np.unique(y)}"
            )
        if reset:
            classes = classes if classes is not None else np.unique(y)
            if classes.shape[0] < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but the data contains only one "
                    f"class: {classes[0]!r}"
                )
            fitted["classes_"] = classes
        else:
            classes = self.classes_
        unseen = ~np.isin(y, classes)
        if np.any(unseen):
            raise ValueError(f"y holds labels that are not in classes_ = {classes!r}: {np.unique(y[unseen])!r}")
        encoded = np.searchsorted(classes, y).astype(np.int64)
        n_classes = classes.shape[0]
        return X, encoded, (1 if n_classes == 2 else n_classes), on_host, fitted

    def fit(self, X, y, sample_weight=None):
        """Train on ``X (n_samples, n_features)`` and labels ``y (n_samples,)`` (or a multilabel
        indicator matrix), each sample's cost weighted by ``sample_weight``; returns ``self``."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (all labels) is required on the first call
        (scikit-learn's argument order: ``sample_weight`` comes before it)."""
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def _probabilities(self, X, method):
        X, on_host = self._check_X_for_inference(X, method)
        network = self.network_
        probabilities = network.predict_proba(X)
        if probabilities.shape[1] == 1:
            probabilities = network.context.xp.concat([1.0 - probabilities, probabilities], axis=1)
        return self._output_dtype_like(probabilities, X, on_host)

    def predict_proba(self, X):
        """Class probabilities of shape ``(n_samples, n_classes)``, columns ordered as ``classes_``."""
        return self._probabilities(X, "predict_proba")

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, shape ``(n_samples, n_classes)``."""
        probabilities = self._probabilities(X, "predict_log_proba")
        if isinstance(probabilities, np.ndarray):
            return np.log(probabilities)
        return array_context(probabilities).xp.log(probabilities)

    def predict(self, X):
        """Labels of shape ``(n_samples,)`` from ``classes_`` (on X's backend when the classes are numeric);
        for a multilabel classifier the indicator matrix ``(n_samples, n_labels)`` of 0/1."""
        X, on_host = self._check_X_for_inference(X, "predict")
        network = self.network_
        indices = network.predict(X)
        if self._is_multilabel():
            return to_numpy(indices) if on_host else indices
        if on_host or self.classes_.dtype.kind not in "biuf":
            return self.classes_[to_numpy(indices)]
        context = network.context
        return context.xp.take(context.asarray(self.classes_), indices, axis=0)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y`` as a Python float (host data or one backend's arrays)."""
        _check_one_backend(X, y, sample_weight)
        predicted = to_numpy(self.predict(X))
        return float(accuracy_score(to_numpy(y), predicted, sample_weight=to_numpy(sample_weight)))


@_shared_docs
class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, one or several targets: an identity output and the squared
    error (``loss="squared_error"``), or an exp output and half the Poisson deviance
    (``loss="poisson"``, non-negative targets: counts, rates), as scikit-learn's.  ``loss`` is
    keyword-only (``MLPRegressor((64,))`` gives the hidden layers).

    ``predict`` returns ``(n_samples,)`` for a 1-D ``y`` (or a single column, which is raveled
    with a ``DataConversionWarning``, as scikit-learn does) and ``(n_samples, n_outputs)``
    for a 2-D one.  Array API inputs (CuPy, PyTorch, array-api-strict) train and
    predict on their own device; see :mod:`xdnn.estimators`.

    %(parameters)s

    Attributes
    ----------
    %(attributes)s
    Examples
    --------
    >>> import numpy as np
    >>> from xdnn import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1); y = X[:, 0] ** 2
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), batch_size=32, learning_rate_init=0.01, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.95
    True
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multioutput": True}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error", **parameters):
        super().__init__(hidden_layer_sizes, activation, **parameters)
        self.loss = loss

    # scikit-learn reads an estimator's parameters off the signature of its __init__: the shared
    # parameters of _BaseMLP, and scikit-learn's ``loss`` (keyword-only here: ``MLPRegressor((64,))``
    # keeps giving the hidden layers, as it does in xdnn; scikit-learn takes ``loss`` first).
    __init__.__signature__ = inspect.signature(_BaseMLP.__init__).replace(
        parameters=[
            *inspect.signature(_BaseMLP.__init__).parameters.values(),
            inspect.Parameter("loss", inspect.Parameter.KEYWORD_ONLY, default="squared_error"),
        ]
    )

    _PARAMETERS_ADDED_SINCE = {"loss": "squared_error"}

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        if not isinstance(self.loss, str) or self.loss not in _REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, _REGRESSION_LOSSES))}, got {self.loss!r}")

    def _output_activation_for(self, n_outputs: int, multilabel: bool = False) -> str:
        """The identity for the squared error, ``exp`` (the log link) for the Poisson loss."""
        return _REGRESSION_LOSSES[self.loss]

    def _validation_score_of(self, X_validation, y_validation, weights_validation=None):
        """R^2 (averaged over the targets, weighted by ``weights_validation``) on the held-out set."""
        expected = to_numpy(y_validation)
        weights = None if weights_validation is None else to_numpy(weights_validation)

        def score(network):
            predicted = np.reshape(to_numpy(network.predict(X_validation)), expected.shape)
            return r2_score(expected, predicted, sample_weight=weights)

        return score

    def _validate_training_data(self, X, y, *, reset, incremental, classes):
        """``(X, y, n_outputs, on_host, fitted)`` with ``y`` numeric, finite and on X's side, changing nothing;
        after the first call ``y`` must keep its shape: ``(n_samples,)`` or ``(n_samples, n_outputs_)``."""
        X, y, on_host, fitted = self._validate_input(X, y, reset=reset, multi_output=True, y_numeric=True)
        if on_host:
            if y.dtype.kind not in "biuf":
                raise ValueError(f"y must hold real numbers, got an array of dtype {y.dtype}")
        else:
            context = array_context(X)
            if not is_host_data(y) and array_context(y) != context:  # another backend's, under array_api_dispatch
                y = to_numpy(y)
            y = context.asarray(y)
            xp = context.xp
            if not xp.isdtype(y.dtype, ("real floating", "integral", "bool")):
                raise ValueError(f"y must hold real numbers, got an array of dtype {y.dtype}")
            if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] < 1):
                raise ValueError(f"y must be of shape (n_samples,) or (n_samples, n_outputs), got {tuple(y.shape)}")
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {y.shape[0]}]"
                )
            if xp.isdtype(y.dtype, "real floating") and not bool(xp.all(xp.isfinite(y))):
                raise ValueError("Input y contains NaN or infinity.")
        continuing_a_column = not reset and getattr(self, "_y_is_2d", False)  # fitted so by an earlier xdnn
        if y.ndim == 2 and y.shape[1] == 1 and not continuing_a_column:  # scikit-learn's: a column is one target
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
                "(n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
            y = y[:, 0]
        n_outputs = 1 if y.ndim == 1 else int(y.shape[1])
        if reset:
            fitted.update(n_outputs_=n_outputs, _y_is_2d=y.ndim == 2)
        elif (y.ndim == 2) != self._y_is_2d or n_outputs != self.n_outputs_:
            expected = f"(n_samples, {self.n_outputs_})" if self._y_is_2d else "(n_samples,), a 1-D y"
            raise ValueError(
                f"y has shape {tuple(y.shape)}, but this {type(self).__name__} was fitted on y of shape {expected}; "
                "partial_fit and warm_start keep the shape of y"
            )
        return X, y, n_outputs, on_host, fitted

    def fit(self, X, y, sample_weight=None):
        """Train on ``X (n_samples, n_features)`` and ``y (n_samples,)`` or ``(n_samples, n_outputs)``,
        each sample's cost weighted by ``sample_weight``."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current weights."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        """Predictions ``(n_samples,)`` for a 1-D training ``y``, else ``(n_samples, n_outputs)``."""
        X, on_host = self._check_X_for_inference(X, "predict")
        network = self.network_
        values = network.predict(X)
        if self._y_is_2d and values.ndim == 1:
            values = network.context.xp.reshape(values, (-1, 1))
        return self._output_dtype_like(values, X, on_host)

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of ``predict(X)`` as a Python float (host data or one backend's arrays)."""
        _check_one_backend(X, y, sample_weight)
        predicted = to_numpy(self.predict(X))
        return float(r2_score(to_numpy(y), predicted, sample_weight=to_numpy(sample_weight)))
