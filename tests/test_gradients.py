"""Finite-difference check of the full L-layer backward pass (xdnn.functional), in float64.

For every entry of every ``W[l]`` and ``b[l]`` the two-sided difference
``(J(theta + h) - J(theta - h)) / 2h`` of ``compute_cost(L_model_forward(X))`` is compared
with ``L_model_backward``'s ``dW[l]`` / ``db[l]``:
``||g - g_fd|| / (||g|| + ||g_fd||) < 1e-7``.  The planar notebook's
``backward_propagation`` is checked the same way against ``forward_propagation``.
"""

from __future__ import annotations

import numpy as np
import pytest

import xdnn
from xdnn import functional

LAYER_DIMS = [4, 5, 3, 1]
SAMPLES = 7
STEP = 1e-6
HIDDEN_ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu"]


def network(seed=0):
    random_state = np.random.RandomState(seed)
    X = random_state.randn(LAYER_DIMS[0], SAMPLES)
    Y = (random_state.uniform(size=(1, SAMPLES)) > 0.5).astype(np.float64)
    parameters = {}
    for layer in range(1, len(LAYER_DIMS)):
        parameters[f"W{layer}"] = random_state.randn(LAYER_DIMS[layer], LAYER_DIMS[layer - 1])
        parameters[f"b{layer}"] = random_state.randn(LAYER_DIMS[layer], 1) * 0.5
    return X, Y, parameters


def relative_error(analytic, numerical):
    return np.linalg.norm(analytic - numerical) / (np.linalg.norm(analytic) + np.linalg.norm(numerical))


@pytest.mark.parametrize("hidden_activation", HIDDEN_ACTIVATIONS)
def test_L_model_backward_matches_finite_differences(backend, to_device, hidden_activation):
    X_host, Y_host, host_parameters = network()
    X, Y = to_device(X_host), to_device(Y_host)

    def cost(parameters_host):
        parameters = {name: to_device(value) for name, value in parameters_host.items()}
        AL, _ = functional.L_model_forward(X, parameters, hidden_activation=hidden_activation)
        return float(xdnn.to_numpy(functional.compute_cost(AL, Y)))

    AL, caches = functional.L_model_forward(
        X, {name: to_device(value) for name, value in host_parameters.items()}, hidden_activation=hidden_activation
    )
    # The kinks of relu / leaky_relu / elu at 0 are far from every pre-activation of this network.
    smallest = min(float(np.min(np.abs(xdnn.to_numpy(Z)))) for _, Z in caches[:-1])
    assert smallest > 1e-3, f"test data too close to a kink: min |Z| = {smallest:.1e}"
    grads = xdnn.to_numpy(functional.L_model_backward(AL, Y, caches, hidden_activation=hidden_activation))

    analytic, numerical = [], []
    for name, value in host_parameters.items():
        for index in np.ndindex(value.shape):
            plus = {key: array.copy() for key, array in host_parameters.items()}
            minus = {key: array.copy() for key, array in host_parameters.items()}
            plus[name][index] += STEP
            minus[name][index] -= STEP
            numerical.append((cost(plus) - cost(minus)) / (2 * STEP))
            analytic.append(grads[f"d{name}"][index])
    error = relative_error(np.array(analytic), np.array(numerical))
    assert error < 1e-7, f"{backend.name} {hidden_activation}: relative error {error:.2e}"


def test_dA0_is_the_per_sample_gradient_with_respect_to_X(backend, to_device):
    """``dA0 = m * dJ/dX``: the tutorial's ``dAL`` is per sample, and only ``dW``/``db`` average over m."""
    X_host, Y_host, host_parameters = network(seed=1)
    parameters = {name: to_device(value) for name, value in host_parameters.items()}
    Y = to_device(Y_host)

    def cost(X_host):
        AL, _ = functional.L_model_forward(to_device(X_host), parameters, hidden_activation="tanh")
        return float(xdnn.to_numpy(functional.compute_cost(AL, Y)))

    numerical = np.zeros_like(X_host)
    for index in np.ndindex(X_host.shape):
        step = np.zeros_like(X_host)
        step[index] = STEP
        numerical[index] = SAMPLES * (cost(X_host + step) - cost(X_host - step)) / (2 * STEP)
    AL, caches = functional.L_model_forward(to_device(X_host), parameters, hidden_activation="tanh")
    dA0 = xdnn.to_numpy(functional.L_model_backward(AL, Y, caches, hidden_activation="tanh")["dA0"])
    error = relative_error(dA0, numerical)
    assert error < 1e-7, f"{backend.name}: relative error {error:.2e}"


@pytest.mark.parametrize("layer_dims", [[2, 4, 1], [3, 5, 4, 1]], ids=["planar", "two-hidden"])
def test_backward_propagation_matches_finite_differences(backend, to_device, layer_dims):
    """The planar notebook's backward_propagation (tanh hidden layers, ``dZL = AL - Y``) is the
    gradient of compute_cost(forward_propagation(X))."""
    random_state = np.random.RandomState(2)
    X_host = random_state.randn(layer_dims[0], SAMPLES)
    Y_host = (random_state.uniform(size=(1, SAMPLES)) > 0.5).astype(np.float64)
    host_parameters = {}
    for layer in range(1, len(layer_dims)):
        host_parameters[f"W{layer}"] = random_state.randn(layer_dims[layer], layer_dims[layer - 1])
        host_parameters[f"b{layer}"] = random_state.randn(layer_dims[layer], 1) * 0.5
    X, Y = to_device(X_host), to_device(Y_host)

    def cost(parameters_host):
        A2, _ = functional.forward_propagation(X, {name: to_device(value) for name, value in parameters_host.items()})
        return float(xdnn.to_numpy(functional.compute_cost(A2, Y)))

    parameters = {name: to_device(value) for name, value in host_parameters.items()}
    _, cache = functional.forward_propagation(X, parameters)
    grads = xdnn.to_numpy(functional.backward_propagation(parameters, cache, X, Y))
    assert sorted(grads) == sorted(f"d{name}" for name in host_parameters), sorted(grads)

    analytic, numerical = [], []
    for name, value in host_parameters.items():
        for index in np.ndindex(value.shape):
            plus = {key: array.copy() for key, array in host_parameters.items()}
            minus = {key: array.copy() for key, array in host_parameters.items()}
            plus[name][index] += STEP
            minus[name][index] -= STEP
            numerical.append((cost(plus) - cost(minus)) / (2 * STEP))
            analytic.append(grads[f"d{name}"][index])
    error = relative_error(np.array(analytic), np.array(numerical))
    assert error < 1e-7, f"{backend.name} {layer_dims}: relative error {error:.2e}"
