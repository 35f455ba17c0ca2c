"""xdnn.layers: Dense, Activation, BatchNorm and Dropout against NumPy float64 formulas and PyTorch.

Backward convention under test (see :mod:`xdnn.layers`): ``backward(dY)`` receives
``dY = m * dJ/dY`` and returns ``(m * dJ/dX, {"dW1": dJ/dW1, ...})``.  With the cost
``J = sum(G * Y) / m`` for a fixed ``G``, ``m * dJ/dY = G``, so the reference gradients are
PyTorch autograd's gradients of that ``J`` (``dX`` scaled by ``m``).
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xdnn
from xdnn import layers
from xdnn._namespace import ArrayContext
from xdnn._random import DeviceRandom, HostRandom
from xdnn.initializers import HostDraws

N_INPUTS, UNITS, SAMPLES = 3, 4, 7


def host(array):
    return np.asarray(xdnn.to_numpy(array))


def context_of(backend):
    return ArrayContext(backend.xp, backend.device)


def torch_module():
    return pytest.importorskip("torch", reason="PyTorch is the reference here")


def torch_activation(name):
    torch = torch_module()
    functional = torch.nn.functional
    return {
        "identity": lambda Z: Z,
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "leaky_relu": lambda Z: functional.leaky_relu(Z, 0.01),
        "elu": functional.elu,
        "gelu": lambda Z: functional.gelu(Z, approximate="tanh"),
    }[name]


NUMPY_ACTIVATION = {
    "identity": lambda Z: Z,
    "relu": lambda Z: np.maximum(Z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda Z: 1.0 / (1.0 + np.exp(-Z)),
    "leaky_relu": lambda Z: np.where(Z > 0, Z, 0.01 * Z),
    "elu": lambda Z: np.where(Z > 0, Z, np.expm1(Z)),
    "gelu": lambda Z: 0.5 * Z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (Z + 0.044715 * Z**3))),
}


def dense_problem(seed=0):
    random_state = np.random.RandomState(seed)
    X = random_state.randn(N_INPUTS, SAMPLES)
    W = random_state.randn(UNITS, N_INPUTS)
    b = random_state.randn(UNITS, 1)
    G = random_state.randn(UNITS, SAMPLES)
    return X, W, b, G


# --- Dense ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", list(NUMPY_ACTIVATION))
def test_dense_forward_and_backward_match_torch_autograd(backend, xp, to_device, activation):
    torch = torch_module()
    X, W, b, G = dense_problem()
    Z = W @ X + b
    assert np.min(np.abs(Z)) > 1e-3, "test data too close to a kink"
    dense = layers.Dense(UNITS, activation)
    dense.build(N_INPUTS, 2)
    parameters = {"W2": to_device(W), "b2": to_device(b)}
    A, backward = dense.forward(parameters, None, to_device(X), training=True, xp=xp, random=None)
    np.testing.assert_allclose(host(A), NUMPY_ACTIVATION[activation](Z), rtol=1e-13, atol=1e-15, err_msg=backend.name)

    dX, grads = backward(to_device(G))
    X_t, W_t, b_t = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (X, W, b))
    A_t = torch_activation(activation)(W_t @ X_t + b_t)
    ((torch.tensor(G) * A_t).sum() / SAMPLES).backward()
    np.testing.assert_allclose(host(A), A_t.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=backend.name)
    assert set(grads) == {"dW2", "db2"}, backend.name
    np.testing.assert_allclose(host(grads["dW2"]), W_t.grad.numpy(), rtol=1e-12, err_msg=f"{backend.name} dW")
    np.testing.assert_allclose(host(grads["db2"]), b_t.grad.numpy(), rtol=1e-12, err_msg=f"{backend.name} db")
    np.testing.assert_allclose(host(dX), SAMPLES * X_t.grad.numpy(), rtol=1e-12, err_msg=f"{backend.name} dX")


def test_dense_linear_backward_formulas_and_first_layer(backend, xp, to_device):
    """``dW = dZ X^T / m``, ``db = mean over samples of dZ``, ``dX = W^T dZ``; no ``dX`` for the first layer."""
    X, W, b, dZ = dense_problem(seed=1)
    dense = layers.Dense(UNITS)
    dense.build(N_INPUTS, 1)
    parameters = {"W1": to_device(W), "b1": to_device(b)}
    Z, A, backward = dense.forward_output(parameters, to_device(X), xp=xp)
    np.testing.assert_allclose(host(Z), W @ X + b, rtol=1e-13, err_msg=backend.name)
    dX, grads = backward(to_device(dZ))
    np.testing.assert_allclose(host(grads["dW1"]), dZ @ X.T / SAMPLES, rtol=1e-13, err_msg=backend.name)
    np.testing.assert_allclose(host(grads["db1"]), dZ.mean(axis=1, keepdims=True), rtol=1e-13, err_msg=backend.name)
    np.testing.assert_allclose(host(dX), W.T @ dZ, rtol=1e-13, err_msg=backend.name)
    _, first_layer_backward = dense.forward(
        parameters, None, to_device(X), training=True, xp=xp, random=None, input_gradient=False
    )
    dX, grads = first_layer_backward(to_device(dZ))
    assert dX is None, backend.name
    np.testing.assert_allclose(host(grads["dW1"]), dZ @ X.T / SAMPLES, rtol=1e-13, err_msg=backend.name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_keeps_dtype_and_device(backend, xp, to_device, dtype):
    X, W, b, G = (array.astype(dtype) for array in dense_problem())
    dense = layers.Dense(UNITS, "relu")
    dense.build(N_INPUTS, 1)
    A, backward = dense.forward(
        {"W1": to_device(W), "b1": to_device(b)}, None, to_device(X), training=True, xp=xp, random=None
    )
    dX, grads = backward(to_device(G))
    for name, array in {"A": A, "dX": dX, **grads}.items():
        assert array.dtype == getattr(xp, dtype), f"{backend.name} {name}: {array.dtype}"
        assert array_api_compat.device(array) == backend.device, f"{backend.name} {name}"


def test_dense_without_bias(backend, xp, to_device):
    """``use_bias=False``: ``Z = W X``, no ``b`` parameter and no ``db`` gradient."""
    X, W, _, dZ = dense_problem(seed=3)
    dense = layers.Dense(UNITS, "tanh", use_bias=False)
    dense.build(N_INPUTS, 2)
    assert set(dense.host_parameters(HostDraws(0), "xavier")) == {"W2"}
    Z, A, backward = dense.forward_output({"W2": to_device(W)}, to_device(X), xp=xp)
    np.testing.assert_allclose(host(Z), W @ X, rtol=1e-13, err_msg=backend.name)
    np.testing.assert_allclose(host(A), np.tanh(W @ X), rtol=1e-13, err_msg=backend.name)
    dX, grads = backward(to_device(dZ))
    assert set(grads) == {"dW2"}, backend.name
    np.testing.assert_allclose(host(grads["dW2"]), dZ @ X.T / SAMPLES, rtol=1e-13, err_msg=backend.name)
    np.testing.assert_allclose(host(dX), W.T @ dZ, rtol=1e-13, err_msg=backend.name)


def test_bias_before_batch_norm_has_zero_gradient(backend, xp, to_device):
    """Why ``use_bias=False`` before a BatchNorm: the mean subtraction cancels ``b``, so ``db = 0``
    exactly in real arithmetic and only rounding noise in floating point."""
    X, W, b, _ = dense_problem(seed=4)
    _, gamma, beta, _, _, G = batch_norm_problem(seed=4)
    dense, norm = layers.Dense(UNITS), built_batch_norm(index=1)
    dense.build(N_INPUTS, 1)
    parameters = {"W1": to_device(W), "b1": to_device(b), "gamma1": to_device(gamma), "beta1": to_device(beta)}
    Z, backward_dense = dense.forward(parameters, None, to_device(X), training=True, xp=xp, random=None)
    _, backward_norm = norm.forward(parameters, None, Z, training=True, xp=xp, random=None)
    dZ, _ = backward_norm(to_device(G))
    _, grads = backward_dense(dZ)
    assert np.max(np.abs(host(grads["db1"]))) < 1e-14 * np.max(np.abs(G)), backend.name
    assert np.max(np.abs(host(grads["dW1"]))) > 1e-2, backend.name


def test_dense_rejects_bad_units():
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            layers.Dense(bad)


def test_activation_layer_forward_and_backward(backend, xp, to_device):
    X, _, _, G = dense_problem(seed=2)
    X = X[:, :SAMPLES]
    G = G[:N_INPUTS]
    layer = layers.Activation("tanh")
    A, backward = layer.forward({}, None, to_device(X), training=True, xp=xp, random=None)
    np.testing.assert_allclose(host(A), np.tanh(X), rtol=1e-13, err_msg=backend.name)
    dX, grads = backward(to_device(G))
    assert grads == {}, backend.name
    np.testing.assert_allclose(host(dX), G * (1 - np.tanh(X) ** 2), rtol=1e-13, err_msg=backend.name)


def test_layer_configs_round_trip():
    for layer in (
        layers.Dense(5, "gelu", "he"),
        layers.Dense(2, use_bias=False),
        layers.Activation("elu"),
        layers.Dropout(0.25),
        layers.BatchNorm(0.8),
    ):
        rebuilt = layers.layer_from_config(layer.config())
        assert type(rebuilt) is type(layer) and rebuilt.config() == layer.config() and repr(rebuilt) == repr(layer)
    with pytest.raises(ValueError, match="unknown layer kind"):
        layers.layer_from_config({"kind": "conv2d"})


# --- BatchNorm -----------------------------------------------------------------------------------


def batch_norm_problem(seed=0, n=UNITS, m=SAMPLES):
    random_state = np.random.RandomState(seed)
    X = random_state.randn(n, m) * random_state.uniform(0.5, 3.0, size=(n, 1)) + random_state.randn(n, 1)
    gamma = random_state.uniform(0.5, 2.0, size=(n, 1))
    beta = random_state.randn(n, 1)
    running_mean = random_state.randn(n, 1) * 0.1
    running_var = random_state.uniform(0.5, 1.5, size=(n, 1))
    G = random_state.randn(n, m)
    return X, gamma, beta, running_mean, running_var, G


def reference_batch_norm_training(X, gamma, beta, running_mean, running_var, momentum, epsilon):
    """Batch statistics with the biased variance; running averages r = momentum r + (1 - momentum) batch."""
    mean = X.mean(axis=1, keepdims=True)
    variance = ((X - mean) ** 2).mean(axis=1, keepdims=True)  # biased: divides by m
    Y = gamma * (X - mean) / np.sqrt(variance + epsilon) + beta
    return (
        Y,
        momentum * running_mean + (1 - momentum) * mean,
        momentum * running_var + (1 - momentum) * variance,
    )


def built_batch_norm(momentum=0.9, epsilon=1e-5, index=1):
    layer = layers.BatchNorm(momentum=momentum, epsilon=epsilon)
    layer.build(UNITS, index)
    return layer


def batch_norm_arrays(to_device, gamma, beta, running_mean, running_var, index=1):
    parameters = {f"gamma{index}": to_device(gamma), f"beta{index}": to_device(beta)}
    state = {f"running_mean{index}": to_device(running_mean), f"running_var{index}": to_device(running_var)}
    return parameters, state


@pytest.mark.parametrize("momentum, epsilon", [(0.9, 1e-5), (0.7, 1e-2)])
def test_batch_norm_training_uses_batch_statistics(backend, xp, to_device, momentum, epsilon):
    X, gamma, beta, running_mean, running_var, _ = batch_norm_problem()
    layer = built_batch_norm(momentum, epsilon)
    parameters, state = batch_norm_arrays(to_device, gamma, beta, running_mean, running_var)
    Y, _ = layer.forward(parameters, state, to_device(X), training=True, xp=xp, random=None)
    expected_Y, expected_mean, expected_var = reference_batch_norm_training(
        X, gamma, beta, running_mean, running_var, momentum, epsilon
    )
    np.testing.assert_allclose(host(Y), expected_Y, rtol=1e-12, atol=1e-14, err_msg=backend.name)
    np.testing.assert_allclose(host(state["running_mean1"]), expected_mean, rtol=1e-12, err_msg=backend.name)
    np.testing.assert_allclose(host(state["running_var1"]), expected_var, rtol=1e-12, err_msg=backend.name)
    # Normalised (gamma = 1, beta = 0), every unit has mean 0 and biased variance var / (var + eps).
    ones, zeros = np.ones_like(gamma), np.zeros_like(beta)
    normalised, _ = layer.forward(
        {"gamma1": to_device(ones), "beta1": to_device(zeros)}, None, to_device(X), training=True, xp=xp, random=None
    )
    variance = X.var(axis=1)
    np.testing.assert_allclose(host(normalised).mean(axis=1), 0.0, atol=1e-14, err_msg=backend.name)
    np.testing.assert_allclose(host(normalised).var(axis=1), variance / (variance + epsilon), rtol=1e-12)


def test_batch_norm_training_matches_torch(backend, xp, to_device):
    """torch's ``momentum`` weighs the batch (xdnn's ``1 - momentum``); its forward also normalises with the
    biased batch variance, but its running variance uses the unbiased one (xdnn, like Keras, the biased)."""
    torch = torch_module()
    functional = torch.nn.functional
    momentum, epsilon = 0.9, 1e-5
    X, gamma, beta, running_mean, running_var, G = batch_norm_problem(seed=3)
    layer = built_batch_norm(momentum, epsilon)
    parameters, state = batch_norm_arrays(to_device, gamma, beta, running_mean, running_var)
    Y, backward = layer.forward(parameters, state, to_device(X), training=True, xp=xp, random=None)
    dX, grads = backward(to_device(G))

    X_t = torch.tensor(X.T.copy(), requires_grad=True)  # torch's layout: (m, n_units)
    gamma_t = torch.tensor(gamma[:, 0].copy(), requires_grad=True)
    beta_t = torch.tensor(beta[:, 0].copy(), requires_grad=True)
    mean_t, var_t = torch.tensor(running_mean[:, 0].copy()), torch.tensor(running_var[:, 0].copy())
    Y_t = functional.batch_norm(X_t, mean_t, var_t, gamma_t, beta_t, training=True, momentum=1 - momentum, eps=epsilon)
    ((torch.tensor(G.T) * Y_t).sum() / SAMPLES).backward()

    where = backend.name
    np.testing.assert_allclose(host(Y), Y_t.detach().numpy().T, rtol=1e-12, atol=1e-14, err_msg=where)
    np.testing.assert_allclose(host(dX), SAMPLES * X_t.grad.numpy().T, rtol=1e-10, atol=1e-13, err_msg=where)
    np.testing.assert_allclose(host(grads["dgamma1"])[:, 0], gamma_t.grad.numpy(), rtol=1e-12, err_msg=where)
    np.testing.assert_allclose(host(grads["dbeta1"])[:, 0], beta_t.grad.numpy(), rtol=1e-12, err_msg=where)
    np.testing.assert_allclose(host(state["running_mean1"])[:, 0], mean_t.numpy(), rtol=1e-12, err_msg=where)
    # torch: r = momentum r0 + (1 - momentum) var * m / (m - 1); undo the m / (m - 1) of the batch term.
    previous = momentum * running_var[:, 0]
    torch_as_biased = previous + (var_t.numpy() - previous) * (SAMPLES - 1) / SAMPLES
    np.testing.assert_allclose(host(state["running_var1"])[:, 0], torch_as_biased, rtol=1e-12, err_msg=where)


def test_batch_norm_backward_matches_finite_differences(backend, xp, to_device):
    """``dX`` (per sample), ``dgamma`` and ``dbeta`` of ``J = sum(G * Y) / m`` by two-sided differences."""
    X, gamma, beta, running_mean, running_var, G = batch_norm_problem(seed=5)
    layer = built_batch_norm()

    def cost(X_host, gamma_host, beta_host):
        parameters = {"gamma1": to_device(gamma_host), "beta1": to_device(beta_host)}
        Y, _ = layer.forward(parameters, None, to_device(X_host), training=True, xp=xp, random=None)
        return float(np.sum(G * host(Y)) / SAMPLES)

    parameters = {"gamma1": to_device(gamma), "beta1": to_device(beta)}
    _, backward = layer.forward(parameters, None, to_device(X), training=True, xp=xp, random=None)
    dX, grads = backward(to_device(G))
    step = 1e-6
    arguments = [X, gamma, beta]
    for position, (name, analytic, scale) in enumerate(
        [("dX", host(dX), SAMPLES), ("dgamma", host(grads["dgamma1"]), 1), ("dbeta", host(grads["dbeta1"]), 1)]
    ):
        numerical = np.zeros_like(arguments[position])
        for index in np.ndindex(numerical.shape):
            plus = [array.copy() for array in arguments]
            minus = [array.copy() for array in arguments]
            plus[position][index] += step
            minus[position][index] -= step
            numerical[index] = scale * (cost(*plus) - cost(*minus)) / (2 * step)
        error = np.linalg.norm(analytic - numerical) / (np.linalg.norm(analytic) + np.linalg.norm(numerical))
        assert error < 1e-7, f"{backend.name} {name}: relative error {error:.2e}"


def test_batch_norm_inference_uses_running_statistics(backend, xp, to_device):
    torch = torch_module()
    X, gamma, beta, running_mean, running_var, _ = batch_norm_problem(seed=1)
    epsilon = 1e-3
    layer = built_batch_norm(epsilon=epsilon)
    parameters, state = batch_norm_arrays(to_device, gamma, beta, running_mean, running_var)
    Y, backward = layer.forward(parameters, state, to_device(X), training=False, xp=xp, random=None)
    assert backward is None, backend.name
    expected = gamma * (X - running_mean) / np.sqrt(running_var + epsilon) + beta
    np.testing.assert_allclose(host(Y), expected, rtol=1e-12, err_msg=backend.name)
    Y_t = torch.nn.functional.batch_norm(
        torch.tensor(X.T.copy()),
        torch.tensor(running_mean[:, 0].copy()),
        torch.tensor(running_var[:, 0].copy()),
        torch.tensor(gamma[:, 0].copy()),
        torch.tensor(beta[:, 0].copy()),
        training=False,
        eps=epsilon,
    )
    np.testing.assert_allclose(host(Y), Y_t.numpy().T, rtol=1e-12, err_msg=backend.name)
    # Inference never touches the running statistics.
    np.testing.assert_array_equal(host(state["running_mean1"]), running_mean, err_msg=backend.name)
    np.testing.assert_array_equal(host(state["running_var1"]), running_var, err_msg=backend.name)


def test_running_statistics_are_updated_only_in_training(backend, xp, to_device):
    momentum = 0.8
    _, gamma, beta, running_mean, running_var, _ = batch_norm_problem(seed=2)
    layer = built_batch_norm(momentum)
    parameters, state = batch_norm_arrays(to_device, gamma, beta, running_mean, running_var)
    expected_mean, expected_var = running_mean.copy(), running_var.copy()
    for batch in range(4):
        X = batch_norm_problem(seed=10 + batch)[0]
        layer.forward(parameters, state, to_device(X), training=True, xp=xp, random=None)
        _, expected_mean, expected_var = reference_batch_norm_training(
            X, gamma, beta, expected_mean, expected_var, momentum, 1e-5
        )
        layer.forward(parameters, state, to_device(X * 3 + 1), training=False, xp=xp, random=None)
        layer.forward(parameters, None, to_device(X * 5), training=True, xp=xp, random=None)  # no state given
        np.testing.assert_allclose(host(state["running_mean1"]), expected_mean, rtol=1e-12, err_msg=backend.name)
        np.testing.assert_allclose(host(state["running_var1"]), expected_var, rtol=1e-12, err_msg=backend.name)
    for name, value in state.items():
        assert array_api_compat.device(value) == backend.device, f"{backend.name} {name}"


def test_batch_norm_rejects_bad_settings():
    for momentum in (-0.1, 1.5):
        with pytest.raises(ValueError, match="momentum must be in"):
            layers.BatchNorm(momentum=momentum)
    for epsilon in (0.0, -1e-5):
        with pytest.raises(ValueError, match="epsilon must be positive"):
            layers.BatchNorm(epsilon=epsilon)


def test_batch_norm_constant_unit_gives_beta(backend, xp, to_device):
    """Zero batch variance: ``Xhat = 0 / sqrt(eps) = 0``, so the output is ``beta`` (eps keeps it finite)."""
    X = np.vstack([np.full((1, SAMPLES), 2.5), np.random.RandomState(0).randn(UNITS - 1, SAMPLES)])
    _, gamma, beta, running_mean, running_var, G = batch_norm_problem()
    layer = built_batch_norm()
    parameters, state = batch_norm_arrays(to_device, gamma, beta, running_mean, running_var)
    Y, backward = layer.forward(parameters, state, to_device(X), training=True, xp=xp, random=None)
    dX, _ = backward(to_device(G))
    np.testing.assert_allclose(host(Y)[0], beta[0, 0], rtol=1e-14, err_msg=backend.name)
    assert np.all(np.isfinite(host(dX))), backend.name


def test_network_batch_norm_state_changes_in_fit_only(backend, to_device):
    random_state = np.random.RandomState(0)
    X = random_state.randn(30, 3) * 2 + 1
    y = (X[:, 0] > 1).astype(np.float64)
    net = xdnn.Network([3, 4, 1], batch_norm=True, optimizer="sgd", learning_rate=0.1, dtype="float64", seed=0)
    initial = {name: host(value).copy() for name, value in net.state.items()}
    assert set(initial) == {"running_mean1", "running_var1"}
    np.testing.assert_array_equal(initial["running_mean1"], 0.0)
    np.testing.assert_array_equal(initial["running_var1"], 1.0)
    net.gradient_check(to_device(X[:6]), to_device(y[:6]))  # batch statistics only: no state change
    for name, value in net.state.items():
        np.testing.assert_array_equal(host(value), initial[name], err_msg=f"{backend.name} {name}")
    net.fit(to_device(X), to_device(y), epochs=2, batch_size=None, verbose=0)
    trained = {name: host(value).copy() for name, value in net.state.items()}
    assert not np.allclose(trained["running_mean1"], 0.0), backend.name
    net.predict(to_device(X))
    net.evaluate(to_device(X), to_device(y))
    for name, value in net.state.items():
        np.testing.assert_array_equal(host(value), trained[name], err_msg=f"{backend.name} {name}")


# --- Dropout -------------------------------------------------------------------------------------


def child_stream(seed, stream=2):
    """The documented child stream ``stream`` of ``SeedSequence(seed)`` (dropout uses stream 2)."""
    return np.random.SeedSequence(seed).spawn(stream + 1)[stream]


def host_uniforms(seed, shapes):
    """What ``HostRandom(seed)`` must draw: float64 uniforms from the dropout stream, in order."""
    generator = np.random.default_rng(child_stream(seed))
    return [generator.random(shape) for shape in shapes]


@pytest.mark.parametrize("rate", [0.2, 0.5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inverted_dropout_with_host_masks(backend, xp, to_device, rate, dtype):
    keep = 1.0 - rate
    random_state = np.random.RandomState(1)
    X = random_state.uniform(0.5, 2.0, size=(6, 40)).astype(dtype)
    G = random_state.randn(6, 40).astype(dtype)
    layer = layers.Dropout(rate)
    random = HostRandom(context_of(backend), 7)
    Y, backward = layer.forward({}, None, to_device(X), training=True, xp=xp, random=random)
    (uniforms,) = host_uniforms(7, [X.shape])
    kept = uniforms.astype(dtype) < keep
    assert 0 < kept.sum() < kept.size
    Y_host = host(Y)
    assert Y_host.dtype == np.dtype(dtype), backend.name
    rtol = 1e-15 if dtype == "float64" else 3e-7  # X * (D / keep): two roundings
    np.testing.assert_allclose(Y_host[kept], X[kept] / keep, rtol=rtol, err_msg=f"{backend.name}: kept units")
    assert np.all(Y_host[~kept] == 0), f"{backend.name}: dropped units"
    dX, grads = backward(to_device(G))
    assert grads == {}
    np.testing.assert_allclose(host(dX), np.where(kept, G / keep, 0.0), rtol=rtol, err_msg=f"{backend.name}: backward")


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_dropout_is_identity_at_inference(backend, xp, to_device, rate):
    X = np.random.RandomState(0).randn(5, 9)
    layer = layers.Dropout(rate)
    Y, backward = layer.forward({}, None, to_device(X), training=False, xp=xp, random=None)
    np.testing.assert_array_equal(host(Y), X, err_msg=backend.name)
    G = np.random.RandomState(1).randn(5, 9)
    np.testing.assert_array_equal(host(backward(to_device(G))[0]), G, err_msg=backend.name)
    if rate == 0.0:  # rate 0 draws nothing, even in training
        Y, _ = layer.forward({}, None, to_device(X), training=True, xp=xp, random=None)
        np.testing.assert_array_equal(host(Y), X, err_msg=backend.name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_masks_come_from_the_backends_seeded_generator(backend, xp, dtype):
    """NumPy: ``default_rng``; PyTorch: ``torch.Generator`` on the device; JAX: a key split per draw; all
    seeded from the dropout stream.  Libraries without a generator (array-api-strict) draw on the host."""
    shapes = [(3, 5), (4, 2), (3, 5)]
    random = DeviceRandom(context_of(backend), 11)
    draws = [random.uniform(shape, getattr(xp, dtype)) for shape in shapes]
    for draw, shape in zip(draws, shapes, strict=True):
        assert array_api_compat.array_namespace(draw) is array_api_compat.array_namespace(
            xp.zeros(1, device=backend.device)
        ), backend.name
        assert array_api_compat.device(draw) == backend.device, backend.name
        assert draw.dtype == getattr(xp, dtype), f"{backend.name}: {draw.dtype}"
        assert tuple(draw.shape) == shape, backend.name
    integer_seed = int(child_stream(11).generate_state(1, dtype=np.uint32)[0])
    if backend.name == "numpy":
        generator = np.random.default_rng(integer_seed)
        expected = [generator.random(shape, dtype=dtype) for shape in shapes]
    elif backend.name == "torch":
        import torch

        generator = torch.Generator(device=backend.device)
        generator.manual_seed(integer_seed)
        torch_dtype = getattr(torch, dtype)
        expected = [
            torch.rand(shape, generator=generator, device=backend.device, dtype=torch_dtype).cpu().numpy()
            for shape in shapes
        ]
    elif backend.name == "cupy":
        import cupy

        generator = cupy.random.default_rng(integer_seed)
        expected = [generator.random(shape, dtype=dtype).get() for shape in shapes]
    elif backend.name == "jax":  # no generator state: a key, split once per draw
        import jax

        key, expected = jax.random.key(integer_seed), []
        for shape in shapes:
            key, subkey = jax.random.split(key)
            expected.append(np.asarray(jax.random.uniform(subkey, shape, getattr(xp, dtype))))
    else:
        expected = [values.astype(dtype) for values in host_uniforms(11, shapes)]
    for draw, values in zip(draws, expected, strict=True):
        np.testing.assert_array_equal(host(draw), values, err_msg=backend.name)


def test_device_masks_same_seed_same_masks(backend, xp, to_device):
    X = to_device(np.ones((8, 50)))
    layer = layers.Dropout(0.3)

    def masks(seed):
        random = DeviceRandom(context_of(backend), seed)
        return [host(layer.forward({}, None, X, training=True, xp=xp, random=random)[0]) for _ in range(3)]

    first, again, other = masks(3), masks(3), masks(4)
    for step in range(3):
        np.testing.assert_array_equal(first[step], again[step], err_msg=f"{backend.name} step {step}")
        assert not np.array_equal(first[step], other[step]), f"{backend.name}: seeds 3 and 4 gave the same mask"
    assert not np.array_equal(first[0], first[1]), f"{backend.name}: successive steps repeated a mask"


@pytest.mark.parametrize("masks", ["device", "host"])
def test_dropout_keeps_the_expected_fraction(backend, xp, to_device, masks):
    """E[D / keep] = 1: inverted dropout leaves the expected activation unchanged."""
    keep = 0.7
    random = (DeviceRandom if masks == "device" else HostRandom)(context_of(backend), 0)
    Y, _ = layers.Dropout(1 - keep).forward(
        {}, None, to_device(np.ones((200, 250))), training=True, xp=xp, random=random
    )
    Y = host(Y)
    assert set(np.unique(Y)) == {0.0, 1.0 / keep}, backend.name
    assert abs(np.mean(Y > 0) - keep) < 0.01, f"{backend.name}: kept fraction {np.mean(Y > 0):.4f}"
    assert abs(np.mean(Y) - 1.0) < 0.015, f"{backend.name}: mean {np.mean(Y):.4f}"


def test_host_random_is_the_documented_host_stream(backend):
    """``HostRandom`` (``dropout_masks="host"``) draws from the seed's dropout stream on the host, so every
    backend, each compared here to the same NumPy draw, gets identical masks.  (The mini-batch parity tests
    in test_parity.py train networks with host masks against a NumPy reference drawing this stream.)"""
    random = HostRandom(context_of(backend), 5)
    draws = [random.uniform((3, 4), backend.xp.float64) for _ in range(2)]
    for draw, expected in zip(draws, host_uniforms(5, [(3, 4), (3, 4)]), strict=True):
        assert array_api_compat.device(draw) == backend.device, backend.name
        np.testing.assert_array_equal(host(draw), expected, err_msg=backend.name)


def test_network_device_masks_same_seed_same_training(backend, to_device):
    """``dropout_masks="device"``: the same seed trains identically on a backend, with masks from the backend's
    own generator, not the host stream (array-api-strict has no generator and falls back to the host)."""
    random_state = np.random.RandomState(0)
    X, y = random_state.randn(20, 3), random_state.randint(0, 2, 20)

    def trained(seed, masks="device"):
        net = xdnn.Network([3, 8, 1], dropout=0.5, optimizer="sgd", learning_rate=0.5, seed=seed, dropout_masks=masks)
        net.fit(to_device(X), to_device(y), epochs=2, batch_size=None, verbose=0)
        return host(net.parameters["W1"]).copy()

    np.testing.assert_array_equal(trained(1), trained(1), err_msg=backend.name)
    same_as_host = np.array_equal(trained(1), trained(1, masks="host"))
    assert same_as_host == (backend.name == "array_api_strict"), backend.name
    with pytest.raises(ValueError, match="dropout_masks"):
        xdnn.Network([2, 3, 1], dropout_masks="gpu")


def test_dropout_rejects_bad_rates():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\)"):
            layers.Dropout(bad)
