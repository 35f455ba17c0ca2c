"""NumPy executors: the same definitions through NumPy's cheaper entry points and in place.

On a tutorial network's small arrays per-call dispatch, not arithmetic, fills a training step:
small products go through ``np.dot`` and sums through ``np.add.reduce`` (the same BLAS ``gemm``
and ufunc loops with less dispatch).  On a wide network's large arrays memory traffic fills it:
the bias is added into the fresh product (:func:`affine`), the bias gradient is a BLAS product
with a ones vector, products keep their input's memory layout (:func:`samples_major_full_batch`),
activation-sized results whose rows would alias in the L1 cache get rows one cache line longer
(:func:`row_padded_empty`), and a relu or tanh :class:`xdnn.Dense` layer applies its activation
and its derivative in place on arrays it owns (:func:`relu_in_place`, ...).

Every function that runs a definition is registered against it (:mod:`xdnn.executors`) and used
only when the namespace is NumPy and fast paths are on (``xdnn.set_fast_paths``,
``XDNN_FAST_PATHS``); ``tests/test_executors.py`` asserts each gives its definition's numbers.
Why each threshold is what it is, with measurements: ``bench/results/numpy-executors.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy

from xdnn import activations, linear, losses, optimizers, training_data
from xdnn.backends import glibc_heap
from xdnn.executors import IN_PLACE, register

# A full batch with at least as many features as samples and this many elements stays samples-major
# (a view of the caller's X); others are copied feature-major.  Why: bench/results/numpy-executors.md.
SAMPLES_MAJOR_MIN_ELEMENTS = 1 << 16


def samples_major(A: Any) -> bool:
    """Whether the tutorial-layout ``(n, m)`` array ``A`` is stored samples-major: ``A.T`` is the
    row-major ``(m, n)`` array, as for the transposed view of a caller's ``X``."""
    return A.strides[0] < A.strides[1]


def samples_major_full_batch(X: Any, Y: Any) -> tuple[Any, Any] | None:
    """The full batch ``(X.T, Y.T)`` of :meth:`xdnn.Network.fit` kept samples-major -- views of the
    ``(m, n_features)`` and ``(m, k)`` arrays (copied only if not row-major) -- or ``None`` when ``X``
    is small enough that feature-major copies are faster."""
    m, n_features = X.shape
    if n_features < m or m * n_features < SAMPLES_MAJOR_MIN_ELEMENTS:
        return None
    return numpy.ascontiguousarray(X).T, numpy.ascontiguousarray(Y).T


# Rows transposed at a time by feature_major_copy (a block stays in cache; NumPy copies a column at a time).
TRANSPOSE_BLOCK_ROWS = 512


def feature_major_copy(A: Any) -> Any:
    """The row-major ``(n, m)`` copy of the ``(m, n)`` array ``A``'s transpose, ``TRANSPOSE_BLOCK_ROWS``
    rows of ``A`` at a time: the feature-major full batch of :meth:`xdnn.Network.fit` (its rows
    padded where :func:`row_padded_empty` pads them)."""
    m, n = A.shape
    copy = row_padded_empty(n, m, A.dtype)
    for start in range(0, m, TRANSPOSE_BLOCK_ROWS):
        stop = start + TRANSPOSE_BLOCK_ROWS
        copy[:, start:stop] = A[start:stop].T
    return copy


def full_batch(X: Any, Y: Any, *, xp: Any = None) -> tuple[Any, Any]:
    """The full batch ``(X.T, Y.T)`` of :meth:`xdnn.Network.fit` in tutorial layout: the samples-major
    views of :func:`samples_major_full_batch` where they apply, else :func:`feature_major_copy`'s."""
    return samples_major_full_batch(X, Y) or (feature_major_copy(X), feature_major_copy(Y))


# A product with at least this many output elements runs through np.matmul (np.dot zero-fills its
# output first); smaller ones through np.dot, whose dispatch is cheaper.  Same gemm, same numbers.
MATMUL_MIN_ELEMENTS = 1 << 14

# Rows a multiple of this many bytes long alias in the L1 cache: such product results get rows one
# cache line longer (row_padded_empty).  Measurements: bench/results/numpy-executors.md.
ALIASING_ROW_BYTES = 4096
ROW_PADDING_BYTES = 64
# A product result with fewer rows is not padded (a kernel's few rows fit the cache's ways).
PADDED_MIN_ROWS = 16
# Nor are shorter rows: elementwise work on a padded (non-contiguous) array costs more per row.
PADDED_MIN_ROW_BYTES = 1 << 14
# Nor is the result of a product with a longer inner dimension (it computes long enough to hide misses).
PADDED_MAX_INNER = 256
# No row-padded array has fewer elements (16 rows of 2048 float64 or 4096 float32).
PADDED_MIN_ELEMENTS = PADDED_MIN_ROWS * PADDED_MIN_ROW_BYTES // 8


def row_padded_empty(rows: int, columns: int, dtype: Any) -> Any:
    """An uninitialised row-major ``(rows, columns)`` array of ``dtype``; when its rows would be a
    multiple of :data:`ALIASING_ROW_BYTES` long (at least :data:`PADDED_MIN_ROW_BYTES`, and at least
    :data:`PADDED_MIN_ROWS` of them), the view of the first ``columns`` of each row of a
    ``(rows, columns + ROW_PADDING_BYTES / itemsize)`` array."""
    dtype = numpy.dtype(dtype)
    row_bytes = columns * dtype.itemsize
    if rows < PADDED_MIN_ROWS or row_bytes < PADDED_MIN_ROW_BYTES or row_bytes % ALIASING_ROW_BYTES:
        return numpy.empty((rows, columns), dtype)
    return numpy.empty((rows, columns + ROW_PADDING_BYTES // dtype.itemsize), dtype)[:, :columns]


def _contiguous(a: Any) -> bool:
    flags = a.flags
    return flags.c_contiguous or flags.f_contiguous


def _blas_reads_in_place(a: Any) -> bool:
    """Whether ``gemm`` reads the 2-D array ``a`` where it lies, as ``np.matmul`` passes it: unit steps
    along one axis and a step along the other of a whole number of items, at least that axis's
    length (a contiguous array, a row-padded one, or either's transpose)."""
    if _contiguous(a):
        return True
    itemsize = a.itemsize
    rows_step, columns_step = a.strides
    if columns_step == itemsize:
        return rows_step % itemsize == 0 and rows_step >= a.shape[1] * itemsize
    return rows_step == itemsize and columns_step % itemsize == 0 and columns_step >= a.shape[0] * itemsize


def matrix_product(a: Any, b: Any, padded: bool = False) -> Any:
    """The 2-D matrix product ``a @ b`` through NumPy's cheapest path to the same ``gemm``:

    * ``np.dot`` for a result under :data:`MATMUL_MIN_ELEMENTS` elements of operands too small to
      be row-padded, or contiguous ones;
    * ``np.matmul`` for a larger result, or for operands ``gemm`` reads in place that are not
      contiguous (row-padded activations: ``np.dot`` would copy them);
    * ``np.dot`` for other strided views such as ``X[:, ::2]``, which it copies for ``gemm`` while
      ``np.matmul`` would multiply them in a plain loop without BLAS.

    ``padded`` (an activation-sized result, ``Z`` or ``dA_prev``): a large result of an inner
    dimension up to :data:`PADDED_MAX_INNER` goes into :func:`row_padded_empty`'s array.
    """
    small = a.shape[0] * b.shape[1] < MATMUL_MIN_ELEMENTS
    if small and (max(a.size, b.size) < PADDED_MIN_ELEMENTS or (_contiguous(a) and _contiguous(b))):
        return numpy.dot(a, b)
    if not (_blas_reads_in_place(a) and _blas_reads_in_place(b)):
        return numpy.dot(a, b)
    if small or not padded or a.shape[1] > PADDED_MAX_INNER:
        return numpy.matmul(a, b)
    out = row_padded_empty(a.shape[0], b.shape[1], numpy.result_type(a, b))
    return numpy.matmul(a, b, out=out)


@register(linear.linear_forward, backend="numpy")
def affine(A_prev: Any, W: Any, b: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.linear.linear_forward`: ``W @ A_prev + b`` with the bias added into the fresh
    product (one array, not two); ``b=None``: the product alone.

    ``Z`` keeps ``A_prev``'s memory layout: for a samples-major ``A_prev`` the product runs as
    ``(A_prev^T W^T)^T`` -- the same ``gemm`` on row-major operands (about 20% faster for the
    cat classifier's ``(20, 12288) x (12288, 209)``), and the elementwise work after it never
    mixes two layouts.  A ``scipy.sparse`` ``A_prev`` (a sparse X's batch) goes to :func:`sparse_affine`.
    """
    if not isinstance(A_prev, numpy.ndarray):  # a scipy.sparse batch (xdnn.sparse_input): the first layer's input
        return sparse_affine(A_prev, W, b)
    # samples_major's stride test and matrix_product's first choice written out: this runs for
    # every layer of every step, and a tutorial network's step is a few dozen such calls.
    strides = A_prev.strides
    if W.shape[0] * A_prev.shape[1] < MATMUL_MIN_ELEMENTS and A_prev.size < PADDED_MIN_ELEMENTS:
        Z = numpy.dot(A_prev.T, W.T).T if strides[0] < strides[1] else numpy.dot(W, A_prev)
    elif strides[0] < strides[1]:
        Z = matrix_product(A_prev.T, W.T, padded=True).T
    else:
        Z = matrix_product(W, A_prev, padded=True)
    if b is None:
        return Z
    if Z.dtype != b.dtype:
        return Z + b  # mixed dtypes promote, as the portable path does
    strides = Z.strides
    if strides[0] < strides[1]:
        return _add_bias_samples_major(Z, b)
    Z += b
    return Z


# Elements per row of the memory views that elementwise work on a samples-major array runs along
# (NumPy's inner loop is called once per row).
ROW_ELEMENTS = 8192
# Below this many samples the bias add runs along the short rows (the repeated row costs more).
BIAS_TILE_MIN_SAMPLES = 1024


def _add_bias_samples_major(Z: Any, b: Any) -> Any:
    """``Z += b`` for the samples-major ``(n, m)`` product ``Z`` (``Z.T`` row-major), along rows of
    about :data:`ROW_ELEMENTS`: ``q = ROW_ELEMENTS // n`` samples' rows of ``Z.T`` side by side,
    plus ``b^T`` repeated ``q`` times (the same additions, the same numbers)."""
    n, m = Z.shape
    samples = Z.T  # (m, n)
    per_row = ROW_ELEMENTS // n
    if m < BIAS_TILE_MIN_SAMPLES or per_row < 2 or not samples.flags.c_contiguous:
        samples += b.T
        return Z
    repeated = numpy.empty((per_row, n), Z.dtype)
    repeated[...] = b.T
    blocked = m - m % per_row
    block = samples[:blocked].reshape(blocked // per_row, per_row * n)
    block += repeated.reshape(1, per_row * n)
    if blocked < m:
        samples[blocked:] += b.T
    return Z


OUTER_PRODUCT_MIN_ELEMENTS = 1 << 16


@functools.lru_cache(maxsize=8)
def _ones(m: int, dtype: Any) -> Any:
    ones = numpy.ones((m, 1), dtype)
    ones.flags.writeable = False
    return ones


@register(linear.linear_backward, backend="numpy")
def affine_backward(
    dZ: Any, A_prev: Any, W: Any, *, xp: Any = None, input_gradient: bool = True
) -> tuple[Any, Any, Any]:
    """:func:`xdnn.linear.linear_backward`: ``(dA_prev, dW, db)`` of :func:`affine` in three
    products (:func:`matrix_product`; ``dA_prev`` row-padded like ``Z``).

    ``dA_prev`` takes ``A_prev``'s layout (the layer below multiplies the two elementwise).  The
    row sum ``db`` is a product with a ones vector: BLAS's ``gemv`` reads ``dZ`` once with vector
    instructions, five times faster than ``np.add.reduce`` on a ``(64, 8192)`` array, and (for a
    samples-major ``dZ``, which NumPy would reduce one column after another) more accurately.
    The averages divide the fresh products in place.  A ``scipy.sparse`` ``A_prev`` goes to
    :func:`sparse_affine_backward`.
    """
    if not isinstance(A_prev, numpy.ndarray):  # a scipy.sparse batch (xdnn.sparse_input)
        return sparse_affine_backward(dZ, A_prev, W, input_gradient=input_gradient)
    n_prev, m = A_prev.shape
    # One output unit: dA_prev = W^T dZ is an outer product, faster as a broadcast multiply once large.
    outer = W.shape[0] == 1 and W.shape[1] * m >= OUTER_PRODUCT_MIN_ELEMENTS
    # (the layout test and matrix_product's first choice written out, as in affine)
    strides = A_prev.strides
    unpadded = dZ.size < PADDED_MIN_ELEMENTS and A_prev.size < PADDED_MIN_ELEMENTS
    if not input_gradient:
        dA_prev = None
    elif unpadded and n_prev * m < MATMUL_MIN_ELEMENTS:
        dA_prev = numpy.dot(dZ.T, W).T if strides[0] < strides[1] else numpy.dot(W.T, dZ)
    elif outer:
        dtype = numpy.result_type(dZ, W)
        if strides[0] < strides[1]:
            dA_prev = numpy.multiply(dZ.T, W, out=row_padded_empty(m, n_prev, dtype)).T
        else:
            dA_prev = numpy.multiply(W.T, dZ, out=row_padded_empty(n_prev, m, dtype))
    elif strides[0] < strides[1]:
        dA_prev = matrix_product(dZ.T, W, padded=True).T
    else:
        dA_prev = matrix_product(W.T, dZ, padded=True)
    ones = _ones(m, dZ.dtype)
    if unpadded:
        dW = numpy.dot(dZ, A_prev.T) if W.size < MATMUL_MIN_ELEMENTS else matrix_product(dZ, A_prev.T)
        db = numpy.dot(dZ, ones)
    else:
        dW, db = matrix_product(dZ, A_prev.T), matrix_product(dZ, ones)
    dW /= constant(m, dW.dtype)  # in place on the fresh product: no second (n[l], n[l-1]) array
    db /= constant(m, db.dtype)
    return dA_prev, dW, db


def sparse_affine(A_prev: Any, W: Any, b: Any) -> Any:
    """:func:`affine` of a ``scipy.sparse`` ``A_prev (n[l-1], m)`` -- a batch's CSR rows transposed (CSC):
    ``Z = (A_prev^T W^T)^T + b``, scipy's CSR-times-dense product with the sparse operand first
    (``nnz(A_prev) n[l]`` multiply-adds; the portable ``W @ A_prev`` reaches the same product through
    scipy's reflected ``@``).  ``Z`` comes samples-major, as a dense mini-batch's does."""
    Z = (A_prev.T @ W.T).T
    if b is None:
        return Z
    if Z.dtype != b.dtype:
        return Z + b
    return _add_bias_samples_major(Z, b)


def sparse_affine_backward(dZ: Any, A_prev: Any, W: Any, *, input_gradient: bool = True) -> tuple[Any, Any, Any]:
    """:func:`affine_backward` of a ``scipy.sparse`` ``A_prev (n[l-1], m)`` (see :func:`sparse_affine`):
    ``dW = (1/m) (A_prev dZ^T)^T`` -- scipy's CSC-times-dense product, ``nnz(A_prev) n[l]`` multiply-adds,
    copied row-major as ``W`` is -- ``db = (1/m) dZ 1`` as the dense path sums it, and (only where asked:
    a network's first layer never is) the dense ``dA_prev = W^T dZ``."""
    m = A_prev.shape[1]
    dW = numpy.ascontiguousarray((A_prev @ dZ.T).T)
    db = numpy.dot(dZ, _ones(m, dZ.dtype))
    dW /= constant(m, dW.dtype)
    db /= constant(m, db.dtype)
    return (numpy.dot(W.T, dZ) if input_gradient else None), dW, db


@functools.lru_cache(maxsize=64)
def constant(value: float, dtype: Any) -> Any:
    """``value`` as a read-only 0-d array of ``dtype``, for the scalar operand of an elementwise step.

    NumPy resolves a Python number against an array on every call (NEP 50's weak scalar), about
    0.6-1 us of an operation on a tutorial network's small arrays, which take 1 us in all with a
    0-d operand.  The result is the same: the weak scalar is converted to the array's dtype first.
    (Cached by value: a training step's few constants -- 0, 1, its batch size, its learning rate.)
    """
    array = numpy.asarray(value, dtype)
    array.flags.writeable = False
    return array


def one_float_dtype(*arrays: Any) -> bool:
    """Whether the given arrays (``None`` skipped) share one floating dtype: in-place work on them
    then rounds nothing that the portable expression (which promotes mixed dtypes) would not."""
    dtypes = {array.dtype for array in arrays if array is not None}
    return len(dtypes) == 1 and dtypes.pop().kind == "f"


@register(activations.sigmoid, backend="numpy")
def sigmoid(Z: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.activations.sigmoid`, ``exp(min(Z, 0)) / (1 + exp(-|Z|))``, operation for operation
    in two fresh arrays instead of six (the same numbers): on a tutorial network's ``(1, m)``
    output the allocations and scalar conversions, not the arithmetic, fill the call."""
    if Z.dtype.kind != "f":
        return activations.sigmoid(Z, xp=numpy)
    denominator = numpy.abs(Z)
    numpy.negative(denominator, out=denominator)
    numpy.exp(denominator, out=denominator)
    denominator += constant(1.0, Z.dtype)
    A = numpy.minimum(Z, constant(0.0, Z.dtype))
    numpy.exp(A, out=A)
    A /= denominator
    return A


@register(losses.binary_crossentropy_cost, backend="numpy")
def binary_crossentropy_cost(Z: Any, A: Any, Y: Any, *, xp: Any = None, weights: Any = None) -> Any:
    """:func:`xdnn.losses.binary_crossentropy_cost`, ``sum(max(Z, 0) - Z Y + log1p(exp(-|Z|))) / m``
    (times ``weights`` before the sum), operation for operation in three fresh arrays instead of
    eight (the same numbers, see :func:`sigmoid`), for ``Z`` and ``Y`` of one floating dtype."""
    if not one_float_dtype(Z, Y, weights):
        return losses.binary_crossentropy_cost(Z, A, Y, xp=numpy, weights=weights)
    softplus_tail = numpy.abs(Z)  # log1p(exp(-|Z|)), built in place
    numpy.negative(softplus_tail, out=softplus_tail)
    numpy.exp(softplus_tail, out=softplus_tail)
    numpy.log1p(softplus_tail, out=softplus_tail)
    terms = numpy.maximum(Z, constant(0.0, Z.dtype))
    terms -= Z * Y
    terms += softplus_tail
    if weights is not None:
        terms *= weights  # in place: the (1, m) weights broadcast over the k outputs
    return numpy.add.reduce(terms, axis=None) / Z.shape[-1]


@functools.lru_cache(maxsize=8)
def _zeros_row(dtype: Any) -> Any:
    zeros = numpy.zeros(ROW_ELEMENTS, dtype)
    zeros.flags.writeable = False
    return zeros


@register(activations.relu, backend="numpy", variant=IN_PLACE)
def relu_in_place(Z: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.activations.relu` written over ``Z`` (returned)."""
    # np.maximum against a zeros row takes the vectorised array-array loop (a scalar operand does not),
    # along rows of ROW_ELEMENTS of Z's memory.
    if Z.size < 2 * ROW_ELEMENTS or not _contiguous(Z):
        zeros = numpy.zeros((Z.shape[0], 1) if samples_major(Z) else (1, Z.shape[1]), Z.dtype)
        return numpy.maximum(Z, zeros, out=Z)
    memory = Z.reshape(-1) if Z.flags.c_contiguous else Z.T.reshape(-1)  # views
    zeros = _zeros_row(Z.dtype)
    blocked = memory.size - memory.size % ROW_ELEMENTS
    rows = memory[:blocked].reshape(blocked // ROW_ELEMENTS, ROW_ELEMENTS)
    numpy.maximum(rows, zeros, out=rows)
    if blocked < memory.size:
        tail = memory[blocked:]
        numpy.maximum(tail, zeros[: tail.size], out=tail)
    return Z


@register(activations.relu_backward, backend="numpy", variant=IN_PLACE)
def relu_backward_in_place(dA: Any, A: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.activations.relu_backward` written over ``dA`` (returned)."""
    return numpy.multiply(dA, A > 0, out=dA)  # a bool factor needs no float copy of the mask


@register(activations.tanh, backend="numpy", variant=IN_PLACE)
def tanh_in_place(Z: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.activations.tanh` written over ``Z`` (returned)."""
    return numpy.tanh(Z, out=Z)


@register(activations.tanh_backward, backend="numpy", variant=IN_PLACE)
def tanh_backward_in_place(dA: Any, A: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.activations.tanh_backward` written over ``dA`` (returned)."""
    factor = A * A  # the portable dA * (1 - A * A), operation for operation, in one temporary
    numpy.subtract(constant(1.0, A.dtype), factor, out=factor)
    return numpy.multiply(dA, factor, out=dA)


@register(activations.tanh_backward, backend="numpy", variant=activations.OVER_OUTPUT)
def tanh_backward_over_output(dA: Any, A: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.activations.tanh_backward` written over ``dA`` (returned), ``A`` used as scratch."""
    numpy.multiply(A, A, out=A)  # the same operations, the factor written over A
    numpy.subtract(constant(1.0, A.dtype), A, out=A)
    return numpy.multiply(dA, A, out=dA)


# --- optimizer steps -------------------------------------------------------------------------------


@register(optimizers.gradient_descent_update, backend="numpy", variant=optimizers.IN_PLACE)
def gradient_descent_in_place(parameters: dict, grads: Any, state: dict, *, xp: Any = None, learning_rate: float):
    """:func:`xdnn.optimizers.gradient_descent_update` of every parameter, ``W -= lr * dW`` in place
    (one loop, not a call per parameter: a tutorial network's step is short)."""
    for name, W in parameters.items():
        W -= learning_rate * grads["d" + name]


@register(optimizers.gradient_descent_update, backend="numpy", variant=optimizers.OVER_GRADIENTS)
def gradient_descent_over_gradients(parameters: dict, grads: Any, state: dict, *, xp: Any = None, learning_rate: float):
    """:func:`gradient_descent_in_place` with ``lr * dW`` written over ``dW`` (``dW *= lr; W -= dW``): the
    same two operations, no temporary the size of ``W``."""
    if type(learning_rate) not in (float, int):  # a NumPy scalar rate would round lr * g to g's dtype first
        gradient_descent_in_place(parameters, grads, state, learning_rate=learning_rate)
        return
    for name, W in parameters.items():
        dW = grads["d" + name]
        dW *= constant(learning_rate, dW.dtype)  # the rate as NumPy converts it anyway, without the cost
        W -= dW


# --- a fit's data and allocator ---------------------------------------------------------------------

register(training_data.full_batch, backend="numpy")(full_batch)


@register(training_data.prepare_fit, backend="numpy")
def prepare_fit(*, xp: Any = None) -> None:
    """Each step's freed arrays kept for the next (see :mod:`xdnn.backends.glibc_heap`)."""
    glibc_heap.keep_freed_blocks()


@register(training_data.split_runner, backend="numpy")
def split_runner(batch_samples: int, multiply_adds_per_sample: float, *, xp: Any = None) -> Any:
    """A large batch's samples split across threads (:class:`xdnn.backends.numpy_threads.SplitSteps`)."""
    from xdnn.backends.numpy_threads import SplitSteps

    return SplitSteps.for_batches(batch_samples, multiply_adds_per_sample)
