"""The CuPy executors (xdnn.backends.cupy) equal the portable Array API path (runs only with a CUDA GPU).

Each executor is also compared with its definition in tests/test_executors.py."""

from __future__ import annotations

import numpy as np
import pytest

import xdnn
from xdnn import activations, executors, losses, optimizers
from xdnn._backend import cuda_device_count

cupy = pytest.importorskip("cupy", reason="CuPy is not installed: the fused kernels need a CUDA GPU")
if cuda_device_count() == 0:
    pytest.skip("no CUDA device: the fused kernels need a CUDA GPU", allow_module_level=True)

import array_api_compat.cupy as xp  # noqa: E402

from xdnn.backends import cupy as cupy_backend  # noqa: E402


@pytest.fixture(autouse=True)
def restore_switch():
    yield
    xdnn.set_fast_paths(True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu"])
def test_fused_activation_equals_portable(name, dtype):
    rng = np.random.default_rng(0)
    Z = cupy.asarray(np.r_[rng.normal(scale=5, size=997), [0.0, -800.0, 800.0]].reshape(10, 100).astype(dtype))
    dA = cupy.asarray(rng.normal(size=(10, 100)).astype(dtype))
    portable = activations.get_activation(name)
    forward, backward = portable.bind(xp)
    assert executors.find(portable.backward, xp) is not None  # (tanh's forward is CuPy's own tanh)
    tolerance = 1e-6 if dtype == "float32" else 1e-13
    A = forward(Z)
    np.testing.assert_allclose(
        cupy.asnumpy(A), cupy.asnumpy(portable.forward(Z, xp=xp)), rtol=tolerance, atol=tolerance
    )
    saved = A if portable.backward_uses_output else Z
    np.testing.assert_allclose(
        cupy.asnumpy(backward(dA, saved)),
        cupy.asnumpy(portable.backward(dA, saved, xp=xp)),
        rtol=tolerance,
        atol=tolerance,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_fused_update_equals_portable(name, dtype):
    """Parameters and optimizer state after five fused updates equal the portable code's.  In float32
    the state shows a ``1 - beta`` rounded differently (1 - float32(0.999) is 1.3e-5 off
    float32(0.001)), which the parameters, moved by 0.01 a step, would hide."""
    rng = np.random.default_rng(1)
    host = {"W1": rng.normal(size=(5, 4)).astype(dtype), "b1": rng.normal(size=(5, 1)).astype(dtype)}
    grads = [{f"d{k}": cupy.asarray(rng.normal(size=v.shape).astype(dtype)) for k, v in host.items()} for _ in range(5)]
    results = {}
    for enabled in (True, False):
        xdnn.set_fast_paths(enabled)
        parameters = {k: cupy.asarray(v) for k, v in host.items()}
        optimizer = optimizers.get_optimizer(name)
        optimizer.initialize(parameters, xp=xp)
        for step_grads in grads:
            optimizer.update(parameters, step_grads, 0.01, xp=xp)
        arrays = {**parameters, **optimizer.state}
        assert all(value.dtype == np.dtype(dtype) for value in arrays.values())
        results[enabled] = {k: cupy.asnumpy(v) for k, v in arrays.items()}
    rtol, atol = (2e-6, 1e-10) if dtype == "float32" else (1e-12, 1e-14)
    assert results[True].keys() == results[False].keys()
    for key in results[False]:
        np.testing.assert_allclose(results[True][key], results[False][key], rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shape_a, shape_b, transposed",
    [
        ((4, 2), (2, 400), (False, False)),  # the planar network's first layer
        ((1, 4), (4, 400), (False, True)),  # a row times a transposed view
        ((64, 8192), (8192, 64), (False, True)),  # a weight gradient: 4096 sums of 8192 terms, split
        ((64, 64), (64, 8192), (True, False)),  # W^T dZ
        ((3, 1000), (1000, 5), (True, True)),  # both transposed, 1000 terms in 4 runs
        ((7, 0), (0, 3), (False, False)),  # an empty sum
    ],
)
def test_the_capturable_product_equals_cublas(shape_a, shape_b, transposed, dtype):
    """The product a CUDA graph records (no cuBLAS) against cuBLAS's and a float64 NumPy reference,
    for contiguous and transposed operands, with and without its long sums split into runs."""
    rng = np.random.default_rng(5)

    def operand(shape, flip):
        host = rng.normal(size=shape[::-1] if flip else shape).astype(dtype)
        return cupy.asarray(host).T if flip else cupy.asarray(host)

    a, b = operand(shape_a, transposed[0]), operand(shape_b, transposed[1])
    ours = cupy_backend.capturable_product(a, b)
    assert ours.shape == (shape_a[0], shape_b[1]) and ours.dtype == a.dtype
    reference = cupy.asnumpy(a).astype(np.float64) @ cupy.asnumpy(b).astype(np.float64)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    scale = max(1.0, np.sqrt(shape_a[1]))
    np.testing.assert_allclose(cupy.asnumpy(ours), reference, rtol=tolerance, atol=tolerance * scale)
    np.testing.assert_allclose(cupy.asnumpy(ours), cupy.asnumpy(a @ b), rtol=tolerance, atol=tolerance * scale)
    with cupy_backend.graph_step():
        np.testing.assert_array_equal(cupy.asnumpy(cupy_backend.product(a, b)), cupy.asnumpy(ours))
    np.testing.assert_array_equal(cupy.asnumpy(cupy_backend.product(a, b)), cupy.asnumpy(a @ b))


def test_network_training_equal_with_and_without_fast_paths():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(256, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    results = []
    for enabled in (True, False):
        xdnn.set_fast_paths(enabled)
        with xdnn.use_backend("cupy"):
            network = xdnn.Network([6, 16, 8, 1], dtype="float64", seed=0, activation="relu")
            network.fit(X, y, epochs=3, batch_size=64, verbose=0)
            results.append({k: cupy.asnumpy(v) for k, v in network.parameters.items()})
    for key in results[0]:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["binary_crossentropy", "mse"])
def test_fused_cost_and_gradient_equals_portable(name, dtype):
    rng = np.random.default_rng(3)
    k = 1 if name == "binary_crossentropy" else 3
    Z = cupy.asarray(np.r_[rng.normal(scale=5, size=k * 200 - 2), [-800.0, 800.0]].reshape(k, 200).astype(dtype))
    Y = cupy.asarray((rng.random((k, 200)) > 0.5).astype(dtype))
    loss = losses.get_loss(name)
    A = activations.get_activation(loss.output_activation).forward(Z, xp=xp)
    assert executors.find(loss, xp, losses.COST_AND_GRADIENT) is not None
    fused_cost, fused_dZ = loss.bind(xp)(Z, A, Y)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(float(fused_cost), float(loss.cost(Z, A, Y, xp=xp)), rtol=tolerance)
    np.testing.assert_allclose(
        cupy.asnumpy(fused_dZ), cupy.asnumpy(loss.output_gradient(A, Y, xp=xp)), rtol=tolerance, atol=tolerance
    )
