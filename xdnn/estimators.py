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

import math
import numbers
import warnings
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from xdnn import activations as _activations
from xdnn import optimizers as _optimizers
from xdnn._namespace import ArrayContext, array_context, floating_dtype_name, is_host_data, to_numpy
from xdnn.callbacks import Callback, EarlyStopping
from xdnn.network import Network
from xdnn.serialization import network_from_state, network_state

try:
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # scikit-learn < 1.6: the same checks live on BaseEstimator

    def _validate_data(estimator, X="no_validation", y="no_validation", **check_params):
        return estimator._validate_data(X, y, **check_params)


Array = Any

_SOLVERS = ("sgd", "momentum", "rmsprop", "adam")
_HOST_FLOAT_DTYPES = (np.float64, np.float32)


class _TrainingLossStopping(Callback):
    """scikit-learn's convergence rule: stop once the training loss has failed to improve
    by ``tol`` for more than ``n_iter_no_change`` consecutive epochs."""

    def __init__(self, tol: float, n_iter_no_change: int) -> None:
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    def on_train_begin(self, network):
        self.best = math.inf
        self.no_improvement = 0
        self.converged = False

    def on_epoch_end(self, network, epoch, logs):
        loss = logs["loss"]
        self.no_improvement = self.no_improvement + 1 if loss > self.best - self.tol else 0
        self.best = min(self.best, loss)
        if self.no_improvement > self.n_iter_no_change:
            self.converged = True
            network.stop_training = True


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
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        dropout=0.0,
        batch_norm=False,
        dtype=None,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.dtype = dtype
        self.verbose = verbose

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
        if not isinstance(self.activation, str) or self.activation.strip().lower() == "softmax":
            raise ValueError(
                f"activation must be one of 'identity', 'logistic', 'tanh', 'relu' (or xdnn's 'leaky_relu', "
                f"'elu', 'gelu'), got {self.activation!r}"
            )
        _activations.get_activation(self.activation)
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))}, got {self.solver!r}")
        if not (_is_real_number(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a non-negative number, got {self.alpha!r}")
        if not (self.batch_size == "auto" or _is_positive_integer(self.batch_size)):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        if not (_is_real_number(self.learning_rate_init) and self.learning_rate_init > 0):
            raise ValueError(f"learning_rate_init must be a positive number, got {self.learning_rate_init!r}")
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

    def _new_network(self, X: Array, n_outputs: int, seed: int | None) -> Network:
        return Network(
            [X.shape[1], *self._hidden_sizes(), n_outputs],
            activation=self.activation,
            output_activation=self._output_activation_for(n_outputs),
            optimizer=_optimizers.get_optimizer(self.solver),
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
        return min(200, n_samples) if self.batch_size == "auto" else min(int(self.batch_size), n_samples)

    def _stratify_labels(self, targets: Any) -> np.ndarray | None:
        return None

    def _validation_split(self, X: Array, targets: Any, seed: int | None) -> tuple[tuple, tuple]:
        """``((X_train, targets_train), (X_val, targets_val))`` for early stopping (stratified for classifiers)."""
        context = array_context(X)
        train_rows, validation_rows = train_test_split(
            np.arange(X.shape[0]),
            test_size=self.validation_fraction,
            random_state=seed,
            stratify=self._stratify_labels(targets),
        )
        if validation_rows.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        return tuple(
            (_take_rows(X, rows, context), _take_rows(targets, rows, context)) for rows in (train_rows, validation_rows)
        )

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None):
        """Check everything, train, then assign the fitted attributes: a call that raises changes nothing."""
        self._check_hyperparameters()
        _check_one_backend(X, y, classes)
        first_call = not (incremental and hasattr(self, "network_"))
        X, targets, n_outputs, on_host, fitted = self._validate_training_data(
            X, y, reset=first_call, incremental=incremental, classes=classes
        )
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            # The split's checks do not depend on the seed: run them before drawing one from a RandomState.
            self._validation_split(X, targets, seed=0)
        if first_call:
            seed = self._seed()
            network = self._new_network(X, n_outputs, seed)
            fitted.update(_split_seed=seed, _fitted_on_host=on_host)
        else:
            network = self.network_
        verbose = 1 if self.verbose else 0
        if incremental:
            history = network.fit(
                X,
                targets,
                epochs=1,
                batch_size=self._batch_size(X.shape[0]),
                shuffle=bool(self.shuffle),
                verbose=verbose,
            )
            loss_curve = [*([] if first_call else self.loss_curve_), *history.get("loss", [])]
            fitted.update(best_loss_=min(loss_curve) if loss_curve else None)
            if first_call:
                fitted.update(validation_loss_curve_=None, best_validation_loss_=None)
            converged = True  # one epoch by request: nothing to warn about
        else:
            validation_data = None
            if early_stopping:
                (X, targets), validation_data = self._validation_split(X, targets, fitted["_split_seed"])
                stopper = EarlyStopping(
                    monitor="val_loss", patience=self.n_iter_no_change, min_delta=self.tol, restore_best_weights=True
                )
            else:
                stopper = _TrainingLossStopping(float(self.tol), int(self.n_iter_no_change))
            history = network.fit(
                X,
                targets,
                epochs=int(self.max_iter),
                batch_size=self._batch_size(X.shape[0]),
                validation_data=validation_data,
                callbacks=[stopper],
                verbose=verbose,
                shuffle=bool(self.shuffle),
            )
            loss_curve = list(history.get("loss", []))
            if early_stopping:
                fitted.update(
                    validation_loss_curve_=list(history.get("val_loss", [])),
                    best_validation_loss_=stopper.best if stopper.best_epoch is not None else None,
                    best_loss_=None,
                )
                converged = stopper.stopped_epoch is not None
            else:
                fitted.update(
                    validation_loss_curve_=None,
                    best_validation_loss_=None,
                    best_loss_=min(loss_curve) if loss_curve else None,
                )
                converged = stopper.converged
            converged = converged or network.diverged_epoch is not None or len(loss_curve) < self.max_iter
        fitted.update(
            network_=network,
            loss_curve_=loss_curve,
            n_iter_=len(loss_curve),
            loss_=loss_curve[-1] if loss_curve else math.nan,
        )
        self._assign(fitted)
        if not converged:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

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
        xdnn optimizer with its default settings (see :mod:`xdnn.optimizers`).
    alpha : float, default=1e-4
        L2 penalty ``alpha / (2 m) sum ||W||^2`` per batch of ``m`` samples (scikit-learn's).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Constant learning rate.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Training stops when the loss (the validation loss with ``early_stopping``)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers),
        stop on its loss and keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    dropout : float, default=0.0
        Inverted-dropout rate after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation before each hidden activation.
    dtype : {"float32", "float64"} or None, default=None
        Precision of the network's computations.  ``None`` follows ``X``, as
        scikit-learn's MLP does: float32 for float32 ``X``, float64 for anything else
        (float64, integer or boolean data, lists).  Fixed by the first ``fit`` /
        ``partial_fit`` (``network_.dtype_name``).
    verbose : bool, default=False
        Show a progress bar while training.

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
        Number of epochs run.

"""


@_shared_docs
class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: softmax output for k > 2 classes, one sigmoid unit for 2.

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

    def _output_activation_for(self, n_outputs: int) -> str:
        return "sigmoid" if n_outputs == 1 else "softmax"

    def _stratify_labels(self, targets):
        return targets

    def _validate_training_data(self, X, y, *, reset, incremental, classes):
        """``(X, encoded labels 0..k-1 as NumPy int64, n_outputs, on_host, fitted)``, changing nothing;
        ``fitted`` includes ``classes_`` when resetting."""
        X, y, on_host, fitted = self._validate_input(X, y, reset=reset)
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

    def fit(self, X, y):
        """Train on ``X (n_samples, n_features)`` and labels ``y (n_samples,)``; returns ``self``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (all labels) is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

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
        """Labels of shape ``(n_samples,)`` from ``classes_`` (on X's backend when the classes are numeric)."""
        X, on_host = self._check_X_for_inference(X, "predict")
        network = self.network_
        indices = network.predict(X)
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
    """Multi-layer perceptron regressor: identity output and squared error, one or several targets.

    ``predict`` returns ``(n_samples,)`` for a 1-D ``y`` and ``(n_samples, n_outputs)``
    for a 2-D one.  Array API inputs (CuPy, PyTorch, array-api-strict) train and
    predict on their own device; see :mod:`xdnn.estimators`.

    %(parameters)s

    Attributes
    ----------
    n_outputs_ : int
        Number of targets.
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

    def _output_activation_for(self, n_outputs: int) -> str:
        return "identity"

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
        n_outputs = 1 if y.ndim == 1 else int(y.shape[1])
        if reset:
            fitted.update(n_outputs_=n_outputs, _y_is_2d=y.ndim == 2)
        elif (y.ndim == 2) != self._y_is_2d or n_outputs != self.n_outputs_:
            expected = f"(n_samples, {self.n_outputs_})" if self._y_is_2d else "(n_samples,), a 1-D y"
            raise ValueError(
                f"y has shape {tuple(y.shape)}, but this {type(self).__name__} was fitted on y of shape {expected}; "
                "partial_fit must keep the shape of y"
            )
        return X, y, n_outputs, on_host, fitted

    def fit(self, X, y):
        """Train on ``X (n_samples, n_features)`` and ``y (n_samples,)`` or ``(n_samples, n_outputs)``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``, continuing from the current weights."""
        return self._fit(X, y, incremental=True)

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
