"""Input preparation for :class:`xdnn.Network`: data checked and moved before anything changes.

Every function takes the network (for its dtype, input size, output layer and loss) and the call's
:class:`xdnn._namespace.ArrayContext`, and returns arrays on that context in the network's dtype,
or raises an error that names the argument and the problem.  None of them changes the network.

* ``X`` is ``(n_samples, n_features)`` of real numbers, finite in the network's dtype;
* targets become ``(n_samples, k)``: integer labels of a softmax output are one-hot encoded, 0/1
  labels (or probabilities) for sigmoid outputs, non-negative values for a Poisson loss;
* sample weights are ``(n_samples,)``, finite, non-negative and not all zero;
* and on the way out, an inference's outputs are finite (:func:`check_finite_output`): finite inputs
  can still overflow the dtype inside the network, and a NaN probability is never handed back.
"""

from __future__ import annotations

from typing import Any

from xdnn import _validation
from xdnn import sparse_input as _sparse_input
from xdnn._namespace import ArrayContext, BackendMismatchError

Array = Any


def prepare_X(network: Any, X: Any, context: ArrayContext, name: str = "X") -> Array:
    """Checked ``X (n, f)`` on ``context`` in the network dtype; changes nothing.  A sparse ``X`` stays
    sparse, as CSR (:func:`xdnn.sparse_input.prepare_sparse_X`)."""
    if _sparse_input.is_sparse(X):
        return _sparse_input.prepare_sparse_X(network, X, context, name)
    X = as_named_array(X, context, name)
    _validation.check_rank(X, 2, name)
    _validation.check_not_empty(X, name)
    if not context.xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{name} must hold real numbers (floats, integers or booleans), got dtype {X.dtype}")
    X = _validation.as_finite_dtype(X, getattr(context.xp, network.dtype_name), name, xp=context.xp, copy=False)
    if network.n_features is not None and X.shape[1] != network.n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but this network was built for {network.n_features} features"
        )
    return X


def prepare_targets(
    network: Any, y: Any, n_samples: int, context: ArrayContext, names: tuple[str, str] = ("X", "y")
) -> Array:
    """Targets as ``(n_samples, k)`` in the network dtype, checked against the output layer."""
    xp = context.xp
    name = names[1]
    y = as_named_array(y, context, name)
    if not xp.isdtype(y.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{name} must hold real numbers (floats, integers or booleans), got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got an array of shape {tuple(y.shape)}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{names[0]} and {name} have different numbers of samples: {n_samples} and {y.shape[0]}")
    dtype = getattr(xp, network.dtype_name)
    y = _validation.as_finite_dtype(y, dtype, name, xp=xp)
    k = network.output_units
    if network.loss.name == "categorical_crossentropy" and (y.ndim == 1 or y.shape[1] == 1):
        labels = xp.reshape(y, (-1,))
        if not bool(xp.all((labels == xp.round(labels)) & (labels >= 0) & (labels < k))):
            raise ValueError(
                f"{name} must hold integer class labels 0..{k - 1} for a softmax output of {k} units (or one-hot rows)"
            )
        classes = xp.arange(k, dtype=dtype, device=context.device)
        return xp.astype(xp.reshape(labels, (-1, 1)) == xp.reshape(classes, (1, k)), dtype)
    if y.ndim == 1:
        y = xp.reshape(y, (-1, 1))
    if y.shape[1] != k:
        raise ValueError(f"{name} has {y.shape[1]} columns but the output layer has {k} units")
    if network.loss.name == "binary_crossentropy" and not bool(xp.all((y >= 0) & (y <= 1))):
        raise ValueError(
            f"{name} must hold 0/1 labels (or probabilities in [0, 1]) for a sigmoid output; "
            'for regression targets use loss="mse" (an identity output)'
        )
    if network.loss.name == "poisson" and not bool(xp.all(y >= 0)):
        raise ValueError(f"{name} must hold non-negative targets (counts, rates) for a Poisson loss")
    if network.loss.name == "categorical_crossentropy":
        row_sums = xp.sum(y, axis=1)  # (n_samples,)
        if not (bool(xp.all(y >= 0)) and bool(xp.all(xp.abs(row_sums - 1.0) < 1e-3))):
            raise ValueError(f"{name} rows must be one-hot (or probabilities summing to 1) for a softmax output")
    return y


def prepare_sample_weight(network: Any, sample_weight: Any, n_samples: int, context: ArrayContext) -> Array:
    """Checked sample weights ``(n_samples,)`` in the network dtype on ``context`` (a number
    weights every sample alike); changes nothing."""
    xp = context.xp
    weights = as_named_array(sample_weight, context, "sample_weight")
    if not xp.isdtype(weights.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"sample_weight must hold real numbers, got dtype {weights.dtype}")
    if weights.ndim == 0:
        weights = xp.broadcast_to(weights, (n_samples,))
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per sample, got {tuple(weights.shape)}"
        )
    weights = _validation.as_finite_dtype(weights, getattr(xp, network.dtype_name), "sample_weight", xp=xp)
    _validation.check_sample_weight_values(weights, xp=xp)
    return weights


def prepare_data(
    network: Any, X: Any, y: Any, context: ArrayContext, names: tuple[str, str] = ("X", "y")
) -> tuple[Array, Array]:
    """Checked ``X (n, f)`` and ``Y (n, k)`` on ``context``; changes nothing."""
    X = prepare_X(network, X, context, names[0])
    return X, prepare_targets(network, y, X.shape[0], context, names)


def check_finite_output(network: Any, call: str, X: Array, A: Array) -> None:
    """Raise ``ValueError`` when the outputs ``A (k, n_samples)`` of ``call`` hold NaN or inf.

    ``X (n_samples, n_features)`` is finite (checked on the way in), so the cause is an overflow
    inside the network: inputs far larger than the training data, or parameters too large; the
    message gives both magnitudes.  One device read when everything is finite."""
    xp = network.context.xp
    if bool(xp.all(xp.isfinite(A))):
        return
    bad_samples = int(xp.sum(xp.astype(xp.any(~xp.isfinite(A), axis=0), xp.int64)))
    largest_input = _sparse_input.largest_magnitude(X, xp=xp)
    largest_parameter = max(float(xp.max(xp.abs(value))) for value in network.parameters.values())
    raise ValueError(
        f"{call}: the network's output is NaN or inf for {bad_samples} of {A.shape[1]} samples: its activations "
        f"overflow {network.dtype_name} (largest input magnitude {largest_input:.4g}, largest parameter magnitude "
        f"{largest_parameter:.4g}); scale the inputs as the training data were, or use a float64 network"
    )


def mismatch_error(network: Any, context: ArrayContext) -> Exception:
    return BackendMismatchError(
        f"this network lives on backend {network.backend!r} (device {network.context.device}) but the data is on "
        f"{context.backend_name!r} (device {context.device}); move the data with xdnn.to_numpy(...) "
        f"or the network with network.to({context.backend_name!r})"
    )


def as_named_array(data: Any, context: ArrayContext, name: str) -> Array:
    """``data`` on ``context``; a non-numeric host array is refused with its argument's name."""
    try:
        return context.asarray(data)
    except TypeError as error:
        raise TypeError(f"{name}: {error}") from None
    except ValueError as error:  # e.g. ragged rows: NumPy's "inhomogeneous shape" message
        raise ValueError(f"{name} is not a rectangular array of numbers: {error}") from None
