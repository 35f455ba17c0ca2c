"""Every backend trains exactly like a plain NumPy float64 implementation of the tutorial's algorithm."""

from __future__ import annotations

import numpy as np
import pytest

import xdnn
from xdnn import functional

LAYER_DIMS = [2, 6, 4, 1]
LEARNING_RATE = 0.3
ITERATIONS = 100
SEED = 4


def data():
    random_state = np.random.RandomState(0)
    X = random_state.randn(2, 80)
    Y = (X[0:1] * X[1:2] > 0).astype(np.float64)  # XOR-like quadrants: needs the hidden layers
    return X, Y


def reference_training(X, Y, layer_dims, learning_rate, iterations, seed):
    """The tutorial's L_layer_model, written out in NumPy float64; returns (parameters, cost per iteration)."""
    random_state = np.random.RandomState(seed)
    parameters = {}
    for layer in range(1, len(layer_dims)):
        parameters[f"W{layer}"] = random_state.randn(layer_dims[layer], layer_dims[layer - 1]) / np.sqrt(
            layer_dims[layer - 1]
        )
        parameters[f"b{layer}"] = np.zeros((layer_dims[layer], 1))
    L = len(layer_dims) - 1
    m = X.shape[1]
    costs = []
    for _ in range(iterations):
        As, Zs = [X], []
        for layer in range(1, L + 1):
            Z = parameters[f"W{layer}"] @ As[-1] + parameters[f"b{layer}"]
            Zs.append(Z)
            As.append(1.0 / (1.0 + np.exp(-Z)) if layer == L else np.maximum(0.0, Z))
        AL = As[-1]
        costs.append(float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m))
        dA = -(Y / AL - (1 - Y) / (1 - AL))
        grads = {}
        for layer in range(L, 0, -1):
            Z = Zs[layer - 1]
            if layer == L:
                s = 1.0 / (1.0 + np.exp(-Z))
                dZ = dA * s * (1 - s)
            else:
                dZ = dA * (Z > 0)
            A_prev = As[layer - 1]
            grads[f"dW{layer}"] = dZ @ A_prev.T / m
            grads[f"db{layer}"] = np.sum(dZ, axis=1, keepdims=True) / m
            dA = parameters[f"W{layer}"].T @ dZ
        for layer in range(1, L + 1):
            parameters[f"W{layer}"] = parameters[f"W{layer}"] - learning_rate * grads[f"dW{layer}"]
            parameters[f"b{layer}"] = parameters[f"b{layer}"] - learning_rate * grads[f"db{layer}"]
    return parameters, costs


@pytest.fixture(scope="module")
def reference():
    X, Y = data()
    return reference_training(X, Y, LAYER_DIMS, LEARNING_RATE, ITERATIONS, SEED)


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-4)])
def test_L_layer_model_matches_numpy_reference(backend, to_device, reference, dtype, tolerance):
    X, Y = data()
    expected_parameters, expected_costs = reference
    assert expected_costs[-1] < 0.9 * expected_costs[0]  # the reference itself learns something

    parameters, costs = functional.L_layer_model(
        to_device(X),
        to_device(Y),
        LAYER_DIMS,
        learning_rate=LEARNING_RATE,
        num_iterations=ITERATIONS,
        seed=SEED,
        dtype=dtype,
    )

    home = xdnn.to_numpy(parameters)
    assert set(home) == set(expected_parameters)
    for name, expected in expected_parameters.items():
        assert home[name].dtype == np.dtype(dtype), f"{backend.name}: {name} is {home[name].dtype}"
        error = np.linalg.norm(home[name] - expected) / np.linalg.norm(expected)
        assert error < tolerance, f"{backend.name} {dtype} {name}: relative error {error:.2e}"
    # Costs are recorded every 100 iterations and at the last one.
    recorded = [expected_costs[i] for i in range(ITERATIONS) if i % 100 == 0]  # the tutorial's rule
    np.testing.assert_allclose(costs, recorded, rtol=tolerance, err_msg=f"{backend.name} {dtype}")


def test_host_and_device_inputs_train_identically(backend, to_device):
    X, Y = data()
    from_host, host_costs = functional.L_layer_model(X, Y, LAYER_DIMS, learning_rate=LEARNING_RATE, num_iterations=20)
    from_device, device_costs = functional.L_layer_model(
        to_device(X), to_device(Y), LAYER_DIMS, learning_rate=LEARNING_RATE, num_iterations=20
    )
    assert host_costs == device_costs, backend.name
    for name, value in xdnn.to_numpy(from_host).items():
        np.testing.assert_array_equal(value, xdnn.to_numpy(from_device[name]), err_msg=f"{backend.name} {name}")
