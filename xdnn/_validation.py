"""Input checks shared by the public APIs: each raises a ``ValueError`` naming the problem.

Checks run at the API boundary, before any state changes.  Checks that need a
value from the device (``isfinite``) cost one synchronisation per call, never
one per training step.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

Array = Any


def check_count(value: Any, name: str, *, minimum: int) -> int:
    """``value`` as an ``int`` of at least ``minimum``; raise unless it is a whole number (not a bool)."""
    whole = (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and int(value) == value
    )
    if not whole or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seed(seed: Any) -> int | list[int] | None:
    """``None``, a non-negative integer (NumPy's too) as an ``int``, or a non-empty sequence of them
    as a ``list`` (what ``numpy.random.SeedSequence`` takes); raise naming the seed otherwise."""
    if seed is None:
        return None
    if isinstance(seed, numbers.Real):  # whole numbers only (check_count refuses bools and fractions)
        return check_count(seed, "seed (or None)", minimum=0)
    if isinstance(seed, (list, tuple)) and seed:
        return [check_count(entry, "each entry of a seed sequence", minimum=0) for entry in seed]
    raise ValueError(f"seed (or None) must be an integer >= 0 or a sequence of them, got {seed!r}")


def check_positive(value: Any, name: str) -> float:
    """``value`` as a ``float``; raise unless it is a real number or a 0-d array of one (not a
    bool), > 0 and finite."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real and getattr(value, "shape", None) == () and not isinstance(value, (str, bytes)):
        try:  # a 0-d array (NumPy's, PyTorch's...) holding the number
            value, real = float(value), True
        except (TypeError, ValueError):
            pass
    if not real or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_fraction(value: Any, name: str, *, noun: str = "number") -> float:
    """``value`` as a ``float``; raise unless it is a real number (not a bool) in ``[0, 1)``: a
    dropout rate, or the weight of a running average's past (the message says ``name`` must be a
    ``noun`` in [0, 1))."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a {noun} in [0, 1), got {value!r}")
    return float(value)


def as_finite_dtype(array: Array, dtype: Any, name: str, *, xp: Any, copy: bool = True) -> Array:
    """``array`` cast to ``dtype`` (``copy`` as in ``xp.astype``), checked free of NaN and inf
    (:func:`check_finite`).

    Floating data cast to a narrower dtype (float64 to float32) is range-checked first, so finite
    values too large for it are named as such -- not as inf, and without the overflow warning the
    cast itself would give -- and the data's own NaN or inf is reported before that.
    """
    if array.dtype == dtype:
        check_finite(array, name, xp=xp)
        return array
    if xp.isdtype(array.dtype, "real floating") and float(xp.finfo(array.dtype).max) > float(xp.finfo(dtype).max):
        check_finite(array, name, xp=xp)
        largest = float(xp.finfo(dtype).max)
        if bool(xp.any(xp.abs(array) > largest)):
            dtype_name = str(getattr(dtype, "__name__", dtype)).rsplit(".", 1)[-1]  # float32, in every library
            raise ValueError(
                f"{name} has values too large for {dtype_name} (largest magnitude {largest:.4g}); "
                "scale the data, or train in float64"
            )
        return xp.astype(array, dtype, copy=copy)
    cast = xp.astype(array, dtype, copy=copy)
    check_finite(cast, name, xp=xp)
    return cast


def check_rank(array: Array, rank: int, name: str) -> None:
    """Raise unless ``array.ndim == rank``."""
    if array.ndim != rank:
        raise ValueError(f"{name} must be {rank}-D, got an array of shape {tuple(array.shape)}")


def check_not_empty(array: Array, name: str) -> None:
    """Raise for an array with a zero-length axis."""
    if any(size == 0 for size in array.shape):
        raise ValueError(f"{name} is empty (shape {tuple(array.shape)}); need at least one sample and feature")


def check_finite(array: Array, name: str, *, xp: Any) -> None:
    """Raise if ``array`` holds NaN or inf (one device read).

    The maximum and minimum are reductions that allocate nothing (an ``isfinite`` mask of a
    large data set is a quarter of its size again): NaN propagates through both (as the
    Array API standard specifies), +inf is the maximum and -inf the minimum, so both are
    finite exactly when every entry is.
    """
    if not xp.isdtype(array.dtype, "real floating"):
        if xp.isdtype(array.dtype, "complex floating") and not bool(xp.all(xp.isfinite(array))):
            raise ValueError(f"{name} contains NaN or inf values; remove or impute them")
        return
    if array.ndim == 0 or math.prod(array.shape) == 0:
        extremes = xp.reshape(array, (-1,))
    else:
        extremes = xp.stack([xp.max(array), xp.min(array)])
    if not bool(xp.all(xp.isfinite(extremes))):
        bad = "NaN" if bool(xp.any(xp.isnan(array))) else "inf"
        raise ValueError(f"{name} contains {bad} values; remove or impute them")


def check_sample_weight_values(weights: Array, *, xp: Any) -> None:
    """Raise unless the (finite) sample ``weights`` are all >= 0 and not all zero."""
    if not bool(xp.all(weights >= 0)):
        raise ValueError("sample_weight must be non-negative")
    if not bool(xp.any(weights > 0)):
        raise ValueError("sample_weight must not be all zero: no sample would count")


def check_binary_targets(Y: Array, name: str, *, xp: Any) -> None:
    """Raise unless every entry of ``Y`` lies in ``[0, 1]`` (labels or probabilities)."""
    if not bool(xp.all((Y >= 0) & (Y <= 1))):
        raise ValueError(f"{name} must hold binary labels 0/1 (or probabilities in [0, 1]) for a sigmoid output")


def check_same_samples(first: Array, second: Array, names: tuple[str, str], *, axis: int) -> None:
    """Raise unless both arrays have the same number of samples along ``axis``."""
    if first.shape[axis] != second.shape[axis]:
        raise ValueError(
            f"{names[0]} and {names[1]} have different numbers of samples: "
            f"{names[0]} has shape {tuple(first.shape)}, {names[1]} has shape {tuple(second.shape)}"
        )
