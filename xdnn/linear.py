"""The linear part of a layer, ``Z = W A_prev + b``, and its backward pass.

Tutorial layout: ``A_prev`` is ``(n[l-1], m)``, ``W`` is ``(n[l], n[l-1])``, ``b`` is
``(n[l], 1)`` (or ``None``: no bias) and ``Z`` is ``(n[l], m)``.  ``dZ`` is the per-sample
gradient, so the parameter gradients are averages over the ``m`` samples:

    dW      = (1/m) dZ A_prev^T        shape (n[l], n[l-1])
    db      = (1/m) sum_i dZ[:, i]     shape (n[l], 1)
    dA_prev = W^T dZ                   shape (n[l-1], m)

A backend may run these faster (NumPy's products through cheaper entry points, CuPy's through a
kernel a CUDA graph can record): its executors are registered against the two functions here.
"""

from __future__ import annotations

from typing import Any

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


def linear_forward(A_prev: Array, W: Array, b: Array | None, *, xp: Any) -> Array:
    """``Z = W @ A_prev + b`` (``b`` broadcasts over the ``m`` columns; ``None``: ``Z = W @ A_prev``).

    >>> import array_api_compat, xdnn
    >>> A_prev = xdnn.asarray([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    >>> W, b = xdnn.asarray([[1.0, 2.0]]), xdnn.asarray([[0.5]])
    >>> Z = linear_forward(A_prev, W, b, xp=array_api_compat.array_namespace(A_prev))
    >>> [float(z) for z in Z[0, :]]
    [3.5, 3.5, 3.5]
    """
    Z = W @ A_prev
    return Z if b is None else Z + b


def linear_backward(
    dZ: Array, A_prev: Array, W: Array, *, xp: Any, input_gradient: bool = True
) -> tuple[Array | None, Array, Array]:
    """Return ``(dA_prev, dW, db)`` for ``Z = W A_prev + b`` (see the module docstring).

    ``input_gradient=False`` skips ``dA_prev = W^T dZ`` (returned as ``None``): the
    first layer of a network needs no gradient with respect to the data.
    """
    m = A_prev.shape[1]
    dW = (dZ @ A_prev.T) / m
    db = xp.sum(dZ, axis=1, keepdims=True) / m
    return (W.T @ dZ if input_gradient else None), dW, db
