"""Row-padded activations of the NumPy fast path (xdnn.backends.numpy.row_padded_empty): a product whose
rows would be a multiple of 4 KiB long is written into rows one cache line longer.  The padding
changes where the numbers lie, never the numbers."""

from __future__ import annotations

import numpy as np
import pytest

import xdnn
from xdnn.backends import numpy as numpy_backend


@pytest.fixture
def no_padding(monkeypatch):
    """Returns a function that turns row padding off (no row length is a multiple of 2**60 bytes)."""
    return lambda: monkeypatch.setattr(numpy_backend, "ALIASING_ROW_BYTES", 1 << 60)


def is_padded(A) -> bool:
    """Whether the 2-D array ``A`` is a view of the first columns of longer rows."""
    return A.strides[1] == A.itemsize and A.strides[0] > A.shape[1] * A.itemsize


@pytest.mark.parametrize(
    ("rows", "columns", "dtype", "padded"),
    [
        (64, 8192, "float32", True),  # 32 KiB rows
        (64, 4096, "float64", True),
        (16, 16384, "float32", True),
        (64, 4096, "float32", True),  # 16 KiB rows
        (64, 2048, "float32", False),  # 8 KiB rows: NumPy's per-row cost would outweigh the gain
        (64, 1024, "float64", False),
        (15, 8192, "float32", False),  # too few rows to fill a cache set
        (64, 8200, "float32", False),  # rows not a multiple of 4 KiB
        (64, 1000, "float64", False),
    ],
)
def test_only_long_rows_of_a_multiple_of_4_kib_are_padded(rows, columns, dtype, padded):
    A = numpy_backend.row_padded_empty(rows, columns, dtype)
    assert A.shape == (rows, columns) and A.dtype == np.dtype(dtype)
    if padded:
        assert is_padded(A) and A.strides[0] == columns * A.itemsize + numpy_backend.ROW_PADDING_BYTES
        assert A.strides[0] % numpy_backend.ALIASING_ROW_BYTES != 0
    else:
        assert A.flags.c_contiguous


def test_blas_reads_contiguous_and_padded_arrays_in_place_but_not_a_column_stride():
    X = np.zeros((300, 40))
    padded = np.zeros((300, 48))[:, :40]
    assert numpy_backend._blas_reads_in_place(X) and numpy_backend._blas_reads_in_place(X.T)
    assert numpy_backend._blas_reads_in_place(padded) and numpy_backend._blas_reads_in_place(padded.T)
    assert numpy_backend._blas_reads_in_place(X[::2])  # every other row: a longer leading dimension
    assert not numpy_backend._blas_reads_in_place(X[:, ::2])  # no axis of unit step
    assert not numpy_backend._blas_reads_in_place(X[:, ::2].T)


@pytest.mark.parametrize("n_out", [64, 1], ids=["64-units", "one-unit-outer-product"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_padded_products_hold_the_bits_of_unpadded_ones(no_padding, dtype, n_out):
    """Z and dA_prev of a (64, 8192) feature-major layer come padded, bit for bit the unpadded
    products' (the same gemm, only the output's leading dimension differs), and they match a
    float64 reference of the tutorial's formulas."""
    rng = np.random.default_rng(21)
    m = 8192
    A64, W64 = rng.normal(size=(64, m)), rng.normal(size=(n_out, 64))
    b64, dZ64 = rng.normal(size=(n_out, 1)), rng.normal(size=(n_out, m))
    A_prev, W, b, dZ = (a.astype(dtype) for a in (A64, W64, b64, dZ64))
    A_prev_padded = numpy_backend.row_padded_empty(64, m, dtype)
    A_prev_padded[...] = A_prev
    assert is_padded(A_prev_padded)
    padded = (numpy_backend.affine(A_prev_padded, W, b), *numpy_backend.affine_backward(dZ, A_prev_padded, W))
    no_padding()
    plain = (numpy_backend.affine(A_prev, W, b), *numpy_backend.affine_backward(dZ, A_prev, W))
    assert is_padded(padded[1])  # dA_prev: 64 rows of 8192 samples
    assert is_padded(padded[0]) == (n_out == 64)  # a single output row is never padded
    assert not any(is_padded(array) for array in plain)
    reference = (W64 @ A64 + b64, W64.T @ dZ64, dZ64 @ A64.T / m, dZ64.sum(axis=1, keepdims=True) / m)
    rtol = 1e-4 if dtype == "float32" else 1e-11
    names = ("Z", "dA_prev", "dW", "db")
    for name, got, expected, reference_value in zip(names, padded, plain, reference, strict=True):
        np.testing.assert_array_equal(got, expected, err_msg=name)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, reference_value, rtol=rtol, atol=rtol * 10, err_msg=name)


def test_a_padded_operand_is_never_handed_to_dot(monkeypatch):
    """np.dot copies an operand that is not contiguous; a step on padded activations multiplies them
    through np.matmul, which reads them in place, whatever the size of the result."""
    rng = np.random.default_rng(22)
    X, y = rng.normal(size=(8192, 24)).astype("float32"), rng.integers(0, 2, 8192)
    real_dot, dot_operands = np.dot, []

    def contiguous(a):
        return a.flags.c_contiguous or a.flags.f_contiguous

    def recording_dot(a, b, *rest):
        dot_operands.append((contiguous(a), contiguous(b)))
        return real_dot(a, b, *rest)

    with xdnn.use_backend("numpy"):  # whichever backend this session tests: the fast path is NumPy's
        net = xdnn.Network([24, 32, 32, 1], dtype="float32", seed=0, metrics=[])
        net.fit(X, y, epochs=1, batch_size=None, verbose=0)  # the glibc heap and caches warmed up
        monkeypatch.setattr(numpy_backend.numpy, "dot", recording_dot)
        net.fit(X, y, epochs=2, batch_size=None, verbose=0)
    assert dot_operands and all(all(pair) for pair in dot_operands)
    batch, _ = numpy_backend.full_batch(X, y[:, None].astype("float32"))
    assert is_padded(batch) and batch.shape == (24, 8192)  # the full batch itself is padded too


NETWORKS = {
    "relu-adam": (lambda dtype: xdnn.Network([20, 32, 32, 1], dtype=dtype, seed=0, optimizer="adam"), "binary"),
    "tanh-softmax": (
        lambda dtype: xdnn.Network(
            [20, 24, 24, 3], activation="tanh", output_activation="softmax", dtype=dtype, seed=0
        ),
        "classes",
    ),
    "batchnorm-dropout-regression": (
        lambda dtype: xdnn.Network(
            [xdnn.Dense(32, use_bias=False), xdnn.BatchNorm(), xdnn.Activation("relu"), xdnn.Dropout(0.2)]
            + [xdnn.Dense(1)],
            loss="mse",
            dtype=dtype,
            seed=0,
        ),  # fmt: skip
        "regression",
    ),
}


@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_on_padded_activations_equals_training_without(monkeypatch, no_padding, fast_paths, network, dtype):
    """A full batch of 8192 samples trains on padded activations to the bits of unpadded training
    (weights, losses and predictions), and both match the portable path."""
    make_network, task = NETWORKS[network]
    real_empty, padded_arrays = numpy_backend.row_padded_empty, []

    def recording_empty(rows, columns, dtype):
        array = real_empty(rows, columns, dtype)
        padded_arrays.append(is_padded(array))
        return array

    monkeypatch.setattr(numpy_backend, "row_padded_empty", recording_empty)
    rng = np.random.default_rng(23)
    X = rng.normal(size=(8192, 20)).astype(dtype)
    y = {
        "binary": lambda: rng.integers(0, 2, 8192),
        "classes": lambda: rng.integers(0, 3, 8192),
        "regression": lambda: X[:, :1] * 2.0 - X[:, 1:2],
    }[task]()
    results = []
    for configure in (lambda: None, no_padding, lambda: fast_paths(False)):
        configure()
        with xdnn.use_backend("numpy"):
            net = make_network(dtype)
            history = net.fit(X, y, epochs=3, batch_size=None, verbose=0)
            weights = {k: np.asarray(v) for k, v in net.parameters.items()}
            results.append((weights, history["loss"], np.asarray(net.predict_proba(X))))
        if len(results) == 1:  # the padded run
            assert sum(padded_arrays) >= 1 + 3  # the full batch, and at least one activation a step
    (padded, losses_padded, out_padded), (plain, losses_plain, out_plain), (portable, losses_portable, _) = results
    rtol = 1e-4 if dtype == "float32" else 1e-10
    for key in padded:
        np.testing.assert_array_equal(padded[key], plain[key], err_msg=key)
        np.testing.assert_allclose(padded[key], portable[key], rtol=rtol, atol=rtol, err_msg=key)
    assert losses_padded == losses_plain
    np.testing.assert_allclose(losses_padded, losses_portable, rtol=rtol)
    np.testing.assert_array_equal(out_padded, out_plain)
