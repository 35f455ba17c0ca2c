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


# --- Network: mini-batch training with every optimizer, cost and regulariser ---------------------
#
# The reference below is the documented algorithm of xdnn.Network written out in NumPy float64:
# weights W[l] = randn(n[l], n[l-1]) * scale from RandomState(seed) in layer order (He for the relu
# family, Xavier otherwise), b = 0, gamma = 1, beta = 0, running mean 0 / variance 1; each epoch a
# permutation from default_rng(SeedSequence(seed).spawn(2)[1]) orders the samples, cut into batches
# of BATCH (the last one shorter); host dropout masks u < keep with u drawn from
# default_rng(SeedSequence(seed).spawn(3)[2]) per dropout layer and batch; cost = loss + l2/(2 m_b)
# sum ||W||^2; the learning rate is the epoch's schedule value.  Batch norm comes before the hidden
# activation, after a Dense without bias (the mean subtraction cancels a bias: see Dense(use_bias)).

NETWORK_SIZES = [4, 6, 5]  # inputs and hidden units; the output units come from the cost
NETWORK_SAMPLES, BATCH, EPOCHS = 23, 8, 3  # 8 does not divide 23: batches of 8, 8 and 7
NETWORK_SEED = 5
COSTS = {  # cost: (loss name, output units, hidden activation)
    "bce": ("binary_crossentropy", 1, "relu"),
    "cce": ("categorical_crossentropy", 3, "tanh"),
    "mse": ("mse", 2, "gelu"),
}
NETWORK_REGULARISERS = {"l2": {"l2": 0.3}, "dropout": {"dropout": 0.25}, "batch_norm": {}}  # batch norm: layers
OPTIMIZERS = {  # name: (settings, initial learning rate of ExponentialDecay(rate=0.8))
    "sgd": ({}, 0.2),
    "momentum": ({"beta": 0.8}, 0.3),
    "rmsprop": ({"rho": 0.9, "epsilon": 1e-8}, 0.01),
    "adam": ({"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, 0.01),
}
DECAY = 0.8


def network_data(cost):
    random_state = np.random.RandomState(1)
    X = random_state.randn(NETWORK_SAMPLES, NETWORK_SIZES[0])
    y = {
        "bce": (X[:, 0] * X[:, 1] > 0).astype(np.float64),
        "cce": np.argmax(X[:, :3], axis=1),  # integer labels 0..2
        "mse": np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1),
    }[cost]
    return X, y


def reference_activation(name, Z):
    """``(A, dA/dZ)`` in NumPy float64."""
    if name == "relu":
        return np.maximum(Z, 0.0), (Z > 0).astype(np.float64)
    if name == "tanh":
        A = np.tanh(Z)
        return A, 1.0 - A**2
    c = np.sqrt(2.0 / np.pi)  # gelu, tanh approximation
    t = np.tanh(c * (Z + 0.044715 * Z**3))
    return 0.5 * Z * (1 + t), 0.5 * (1 + t) + 0.5 * Z * (1 - t**2) * c * (1 + 3 * 0.044715 * Z**2)


def reference_network_training(cost, regulariser, optimizer, dtype):
    """Parameters, running statistics and per-epoch losses of the documented algorithm (NumPy float64)."""
    loss, k, activation = COSTS[cost]
    settings, initial_rate = OPTIMIZERS[optimizer]
    l2 = NETWORK_REGULARISERS[regulariser].get("l2", 0.0)
    rate = NETWORK_REGULARISERS[regulariser].get("dropout", 0.0)
    batch_norm = regulariser == "batch_norm"
    sizes = NETWORK_SIZES + [k]
    L = len(sizes) - 1
    X, y = network_data(cost)
    Y = np.eye(k)[y].T if cost == "cce" else np.reshape(y, (NETWORK_SAMPLES, -1)).T  # (k, m)
    X = X.T
    draws = np.random.RandomState(NETWORK_SEED)
    scale = {"relu": 2.0, "gelu": 2.0, "tanh": 1.0}[activation]
    P, state = {}, {}
    for l in range(1, L + 1):
        P[f"W{l}"] = draws.randn(sizes[l], sizes[l - 1]) * np.sqrt(scale / sizes[l - 1])
        if not (batch_norm and l < L):  # no bias before a batch norm
            P[f"b{l}"] = np.zeros((sizes[l], 1))
        if batch_norm and l < L:
            P[f"gamma{l}"], P[f"beta{l}"] = np.ones((sizes[l], 1)), np.zeros((sizes[l], 1))
            state[f"running_mean{l}"], state[f"running_var{l}"] = np.zeros((sizes[l], 1)), np.ones((sizes[l], 1))
    v = {name: np.zeros_like(value) for name, value in P.items()}
    s = {name: np.zeros_like(value) for name, value in P.items()}
    shuffles = np.random.default_rng(np.random.SeedSequence(NETWORK_SEED).spawn(2)[1])
    masks = np.random.default_rng(np.random.SeedSequence(NETWORK_SEED).spawn(3)[2])
    t = 0
    losses = []
    for epoch in range(EPOCHS):
        learning_rate = initial_rate * DECAY**epoch
        order = shuffles.permutation(NETWORK_SAMPLES)
        epoch_loss = 0.0
        for start in range(0, NETWORK_SAMPLES, BATCH):
            batch = order[start : start + BATCH]
            A, Yb = X[:, batch], Y[:, batch]
            m = A.shape[1]
            saved = []  # per hidden layer: (A_prev, derivative, normalisation, mask)
            for l in range(1, L):
                Z = P[f"W{l}"] @ A + P.get(f"b{l}", 0.0)
                normalisation = None
                if batch_norm:
                    mean, variance = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)
                    Zhat = (Z - mean) / np.sqrt(variance + 1e-5)
                    state[f"running_mean{l}"] = 0.9 * state[f"running_mean{l}"] + 0.1 * mean
                    state[f"running_var{l}"] = 0.9 * state[f"running_var{l}"] + 0.1 * variance
                    normalisation = (Zhat, 1.0 / np.sqrt(variance + 1e-5))
                    Z = P[f"gamma{l}"] * Zhat + P[f"beta{l}"]
                A_next, derivative = reference_activation(activation, Z)
                mask = None
                if rate:
                    uniforms = masks.random(A_next.shape).astype(dtype)
                    mask = (uniforms < 1.0 - rate) / (1.0 - rate)
                    A_next = A_next * mask
                saved.append((A, derivative, normalisation, mask))
                A = A_next
            Z = P[f"W{L}"] @ A + P[f"b{L}"]
            if cost == "bce":
                AL = 1.0 / (1.0 + np.exp(-Z))
                J = -np.mean(np.sum(Yb * np.log(AL) + (1 - Yb) * np.log(1 - AL), axis=0))
                dZ = AL - Yb
            elif cost == "cce":
                AL = np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True)
                J = -np.mean(np.sum(Yb * np.log(AL), axis=0))
                dZ = AL - Yb
            else:
                AL = Z
                J = np.sum((AL - Yb) ** 2) / (2 * m * k)
                dZ = (AL - Yb) / k
            J += l2 / (2 * m) * sum(np.sum(P[f"W{l}"] ** 2) for l in range(1, L + 1))
            epoch_loss += J * m
            grads = {}
            A_prev = A
            for l in range(L, 0, -1):
                grads[f"dW{l}"] = dZ @ A_prev.T / m + l2 / m * P[f"W{l}"]
                if f"b{l}" in P:
                    grads[f"db{l}"] = dZ.mean(axis=1, keepdims=True)
                if l == 1:
                    break
                dA = P[f"W{l}"].T @ dZ
                A_prev, derivative, normalisation, mask = saved[l - 2]
                if mask is not None:
                    dA = dA * mask
                dZ = dA * derivative
                if normalisation is not None:
                    Zhat, inverse_std = normalisation
                    grads[f"dgamma{l - 1}"] = (dZ * Zhat).mean(axis=1, keepdims=True)
                    grads[f"dbeta{l - 1}"] = dZ.mean(axis=1, keepdims=True)
                    dZ = (P[f"gamma{l - 1}"] * inverse_std) * (
                        dZ - dZ.mean(axis=1, keepdims=True) - Zhat * (dZ * Zhat).mean(axis=1, keepdims=True)
                    )
            t += 1
            for name in P:
                g = grads["d" + name]
                if optimizer == "sgd":
                    P[name] = P[name] - learning_rate * g
                elif optimizer == "momentum":
                    v[name] = settings["beta"] * v[name] + (1 - settings["beta"]) * g
                    P[name] = P[name] - learning_rate * v[name]
                elif optimizer == "rmsprop":
                    s[name] = settings["rho"] * s[name] + (1 - settings["rho"]) * g**2
                    P[name] = P[name] - learning_rate * g / (np.sqrt(s[name]) + settings["epsilon"])
                else:
                    beta1, beta2 = settings["beta1"], settings["beta2"]
                    v[name] = beta1 * v[name] + (1 - beta1) * g
                    s[name] = beta2 * s[name] + (1 - beta2) * g**2
                    v_corrected, s_corrected = v[name] / (1 - beta1**t), s[name] / (1 - beta2**t)
                    P[name] = P[name] - learning_rate * v_corrected / (np.sqrt(s_corrected) + settings["epsilon"])
        losses.append(epoch_loss / NETWORK_SAMPLES)
    return {**P, **state}, losses


def batch_norm_layers(k, activation, output_activation):
    hidden = []
    for units in NETWORK_SIZES[1:]:
        hidden += [xdnn.Dense(units, use_bias=False), xdnn.BatchNorm(), xdnn.Activation(activation)]
    return hidden + [xdnn.Dense(k, output_activation)]


def train_network(cost, regulariser, optimizer, dtype, to_device=np.asarray, **options):
    loss, k, activation = COSTS[cost]
    settings, initial_rate = OPTIMIZERS[optimizer]
    X, y = network_data(cost)
    output_activation = {"bce": "sigmoid", "cce": "softmax", "mse": "identity"}[cost]
    layers = NETWORK_SIZES + [k]
    if regulariser == "batch_norm" and not options:
        layers = batch_norm_layers(k, activation, output_activation)
    net = xdnn.Network(
        layers,
        activation=activation,
        loss=loss,
        optimizer={"name": optimizer, **settings},
        learning_rate=xdnn.ExponentialDecay(initial_rate, rate=DECAY),
        dtype=dtype,
        seed=NETWORK_SEED,
        dropout_masks="host",
        **NETWORK_REGULARISERS[regulariser],
        **options,
    )
    history = net.fit(to_device(X), to_device(y), epochs=EPOCHS, batch_size=BATCH, shuffle=True, verbose=0)
    trained = {name: np.asarray(xdnn.to_numpy(value)) for name, value in {**net.parameters, **net.state}.items()}
    return net, trained, history["loss"]


_numpy_float64_runs: dict = {}


def numpy_float64_run(cost, regulariser, optimizer):
    """The NumPy-backend float64 run of xdnn itself (the issue's parity baseline), computed once."""
    key = (cost, regulariser, optimizer)
    if key not in _numpy_float64_runs:
        with xdnn.use_backend("numpy"):
            _numpy_float64_runs[key] = train_network(cost, regulariser, optimizer, "float64")[1]
    return _numpy_float64_runs[key]


def relative_error(actual, expected):
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("cost", list(COSTS))
@pytest.mark.parametrize("regulariser", list(NETWORK_REGULARISERS))
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-4)])
def test_mini_batch_training_matches_reference_on_every_backend(
    backend, to_device, optimizer, cost, regulariser, dtype, tolerance
):
    expected, expected_losses = reference_network_training(cost, regulariser, optimizer, dtype)
    net, trained, losses = train_network(cost, regulariser, optimizer, dtype, to_device)
    where = f"{backend.name} {dtype} {optimizer} {cost} {regulariser}"
    assert net.backend == backend.name and net.optimizer.iterations == EPOCHS * 3, where
    assert set(trained) == set(expected), where
    baseline = numpy_float64_run(cost, regulariser, optimizer)
    for name, value in trained.items():
        assert value.dtype == np.dtype(dtype), f"{where} {name}: {value.dtype}"
        error = relative_error(value, expected[name])
        assert error < tolerance, f"{where} {name}: relative error {error:.2e} against the NumPy reference"
        error = relative_error(value, baseline[name])
        assert error < tolerance, f"{where} {name}: relative error {error:.2e} against the numpy float64 run"
    np.testing.assert_allclose(losses, expected_losses, rtol=tolerance, err_msg=where)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-4)])
def test_batch_norm_option_matches_reference(backend, to_device, optimizer, dtype, tolerance):
    """``Network(batch_norm=True)`` builds each hidden layer as a bias-free Dense, a batch norm and the
    activation (a bias before a batch norm would get a zero gradient and, under Adam or RMSprop, turn
    rounding noise into steps of size lr), so it trains exactly like the reference on every backend."""
    expected, expected_losses = reference_network_training("cce", "batch_norm", optimizer, dtype)
    net, trained, losses = train_network("cce", "batch_norm", optimizer, dtype, to_device, batch_norm=True)
    where = f"{backend.name} {dtype} {optimizer}"
    assert set(trained) == set(expected), where
    for name, value in trained.items():
        error = relative_error(value, expected[name])
        assert error < tolerance, f"{where} {name}: relative error {error:.2e}"
    np.testing.assert_allclose(losses, expected_losses, rtol=tolerance, err_msg=where)
