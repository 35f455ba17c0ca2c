"""NumPy fast paths: a training step's products and sums through NumPy's cheaper entry points.

On the small arrays of a tutorial network NumPy's per-call dispatch, not arithmetic, fills
a training step: ``np.sum`` runs through a Python wrapper that ``np.add.reduce`` (the same
ufunc reduction) skips, and ``np.dot`` dispatches a 2-D product faster than ``@`` (the
same BLAS ``gemm``).  Together about 5 us of a 40 us step of the planar network.

On the large arrays of a wide network memory traffic fills the step instead: the bias is added
into the fresh product (:func:`affine`), and a relu :class:`xdnn.Dense` layer applies its
activation to its own ``Z`` and its derivative to the fresh incoming ``dA`` in place
(:func:`in_place_activation`) -- no new ``(n, m)`` arrays, a quarter less peak memory.

This is the only module besides :mod:`xdnn._cupy_kernels` that knows a backend by name.  It
is used only when the namespace *is* NumPy and fast paths are on (``xdnn.set_fast_paths``,
``XDNN_FAST_PATHS``); the portable Array API code in :mod:`xdnn.linear` is the other path, and
the tests assert both give the same numbers.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import numpy

from xdnn import _cupy_kernels


class NumpyOps(NamedTuple):
    """``matmul(a, b) = a @ b`` (2-D); ``row_sum(a) = sum(a, axis=1, keepdims=True)``; ``total(a) = sum(a)``."""

    matmul: Callable[[Any, Any], Any]
    row_sum: Callable[[Any], Any]
    total: Callable[[Any], Any]


# Partials of the ufunc reduction: called from C, without a Python frame of their own.
_OPS = NumpyOps(
    numpy.dot,
    functools.partial(numpy.add.reduce, axis=1, keepdims=True),
    functools.partial(numpy.add.reduce, axis=None),
)
_SWITCH = _cupy_kernels.FAST_PATHS  # the one switch of every fast path (xdnn.set_fast_paths)


def ops_for(xp: Any) -> NumpyOps | None:
    """The fast NumPy operations when ``xp`` is NumPy and fast paths are on, else ``None`` (portable code)."""
    return _OPS if xp is numpy and _SWITCH["enabled"] else None


def affine(A_prev: Any, W: Any, b: Any) -> Any:
    """``W @ A_prev + b`` with the bias added into the fresh product (one array, not two); the
    argument order of :func:`xdnn.linear.linear_forward`."""
    Z = numpy.dot(W, A_prev)
    if Z.dtype == b.dtype:
        Z += b
        return Z
    return Z + b  # mixed dtypes promote, as the portable path does


def affine_backward(dZ: Any, A_prev: Any, W: Any, input_gradient: bool) -> tuple[Any, Any, Any]:
    """``(dA_prev, dW, db)`` of :func:`affine` (see :func:`xdnn.linear.linear_backward`) through
    ``np.dot`` and ``np.add.reduce``; the argument order of :func:`xdnn.linear.backward_function`."""
    m = A_prev.shape[1]
    dA_prev = numpy.dot(W.T, dZ) if input_gradient else None
    return dA_prev, numpy.dot(dZ, A_prev.T) / m, _OPS.row_sum(dZ) / m


class InPlaceActivation(NamedTuple):
    """``forward(Z)`` overwrites and returns ``Z``; ``backward(dA, A)`` overwrites and returns ``dA``.

    Only for arrays the caller owns: a :class:`xdnn.Dense` layer's own ``Z`` and the fresh ``dA``
    its backward pass receives.  Same numbers as the portable activation, no new arrays.
    """

    forward: Callable[[Any], Any]
    backward: Callable[[Any, Any], Any]


def _relu_in_place(Z: Any) -> Any:
    return numpy.maximum(Z, 0, out=Z)


def _relu_backward_in_place(dA: Any, A: Any) -> Any:
    return numpy.multiply(dA, A > 0, out=dA)  # a bool factor needs no float copy of the mask


_IN_PLACE = {"relu": InPlaceActivation(_relu_in_place, _relu_backward_in_place)}


def in_place_activation(name: str, xp: Any) -> InPlaceActivation | None:
    """The in-place form of activation ``name`` when ``xp`` is NumPy and fast paths are on, else ``None``."""
    return _IN_PLACE.get(name) if ops_for(xp) else None
