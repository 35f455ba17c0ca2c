"""The linear part of a layer, ``Z = W A_prev + b``, and its backward pass.

Tutorial layout: ``A_prev`` is ``(n[l-1], m)``, ``W`` is ``(n[l], n[l-1])``, ``b`` is
``(n[l], 1)`` and ``Z`` is ``(n[l], m)``.  ``dZ`` is the per-sample gradient, so the
parameter gradients are averages over the ``m`` samples:

    dW      = (1/m) dZ A_prev^T        shape (n[l], n[l-1])
    db      = (1/m) sum_i dZ[:, i]     shape (n[l], 1)
    dA_prev = W^T dZ                   shape (n[l-1], m)
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from xdnn import _cupy_kernels, _numpy_fast

Array = Any


def check_linear_shapes(A_prev: Array, W: Array, b: Array) -> None:
    """Raise a ``ValueError`` naming the shapes when ``W @ A_prev + b`` is not defined."""
    if A_prev.ndim != 2 or W.ndim != 2:
        raise ValueError(f"A_prev and W must be 2-D, got shapes {tuple(A_prev.shape)} and {tuple(W.shape)}")
    if W.shape[1] != A_prev.shape[0]:
        raise ValueError(
            f"shape mismatch: W has shape {tuple(W.shape)} but A_prev has shape {tuple(A_prev.shape)}; "
            f"W[l] must be (n[l], n[l-1]) with n[l-1] = A_prev.shape[0] = {A_prev.shape[0]}"
        )
    if tuple(b.shape) != (W.shape[0], 1):  # a 1-D b would broadcast along the samples axis
        raise ValueError(
            f"shape mismatch: b has shape {tuple(b.shape)}, expected ({W.shape[0]}, 1) to match W {tuple(W.shape)}"
        )


def linear_forward(A_prev: Array, W: Array, b: Array, *, xp: Any) -> Array:
    """``Z = W @ A_prev + b`` (``b`` broadcasts over the ``m`` columns)."""
    return forward_function(xp)(A_prev, W, b)


def linear_backward(
    dZ: Array, A_prev: Array, W: Array, *, xp: Any, input_gradient: bool = True
) -> tuple[Array | None, Array, Array]:
    """Return ``(dA_prev, dW, db)`` for ``Z = W A_prev + b`` (see the module docstring).

    ``input_gradient=False`` skips ``dA_prev = W^T dZ`` (returned as ``None``): the
    first layer of a network needs no gradient with respect to the data.
    """
    return backward_function(xp)(dZ, A_prev, W, input_gradient)


def _matrix_product(xp: Any) -> Callable[[Array, Array], Array]:
    """The portable code's ``a @ b`` on ``xp``: on CuPy :func:`xdnn._cupy_kernels.product` (cuBLAS,
    or a kernel a CUDA graph can record), elsewhere the operator."""
    return _cupy_kernels.product if _cupy_kernels.applies_to(xp) else operator.matmul


def forward_function(xp: Any) -> Callable[[Array, Array, Array], Array]:
    """``(A_prev, W, b) -> Z`` on ``xp``, resolved once: NumPy's fast path
    (:func:`xdnn._numpy_fast.affine`) or the portable ``W @ A_prev + b``."""
    if _numpy_fast.ops_for(xp):
        return _numpy_fast.affine
    product = _matrix_product(xp)

    def portable_forward(A_prev, W, b):
        return product(W, A_prev) + b

    return portable_forward


def backward_function(xp: Any) -> Callable[[Array, Array, Array, bool], tuple[Array | None, Array, Array]]:
    """``(dZ, A_prev, W, input_gradient) -> (dA_prev, dW, db)`` on ``xp``, resolved once: NumPy's
    fast path (:func:`xdnn._numpy_fast.affine_backward`) or the portable products and sum."""
    if _numpy_fast.ops_for(xp):
        return _numpy_fast.affine_backward
    product = _matrix_product(xp)

    def portable_backward(dZ, A_prev, W, input_gradient):
        m = A_prev.shape[1]
        dW = product(dZ, A_prev.T) / m
        db = xp.sum(dZ, axis=1, keepdims=True) / m
        return (product(W.T, dZ) if input_gradient else None), dW, db

    return portable_backward
