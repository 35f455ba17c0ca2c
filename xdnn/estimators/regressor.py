"""``MLPRegressor``: one or several numeric targets, the squared error or the Poisson loss, R^2 as the
score and the early-stopping validation score."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import r2_score

from xdnn._namespace import array_context, is_host_data, to_numpy
from xdnn.dask import is_dask_collection
from xdnn.estimators.base import BaseMLP
from xdnn.estimators.data import check_one_backend, validate_input
from xdnn.estimators.docs import shared_docs

_REGRESSION_LOSSES = {"squared_error": "identity", "poisson": "exp"}  # loss -> output activation


@shared_docs
class MLPRegressor(RegressorMixin, BaseMLP):
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
    # parameters of BaseMLP, and scikit-learn's ``loss`` (keyword-only here: ``MLPRegressor((64,))``
    # keeps giving the hidden layers, as it does in xdnn; scikit-learn takes ``loss`` first).
    __init__.__signature__ = inspect.signature(BaseMLP.__init__).replace(
        parameters=[
            *inspect.signature(BaseMLP.__init__).parameters.values(),
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
        X, y, on_host, fitted = validate_input(self, X, y, reset=reset, multi_output=True, y_numeric=True)
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
            values = values[:, None] if is_dask_collection(values) else network.context.xp.reshape(values, (-1, 1))
        return self._output_dtype_like(values, X, on_host)

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of ``predict(X)`` as a Python float (host data or one backend's arrays)."""
        check_one_backend(X, y, sample_weight)
        predicted = to_numpy(self.predict(X))
        return float(r2_score(to_numpy(y), predicted, sample_weight=to_numpy(sample_weight)))
