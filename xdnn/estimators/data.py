"""Input preparation for the estimators: checking ``X`` (scikit-learn's validation for host data, the
same checks by hand for a backend's arrays), the one-backend rule, sample weights, the held-out split
of early stopping, and results returned on the caller's side.  Nothing here changes an estimator."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from xdnn import _validation
from xdnn._namespace import ArrayContext, array_context, is_host_data, is_sparse, to_numpy
from xdnn.dask import is_dask_collection

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6: the same checks live on BaseEstimator

    def validate_data(estimator, X="no_validation", y="no_validation", **check_params):
        return estimator._validate_data(X, y, **check_params)


Array = Any

HOST_FLOAT_DTYPES = (np.float64, np.float32)
# A sparse X is taken as CSR (another format, CSC included, is converted once), as scikit-learn's MLP
# takes CSR or CSC: the network gathers a batch's rows of it (xdnn.sparse_input).
ACCEPT_SPARSE = "csr"


def array_api_dispatch_enabled() -> bool:
    return bool(sklearn.get_config().get("array_api_dispatch", False))


def check_one_backend(*values: Any) -> None:
    """Refuse arrays of two backends or devices in one call (:class:`~xdnn.BackendMismatchError`), as
    :class:`xdnn.Network` does; host data mixes with anything.  Inside
    ``sklearn.config_context(array_api_dispatch=True)`` scikit-learn's rule applies instead
    (its ``check_array_api_mixed_inputs``): everything follows ``X``, the other inputs are moved to it."""
    if not array_api_dispatch_enabled():
        array_context(*values)


def shape_of(data: Any) -> tuple[int, ...]:
    """The shape of an array, data frame or nested list; ``()`` for what NumPy cannot make an array of
    (the validation that follows names the problem)."""
    shape = getattr(data, "shape", None)
    if shape is not None:
        return tuple(shape)
    try:
        return np.asarray(data).shape
    except (ValueError, TypeError):
        return ()


def take_rows(array: Any, indices: np.ndarray, context: ArrayContext) -> Any:
    """Rows ``indices`` (host integers) of a NumPy or backend array, or of a sparse matrix."""
    if isinstance(array, np.ndarray) or is_sparse(array):
        return array[indices]
    return context.xp.take(array, context.asarray(indices), axis=0)


def check_backend_X(estimator: Any, X: Array, *, reset: bool) -> Array:
    """scikit-learn's checks of ``X``, for an array of a backend (CuPy, PyTorch, ...); changes nothing.
    Unless ``reset``, ``X`` must have the estimator's ``n_features_in_`` columns.  A
    ``cupyx.scipy.sparse`` ``X`` comes back as CSR, its stored values checked."""
    name = type(estimator).__name__
    xp = array_context(X).xp
    if is_sparse(X):
        X = X if X.format == "csr" else X.tocsr()
    values = X.data if is_sparse(X) else X
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array X of shape (n_samples, n_features), got {X.ndim}D array of shape "
            f"{tuple(X.shape)} instead. Reshape your data with X.reshape(-1, 1) if it has a single feature "
            "or X.reshape(1, -1) if it holds a single sample."
        )
    if X.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 is required.")
    if X.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is required.")
    if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
        raise ValueError(f"X must hold real numbers, got an array of dtype {X.dtype}")
    if xp.isdtype(X.dtype, "real floating") and not bool(xp.all(xp.isfinite(values))):
        bad = "NaN" if bool(xp.any(xp.isnan(values))) else "infinity"
        raise ValueError(f"Input X contains {bad}; {name} does not accept missing values: impute them first.")
    if not reset and X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting {estimator.n_features_in_} features as input."
        )
    return X


def validate_input(estimator: Any, X: Any, y: Any, *, reset: bool, **check_params) -> tuple[Array, Any, bool, dict]:
    """``(X, y, on_host, fitted)`` with ``X`` checked, changing nothing.

    Host ``X`` gets scikit-learn's validation (with ``check_params``, ``y`` included);
    a backend ``X`` gets :func:`check_backend_X` and ``y`` comes back as given, for
    the estimator to check.  ``fitted`` holds the attributes to assign once the whole
    call has succeeded (``n_features_in_``, ``feature_names_in_``; ``None`` removes it).
    Dask ``X`` or ``y`` come back as Dask arrays with the same row chunks
    (:func:`xdnn.estimators.dask_input.validate_dask_input`), ``on_host`` true.
    """
    if is_dask_collection(X) or is_dask_collection(y):
        from xdnn.estimators.dask_input import validate_dask_input

        return validate_dask_input(estimator, X, y, reset=reset)
    if is_host_data(X):
        if y is not None and not is_host_data(y):
            y = to_numpy(y)
        # scikit-learn's validation records n_features_in_ on the estimator it is given: a clone when resetting.
        checker = clone(estimator) if reset else estimator
        X, y = validate_data(
            checker, X, y, reset=reset, dtype=HOST_FLOAT_DTYPES, accept_sparse=ACCEPT_SPARSE, **check_params
        )
        names = getattr(checker, "feature_names_in_", None)
        on_host = True
    else:
        if y is None:
            raise ValueError(
                f"This {type(estimator).__name__} estimator requires y to be passed, but the target y is None."
            )
        X = check_backend_X(estimator, X, reset=reset)
        names = None
        on_host = False
    fitted = {"n_features_in_": int(X.shape[1]), "feature_names_in_": names} if reset else {}
    return X, y, on_host, fitted


def check_same_namespace(X: Any, method: str, *, estimator_name: str, fitted_context: ArrayContext | None) -> None:
    """Under ``array_api_dispatch``, refuse input from a namespace or device other than fit's
    (``fitted_context``: the network's, or ``None`` when ``fit`` was given host data)."""
    if not array_api_dispatch_enabled():
        return
    if is_host_data(X):
        if fitted_context is None:
            return
        problem = (
            f"Array namespace used during fit ({fitted_context.xp.__name__}) is not compatible with "
            f"the array-like input passed to {method}. Only the NumPy namespace is compatible with "
            "array-like inputs."
        )
    else:
        context = array_context(X)
        if fitted_context is not None and context == fitted_context:
            return
        fitted = "numpy" if fitted_context is None else fitted_context.xp.__name__
        problem = f"Array namespaces or devices used during fit ({fitted}) and {method} ({context.xp.__name__}) differ."
    raise ValueError(
        f"Inputs passed to {estimator_name}.{method}() must use the same namespace and the same device "
        f"as those passed to fit(). {problem}"
    )


def output_dtype_like(values: Array, X: Array, on_host: bool, xp: Any) -> Array:
    """``values`` (an array of namespace ``xp``) on the caller's side -- NumPy for host input -- in the
    floating dtype of ``X``; Dask ``values`` stay lazy."""
    if is_dask_collection(values):
        from xdnn.estimators.dask_input import output_dtype_like as dask_output_dtype_like

        return dask_output_dtype_like(values, X)
    if on_host:
        return to_numpy(values).astype(X.dtype, copy=False)
    if xp.isdtype(X.dtype, "real floating") and values.dtype != X.dtype:
        return xp.astype(values, X.dtype)
    return values


def validation_split(
    X: Array, targets: Any, *, fraction: float, seed: int | None, stratify: np.ndarray | None, weights: Any = None
) -> tuple[tuple, tuple]:
    """``((X_train, targets_train, weights_train), (X_val, targets_val, weights_val))`` for early
    stopping, ``fraction`` of the rows held out (weights ``None`` without ``sample_weight``), stratified
    by ``stratify`` (a classifier's labels) when every class can be on both sides (each has 2
    samples, each side room for all)."""
    context = array_context(X)
    n_samples = X.shape[0]
    if stratify is not None:
        n_validation = math.ceil(fraction * n_samples)
        counts = np.unique(stratify, return_counts=True)[1]
        if counts.min() < 2 or min(n_validation, n_samples - n_validation) < counts.shape[0]:
            stratify = None
    train_rows, validation_rows = train_test_split(
        np.arange(n_samples), test_size=fraction, random_state=seed, stratify=stratify
    )
    if validation_rows.shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your dataset.")
    return tuple(
        (
            take_rows(X, rows, context),
            take_rows(targets, rows, context),
            None if weights is None else take_rows(weights, rows, context),
        )
        for rows in (train_rows, validation_rows)
    )


def check_sample_weight(sample_weight: Any, X: Array) -> Any:
    """``sample_weight`` checked -- real numbers, one per sample (a number weights every sample
    alike), finite, non-negative, not all zero -- before anything changes (the seed drawn from a
    ``RandomState`` included): a NumPy float64 ``(n_samples,)`` array for host data, or as given
    for an array of ``X``'s backend; ``None`` stays ``None``.  Dask weights are returned as given: the
    network's streamed fit checks them chunk by chunk before training (:mod:`xdnn.dask.streaming`)."""
    if sample_weight is None or is_dask_collection(sample_weight):
        return sample_weight
    # On a backend's X a weight array of that backend stays there; anything else (host data, or
    # under array_api_dispatch another library's array) comes home and follows X.
    keep = not is_host_data(sample_weight) and not is_host_data(X) and array_context(sample_weight) == array_context(X)
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
