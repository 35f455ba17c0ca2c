"""xdnn.gradient_check: the tutorial's two-sided finite-difference check.

``difference = ||grad - gradapprox|| / (||grad|| + ||gradapprox||)`` with
``gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``.  It must be tiny for
every correct backward pass of a :class:`xdnn.Network` (each hidden activation x output/cost x
regulariser, float64) and large when a backward pass is wrong, so that the check can fail.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import xdnn
from xdnn import activations, executors, functional, layers, linear

HIDDEN_ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu"]
OUTPUTS = {  # output activation + cost: (loss name, output units)
    "sigmoid_bce": ("binary_crossentropy", 1),
    "softmax_cce": ("categorical_crossentropy", 3),
    "identity_mse": ("mse", 2),
    "exp_poisson": ("poisson", 2),
}
REGULARISERS = {
    "none": {},
    "l2": {"l2": 0.7},
    "dropout": {"dropout": 0.3},  # masks held fixed by the check
    "batch_norm": {"batch_norm": True},
}
N_FEATURES, HIDDEN, SAMPLES = 3, 5, 8
KINK_MARGIN = 1e-3  # relu / leaky_relu / elu: no hidden pre-activation this close to 0


def data(output, seed=0):
    """``X (SAMPLES, N_FEATURES)`` and labels: 0/1, integer classes 0..2, or real targets."""
    random_state = np.random.RandomState(seed)
    X = random_state.randn(SAMPLES, N_FEATURES)
    y = {
        "sigmoid_bce": random_state.randint(0, 2, SAMPLES).astype(np.float64),
        "softmax_cce": np.array([0, 1, 2, 2, 1, 0, 1, 2]),  # integer labels, every class present
        "identity_mse": random_state.randn(SAMPLES, 2),
        "exp_poisson": random_state.poisson(2.0, size=(SAMPLES, 2)).astype(np.float64),  # counts, zeros too
    }[output]
    return X, y


def hidden_pre_activations(net, X):
    """NumPy float64 ``Z1`` of the first hidden layer (after batch normalisation when there is one)."""
    parameters = {name: np.asarray(xdnn.to_numpy(value)) for name, value in net.parameters.items()}
    Z = parameters["W1"] @ X.T + parameters.get("b1", 0.0)  # no b1 before a batch norm
    if "gamma1" in parameters:
        centred = Z - Z.mean(axis=1, keepdims=True)
        Z = parameters["gamma1"] * centred / np.sqrt(centred.var(axis=1, keepdims=True) + 1e-5) + parameters["beta1"]
    return Z


def network(hidden_activation, output, regulariser, *, sizes=None, seed=2):
    loss, units = OUTPUTS[output]
    sizes = sizes or [N_FEATURES, HIDDEN, units]
    return xdnn.Network(
        sizes, activation=hidden_activation, loss=loss, dtype="float64", seed=seed, **REGULARISERS[regulariser]
    )


def perturb_batch_norm(net, to_device):
    """gamma = 1, beta = 0 would hide an error in their gradients: give them other values."""
    random_state = np.random.RandomState(1)
    for name in list(net.parameters):
        if name.startswith(("gamma", "beta")):
            shape = tuple(net.parameters[name].shape)
            offset = 1.0 if name.startswith("gamma") else 0.0
            net.parameters[name] = to_device(offset + 0.5 * random_state.randn(*shape))


@pytest.mark.parametrize(
    "hidden_activation, output, regulariser",
    list(itertools.product(HIDDEN_ACTIVATIONS, OUTPUTS, REGULARISERS)),
)
def test_network_gradients_pass_the_check(backend, to_device, hidden_activation, output, regulariser):
    X, y = data(output)
    net = network(hidden_activation, output, regulariser)
    perturb_batch_norm(net, to_device)
    margin = np.min(np.abs(hidden_pre_activations(net, X)))
    assert margin > KINK_MARGIN, f"test data too close to a kink: min |Z1| = {margin:.1e}"
    before = {name: np.array(xdnn.to_numpy(value), copy=True) for name, value in net.parameters.items()}

    difference = xdnn.gradient_check(net, to_device(X), to_device(y))

    where = f"{backend.name} {hidden_activation} {output} {regulariser}"
    assert difference < 1e-7, f"{where}: relative difference {difference:.2e}"
    assert net.backend == backend.name, where
    for name, value in net.parameters.items():  # the check leaves the parameters as they were
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[name], err_msg=f"{where} {name}")


@pytest.mark.parametrize("regulariser", list(REGULARISERS))
def test_deeper_network_passes_the_check(backend, to_device, regulariser):
    """Two hidden layers (gelu: smooth everywhere), so gradients flow through a hidden layer's input gradient."""
    X, y = data("softmax_cce", seed=3)
    net = network("gelu", "softmax_cce", regulariser, sizes=[N_FEATURES, 4, 4, 3])
    perturb_batch_norm(net, to_device)
    difference = net.gradient_check(to_device(X), to_device(y))
    assert difference < 1e-7, f"{backend.name} {regulariser}: relative difference {difference:.2e}"


# --- it detects wrong gradients ------------------------------------------------------------------


def test_detects_a_wrong_weight_gradient(backend, to_device, monkeypatch):
    executors.entries()  # the backends' executors registered against the real definitions first
    correct = linear.linear_backward

    def wrong(dZ, A_prev, W, *, xp, input_gradient=True):  # every dW 1% too large
        dA_prev, dW, db = correct(dZ, A_prev, W, xp=xp, input_gradient=input_gradient)
        return dA_prev, 1.01 * dW, db

    X, y = data("sigmoid_bce")
    net = network("tanh", "sigmoid_bce", "none")
    # the layers bind xdnn.linear.linear_backward when they run: this one has no backend executor
    monkeypatch.setattr(linear, "linear_backward", wrong)
    difference = xdnn.gradient_check(net, to_device(X), to_device(y))
    # dW is 1% too large and db right: ||0.01 dW|| / (2.01 ||dW|| + ...) is a few 1e-3.
    assert 1e-3 < difference < 5e-3, f"{backend.name}: relative difference {difference:.2e}"


def test_detects_a_wrong_activation_derivative(backend, to_device):
    tanh = activations.ACTIVATIONS["tanh"]
    wrong = activations.Activation(
        "tanh", tanh.forward, lambda dA, A, *, xp: 1.01 * tanh.backward(dA, A, xp=xp), tanh.backward_uses_output
    )
    X, y = data("identity_mse")
    net = xdnn.Network([layers.Dense(HIDDEN, wrong), layers.Dense(2, "identity")], dtype="float64", seed=0)
    difference = xdnn.gradient_check(net, to_device(X), to_device(y))
    assert difference > 1e-4, f"{backend.name}: relative difference {difference:.2e}"


class BatchNormWithoutCentring(layers.BatchNorm):
    """A wrong batch-norm backward: forgets the ``- mean(dY)`` term of ``dX``."""

    def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
        Y, backward = super().forward(
            parameters, state, X, training=training, xp=xp, random=random, input_gradient=input_gradient
        )

        def wrong_backward(dY):
            dX, grads = backward(dY)
            gamma = parameters[self.names["gamma"]]
            centred = X - xp.mean(X, axis=1, keepdims=True)
            inverse_std = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=1, keepdims=True) + self.epsilon)
            return dX + gamma * inverse_std * xp.mean(dY, axis=1, keepdims=True), grads

        return Y, wrong_backward


class DropoutWithoutMaskInBackward(layers.Dropout):
    """A wrong dropout backward: scales by ``1 / keep`` but forgets the mask."""

    def forward(self, parameters, state, X, *, training, xp, random, input_gradient=True):
        Y, backward = super().forward(
            parameters, state, X, training=training, xp=xp, random=random, input_gradient=input_gradient
        )
        return Y, lambda dY: (dY / (1.0 - self.rate), {})


def test_detects_a_wrong_dropout_backward(backend, to_device):
    """The dropout cases are real checks: masks are applied in the checked cost, so a backward that
    ignores them fails."""
    X, y = data("sigmoid_bce")
    net = xdnn.Network(
        [layers.Dense(HIDDEN, "tanh"), DropoutWithoutMaskInBackward(0.3), layers.Dense(1, "sigmoid")],
        dtype="float64",
        seed=0,
    )
    difference = xdnn.gradient_check(net, to_device(X), to_device(y))
    assert difference > 1e-2, f"{backend.name}: relative difference {difference:.2e}"


def test_detects_a_wrong_batch_norm_backward(backend, to_device):
    X, y = data("sigmoid_bce")
    net = xdnn.Network(
        [layers.Dense(HIDDEN), BatchNormWithoutCentring(), layers.Activation("tanh"), layers.Dense(1, "sigmoid")],
        dtype="float64",
        seed=0,
    )
    difference = xdnn.gradient_check(net, to_device(X), to_device(y))
    assert difference > 1e-4, f"{backend.name}: relative difference {difference:.2e}"


# --- the cost-function form, against a cost with a known gradient ---------------------------------


def quadratic_problem():
    """``J = sum(a * W^2) / 2 + sum(c * b^3) / 3``: ``dW = a * W``, ``db = c * b^2``."""
    random_state = np.random.RandomState(4)
    a, c = random_state.uniform(0.5, 2, (3, 2)), random_state.uniform(0.5, 2, (3, 1))
    parameters = {"W": random_state.randn(3, 2), "b": random_state.randn(3, 1)}

    def cost(p):
        return np.sum(a * p["W"] ** 2) / 2 + np.sum(c * p["b"] ** 3) / 3

    gradients = {"dW": a * parameters["W"], "db": c * parameters["b"] ** 2}
    return cost, parameters, gradients


def test_cost_function_form_returns_the_relative_difference(backend, to_device):
    cost, parameters, gradients = quadratic_problem()
    on_device = {name: to_device(value) for name, value in parameters.items()}
    right = xdnn.gradient_check(cost, on_device, {name: to_device(g) for name, g in gradients.items()})
    assert right < 1e-8, f"{backend.name}: {right:.2e}"
    # Every gradient 1% too large: ||0.01 g|| / (1.01 ||g|| + ||g||) = 0.01 / 2.01.
    wrong = xdnn.gradient_check(cost, on_device, {name: to_device(1.01 * g) for name, g in gradients.items()})
    assert abs(wrong - 0.01 / 2.01) < 1e-7, f"{backend.name}: {wrong!r}"
    # One entry wrong in sign: the check sees it.
    flipped = {name: g.copy() for name, g in gradients.items()}
    flipped["db"][1, 0] *= -1
    assert xdnn.gradient_check(cost, on_device, {k: to_device(v) for k, v in flipped.items()}) > 1e-2, backend.name
    for name, value in on_device.items():  # the caller's parameters are not perturbed
        np.testing.assert_array_equal(xdnn.to_numpy(value), parameters[name], err_msg=f"{backend.name} {name}")


def test_cost_function_form_with_the_tutorial_functions(backend, to_device):
    random_state = np.random.RandomState(0)
    X, Y = random_state.randn(4, 6), (random_state.rand(1, 6) > 0.5).astype(np.float64)
    parameters = {
        "W1": random_state.randn(3, 4),
        "b1": random_state.randn(3, 1),
        "W2": random_state.randn(1, 3),
        "b2": random_state.randn(1, 1),
    }
    X_device, Y_device = to_device(X), to_device(Y)

    def cost(host_parameters):  # the cost of the tutorial's own two-layer network, in NumPy float64
        A1 = np.tanh(host_parameters["W1"] @ X + host_parameters["b1"])
        A2 = 1 / (1 + np.exp(-(host_parameters["W2"] @ A1 + host_parameters["b2"])))
        return -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))

    on_device = {name: to_device(value) for name, value in parameters.items()}
    AL, caches = functional.L_model_forward(X_device, on_device, hidden_activation="tanh")
    grads = functional.L_model_backward(AL, Y_device, caches, hidden_activation="tanh")
    difference = xdnn.gradient_check(cost, on_device, grads)
    assert difference < 1e-7, f"{backend.name}: relative difference {difference:.2e}"


def test_refuses_what_it_cannot_check(backend, to_device):
    X, y = data("sigmoid_bce")
    with pytest.raises(ValueError, match="float64"):
        xdnn.gradient_check(xdnn.Network([N_FEATURES, 2, 1], dtype="float32"), to_device(X), to_device(y))
    cost, parameters, _ = quadratic_problem()
    with pytest.raises(TypeError, match="needs the analytic gradients"):
        xdnn.gradient_check(cost, parameters)
    _, _, gradients = quadratic_problem()
    without_db = {name: value for name, value in gradients.items() if name != "db"}
    with pytest.raises(ValueError, match="gradients is missing db"):
        xdnn.gradient_check(cost, parameters, without_db)
    with pytest.raises(ValueError, match="dW has shape"):
        xdnn.gradient_check(cost, parameters, {**gradients, "dW": np.ones((1, 1))})
