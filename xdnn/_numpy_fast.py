"""NumPy fast paths: a training step's products and sums through NumPy's cheaper entry points.

On the small arrays of a tutorial network NumPy's per-call dispatch, not arithmetic, fills
a training step: ``np.sum`` runs through a Python wrapper that ``np.add.reduce`` (the same
ufunc reduction) skips, and ``np.dot`` dispatches a 2-D product faster than ``@`` (the
same BLAS ``gemm``).  Together about 5 us of a 40 us step of the planar network.

This is the only module besides :mod:`xdnn._cupy_kernels` that knows a backend by name.  It
is used only when the namespace *is* NumPy and fast paths are on (``xdnn.set_fast_paths``,
``XDNN_FAST_PATHS``); the portable Array API code in :mod:`xdnn.linear` is the other path, and
the tests assert both give the same numbers.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy

from xdnn import _cupy_kernels


class NumpyOps(NamedTuple):
    """``matmul(a, b) = a @ b`` (2-D); ``row_sum(a) = sum(a, axis=1, keepdims=True)``; ``total(a) = sum(a)``."""

    matmul: Callable[[Any, Any], Any]
    row_sum: Callable[[Any], Any]
    total: Callable[[Any], Any]


def _row_sum(a: Any) -> Any:
    return numpy.add.reduce(a, axis=1, keepdims=True)


def _total(a: Any) -> Any:
    return numpy.add.reduce(a, axis=None)


_OPS = NumpyOps(numpy.dot, _row_sum, _total)


def ops_for(xp: Any) -> NumpyOps | None:
    """The fast NumPy operations when ``xp`` is NumPy and fast paths are on, else ``None`` (portable code)."""
    if xp is numpy and _cupy_kernels.fast_paths_enabled():
        return _OPS
    return None
