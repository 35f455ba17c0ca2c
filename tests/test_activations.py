"""xdnn.activations: forward against NumPy float64 formulas, backward against finite differences."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

import xdnn
from xdnn import activations, executors
from xdnn.activations import ACTIVATIONS

GELU_C = math.sqrt(2.0 / math.pi)


def reference_softmax(Z):
    exponentials = np.exp(Z)  # only for moderate Z: the naive textbook formula
    return exponentials / exponentials.sum(axis=0, keepdims=True)


REFERENCE = {
    "identity": lambda Z: Z,
    "relu": lambda Z: np.maximum(Z, 0.0),
    "sigmoid": lambda Z: 1.0 / (1.0 + np.exp(-Z)),
    "tanh": np.tanh,
    "leaky_relu": lambda Z: np.where(Z > 0, Z, 0.01 * Z),
    "elu": lambda Z: np.where(Z > 0, Z, np.exp(Z) - 1.0),
    "gelu": lambda Z: 0.5 * Z * (1.0 + np.tanh(GELU_C * (Z + 0.044715 * Z**3))),
    "softmax": reference_softmax,
    "exp": np.exp,
}


def test_every_activation_has_a_reference():
    assert set(ACTIVATIONS) == set(REFERENCE)


def draw_Z(seed: int, shape=(4, 5)) -> np.ndarray:
    """Float64 values with 0.1 <= |Z| <= 3: away from the kinks of relu, leaky_relu and elu at 0."""
    random_state = np.random.RandomState(seed)
    return random_state.choice([-1.0, 1.0], size=shape) * random_state.uniform(0.1, 3.0, size=shape)


def implementations(activation, xp):
    """The portable activation and, where a backend registers executors of its functions (a fused
    kernel on CuPy, NumPy's sigmoid), the one a network binds on ``xp``."""
    forward_executor, backward_executor = (executors.find(f, xp) for f in (activation.forward, activation.backward))
    if forward_executor is None and backward_executor is None:
        return [activation]
    bound_forward, bound_backward = activation.bind(xp)
    bound = dataclasses.replace(
        activation,
        forward=lambda Z, *, xp: bound_forward(Z),
        backward=lambda dA, saved, *, xp: bound_backward(dA, saved),
    )
    return [activation, bound]


def forward(activation, Z_host, to_device, xp):
    return xdnn.to_numpy(activation.forward(to_device(Z_host), xp=xp))


def backward(activation, dA_host, Z_host, to_device, xp):
    Z = to_device(Z_host)
    saved = activation.forward(Z, xp=xp) if activation.backward_uses_output else Z
    return xdnn.to_numpy(activation.backward(to_device(dA_host), saved, xp=xp))


def relative_error(computed, expected):
    return np.linalg.norm(computed - expected) / (np.linalg.norm(computed) + np.linalg.norm(expected))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_matches_numpy_reference(backend, xp, to_device, name, dtype):
    Z = draw_Z(0).astype(dtype)
    expected = REFERENCE[name](Z.astype(np.float64))
    tolerance = 1e-13 if dtype == "float64" else 1e-6
    for activation in implementations(ACTIVATIONS[name], xp):
        A = forward(activation, Z, to_device, xp)
        assert A.dtype == np.dtype(dtype), f"{backend.name}: {name} returned {A.dtype}"
        assert A.shape == Z.shape
        np.testing.assert_allclose(A, expected, rtol=tolerance, atol=tolerance, err_msg=f"{backend.name} {name}")


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_matches_finite_differences(backend, xp, to_device, name):
    """``backward(dA)`` is the gradient of ``sum(dA * g(Z))`` with respect to ``Z``."""
    Z = draw_Z(1)
    dA = np.random.RandomState(2).randn(*Z.shape)
    h = 1e-6
    for activation in implementations(ACTIVATIONS[name], xp):
        numerical = np.zeros_like(Z)
        for index in np.ndindex(Z.shape):
            step = np.zeros_like(Z)
            step[index] = h
            plus = np.sum(dA * forward(activation, Z + step, to_device, xp))
            minus = np.sum(dA * forward(activation, Z - step, to_device, xp))
            numerical[index] = (plus - minus) / (2 * h)
        analytic = backward(activation, dA, Z, to_device, xp)
        error = relative_error(analytic, numerical)
        assert error < 1e-7, f"{backend.name} {name}: relative error {error:.2e}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_is_stable_for_large_inputs(backend, xp, to_device, dtype):
    Z = np.array([[-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0]], dtype=dtype)
    # The reference, in Python floats: exp is only ever taken of -|z|.
    expected = np.array(
        [[1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z)) for z in Z[0].tolist()]]
    )
    sigmoid = ACTIVATIONS["sigmoid"]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for activation in implementations(sigmoid, xp):
            A = forward(activation, Z, to_device, xp)
            dZ = backward(activation, np.ones_like(Z), Z, to_device, xp)
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(dZ)), backend.name
    rtol = 1e-14 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(A, expected, rtol=rtol, atol=0, err_msg=f"{backend.name} {dtype}")
    assert A[0, 1] > 0 and A[0, 0] >= 0 and A[0, -1] == 1.0, backend.name  # -50 does not round to 0
    np.testing.assert_allclose(dZ, expected * (1.0 - expected), rtol=10 * rtol, atol=0, err_msg=backend.name)


def test_softmax_columns_sum_to_one(backend, xp, to_device):
    Z = np.random.RandomState(3).randn(6, 9) * 5
    A = forward(ACTIVATIONS["softmax"], Z, to_device, xp)
    np.testing.assert_allclose(A.sum(axis=0), np.ones(9), rtol=1e-14, err_msg=backend.name)
    assert np.all(A > 0), backend.name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_handles_large_logits(backend, xp, to_device, dtype):
    moderate = np.array([[1.0, -2.0, 0.0], [0.5, 3.0, 0.0], [-1.0, 2.5, 0.0]])
    expected = reference_softmax(moderate)  # softmax is invariant to a shift of each column
    Z = (moderate + np.array([[1000.0, -1000.0, 5000.0]])).astype(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for activation in implementations(ACTIVATIONS["softmax"], xp):
            A = forward(activation, Z, to_device, xp)
            assert np.all(np.isfinite(A)), backend.name
            rtol = 1e-12 if dtype == "float64" else 1e-3  # float32 keeps ~4 digits of a logit near 5000
            np.testing.assert_allclose(A, expected, rtol=rtol, err_msg=f"{backend.name} {dtype}")


def test_gelu_approximates_the_exact_gelu(backend, xp, to_device):
    Z = np.linspace(-4, 4, 33)[None, :]
    exact = np.array([[0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0))) for z in Z[0]]])
    A = forward(ACTIVATIONS["gelu"], Z, to_device, xp)
    np.testing.assert_allclose(A, exact, atol=1e-3, err_msg=backend.name)


@pytest.mark.parametrize(
    "name, expected", [("ReLU", "relu"), ("logistic", "sigmoid"), ("linear", "identity"), ("leaky-relu", "leaky_relu")]
)
def test_get_activation_accepts_aliases(name, expected):
    assert activations.get_activation(name) is ACTIVATIONS[expected]
    assert activations.get_activation(ACTIVATIONS[expected]) is ACTIVATIONS[expected]


def test_get_activation_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'") as raised:
        activations.get_activation("swish")
    assert all(name in str(raised.value) for name in ACTIVATIONS)
    with pytest.raises(TypeError, match="name"):
        activations.get_activation(3)
