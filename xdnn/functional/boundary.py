"""The tutorial API's boundary: resolve the namespace once, move host data, agree on one dtype."""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

from xdnn._namespace import ArrayContext, array_context

Array = Any
Parameters = dict[str, Array]


def warn_unless_binary(Y: Array, name: str, xp: Any) -> None:
    """The course's code computes the cross-entropy of whatever ``Y`` it is given (its shape tests
    feed random real numbers); so does this API, with a warning unless ``Y`` holds 0/1 labels or
    probabilities.  (:class:`xdnn.Network` and the estimators refuse such targets.)"""
    if not bool(xp.all((Y >= 0) & (Y <= 1))):
        warnings.warn(
            f"{name} holds values outside [0, 1]: the cross-entropy is computed as written, but it is the "
            "cost of 0/1 labels (or probabilities)",
            UserWarning,
            stacklevel=3,
        )


def floating_dtype(arrays: Sequence[Array], xp: Any) -> Any:
    """The promoted floating dtype of ``arrays`` (float32 with float64 gives float64); float64 if none."""
    floating = [array.dtype for array in arrays if xp.isdtype(array.dtype, "real floating")]
    return xp.result_type(*floating) if floating else xp.float64


def prepare(*values: Any) -> tuple[ArrayContext, list[Array]]:
    """Resolve the namespace once; move host data; give every array the one float dtype in use
    (PyTorch's ``@`` does not promote float32 with float64, so mixed inputs are cast here)."""
    context = array_context(*values)
    arrays = [context.asarray(value) for value in values]
    dtype = floating_dtype(arrays, context.xp)
    arrays = [array if array.dtype == dtype else context.xp.astype(array, dtype) for array in arrays]
    return context, arrays


def prepare_parameters(parameters: Mapping[str, Array], *others: Any) -> tuple[ArrayContext, Parameters, list[Array]]:
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters must be a dict with keys W1, b1, ..., got {type(parameters).__name__}")
    names = list(parameters)
    context, arrays = prepare(*others, *(parameters[name] for name in names))
    moved = dict(zip(names, arrays[len(others) :], strict=True))
    return context, moved, arrays[: len(others)]


def size(array: Array) -> int:
    """Number of elements (``math.prod`` of the shape: some namespaces have no ``size``)."""
    return math.prod(int(extent) for extent in array.shape)


def number_of_layers(parameters: Mapping[str, Array]) -> int:
    layers = 0
    while f"W{layers + 1}" in parameters:
        layers += 1
    if layers == 0 or any(f"b{layer}" not in parameters for layer in range(1, layers + 1)):
        raise ValueError(f"parameters must hold W1, b1, ..., WL, bL; got keys {sorted(parameters)}")
    return layers
