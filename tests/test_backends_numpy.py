"""The NumPy executors (xdnn.backends.numpy) give the same numbers as the portable Array API code.

Each executor is also compared with its definition in tests/test_executors.py; the tests here check
the paths inside the executors (layouts, thresholds, in-place work) and whole training runs."""

from __future__ import annotations

import numpy as np
import pytest

import xdnn
from xdnn import activations, executors, linear, losses
from xdnn.backends import numpy as numpy_backend


def assert_fast_and_portable_training_agree(fast_paths, make_network, X, y, *, rtol=1e-12, atol=1e-14, **fit):
    """Train ``make_network()`` on NumPy with fast paths on and off; the weights and the loss history agree."""
    trained = []
    for enabled in (True, False):
        fast_paths(enabled)
        with xdnn.use_backend("numpy"):
            net = make_network()
            history = net.fit(X, y, verbose=0, **fit)
        trained.append(({k: xdnn.to_numpy(v) for k, v in net.parameters.items()}, history["loss"]))
    for key, value in trained[0][0].items():
        np.testing.assert_allclose(value, trained[1][0][key], rtol=rtol, atol=atol, err_msg=key)
    np.testing.assert_allclose(trained[0][1], trained[1][1], rtol=1e-12)


def test_applies_only_to_numpy_and_follows_the_switch(fast_paths):
    assert executors.find(linear.linear_forward, np) is numpy_backend.affine
    fast_paths(False)
    assert executors.find(linear.linear_forward, np) is None
    fast_paths(True)
    torch = pytest.importorskip("torch", reason="checking a second namespace needs torch")
    assert executors.find(linear.linear_forward, torch) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_step_equals_the_portable_path(fast_paths, dtype):
    rng = np.random.default_rng(0)
    A_prev = rng.normal(size=(400, 7)).astype(dtype).T  # a transposed view, as fit passes mini-batches
    W = rng.normal(size=(5, 7)).astype(dtype)
    b = rng.normal(size=(5, 1)).astype(dtype)
    dZ = rng.normal(size=(5, 400)).astype(dtype)
    results = {}
    for enabled in (True, False):
        fast_paths(enabled)
        forward, backward = (executors.resolve(f, np) for f in (linear.linear_forward, linear.linear_backward))
        results[enabled] = (forward(A_prev, W, b, xp=np), *backward(dZ, A_prev, W, xp=np))
    rtol = 1e-6 if dtype == "float32" else 1e-14
    for fast, portable in zip(results[True], results[False], strict=True):
        assert fast.dtype == portable.dtype and fast.shape == portable.shape
        np.testing.assert_allclose(fast, portable, rtol=rtol, atol=rtol)
    # and both equal a float64 reference of the formulas
    m = A_prev.shape[1]
    reference = (W @ A_prev + b, W.T @ dZ, dZ @ A_prev.T / m, dZ.sum(axis=1, keepdims=True) / m)
    for fast, expected in zip(results[True], reference, strict=True):
        np.testing.assert_allclose(fast, expected, rtol=10 * rtol, atol=10 * rtol)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "mse"])
def test_costs_equal_the_portable_path(fast_paths, name):
    rng = np.random.default_rng(1)
    k = 1 if name == "binary_crossentropy" else 3
    Z = rng.normal(scale=4, size=(k, 50))
    Y = (rng.random((k, 50)) > 0.5).astype(np.float64) if k == 1 else np.eye(3)[:, rng.integers(0, 3, 50)]
    loss = losses.get_loss(name)
    A = xdnn.activations.get_activation(loss.output_activation).forward(Z, xp=np)
    costs = []
    for enabled in (True, False):
        fast_paths(enabled)
        costs.append(float(executors.resolve(loss.cost, np)(Z, A, Y, xp=np)))
    assert costs[0] == pytest.approx(costs[1], rel=1e-14)


def test_training_equal_with_and_without_fast_paths(fast_paths):
    """Mini-batches of 32 into a 3-class softmax: its samples-major Z takes the feature-major copy."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 4))
    y = rng.integers(0, 3, 90)
    assert_fast_and_portable_training_agree(
        fast_paths,
        lambda: xdnn.Network([4, 8, 6, 3], dtype="float64", seed=0, optimizer="adam", learning_rate=0.01),
        X, y, epochs=4, batch_size=32,
    )  # fmt: skip


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_dense_layer_in_place_activation_equals_the_portable_path(fast_paths, activation):
    """A relu or tanh Dense layer overwrites its own Z and the incoming dA; sigmoid has no in-place form."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 50))
    dA = rng.normal(size=(5, 50))
    results = {}
    for enabled in (True, False):
        fast_paths(enabled)
        layer = xdnn.Dense(5, activation=activation)
        layer.build(6, 1)
        parameters = {"W1": rng.normal(size=(5, 6)) if enabled else results[True][3]["W1"], "b1": np.ones((5, 1))}
        A, backward = layer.bind(np)(parameters, None, X, True, None)  # as a network runs it
        kept = A.copy()
        dX, grads = backward(dA.copy())
        np.testing.assert_array_equal(A, kept)  # the output is left alone unless declared private
        results[enabled] = (A, dX, grads, parameters)
    for fast, portable in zip(results[True][:2], results[False][:2], strict=True):
        np.testing.assert_allclose(fast, portable, rtol=1e-14, atol=1e-15)
    for name in ("dW1", "db1"):
        np.testing.assert_allclose(results[True][2][name], results[False][2][name], rtol=1e-14, atol=1e-15)
    fast_paths(True)
    in_place = executors.find(activations.get_activation(activation).forward, np, activations.IN_PLACE)
    assert (in_place is not None) == (activation in ("relu", "tanh"))


@pytest.mark.parametrize(
    "batch_size, shuffle, n_features", [(None, True, 4), (16, False, 4), (16, True, 4), (None, True, 1500)]
)
def test_training_never_writes_into_the_callers_data(fast_paths, batch_size, shuffle, n_features):
    """1500 features: the full batch is a samples-major view of X itself (no copy)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(48, n_features))  # float64, as the network: fit may use it without a copy
    y = rng.normal(size=48)
    X_before, y_before = X.copy(), y.copy()
    with xdnn.use_backend("numpy"):
        net = xdnn.Network([n_features, 8, 8, 1], activation="relu", loss="mse", dtype="float64", seed=0)
        net.fit(X, y, epochs=3, batch_size=batch_size, shuffle=shuffle, verbose=0)
        net.predict(X)
        net.evaluate(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_public_dense_forward_leaves_the_callers_gradient_alone(fast_paths):
    """Outside a network the caller owns dA: the backward neither overwrites it nor runs only once."""
    rng = np.random.default_rng(6)
    layer = xdnn.Dense(4, activation="relu")
    layer.build(3, 1)
    parameters = {"W1": rng.normal(size=(4, 3)), "b1": np.zeros((4, 1))}
    X, dA = rng.normal(size=(3, 20)), rng.normal(size=(4, 20))
    _, backward = layer.forward(parameters, None, X, training=True, xp=np, random=None)
    dA_before = dA.copy()
    first, second = backward(dA), backward(dA)
    np.testing.assert_array_equal(dA, dA_before)
    np.testing.assert_array_equal(first[1]["dW1"], second[1]["dW1"])


def test_a_custom_activation_named_relu_is_not_replaced(fast_paths):
    calls = []

    def forward(Z, *, xp):
        calls.append("forward")
        return xp.maximum(Z, 0.0)

    def backward(dA, A, *, xp):
        calls.append("backward")
        return dA * xp.astype(A > 0, dA.dtype)

    from xdnn.activations import Activation

    layer = xdnn.Dense(2, activation=Activation("relu", forward, backward))
    layer.build(2, 1)
    parameters = {"W1": np.eye(2), "b1": np.zeros((2, 1))}
    _, step_backward = layer.bind(np)(parameters, None, np.ones((2, 3)), True, None)
    step_backward(np.ones((2, 3)))
    assert calls == ["forward", "backward"]


def test_network_calls_a_dense_subclass_forward():
    calls = []

    class Counting(xdnn.Dense):
        def forward(self, *arguments, **keywords):
            calls.append(1)
            return super().forward(*arguments, **keywords)

    rng = np.random.default_rng(7)
    with xdnn.use_backend("numpy"):
        net = xdnn.Network([Counting(4, "tanh"), xdnn.Dense(1, "sigmoid")], seed=0)
        net.fit(rng.normal(size=(40, 3)), rng.integers(0, 2, 40), epochs=2, batch_size=None, verbose=0)
    assert len(calls) == 2


@pytest.mark.parametrize("n_out", [30, 1], ids=["30-units", "one-unit-outer-product"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_samples_major_products_keep_the_layout_and_the_numbers(fast_paths, monkeypatch, dtype, n_out):
    """A samples-major A_prev (a transposed view, as a mini-batch or a wide full batch is) gives Z and
    dA_prev in the same layout, and the numbers of the feature-major product and of the portable path
    (with one output unit dA_prev is a broadcast outer product, not a gemm)."""
    rng = np.random.default_rng(8)
    if n_out == 1:  # large enough for the broadcast outer product
        assert 40 * 300 < numpy_backend.OUTER_PRODUCT_MIN_ELEMENTS
        monkeypatch.setattr(numpy_backend, "OUTER_PRODUCT_MIN_ELEMENTS", 40 * 300)
    samples_major = rng.normal(size=(300, 40)).astype(dtype).T  # (40, 300), A_prev.T row-major
    feature_major = np.ascontiguousarray(samples_major)
    W = rng.normal(size=(n_out, 40)).astype(dtype)
    b = rng.normal(size=(n_out, 1)).astype(dtype)
    dZ = rng.normal(size=(n_out, 300)).astype(dtype)
    Z_s = numpy_backend.affine(samples_major, W, b)
    Z_f = numpy_backend.affine(feature_major, W, b)
    if n_out > 1:  # a single row is both layouts
        assert numpy_backend.samples_major(Z_s) and not numpy_backend.samples_major(Z_f)
    dA_s, dW_s, db_s = numpy_backend.affine_backward(np.asfortranarray(dZ), samples_major, W)
    dA_f, dW_f, db_f = numpy_backend.affine_backward(dZ, feature_major, W)
    assert numpy_backend.samples_major(dA_s) and not numpy_backend.samples_major(dA_f)
    fast_paths(False)
    portable = (linear.linear_forward(feature_major, W, b, xp=np), *linear.linear_backward(dZ, feature_major, W, xp=np))
    rtol = 1e-5 if dtype == "float32" else 1e-13
    for name, values in {"samples-major": (Z_s, dA_s, dW_s, db_s), "feature-major": (Z_f, dA_f, dW_f, db_f)}.items():
        for got, expected in zip(values, portable, strict=True):
            assert got.shape == expected.shape and got.dtype == expected.dtype
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, err_msg=name)


@pytest.mark.parametrize("layout", ["feature-major", "samples-major"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_products_run_through_matmul_with_the_numbers_of_dot(monkeypatch, dtype, layout):
    """Above MATMUL_MIN_ELEMENTS output elements a product is np.matmul's (np.dot zero-fills its
    output first); both call the same gemm, so a layer's Z, dA_prev, dW and db do not depend on the
    threshold, and they match a float64 reference."""
    rng = np.random.default_rng(12)
    m = 600  # operands too small to be row-padded (numpy_backend.PADDED_MIN_ELEMENTS)
    assert 48 * m < numpy_backend.PADDED_MIN_ELEMENTS
    A64 = rng.normal(size=(48, m))
    A_prev = np.ascontiguousarray(A64.T).T if layout == "samples-major" else A64.copy()
    A_prev = A_prev.astype(dtype, order="K")
    W64, b64, dZ64 = rng.normal(size=(40, 48)), rng.normal(size=(40, 1)), rng.normal(size=(40, m))
    W, b, dZ = W64.astype(dtype), b64.astype(dtype), dZ64.astype(dtype)
    if layout == "samples-major":
        dZ = np.asfortranarray(dZ)
    results, matmul_calls = [], []
    real_matmul = np.matmul

    def counting_matmul(a, b, **options):
        matmul_calls.append(numpy_backend.MATMUL_MIN_ELEMENTS)
        return real_matmul(a, b, **options)

    for threshold in (1, 1 << 40):  # every product through np.matmul, then every one through np.dot
        monkeypatch.setattr(numpy_backend, "MATMUL_MIN_ELEMENTS", threshold)
        with monkeypatch.context() as patch:
            patch.setattr(numpy_backend.numpy, "matmul", counting_matmul)
            results.append((numpy_backend.affine(A_prev, W, b), *numpy_backend.affine_backward(dZ, A_prev, W)))
    assert matmul_calls == [1, 1, 1]  # Z, dA_prev and dW through np.matmul, then none (db is a gemv)
    reference = (W64 @ A64 + b64, W64.T @ dZ64, dZ64 @ A64.T / m, dZ64.sum(axis=1, keepdims=True) / m)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for name, got_mm, got_dot, expected in zip(("Z", "dA_prev", "dW", "db"), *results, reference, strict=True):
        np.testing.assert_array_equal(got_mm, got_dot, err_msg=name)
        assert got_mm.dtype == np.dtype(dtype)
        assert numpy_backend.samples_major(got_mm) == numpy_backend.samples_major(got_dot)
        np.testing.assert_allclose(got_mm, expected, rtol=rtol, atol=rtol * 30, err_msg=name)


def test_a_strided_operand_is_multiplied_by_dot_not_by_matmuls_loop(monkeypatch):
    """np.matmul multiplies a non-contiguous view (``X[:, ::2]``) in a plain loop without BLAS; such an
    operand goes to np.dot, which copies it for gemm, whatever the size of the result."""
    rng = np.random.default_rng(13)
    X = rng.normal(size=(2000, 96))[:, ::2]  # (2000, 48), strided
    A_prev = X.T  # samples-major, neither C- nor F-contiguous
    W, b = rng.normal(size=(40, 48)), rng.normal(size=(40, 1))
    assert A_prev.shape[1] * W.shape[0] >= numpy_backend.MATMUL_MIN_ELEMENTS
    real_matmul, operands = np.matmul, []

    def recording_matmul(a, b, **options):
        operands.append((a.flags.c_contiguous or a.flags.f_contiguous, b.flags.c_contiguous or b.flags.f_contiguous))
        return real_matmul(a, b, **options)

    monkeypatch.setattr(numpy_backend.numpy, "matmul", recording_matmul)
    Z = numpy_backend.affine(A_prev, W, b)
    dA_prev, dW, _ = numpy_backend.affine_backward(np.ones((40, 2000)), A_prev, W)
    assert operands and all(all(pair) for pair in operands)  # dA_prev's (dZ.T, W) only: both contiguous
    np.testing.assert_allclose(Z, W @ np.ascontiguousarray(A_prev) + b, rtol=1e-12)
    np.testing.assert_allclose(dW, np.ones((40, 2000)) @ np.ascontiguousarray(X) / 2000, rtol=1e-12)
    np.testing.assert_allclose(dA_prev, W.T @ np.ones((40, 2000)), rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.normal(size=(1300, 37)),  # rows not a multiple of the block
        lambda rng: rng.normal(size=(100, 3)),  # fewer rows than one block
        lambda rng: rng.normal(size=(1024, 1)).astype("float32"),  # targets of a binary classifier
        lambda rng: np.asfortranarray(rng.normal(size=(700, 20))),
        lambda rng: rng.normal(size=(900, 40))[:, ::3],  # strided
        lambda rng: rng.integers(0, 2, size=(600, 4)).astype(bool),
    ],
    ids=["1300x37", "100x3", "float32-column", "fortran", "strided", "bool"],
)
def test_feature_major_copy_is_the_transpose(make):
    A = make(np.random.default_rng(14))
    copy = numpy_backend.feature_major_copy(A)
    assert copy.flags.c_contiguous and copy.dtype == A.dtype and not np.shares_memory(copy, A)
    np.testing.assert_array_equal(copy, A.T)


def test_a_feature_major_full_batch_is_the_blocked_copy(monkeypatch, fast_paths):
    """A tall full batch (more samples than features) trains on the blocked feature-major copies,
    with the weights and losses of the portable path's transposed copies."""
    copies = []
    real_copy = numpy_backend.feature_major_copy

    def recording_copy(A):
        copies.append(A.shape)
        return real_copy(A)

    monkeypatch.setattr(numpy_backend, "feature_major_copy", recording_copy)
    rng = np.random.default_rng(15)
    X, y = rng.normal(size=(1500, 6)), rng.integers(0, 3, 1500)
    assert_fast_and_portable_training_agree(
        fast_paths,
        lambda: xdnn.Network([6, 16, 3], output_activation="softmax", dtype="float64", seed=0, learning_rate=0.1),
        X, y, epochs=4, batch_size=None,
    )  # fmt: skip
    assert copies == [(1500, 6), (1500, 3)]  # X and the one-hot targets, in the fast-path fit only


def test_only_a_large_full_batch_with_more_features_than_samples_stays_samples_major():
    wide, tall, small = np.zeros((100, 1000)), np.zeros((1000, 100)), np.zeros((20, 30))
    X_view, Y_view = numpy_backend.samples_major_full_batch(wide, np.zeros((100, 1)))
    assert np.shares_memory(X_view, wide) and X_view.shape == (1000, 100) and Y_view.shape == (1, 100)
    assert numpy_backend.samples_major_full_batch(tall, np.zeros((1000, 1))) is None
    assert numpy_backend.samples_major_full_batch(small, np.zeros((20, 1))) is None
    strided = np.zeros((100, 2000))[:, ::2]  # not row-major: copied once, then viewed
    X_copy, _ = numpy_backend.samples_major_full_batch(strided, np.zeros((100, 1)))
    assert X_copy.T.flags.c_contiguous and not np.shares_memory(X_copy, strided)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_training_on_a_wide_full_batch_equals_the_portable_path(fast_paths, activation):
    """The cat classifier's shape in small: more features than samples, trained on the samples-major view."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(60, 1200))
    y = rng.integers(0, 2, 60)
    assert numpy_backend.samples_major_full_batch(X, y[:, None]) is not None
    assert_fast_and_portable_training_agree(
        fast_paths,
        lambda: xdnn.Network([1200, 20, 7, 1], activation=activation, dtype="float64", seed=0, learning_rate=0.01),
        X, y, rtol=1e-11, atol=1e-13, epochs=5, batch_size=None,
    )  # fmt: skip


@pytest.mark.parametrize("order", ["C", "F"])
def test_in_place_relu_equals_maximum_in_either_layout(order):
    rng = np.random.default_rng(10)
    Z = np.asarray(rng.normal(size=(7, 33)), order=order)
    Z[0, :3] = [np.nan, -0.0, np.inf]
    expected = np.maximum(Z, 0.0)
    result = numpy_backend.relu_in_place(Z)
    assert result is Z
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_place_relu_of_a_large_array_equals_maximum(layout, dtype):
    """A large contiguous Z is clipped along rows of its memory (whatever its layout, with a shorter
    last piece); a strided one along its own axes.  Both equal np.maximum(Z, 0), in place."""
    rng = np.random.default_rng(11)
    n, m = 64, 3 * numpy_backend.ROW_ELEMENTS // 64 + 5  # 3 rows of memory and a remainder
    Z = np.asarray(
        rng.normal(size=(n, 2 * m if layout == "strided" else m)), dtype=dtype, order="F" if layout == "F" else "C"
    )
    if layout == "strided":
        Z = Z[:, ::2]
    assert Z.size >= 2 * numpy_backend.ROW_ELEMENTS and Z.size % numpy_backend.ROW_ELEMENTS
    Z[0, :3] = [np.nan, -0.0, np.inf]
    Z[-1, -2:] = [-np.inf, -1.0]  # in the remainder of either layout
    expected = np.maximum(Z, np.zeros((1, 1), dtype))
    result = numpy_backend.relu_in_place(Z)
    assert result is Z
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(np.signbit(result), np.signbit(expected))


@pytest.mark.parametrize(
    ("n", "m"),
    [(64, 4096), (64, 4096 + 77), (7, 5000), (64, 1000), (5000, 1200)],
    ids=["whole-rows", "remainder", "odd-width", "few-samples", "wide"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_samples_major_bias_add_makes_the_additions_of_broadcasting(n, m, dtype):
    """affine's bias add on a samples-major product, along rows of several samples with the bias
    repeated (or directly, for few samples or wide layers), adds exactly what ``Z + b`` adds."""
    rng = np.random.default_rng(12)
    A_prev = rng.normal(size=(m, 3)).astype(dtype).T  # samples-major (3, m)
    W = rng.normal(size=(n, 3)).astype(dtype)
    b = rng.normal(size=(n, 1)).astype(dtype)
    expected = np.matmul(A_prev.T, W.T).T + b
    Z = numpy_backend.affine(A_prev, W, b)
    assert numpy_backend.samples_major(Z)
    np.testing.assert_array_equal(Z, expected)
    tiled = m >= numpy_backend.BIAS_TILE_MIN_SAMPLES and numpy_backend.ROW_ELEMENTS // n >= 2
    assert tiled == ((n, m) in [(64, 4096), (64, 4096 + 77), (7, 5000)])  # the cases cover both ways


def test_tanh_backward_writes_over_a_private_output_only(fast_paths):
    """``bind(output_private=True)``: tanh's backward writes 1 - A^2 over the output, same gradients."""
    rng = np.random.default_rng(13)
    X, dA = rng.normal(size=(6, 40)), rng.normal(size=(5, 40))
    layer = xdnn.Dense(5, activation="tanh")
    layer.build(6, 1)
    parameters = {"W1": rng.normal(size=(5, 6)), "b1": rng.normal(size=(5, 1))}
    results = []
    for private in (False, True):
        A, backward = layer.bind(np, output_private=private)(parameters, None, X, True, None)
        output = A.copy()
        dX, grads = backward(dA.copy())
        np.testing.assert_array_equal(A, 1.0 - output * output if private else output)
        results.append((dX, grads))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    for name in ("dW1", "db1"):
        np.testing.assert_array_equal(results[0][1][name], results[1][1][name])


def test_a_custom_layer_keeps_an_intact_copy_of_its_input(fast_paths):
    """A custom layer after a tanh Dense may read its input after its own backward (here, as an
    activation statistic): the network then leaves the Dense output alone."""

    class KeepsInput(xdnn.layers.Layer):
        kind = "keeps-input"

        def __init__(self):
            self.inputs = []

        def config(self):
            return {"kind": self.kind}

        def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
            self.inputs.append((X, X.copy()))
            return X, lambda dY: (dY, {})

    keeper = KeepsInput()
    rng = np.random.default_rng(14)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 2, 30)
    with xdnn.use_backend("numpy"):
        net = xdnn.Network([xdnn.Dense(6, "tanh"), keeper, xdnn.Dense(1, "sigmoid")], seed=0, dtype="float64")
        net.fit(X, y, epochs=3, batch_size=None, verbose=0)
    assert len(keeper.inputs) == 3
    for seen, copy in keeper.inputs:
        np.testing.assert_array_equal(seen, copy)


@pytest.mark.parametrize("between", ["dropout-0", "batch-norm", "activation"])
def test_tanh_output_overwritten_in_backward_is_no_longer_read(fast_paths, between):
    """tanh's in-place backward writes over the layer's output; the layers above it (here one that
    passes it through unchanged, one that saves it, one that reads it) finished with it before then."""
    middle = {"dropout-0": xdnn.Dropout(0.0), "batch-norm": xdnn.BatchNorm(), "activation": xdnn.Activation("tanh")}
    rng = np.random.default_rng(12)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 2, 40)

    def make_network():
        layers = [xdnn.Dense(6, "tanh"), middle[between], xdnn.Dense(4, "tanh"), xdnn.Dense(1, "sigmoid")]
        return xdnn.Network(layers, dtype="float64", seed=0, optimizer="sgd", learning_rate=0.5)

    assert_fast_and_portable_training_agree(fast_paths, make_network, X, y, epochs=4, batch_size=None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_its_cost_equal_the_portable_path_bit_for_bit(fast_paths, dtype):
    """The NumPy sigmoid and binary cross-entropy take the portable operations in fewer temporaries."""
    rng = np.random.default_rng(7)
    Z = (rng.normal(scale=30, size=(2, 300))).astype(dtype)  # saturated both ways, overflow-free
    Y = (rng.random((2, 300)) > 0.5).astype(dtype)
    weights = rng.random((1, 300)).astype(dtype)
    results = {}
    for enabled in (True, False):
        fast_paths(enabled)
        sigmoid, cost = (executors.resolve(f, np) for f in (activations.sigmoid, losses.binary_crossentropy_cost))
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            A = sigmoid(Z, xp=np)
            results[enabled] = (A, cost(Z, A, Y, xp=np), cost(Z, A, Y, xp=np, weights=weights))
    fast_paths(True)
    assert executors.resolve(activations.sigmoid, np) is numpy_backend.sigmoid  # the fast form was taken
    assert executors.resolve(losses.binary_crossentropy_cost, np) is numpy_backend.binary_crossentropy_cost
    for fast, portable in zip(results[True], results[False], strict=True):
        assert np.asarray(fast).dtype == np.asarray(portable).dtype
        np.testing.assert_array_equal(fast, portable)


def test_sigmoid_cost_of_mixed_dtypes_promotes_as_the_portable_path(fast_paths):
    """float32 logits with float64 targets: no in-place rounding to float32."""
    rng = np.random.default_rng(8)
    Z = rng.normal(size=(1, 50)).astype(np.float32)
    Y = (rng.random((1, 50)) > 0.5).astype(np.float64)
    costs = []
    for enabled in (True, False):
        fast_paths(enabled)
        costs.append(executors.resolve(losses.binary_crossentropy_cost, np)(Z, None, Y, xp=np))
    assert np.asarray(costs[0]).dtype == np.float64
    assert costs[0] == costs[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("value", [1.2, 0.1, 1e-7, 3e38, 1.0, 400, 2**24 + 1])
def test_a_constant_operand_rounds_as_the_python_number(dtype, value):
    """The 0-d constants of the fast path (rates, batch sizes, 1.0) give NumPy's results with the
    Python number, bit for bit: NumPy converts a Python scalar to the array's dtype first (NEP 50)."""
    rng = np.random.default_rng(9)
    a = rng.normal(size=(3, 50)).astype(dtype)
    constant = numpy_backend.constant(value, np.dtype(dtype))
    assert constant.shape == () and constant.dtype == np.dtype(dtype) and not constant.flags.writeable
    with np.errstate(over="ignore"):
        pairs = [(a * constant, a * value), (a / constant, a / value), (constant - a, value - a)]
        scaled = a.copy()
        scaled *= constant
        pairs.append((scaled, a * value))
    for got, want in pairs:
        assert got.dtype == want.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)


LOSS_CASES = {
    "binary_crossentropy": (1, lambda rng, k, m: (rng.random((k, m)) > 0.5).astype(np.float64)),
    "categorical_crossentropy": (3, lambda rng, k, m: np.eye(k)[:, rng.integers(0, k, m)]),
    "mse": (2, lambda rng, k, m: rng.normal(size=(k, m))),
    "poisson": (2, lambda rng, k, m: rng.poisson(2.0, size=(k, m)).astype(np.float64)),
}


@pytest.mark.parametrize("name", list(LOSS_CASES))
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float64", "float64"), ("float32", "float64")])
def test_a_bound_loss_gives_the_cost_and_gradient_of_the_portable_path(fast_paths, name, dtypes):
    """``Loss.bind(np)`` -- what a network's step calls -- returns the portable ``cost_and_gradient``'s
    numbers bit for bit, with and without fast paths and for mixed dtypes (which promote)."""
    rng = np.random.default_rng(10)
    k, targets = LOSS_CASES[name]
    loss = losses.get_loss(name)
    Z = rng.normal(scale=3, size=(k, 60)).astype(dtypes[0])
    Y = targets(rng, k, 60).astype(dtypes[1])
    A = xdnn.activations.get_activation(loss.output_activation).forward(Z, xp=np)
    fast_paths(False)
    portable_cost, portable_gradient = loss.cost_and_gradient(Z, A, Y, xp=np)
    for enabled in (True, False):
        fast_paths(enabled)
        cost, gradient = loss.bind(np)(Z, A, Y)
        assert np.asarray(cost).dtype == np.asarray(portable_cost).dtype, (name, dtypes, enabled)
        np.testing.assert_array_equal(cost, portable_cost, err_msg=f"{name} {dtypes} fast paths {enabled}")
        np.testing.assert_array_equal(gradient, portable_gradient, err_msg=f"{name} {dtypes} fast paths {enabled}")


def test_a_network_step_takes_the_bound_numpy_cost(fast_paths, monkeypatch):
    """A sigmoid network's training step on NumPy computes its cost with the fast form, once a step."""
    calls = []
    fast = numpy_backend.binary_crossentropy_cost

    def counting(Z, A, Y, *, xp=None, weights=None):
        calls.append(Z.shape)
        return fast(Z, A, Y, weights=weights)

    key = (id(losses.binary_crossentropy_cost), "numpy", executors.FRESH)
    assert executors._REGISTRY[key].function is fast
    counted = executors.Executor(losses.binary_crossentropy_cost, "numpy", executors.FRESH, counting)
    monkeypatch.setitem(executors._REGISTRY, key, counted)
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    with xdnn.use_backend("numpy"):
        xdnn.Network([3, 4, 1], seed=0, optimizer="sgd").fit(X, y, epochs=3, batch_size=None, verbose=0)
    assert calls == [(1, 40)] * 3
