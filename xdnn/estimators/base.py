"""``BaseMLP``: the parameters, ``fit`` / ``partial_fit`` and weight views that :class:`MLPClassifier`
and :class:`MLPRegressor` share.  The work is done by the sibling modules -- ``hyperparameters``,
``data``, ``model``, ``training`` -- in the order ``_fit`` reads; a subclass adds its targets'
validation (``_validate_training_data``), output activation and validation score."""

from __future__ import annotations

import warnings
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from xdnn._backend import active_backend
from xdnn._namespace import is_host_data, to_numpy
from xdnn.dask import is_dask_collection
from xdnn.estimators import dask_input
from xdnn.estimators.data import (
    ACCEPT_SPARSE,
    HOST_FLOAT_DTYPES,
    array_api_dispatch_enabled,
    check_backend_X,
    check_one_backend,
    check_same_namespace,
    check_sample_weight,
    output_dtype_like,
    validate_data,
    validation_split,
)
from xdnn.estimators.hyperparameters import (
    batch_size_for,
    check_hyperparameters,
    optimizer_for,
    schedule_for,
    seed_from,
)
from xdnn.estimators.model import (
    OUTPUT_NAMES,
    check_continued,
    coefs_of,
    dense_layers,
    intercepts_of,
    new_network,
    set_dense_arrays,
)
from xdnn.estimators.training import NoImprovementStopping, TrainingRun, stopping_attributes, train
from xdnn.network import Network
from xdnn.serialization import network_from_state, network_state
from xdnn.sparse_input import backend_takes_sparse

Array = Any


class BaseMLP(BaseEstimator):
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
        # scipy.sparse X (CSR; CSC converted) trains sparse where the network will live (xdnn.sparse_input)
        tags.input_tags.sparse = backend_takes_sparse(active_backend().xp)
        tags.non_deterministic = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"array_api_support": True, "non_deterministic": False}

    def _check_hyperparameters(self) -> None:
        """Validate the constructor parameters (in ``fit``, never in ``__init__``, as scikit-learn requires)."""
        check_hyperparameters(self)

    # --- hooks a subclass may override ----------------------------------------------------------

    def _stratify_labels(self, targets: Any) -> Any:
        """The labels to stratify the early-stopping split by (``None``: a plain random split)."""
        return None

    def _is_multilabel(self) -> bool:
        """Whether the fitted classifier was trained on a multilabel indicator ``y``."""
        return bool(getattr(self, "_multilabel", False))

    # --- training -------------------------------------------------------------------------------

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None, sample_weight: Any = None):
        """Check everything, train, then assign the fitted attributes: a call that raises changes nothing.

        ``partial_fit`` (``incremental``) runs one epoch from the current weights and optimizer state.
        ``fit`` trains a new network -- or, with ``warm_start`` and a fitted one, continues it with a
        fresh optimizer and learning rate from the current parameters, as scikit-learn does.
        """
        self._check_hyperparameters()
        if any(is_dask_collection(value) for value in (X, y, sample_weight)):  # streamed (xdnn.dask)
            if self.early_stopping and not incremental:
                dask_input.refuse_early_stopping(self)
        else:
            check_one_backend(X, y, classes, sample_weight)
        first_call = not ((incremental or self.warm_start) and hasattr(self, "network_"))
        X, targets, n_outputs, on_host, fitted = self._validate_training_data(
            X, y, reset=first_call, incremental=incremental, classes=classes
        )
        weights = check_sample_weight(sample_weight, X)
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            # The split's checks do not depend on the seed: run them before drawing one from a RandomState.
            self._validation_split(X, targets, seed=0)
        output_activation = self._output_activation_for(n_outputs, fitted.get("_multilabel", self._is_multilabel()))
        if first_call:
            seed = seed_from(self.random_state)
            network = new_network(self, X, n_outputs, seed, output_activation)
            fitted.update(_split_seed=seed, _fitted_on_host=on_host)
        else:
            network = self.network_
            check_continued(self, network, n_outputs, output_activation, incremental=incremental)
        # (an estimator pickled before t_ existed continues from t_ = 0)
        loss_curve, t = ([], 0) if first_call else (self.loss_curve_, getattr(self, "t_", 0))
        if incremental:
            run = self._train_one_epoch(network, X, targets, weights, samples_seen=t, continued=not first_call)
        else:
            split_seed = (fitted["_split_seed"] if first_call else self._split_seed) if early_stopping else None
            run = self._train_epochs(
                network,
                X,
                targets,
                weights,
                early_stopping=early_stopping,
                split_seed=split_seed,
                continued=not first_call,
            )
        if first_call and network.diverged_epoch is not None:  # after the network's DivergenceWarning
            raise ValueError(
                f"Solver produced non-finite parameter weights or cost (training diverged at epoch "
                f"{network.diverged_epoch}). The input data may contain large values and need to be preprocessed "
                "(e.g. sklearn.preprocessing.StandardScaler), or learning_rate_init may be too large."
            )
        fitted.update(
            network_=network,
            **run.loss_attributes(loss_curve, t),
            n_outputs_=n_outputs,
            n_layers_=1 + len(dense_layers(network)),
            out_activation_=OUTPUT_NAMES[output_activation],
        )
        fitted.update(
            stopping_attributes(run, fitted["loss_curve_"], first_call=first_call, early_stopping=early_stopping)
        )
        self._assign(fitted)
        # partial_fit runs one epoch by request: nothing to warn about
        if not (incremental or run.stopped_early() or run.interrupted):
            self._warn_unless_converged(network)
        return self

    def _warn_unless_converged(self, network: Network) -> None:
        """scikit-learn's ConvergenceWarning for a ``fit`` that ran all ``max_iter`` epochs without its
        stopping rule ending it (a diverged run is not one)."""
        if network.diverged_epoch is None and self.n_iter_ >= self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # (this method, _fit, fit, then the user's call)
            )

    def _train_one_epoch(
        self, network: Network, X: Array, targets: Any, weights: Any, *, samples_seen: int, continued: bool
    ) -> TrainingRun:
        """``partial_fit``: one epoch from the current weights and solver state, at the learning rate for
        ``samples_seen`` samples so far."""
        n_train = X.shape[0]
        return train(
            network,
            X,
            targets,
            learning_rate=schedule_for(self, n_train, samples_seen=samples_seen, per_call=True),
            l2=float(self.alpha),
            undo_arrays=continued,
            epochs=1,
            batch_size=batch_size_for(self.batch_size, n_train, stacklevel=4),
            shuffle=bool(self.shuffle),
            verbose=1 if self.verbose else 0,
            sample_weight=weights,
        )

    def _train_epochs(
        self,
        network: Network,
        X: Array,
        targets: Any,
        weights: Any,
        *,
        early_stopping: bool,
        split_seed: int | None,
        continued: bool,
    ) -> TrainingRun:
        """``fit``: up to ``max_iter`` epochs under scikit-learn's stopping rule -- on the training loss,
        or with ``early_stopping`` on the score of a held-out share of the data (split by
        ``split_seed``), keeping the best epoch's weights.  A warm start (``continued``) gets
        scikit-learn's fresh solver on the current weights."""
        tol, patience = float(self.tol), int(self.n_iter_no_change)
        validation_data = None
        if early_stopping:
            (X, targets, weights), (*validation_data, validation_weights) = self._validation_split(
                X, targets, split_seed, weights
            )
            validation_score = self._validation_score_of(*validation_data, validation_weights)
            stopper = NoImprovementStopping(
                lambda network, logs: validation_score(network), tol, patience, keep_best_weights=True
            )
        else:
            stopper = NoImprovementStopping(lambda network, logs: -logs["loss"], tol, patience, keep_best_weights=False)
        n_train = X.shape[0]
        return train(
            network,
            X,
            targets,
            learning_rate=schedule_for(self, n_train),
            l2=float(self.alpha),
            optimizer=optimizer_for(self) if continued else None,
            stopper=stopper,
            adaptive=self.solver == "sgd" and self.learning_rate == "adaptive",
            undo_arrays=continued,
            epochs=int(self.max_iter),
            batch_size=batch_size_for(self.batch_size, n_train, stacklevel=4),
            validation_data=None if validation_data is None else tuple(validation_data),
            shuffle=bool(self.shuffle),
            verbose=1 if self.verbose else 0,
            sample_weight=weights,
        )

    def _validation_split(self, X: Array, targets: Any, seed: int | None, weights: Any = None) -> tuple[tuple, tuple]:
        """The early-stopping split (:func:`~xdnn.estimators.data.validation_split`) of
        ``validation_fraction`` of the rows, stratified by the subclass's labels where it can be."""
        return validation_split(
            X,
            targets,
            fraction=self.validation_fraction,
            seed=seed,
            stratify=self._stratify_labels(targets),
            weights=weights,
        )

    def _assign(self, fitted: dict[str, Any]) -> None:
        """Set the fitted attributes of a call that succeeded (a ``None`` feature_names_in_ removes it)."""
        for name, value in fitted.items():
            if name == "feature_names_in_" and value is None:
                self.__dict__.pop(name, None)
            else:
                setattr(self, name, value)

    # --- inference ------------------------------------------------------------------------------

    def _check_X_for_inference(self, X: Any, method: str) -> tuple[Array, bool]:
        """``(X, on_host)`` checked for ``predict`` and friends: fitted, the same namespace as ``fit``
        under ``array_api_dispatch``, and ``n_features_in_`` columns.  A Dask ``X`` (array or data frame)
        comes back as a Dask array (:func:`~xdnn.estimators.dask_input.inference_X`)."""
        check_is_fitted(self)
        if is_dask_collection(X):
            return dask_input.inference_X(self, X), True
        if array_api_dispatch_enabled():
            fitted_context = None if self._fitted_on_host else self.network_.context
            check_same_namespace(X, method, estimator_name=type(self).__name__, fitted_context=fitted_context)
        if is_host_data(X):
            return validate_data(self, X, reset=False, dtype=HOST_FLOAT_DTYPES, accept_sparse=ACCEPT_SPARSE), True
        return check_backend_X(self, X, reset=False), False

    def _output_dtype_like(self, values: Array, X: Array, on_host: bool) -> Array:
        """``values`` on the caller's side (NumPy for host input) in the floating dtype of ``X``."""
        return output_dtype_like(values, X, on_host, self.network_.context.xp)

    # --- scikit-learn's view of the weights -----------------------------------------------------

    @property
    def coefs_(self) -> list[Array]:
        """scikit-learn's weights: ``coefs_[i]`` of shape ``(n_inputs, n_units)`` of layer ``i + 1`` --
        ``W{i+1}.T``, a view of the network's parameter (writing it changes the network); assigning a
        list of such arrays sets the weights."""
        return self._as_fitted(coefs_of(self.network_))

    @property
    def intercepts_(self) -> list[Array]:
        """scikit-learn's biases: ``intercepts_[i]`` of shape ``(n_units,)`` -- a view of ``b{i+1}``
        (zeros for a bias-free layer before a batch norm)."""
        return self._as_fitted(intercepts_of(self.network_))

    @coefs_.setter
    def coefs_(self, coefs: list[Any]) -> None:
        """Set the weights from scikit-learn-shaped ``(n_inputs, n_units)`` arrays (copied in)."""
        check_is_fitted(self)
        set_dense_arrays(self.network_, coefs, "coefs_", lambda layer: (layer.n_inputs, layer.units), "W")

    @intercepts_.setter
    def intercepts_(self, intercepts: list[Any]) -> None:
        """Set the biases from ``(n_units,)`` arrays (copied in); a bias-free layer takes only zeros."""
        check_is_fitted(self)
        set_dense_arrays(self.network_, intercepts, "intercepts_", lambda layer: (layer.units,), "b")

    def _as_fitted(self, arrays: list[Array]) -> list[Array]:
        """Arrays of the network's backend, as NumPy arrays when ``fit`` was given host data (sharing
        the memory where the backend allows: NumPy, PyTorch on the CPU)."""
        return [to_numpy(array) for array in arrays] if self._fitted_on_host else arrays

    def to_onnx(self, path: Any = None) -> Any:
        """The ONNX model (``onnx.ModelProto``) of ``predict`` and ``predict_proba`` / ``predict``, written to
        ``path`` if given (:mod:`xdnn.onnx_export`): input ``X (N, n_features_in_)`` in the network's dtype;
        outputs ``label`` (``classes_``; a multilabel 0/1 matrix) and ``probabilities`` (two columns for
        two classes), or ``prediction`` (``(N, 1)`` for a ``y`` of one column).  Needs
        ``pip install "xdnn-array[onnx]"``."""
        from xdnn.onnx_export import export_network

        check_is_fitted(self)
        classes = None if self._is_multilabel() else getattr(self, "classes_", None)
        return export_network(
            self.network_, path, classes=classes, both_class_probabilities=hasattr(self, "classes_"),
            prediction_columns=bool(getattr(self, "_y_is_2d", False)),
        )  # fmt: skip

    # --- pickling -------------------------------------------------------------------------------

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
