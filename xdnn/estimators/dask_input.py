"""Dask input for the estimators: ``X`` and ``y`` as dask arrays or data frames (``fit``,
``partial_fit``, ``predict``, ``predict_proba``), checked without reading the data.

* Data frames become arrays (``to_dask_array``); their column names, all strings, become
  ``feature_names_in_`` as scikit-learn's validation makes them of a pandas frame, and are checked
  against it at ``predict`` (a mismatch raises, a frame without or with unexpected names warns).
* ``X`` gets scikit-learn's checks that need only its shape and dtype; its values (NaN, inf, too
  large) are checked chunk by chunk by the network's streamed fit (:mod:`xdnn.dask.streaming`)
  before training, or when a prediction is computed.
* A classifier's labels are found with ``dask.array.unique`` (one pass over ``y``, whose result is
  small) and encoded block by block; ``predict`` maps the indices back block by block.
* Results are lazy dask arrays in ``X``'s floating dtype (float64 for other dtypes).

Early stopping holds out a random share of the data, which would have to be in memory: an
estimator with ``early_stopping=True`` refuses Dask input (see :func:`refuse_early_stopping`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from xdnn.dask import is_dask_collection
from xdnn.dask.chunks import aligned_arrays, as_dask_array, samples_chunked
from xdnn.labels import feature_names

Array = Any


def refuse_early_stopping(estimator: Any) -> None:
    """``early_stopping=True`` splits off a random validation share of the data in memory: not of Dask data."""
    raise ValueError(
        f"{type(estimator).__name__}(early_stopping=True) holds out a random validation_fraction of the data in "
        "memory, which dask input is not: fit with early_stopping=False (the stopping rule then watches the "
        "training loss), or compute X and y into memory first"
    )


def check_feature_names(estimator: Any, names: np.ndarray | None, *, stacklevel: int) -> None:
    """scikit-learn's check of ``names`` against the fitted ``feature_names_in_`` (not at a reset);
    ``stacklevel`` counts the frames from the caller to the user's call, which a warning names."""
    fitted = getattr(estimator, "feature_names_in_", None)
    name = type(estimator).__name__
    if fitted is not None and names is not None:
        if names.shape != fitted.shape or not np.all(names == fitted):
            raise ValueError(
                "The feature names should match those that were passed during fit.\n"
                f"Fitted with: {list(fitted)}\nGiven: {list(names)}"
            )
    elif fitted is not None:
        message = f"X does not have valid feature names, but {name} was fitted with feature names"
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
    elif names is not None:
        message = f"X has feature names, but {name} was fitted without feature names"
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)


def check_X(estimator: Any, X: Any, *, reset: bool) -> None:
    """The checks of a Dask ``X`` (2-D) that need no data: samples, features, dtype, and unless ``reset``
    the fitted ``n_features_in_``."""
    name = type(estimator).__name__
    if X.shape[0] == 0 or X.shape[1] == 0:
        what = "sample(s)" if X.shape[0] == 0 else "feature(s)"
        raise ValueError(f"Found array with 0 {what} (shape={tuple(X.shape)}) while a minimum of 1 is required.")
    if np.dtype(X.dtype).kind not in "biuf":
        raise ValueError(f"X must hold real numbers, got an array of dtype {X.dtype}")
    if not reset and X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting {estimator.n_features_in_} features as input."
        )


def validate_dask_input(estimator: Any, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any, bool, dict]:
    """:func:`xdnn.estimators.data.validate_input` for Dask ``X`` or ``y``: ``(X, y, True, fitted)``, both
    Dask arrays with the same row chunks (:func:`xdnn.dask.chunks.aligned_arrays`; in-memory ones are
    cut into them), ``X`` checked by :func:`check_X`; changes nothing."""
    if y is None:
        name = type(estimator).__name__
        raise ValueError(f"This {name} estimator requires y to be passed, but the target y is None.")
    names = feature_names(X)
    X, y = aligned_arrays(X, y, names=("X", "y"))
    check_X(estimator, X, reset=reset)
    if not reset:
        check_feature_names(estimator, names, stacklevel=6)  # (this, validate_input, its caller, _fit, fit, user)
    fitted = {"n_features_in_": int(X.shape[1]), "feature_names_in_": names} if reset else {}
    return X, y, True, fitted


def inference_X(estimator: Any, X: Any) -> Any:
    """A Dask ``X`` (array or data frame, whose partition lengths stay uncomputed) checked for ``predict``."""
    names = feature_names(X)
    X = samples_chunked(as_dask_array(X, "X", lengths=False), "X", known=False)
    check_X(estimator, X, reset=False)
    check_feature_names(estimator, names, stacklevel=4)  # (this, _check_X_for_inference, predict, the user)
    return X


def unique_values(y: Any) -> np.ndarray:
    """The sorted distinct values of a Dask ``y`` (computed: one pass over ``y``)."""
    import dask.array as da

    return np.asarray(da.unique(y).compute())


def label_column(y: Any) -> Any:
    """A Dask ``y`` of labels as ``(n_samples,)``: a column ``(n_samples, 1)`` is raveled with
    scikit-learn's ``DataConversionWarning``; other shapes raise."""
    from sklearn.exceptions import DataConversionWarning

    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
            "(n_samples, ), for example using ravel().",
            DataConversionWarning,
            stacklevel=5,
        )
        return y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {tuple(y.shape)} instead.")
    return y


def encode_labels(y: Any, classes: np.ndarray) -> Any:
    """Labels ``y`` (Dask, all in the sorted ``classes``) as int64 indices into ``classes``, block by block."""
    return y.map_blocks(_searchsorted, classes=classes, dtype=np.int64, meta=np.empty((0,), np.int64))


def _searchsorted(block: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return np.searchsorted(classes, block).astype(np.int64)


def take_classes(indices: Any, classes: np.ndarray) -> Any:
    """The labels ``classes[indices]`` of Dask ``indices``, block by block."""
    return indices.map_blocks(_take, classes=classes, dtype=classes.dtype, meta=np.empty((0,), classes.dtype))


def _take(block: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return classes[block]


def two_columns(probabilities: Any) -> Any:
    """``[1 - p, p]`` of a Dask ``(n_samples, 1)`` sigmoid output: both classes' probabilities."""
    import dask.array as da

    return da.concatenate([1.0 - probabilities, probabilities], axis=1)


def output_dtype_like(values: Any, X: Any) -> Any:
    """Dask ``values`` in the floating dtype of ``X`` (float32 or float64; float64 for other dtypes)."""
    dtype = np.dtype(X.dtype) if np.dtype(X.dtype) in (np.float32, np.float64) else np.dtype(np.float64)
    return values if values.dtype == dtype else values.astype(dtype)


__all__ = [
    "check_X",
    "encode_labels",
    "feature_names",
    "inference_X",
    "is_dask_collection",
    "label_column",
    "output_dtype_like",
    "refuse_early_stopping",
    "take_classes",
    "two_columns",
    "unique_values",
    "validate_dask_input",
]
