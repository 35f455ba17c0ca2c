"""xdnn.losses: costs against float64 references, saturation, and output gradients by finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xdnn
from xdnn import losses
from xdnn.activations import get_activation
from xdnn.losses import LOSSES


def value(array) -> float:
    return float(xdnn.to_numpy(array))


def reference_bce(AL, Y):
    m = AL.shape[-1]
    return -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m


def reference_sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


def reference_log_softmax(Z):
    exponentials = np.exp(Z)  # naive: only for moderate Z
    return np.log(exponentials / exponentials.sum(axis=0, keepdims=True))


def one_hot(labels, classes):
    return np.eye(classes)[labels].T


@pytest.mark.parametrize("shape", [(1, 6), (3, 5)])
def test_binary_cross_entropy_matches_reference(backend, xp, to_device, shape):
    random_state = np.random.RandomState(0)
    AL = random_state.uniform(0.01, 0.99, size=shape)
    Y = (random_state.uniform(size=shape) > 0.5).astype(np.float64)
    cost = losses.binary_cross_entropy(to_device(AL), to_device(Y), xp=xp)
    assert cost.ndim == 0, backend.name
    np.testing.assert_allclose(value(cost), reference_bce(AL, Y), rtol=1e-14, err_msg=backend.name)


def test_binary_cross_entropy_tutorial_value(backend, xp, to_device):
    cost = losses.binary_cross_entropy(to_device(np.array([[0.8, 0.9, 0.4]])), to_device(np.ones((1, 3))), xp=xp)
    np.testing.assert_allclose(value(cost), 0.414931599615, rtol=1e-11, err_msg=backend.name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_cross_entropy_is_finite_when_predictions_saturate(backend, xp, to_device, dtype):
    saturated = to_device(np.array([[0.0, 1.0, 1.0, 0.0]], dtype=dtype))
    right = to_device(np.array([[0.0, 1.0, 1.0, 0.0]], dtype=dtype))
    wrong = to_device(np.array([[1.0, 0.0, 1.0, 0.0]], dtype=dtype))
    with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        right_cost = value(losses.binary_cross_entropy(saturated, right, xp=xp))
        wrong_cost = value(losses.binary_cross_entropy(saturated, wrong, xp=xp))
    assert np.isfinite(right_cost) and np.isfinite(wrong_cost), f"{backend.name}: {right_cost}, {wrong_cost}"
    assert 0.0 <= right_cost < 1e-6, f"{backend.name}: certain and right costs {right_cost}"
    assert wrong_cost > 20.0, f"{backend.name}: certain and wrong costs only {wrong_cost}"


def test_binary_cross_entropy_from_logits_matches_probability_formula(backend, xp, to_device):
    random_state = np.random.RandomState(1)
    Z = random_state.randn(2, 7) * 3
    Y = (random_state.uniform(size=Z.shape) > 0.5).astype(np.float64)
    cost = losses.binary_cross_entropy_from_logits(to_device(Z), to_device(Y), xp=xp)
    np.testing.assert_allclose(value(cost), reference_bce(reference_sigmoid(Z), Y), rtol=1e-13, err_msg=backend.name)


def test_categorical_cross_entropy_from_logits_matches_probability_formula(backend, xp, to_device):
    random_state = np.random.RandomState(2)
    Z = random_state.randn(4, 9) * 3
    Y = one_hot(random_state.randint(0, 4, size=9), 4)
    expected = -np.sum(Y * reference_log_softmax(Z)) / 9
    cost = losses.categorical_cross_entropy_from_logits(to_device(Z), to_device(Y), xp=xp)
    np.testing.assert_allclose(value(cost), expected, rtol=1e-13, err_msg=backend.name)
    log_probabilities = xdnn.to_numpy(losses.log_softmax(to_device(Z), xp=xp))
    np.testing.assert_allclose(log_probabilities, reference_log_softmax(Z), rtol=1e-13, err_msg=backend.name)


def test_logits_losses_stay_finite_for_huge_logits(backend, xp, to_device):
    # Per sample, BCE from logits is softplus(z) - z y: 0 when confidently right, |z| when confidently wrong.
    Z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
    Y = np.array([[1.0, 0.0, 0.0, 1.0]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        binary = value(losses.binary_cross_entropy_from_logits(to_device(Z), to_device(Y), xp=xp))
        # Column 0 is right with margin 2000 (cost 0); column 1 puts 1000 on class 0 but the label is class 1.
        Z = np.array([[1000.0, 1000.0], [-1000.0, 0.0], [0.0, -1000.0]])
        Y = one_hot(np.array([0, 1]), 3)
        categorical = value(losses.categorical_cross_entropy_from_logits(to_device(Z), to_device(Y), xp=xp))
    np.testing.assert_allclose(binary, (0 + 0 + 1000 + 1000) / 4, rtol=1e-12, err_msg=backend.name)
    np.testing.assert_allclose(categorical, (0 + 1000) / 2, rtol=1e-12, err_msg=backend.name)


def test_mean_squared_error_matches_reference(backend, xp, to_device):
    random_state = np.random.RandomState(3)
    A, Y = random_state.randn(3, 8), random_state.randn(3, 8)
    cost = losses.mean_squared_error(to_device(A), to_device(Y), xp=xp)
    np.testing.assert_allclose(value(cost), np.mean((A - Y) ** 2) / 2, rtol=1e-14, err_msg=backend.name)


def targets_for(name, shape, random_state):
    if name == "binary_crossentropy":
        return (random_state.uniform(size=shape) > 0.5).astype(np.float64)
    if name == "categorical_crossentropy":
        return one_hot(random_state.randint(0, shape[0], size=shape[1]), shape[0])
    if name == "poisson":
        return random_state.poisson(1.5, size=shape).astype(np.float64)
    return random_state.randn(*shape)


def test_poisson_deviance_is_scikit_learns(backend, xp, to_device):
    """Half the Poisson deviance of exp(Z), summed over outputs and averaged over samples: scikit-learn's
    ``poisson_loss`` (its MLPRegressor(loss="poisson")), with 0 log 0 = 0 for zero counts, and finite for
    large |Z| (computed from Z, not from A)."""
    from sklearn.neural_network._base import poisson_loss

    random_state = np.random.RandomState(6)
    Z, Y = random_state.randn(2, 9), random_state.poisson(1.0, size=(2, 9)).astype(np.float64)
    Y[0, :3] = 0.0
    cost = losses.poisson_deviance_from_logits(to_device(Z), to_device(Y), xp=xp)
    np.testing.assert_allclose(value(cost), poisson_loss(Y.T, np.exp(Z).T), rtol=1e-13, err_msg=backend.name)
    assert value(losses.poisson_deviance_from_logits(to_device(np.log(Y + (Y == 0))), to_device(Y), xp=xp)) >= 0
    huge = losses.poisson_deviance_from_logits(to_device(np.full((1, 2), -800.0)), to_device(np.ones((1, 2))), xp=xp)
    assert np.isfinite(value(huge))


@pytest.mark.parametrize("name", list(LOSSES))
def test_output_gradient_matches_finite_differences(backend, xp, to_device, name):
    """``output_gradient(A, Y)`` is ``m * dJ/dZ`` of the output layer (per-sample convention)."""
    loss = LOSSES[name]
    activation = get_activation(loss.output_activation)
    random_state = np.random.RandomState(4)
    shape = (3, 5)
    m = shape[1]
    Z = random_state.randn(*shape) * 2
    Y = to_device(targets_for(name, shape, random_state))

    def scaled_cost(Z_host):
        Z_device = to_device(Z_host)
        return m * value(loss.cost(Z_device, activation.forward(Z_device, xp=xp), Y, xp=xp))

    h = 1e-6
    numerical = np.zeros_like(Z)
    for index in np.ndindex(Z.shape):
        step = np.zeros_like(Z)
        step[index] = h
        numerical[index] = (scaled_cost(Z + step) - scaled_cost(Z - step)) / (2 * h)
    Z_device = to_device(Z)
    analytic = xdnn.to_numpy(loss.output_gradient(activation.forward(Z_device, xp=xp), Y, xp=xp))
    error = np.linalg.norm(analytic - numerical) / (np.linalg.norm(analytic) + np.linalg.norm(numerical))
    assert error < 1e-7, f"{backend.name} {name}: relative error {error:.2e}"


@pytest.mark.parametrize(
    "alias, name",
    [("bce", "binary_crossentropy"), ("cross-entropy", "categorical_crossentropy"), ("mean_squared_error", "mse")],
)
def test_get_loss_aliases(alias, name):
    assert losses.get_loss(alias) is LOSSES[name]
    assert losses.get_loss(LOSSES[name]) is LOSSES[name]


def test_get_loss_unknown_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'hinge'") as raised:
        losses.get_loss("hinge")
    assert all(name in str(raised.value) for name in LOSSES)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "mse"])
def test_cost_and_gradient_is_the_cost_and_the_output_gradient(backend, xp, to_device, name):
    """The training step's combined call (one fused kernel on CuPy) gives exactly the two separate values."""
    rng = np.random.RandomState(5)
    k = 1 if name == "binary_crossentropy" else 3
    Z_host = rng.randn(k, 40) * 4
    if name == "categorical_crossentropy":
        Y_host = np.eye(3)[:, rng.randint(0, 3, 40)]
    else:
        Y_host = (rng.uniform(size=(k, 40)) > 0.5).astype(np.float64)
    loss = losses.get_loss(name)
    Z, Y = to_device(Z_host), to_device(Y_host)
    A = get_activation(loss.output_activation).forward(Z, xp=xp)
    cost, dZ = loss.cost_and_gradient(Z, A, Y, xp=xp)
    np.testing.assert_allclose(float(cost), float(loss.cost(Z, A, Y, xp=xp)), rtol=1e-12, err_msg=backend.name)
    np.testing.assert_allclose(
        xdnn.to_numpy(dZ), xdnn.to_numpy(loss.output_gradient(A, Y, xp=xp)), rtol=1e-12, err_msg=backend.name
    )
