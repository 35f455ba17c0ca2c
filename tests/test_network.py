"""Tests for :class:`xdnn.Network` (``xdnn/network.py``), on every selected backend.

Training is compared step by step with a plain NumPy float64 implementation written
here (tutorial layout, one column per sample) and, for Adam, with PyTorch autograd;
nothing is compared with numbers that xdnn itself produced earlier.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings

import array_api_compat
import numpy as np
import pytest

import xdnn
from xdnn._backend import resolve_backend

# --- a NumPy float64 reference network ------------------------------------------------------------

HIDDEN = {
    "relu": (lambda Z: np.maximum(Z, 0.0), lambda Z: (Z > 0).astype(np.float64)),
    "tanh": (np.tanh, lambda Z: 1.0 - np.tanh(Z) ** 2),
}
SCALES = {
    "he": lambda n_previous: math.sqrt(2.0 / n_previous),
    "xavier": lambda n_previous: math.sqrt(1.0 / n_previous),
}


def reference_parameters(sizes, seed, scheme):
    """``W[l] = RandomState(seed).randn(n[l], n[l-1]) * scale`` in layer order, ``b[l] = 0``."""
    random_state = np.random.RandomState(seed)
    parameters = {}
    for layer in range(1, len(sizes)):
        scale = SCALES[scheme](sizes[layer - 1])
        parameters[f"W{layer}"] = random_state.randn(sizes[layer], sizes[layer - 1]) * scale
        parameters[f"b{layer}"] = np.zeros((sizes[layer], 1))
    return parameters


def reference_targets(y, loss, units):
    """Targets in tutorial layout ``(units, m)``: one-hot for integer softmax labels."""
    y = np.asarray(y, dtype=np.float64)
    if loss == "categorical_crossentropy" and y.ndim == 1:
        return (y[None, :] == np.arange(units)[:, None]).astype(np.float64)
    return y.reshape(len(y), -1).T


def reference_forward(parameters, X, hidden):
    """``(Z_L, caches)`` with ``caches[l-1] = (A_prev, Z_l)``; ``X`` is ``(m, n_features)``."""
    layers = len(parameters) // 2
    A = X.T
    caches = []
    for layer in range(1, layers + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # the divergence tests overflow on purpose
            Z = parameters[f"W{layer}"] @ A + parameters[f"b{layer}"]
        caches.append((A, Z))
        if layer < layers:
            A = HIDDEN[hidden][0](Z)
    return Z, caches


def reference_output(Z, loss):
    if loss == "binary_crossentropy":
        return 1.0 / (1.0 + np.exp(-Z))
    if loss == "categorical_crossentropy":
        exponentials = np.exp(Z - Z.max(axis=0, keepdims=True))
        return exponentials / exponentials.sum(axis=0, keepdims=True)
    return Z


def reference_cost(Z, Y, loss, parameters, l2):
    """Tutorial costs (BCE from probabilities, CCE by log-sum-exp, MSE / 2) plus ``l2/(2m) sum W^2``."""
    m = Y.shape[1]
    A = reference_output(Z, loss)
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "binary_crossentropy":
            cost = -np.sum(Y * np.log(A) + (1.0 - Y) * np.log(1.0 - A)) / m
        elif loss == "categorical_crossentropy":
            shifted = Z - Z.max(axis=0, keepdims=True)
            cost = -np.sum(Y * (shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True)))) / m
        else:
            cost = np.sum((A - Y) ** 2) / (2.0 * m * Y.shape[0])
        weights = [value for name, value in parameters.items() if name.startswith("W")]
        return cost + l2 / (2.0 * m) * sum(np.sum(W * W) for W in weights)


def reference_gradients(parameters, caches, Z, Y, loss, hidden, l2):
    m = Y.shape[1]
    layers = len(caches)
    dZ = (reference_output(Z, loss) - Y) / m
    if loss == "mse":
        dZ = dZ / Y.shape[0]
    grads = {}
    for layer in range(layers, 0, -1):
        A_prev, _ = caches[layer - 1]
        W = parameters[f"W{layer}"]
        grads[f"W{layer}"] = dZ @ A_prev.T + (l2 / m) * W
        grads[f"b{layer}"] = dZ.sum(axis=1, keepdims=True)
        if layer > 1:
            dZ = (W.T @ dZ) * HIDDEN[hidden][1](caches[layer - 2][1])
    return grads


def reference_correct(A, Y, loss):
    """Correct predictions: argmax for softmax, else the fraction of right 0/1 entries per sample."""
    if loss == "categorical_crossentropy":
        return float(np.sum(A.argmax(axis=0) == Y.argmax(axis=0)))
    return float(np.mean((A > 0.5) == (Y > 0.5), axis=0).sum())


def reference_evaluate(parameters, X, Y, loss, hidden, l2):
    Z, _ = reference_forward(parameters, X, hidden)
    results = {"loss": reference_cost(Z, Y, loss, parameters, l2)}
    if loss != "mse":
        results["accuracy"] = reference_correct(reference_output(Z, loss), Y, loss) / X.shape[0]
    return results


def host_permutations(seed, m):
    """The documented shuffle: child stream 1 of ``SeedSequence(seed)``, one permutation per epoch."""
    generator = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    while True:
        yield generator.permutation(m)


@dataclasses.dataclass
class ReferenceRun:
    history: dict
    parameters: dict
    diverged: tuple[int, int] | None = None  # (epoch, first sample of the batch) whose cost was not finite


def reference_sgd(
    parameters,
    X,
    Y,
    *,
    epochs,
    batch_size,
    learning_rate,
    loss,
    hidden,
    l2=0.0,
    permutations=None,
    validation=None,
):
    """Mini-batch gradient descent; epoch loss = size-weighted mean of the batch costs before each step."""
    parameters = {name: value.copy() for name, value in parameters.items()}
    m = X.shape[0]
    batch = m if batch_size is None else min(batch_size, m)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        rate = learning_rate(epoch) if callable(learning_rate) else learning_rate
        order = next(permutations) if permutations is not None and batch < m else np.arange(m)
        total, correct = 0.0, 0.0
        for start in range(0, m, batch):
            rows = order[start : start + batch]
            Z, caches = reference_forward(parameters, X[rows], hidden)
            cost = reference_cost(Z, Y[:, rows], loss, parameters, l2)
            if not np.isfinite(cost):
                return ReferenceRun(history, parameters, diverged=(epoch, start))
            total += cost * len(rows)
            correct += reference_correct(reference_output(Z, loss), Y[:, rows], loss)
            grads = reference_gradients(parameters, caches, Z, Y[:, rows], loss, hidden, l2)
            for name in parameters:
                parameters[name] = parameters[name] - rate * grads[name]
        history["loss"].append(total / m)
        history["accuracy"].append(correct / m)
        if validation is not None:
            for name, value in reference_evaluate(parameters, *validation, loss, hidden, l2).items():
                history[f"val_{name}"].append(value)
    return ReferenceRun(history, parameters)


# --- data and helpers ---------------------------------------------------------------------------


@dataclasses.dataclass
class Task:
    sizes: list
    loss: str
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


TASKS = ("binary", "multiclass", "one_hot", "multi_label", "regression", "multi_output_regression")


def make_task(name, m=30, n_val=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m + n_val, 3))
    mixing = rng.normal(size=(3, 3))
    if name == "binary":
        y, sizes, loss = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64), [3, 5, 1], "binary_crossentropy"
    elif name == "multiclass":
        y, sizes, loss = np.argmax(X @ mixing, axis=1), [3, 5, 3], "categorical_crossentropy"
    elif name == "one_hot":
        y, sizes, loss = np.eye(3)[np.argmax(X @ mixing, axis=1)], [3, 5, 3], "categorical_crossentropy"
    elif name == "multi_label":
        y, sizes, loss = (X @ mixing[:, :2] > 0).astype(np.int64), [3, 5, 2], "binary_crossentropy"
    elif name == "regression":
        y, sizes, loss = X @ np.array([1.0, -2.0, 0.5]) + 0.3, [3, 5, 1], "mse"
    elif name == "multi_output_regression":
        y, sizes, loss = X @ mixing[:, :2], [3, 5, 2], "mse"
    else:
        raise AssertionError(name)
    return Task(sizes, loss, X[:m], y[:m], X[m:], y[m:])


def host(value):
    return np.asarray(xdnn.to_numpy(value))


def host_parameters(net):
    return {name: np.array(host(value), dtype=np.float64) for name, value in net.parameters.items()}


def array_type(backend):
    return type(backend.xp.asarray(0.0, device=backend.device))


def assert_on_backend(array, backend):
    assert isinstance(array, array_type(backend)), f"{type(array)} is not a {backend.name} array"
    assert array_api_compat.device(array) == backend.device, backend.name


def assert_parameters_close(actual, expected, backend, rtol=1e-10, atol=1e-12):
    assert sorted(actual) == sorted(expected), backend.name
    for name in expected:
        np.testing.assert_allclose(host(actual[name]), expected[name], rtol=rtol, atol=atol, err_msg=backend.name)


def snapshot(net):
    """Deep host copy of everything fit/predict/evaluate could change."""
    return {
        "backend": net.backend,
        "n_features": net.n_features,
        "parameters": {name: host(value).copy() for name, value in net.parameters.items()},
        "state": {name: host(value).copy() for name, value in net.state.items()},
        "optimizer": {name: host(value).copy() for name, value in net.optimizer.state.items()},
        "iterations": net.optimizer.iterations,
        "epochs_trained": net.epochs_trained,
        "diverged_epoch": net.diverged_epoch,
        "history": copy.deepcopy(dict(net.history)),
        "history_epochs": list(net.history.epoch),
        "shuffle": copy.deepcopy(net.shuffle_generator.bit_generator.state),
    }


def assert_unchanged(before, net, backend):
    after = snapshot(net)
    for key in ("backend", "n_features", "iterations", "epochs_trained", "diverged_epoch", "history_epochs"):
        assert after[key] == before[key], f"{key} changed ({backend.name})"
    assert after["history"] == before["history"], backend.name
    assert after["shuffle"] == before["shuffle"], f"the shuffle stream advanced ({backend.name})"
    for group in ("parameters", "state", "optimizer"):
        assert sorted(after[group]) == sorted(before[group]), f"{group} changed ({backend.name})"
        for name, value in before[group].items():
            np.testing.assert_array_equal(after[group][name], value, err_msg=f"{group} {name} ({backend.name})")


def other_backend(backend):
    """A backend other than the one under test, for mismatch tests."""
    name = "array_api_strict" if backend.name == "torch" else "torch"
    pytest.importorskip(name)
    return resolve_backend(name)


def record_divergence(fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [str(item.message) for item in caught if issubclass(item.category, xdnn.DivergenceWarning)]


# --- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(("activation", "scheme"), [("relu", "he"), ("tanh", "xavier")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sizes_build_tutorial_parameters(backend, activation, scheme, dtype):
    sizes = [4, 6, 5, 3]
    net = xdnn.Network(sizes, activation=activation, dtype=dtype, seed=3)
    expected = reference_parameters(sizes, 3, scheme)
    assert net.built and net.backend == backend.name and net.n_features == 4
    assert net.dtype == getattr(backend.xp, dtype)
    for name, value in net.parameters.items():
        assert_on_backend(value, backend)
        assert value.dtype == getattr(backend.xp, dtype), f"{name} on {backend.name}"
        assert tuple(value.shape) == expected[name].shape
    rtol = 1e-6 if dtype == "float32" else 0.0
    assert_parameters_close(net.parameters, expected, backend, rtol=rtol, atol=0.0)
    assert "float32" in repr(xdnn.Network([2, 1])) and "sizes=[2, 1]" in repr(xdnn.Network([2, 1]))


@pytest.mark.parametrize(
    ("sizes", "options", "loss", "output"),
    [
        ([2, 4, 1], {}, "binary_crossentropy", "sigmoid"),
        ([2, 4, 3], {}, "categorical_crossentropy", "softmax"),
        ([2, 4, 3], {"loss": "binary_crossentropy"}, "binary_crossentropy", "sigmoid"),
        ([2, 4, 1], {"loss": "mse"}, "mse", "identity"),
        ([2, 4, 2], {"output_activation": "identity"}, "mse", "identity"),
        ([2, 4, 2], {"output_activation": "sigmoid"}, "binary_crossentropy", "sigmoid"),
        ([2, 4, 2], {"output_activation": "softmax", "loss": "cross_entropy"}, "categorical_crossentropy", "softmax"),
    ],
)
def test_output_and_loss_are_inferred_from_each_other(backend, sizes, options, loss, output):
    net = xdnn.Network(sizes, **options)
    assert net.loss.name == loss and net.layers[-1].activation.name == output, backend.name
    assert net.is_classifier == (loss != "mse")
    assert net.metrics == (("accuracy",) if loss != "mse" else ())


@pytest.mark.parametrize(
    ("layers", "options", "error", "match"),
    [
        (
            [2, 4, 3],
            {"output_activation": "sigmoid", "loss": "categorical_crossentropy"},
            ValueError,
            "needs a softmax",
        ),
        ([2, 4, 3], {"output_activation": "softmax", "loss": "binary_crossentropy"}, ValueError, "needs a sigmoid"),
        ([2, 4, 1], {"output_activation": "identity", "loss": "binary_crossentropy"}, ValueError, "needs a sigmoid"),
        ([2, 4, 1], {"output_activation": "tanh"}, ValueError, "no matching loss"),
        ([2, 4, 1], {"output_activation": "softmax"}, ValueError, "at least 2 units"),
        ([2, 4, 1], {"loss": "hinge"}, ValueError, "unknown loss"),
        ([2, 4, 1], {"loss": "mse", "metrics": ["accuracy"]}, ValueError, "classification output"),
        ([2, 4, 1], {"metrics": ["f1"]}, ValueError, "unknown metric"),
        ([2, 4, 1], {"dtype": "float16"}, ValueError, "float32 or float64"),
        ([2, 4, 1], {"l2": -1.0}, ValueError, "l2"),
        ([2, 4, 1], {"dropout_masks": "gpu"}, ValueError, "dropout_masks"),
        ([2, 4, 1], {"activation": "swish"}, ValueError, "swish"),
        ([], {}, ValueError, "empty"),
        ([2], {}, ValueError, ">= 2 positive integers"),
        ([2, 0, 1], {}, ValueError, ">= 2 positive integers"),
        ([2, xdnn.Dense(1)], {}, TypeError, "not a mix"),
        ([xdnn.Dense(3), xdnn.Activation("relu")], {}, ValueError, "last layer must be Dense"),
        ([xdnn.Dense(3, "softmax"), xdnn.Dense(1, "tanh")], {}, ValueError, "no matching loss"),
    ],
)
def test_invalid_architectures_are_refused(backend, layers, options, error, match):
    with pytest.raises(error, match=match):
        xdnn.Network(layers, **options)


def test_sizes_with_batch_norm_and_dropout(backend):
    net = xdnn.Network([4, 8, 6, 2], batch_norm=True, dropout=0.25, activation="tanh", seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    # no bias before a batch norm: it subtracts the batch mean, so a bias would get a zero gradient
    assert sorted(net.parameters) == sorted(["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"])
    assert [layer.use_bias for layer in net.layers if isinstance(layer, xdnn.Dense)] == [False, False, True]
    assert sorted(net.state) == sorted(["running_mean1", "running_var1", "running_mean2", "running_var2"])
    assert net.layers[3].rate == 0.25 and net.layers[2].activation.name == "tanh"


def test_layer_list_network_builds_on_fit_and_predicts_like_numpy(backend, to_device):
    task = make_task("multiclass")
    layers = [xdnn.Dense(6), xdnn.BatchNorm(), xdnn.Activation("tanh"), xdnn.Dropout(0.25), xdnn.Dense(3, "softmax")]
    net = xdnn.Network(layers, dtype="float64", seed=0)
    assert not net.built and net.backend is None and net.n_features is None
    with pytest.raises(ValueError, match="not been fitted"):
        net.predict(to_device(task.X))
    net.fit(to_device(task.X), to_device(task.y), epochs=3, batch_size=10, verbose=0)
    assert net.backend == backend.name and net.n_features == 3
    assert sorted(net.parameters) == ["W1", "W2", "b1", "b2", "beta1", "gamma1"]
    assert sorted(net.state) == ["running_mean1", "running_var1"]
    assert net.loss.name == "categorical_crossentropy"
    # Inference: batch norm with the running statistics, dropout is the identity.
    p, s = host_parameters(net), {name: host(value) for name, value in net.state.items()}
    Z1 = p["W1"] @ task.X_val.T + p["b1"]
    normalised = (Z1 - s["running_mean1"]) / np.sqrt(s["running_var1"] + 1e-5)
    A1 = np.tanh(p["gamma1"] * normalised + p["beta1"])
    expected = reference_output(p["W2"] @ A1 + p["b2"], "categorical_crossentropy").T
    probabilities = net.predict_proba(to_device(task.X_val))
    assert_on_backend(probabilities, backend)
    np.testing.assert_allclose(host(probabilities), expected, rtol=1e-10, atol=1e-12, err_msg=backend.name)
    np.testing.assert_array_equal(host(net.predict(to_device(task.X_val))), expected.argmax(axis=1))


# --- fit / predict / evaluate ---------------------------------------------------------------------


@pytest.mark.parametrize("task_name", TASKS)
def test_fit_predict_evaluate_shapes_and_types(backend, to_device, task_name):
    task = make_task(task_name)
    net = xdnn.Network(task.sizes, loss=task.loss, seed=0)
    history = net.fit(
        to_device(task.X),
        to_device(task.y),
        epochs=3,
        batch_size=8,
        validation_data=(to_device(task.X_val), to_device(task.y_val)),
        verbose=0,
    )
    classifier = task.loss != "mse"
    keys = {"loss", "val_loss"} | ({"accuracy", "val_accuracy"} if classifier else set())
    assert history is net.history and set(history) == keys, backend.name
    assert history.epoch == [0, 1, 2] and all(len(history[key]) == 3 for key in keys)
    assert all(isinstance(value, float) and math.isfinite(value) for key in keys for value in history[key])
    if classifier:
        assert all(0.0 <= value <= 1.0 for value in history["accuracy"] + history["val_accuracy"])

    n, k = task.X_val.shape[0], task.sizes[-1]
    for X_val in (to_device(task.X_val), task.X_val, task.X_val.tolist()):  # backend arrays and host data
        probabilities = net.predict_proba(X_val)
        predictions = net.predict(X_val)
        assert_on_backend(probabilities, backend)
        assert_on_backend(predictions, backend)
        assert tuple(probabilities.shape) == (n, k) and probabilities.dtype == backend.xp.float32
    expected_shape = (n,) if (k == 1 or task.loss == "categorical_crossentropy") else (n, k)
    assert tuple(predictions.shape) == expected_shape, backend.name
    proba = host(probabilities)
    if task.loss == "categorical_crossentropy":
        assert backend.xp.isdtype(predictions.dtype, "integral")
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(host(predictions), proba.argmax(axis=1))
    elif task.loss == "binary_crossentropy":
        assert backend.xp.isdtype(predictions.dtype, "integral")
        assert ((proba > 0) & (proba < 1)).all()
        np.testing.assert_array_equal(host(predictions), (proba > 0.5).astype(int).reshape(expected_shape))
    else:
        np.testing.assert_array_equal(host(predictions), proba.reshape(expected_shape))

    scores = net.evaluate(to_device(task.X_val), to_device(task.y_val))
    assert set(scores) == ({"loss", "accuracy"} if classifier else {"loss"})
    assert all(isinstance(value, float) for value in scores.values())


def test_dtype_float64_on_request(backend, to_device):
    task = make_task("binary")
    net = xdnn.Network(task.sizes, dtype="float64", seed=0)
    net.fit(to_device(task.X.astype(np.float32)), to_device(task.y), epochs=1, verbose=0)
    assert net.dtype == backend.xp.float64
    assert all(value.dtype == backend.xp.float64 for value in net.parameters.values())
    assert all(value.dtype == backend.xp.float64 for value in net.optimizer.state.values())
    assert net.predict_proba(to_device(task.X)).dtype == backend.xp.float64


@pytest.mark.parametrize("task_name", ["binary", "multiclass", "one_hot", "multi_label", "multi_output_regression"])
def test_full_batch_sgd_matches_numpy_reference(backend, to_device, task_name):
    task = make_task(task_name)
    l2, rate, epochs = 0.1, 0.5, 4
    net = xdnn.Network(
        task.sizes,
        activation="tanh",
        loss=task.loss,
        optimizer="sgd",
        learning_rate=rate,
        l2=l2,
        dtype="float64",
        seed=1,
    )
    history = net.fit(
        to_device(task.X),
        to_device(task.y),
        epochs=epochs,
        batch_size=None,
        validation_data=(to_device(task.X_val), to_device(task.y_val)),
        verbose=0,
    )
    units = task.sizes[-1]
    reference = reference_sgd(
        reference_parameters(task.sizes, 1, "xavier"),
        task.X,
        reference_targets(task.y, task.loss, units),
        epochs=epochs,
        batch_size=None,
        learning_rate=rate,
        loss=task.loss,
        hidden="tanh",
        l2=l2,
        validation=(task.X_val, reference_targets(task.y_val, task.loss, units)),
    )
    for key in history:
        np.testing.assert_allclose(history[key], reference.history[key], rtol=1e-10, err_msg=f"{key} {backend.name}")
    assert_parameters_close(net.parameters, reference.parameters, backend)
    assert net.epochs_trained == epochs and net.optimizer.iterations == epochs


@pytest.mark.parametrize("shuffle", [False, True])
def test_mini_batch_sgd_matches_numpy_reference(backend, to_device, shuffle):
    task = make_task("multiclass", m=30)
    seed, epochs, batch_size, l2 = 7, 4, 8, 0.05  # 30 samples: batches of 8, 8, 8 and 6
    schedule = xdnn.ExponentialDecay(0.3, rate=0.5)
    net = xdnn.Network(
        task.sizes, activation="relu", optimizer="sgd", learning_rate=schedule, l2=l2, dtype="float64", seed=seed
    )
    history = net.fit(
        to_device(task.X), to_device(task.y), epochs=epochs, batch_size=batch_size, shuffle=shuffle, verbose=0
    )
    reference = reference_sgd(
        reference_parameters(task.sizes, seed, "he"),
        task.X,
        reference_targets(task.y, task.loss, 3),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lambda epoch: 0.3 * 0.5**epoch,
        loss=task.loss,
        hidden="relu",
        l2=l2,
        permutations=host_permutations(seed, 30) if shuffle else None,
    )
    np.testing.assert_allclose(history["loss"], reference.history["loss"], rtol=1e-10, err_msg=backend.name)
    np.testing.assert_allclose(history["accuracy"], reference.history["accuracy"], rtol=1e-10, err_msg=backend.name)
    assert_parameters_close(net.parameters, reference.parameters, backend)
    assert net.optimizer.iterations == epochs * 4


def test_adam_mini_batches_match_pytorch_autograd(backend, to_device):
    torch = pytest.importorskip("torch")
    task = make_task("binary", m=30)
    seed, epochs, batch_size, l2, rate = 2, 3, 10, 0.2, 0.05
    net = xdnn.Network(
        task.sizes, activation="relu", optimizer="adam", learning_rate=rate, l2=l2, dtype="float64", seed=seed
    )
    history = net.fit(
        to_device(task.X), to_device(task.y), epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0
    )
    weights = {
        name: torch.tensor(value, requires_grad=True)
        for name, value in reference_parameters(task.sizes, seed, "he").items()
    }
    optimizer = torch.optim.Adam(list(weights.values()), lr=rate, betas=(0.9, 0.999), eps=1e-8)
    X, y = torch.tensor(task.X), torch.tensor(task.y, dtype=torch.float64)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, 30, batch_size):
            X_batch, y_batch = X[start : start + batch_size], y[start : start + batch_size]
            hidden = torch.relu(X_batch @ weights["W1"].T + weights["b1"].T)
            logits = (hidden @ weights["W2"].T + weights["b2"].T)[:, 0]
            penalty = l2 / (2 * len(X_batch)) * (weights["W1"].square().sum() + weights["W2"].square().sum())
            cost = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_batch) + penalty
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()
            total += cost.item() * len(X_batch)
        losses.append(total / 30)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-10, err_msg=backend.name)
    expected = {name: value.detach().numpy() for name, value in weights.items()}
    assert_parameters_close(net.parameters, expected, backend, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("task_name", ["binary", "multiclass", "multi_label", "regression"])
def test_evaluate_and_predict_proba_match_reference(backend, to_device, dtype, task_name):
    task = make_task(task_name)
    net = xdnn.Network(task.sizes, activation="tanh", loss=task.loss, l2=0.3, dtype=dtype, seed=4)
    net.fit(to_device(task.X), to_device(task.y), epochs=2, batch_size=16, verbose=0)
    parameters = host_parameters(net)
    Y_val = reference_targets(task.y_val, task.loss, task.sizes[-1])
    expected = reference_evaluate(parameters, task.X_val, Y_val, task.loss, "tanh", 0.3)
    scores = net.evaluate(to_device(task.X_val), to_device(task.y_val))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert sorted(scores) == sorted(expected), backend.name
    np.testing.assert_allclose(scores["loss"], expected["loss"], rtol=rtol, err_msg=backend.name)
    if "accuracy" in expected:
        assert scores["accuracy"] == pytest.approx(expected["accuracy"]), backend.name
    Z, _ = reference_forward(parameters, task.X_val, "tanh")
    proba = reference_output(Z, task.loss).T
    np.testing.assert_allclose(host(net.predict_proba(to_device(task.X_val))), proba, rtol=rtol, atol=rtol)


def test_l2_adds_to_cost_and_gradient(backend, to_device):
    task = make_task("binary")
    rate, l2, m = 0.5, 0.7, task.X.shape[0]
    runs = {}
    for penalty in (0.0, l2):
        net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=rate, l2=penalty, dtype="float64", seed=5)
        history = net.fit(to_device(task.X), to_device(task.y), epochs=1, batch_size=None, verbose=0)
        runs[penalty] = (history["loss"][0], host_parameters(net))
    initial = reference_parameters(task.sizes, 5, "he")
    squares = sum(np.sum(initial[name] ** 2) for name in ("W1", "W2"))
    assert runs[l2][0] - runs[0.0][0] == pytest.approx(l2 / (2 * m) * squares, rel=1e-10), backend.name
    for name, value in initial.items():
        # Same data gradient from the same start: the penalty adds (l2/m) W to dW only.
        shift = -rate * (l2 / m) * value if name.startswith("W") else np.zeros_like(value)
        np.testing.assert_allclose(runs[l2][1][name] - runs[0.0][1][name], shift, atol=1e-12, err_msg=name)


# --- learning works -------------------------------------------------------------------------------


def test_learns_xor(backend, to_device):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1.0, 1.0, size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    net = xdnn.Network([2, 16, 1], activation="tanh", optimizer="adam", learning_rate=0.05, seed=0)
    history = net.fit(to_device(X), to_device(y), epochs=150, batch_size=None, verbose=0)
    assert history["loss"][-1] < 0.5 * history["loss"][0], backend.name
    assert net.evaluate(to_device(X), to_device(y))["accuracy"] > 0.95, backend.name


def test_learns_three_separable_classes(backend, to_device):
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = np.repeat(np.arange(3), 30)
    X = centres[y] + rng.normal(scale=0.7, size=(90, 2))
    net = xdnn.Network([2, 8, 3], optimizer="adam", learning_rate=0.05, seed=0)
    net.fit(to_device(X), to_device(y), epochs=40, batch_size=None, verbose=0)
    assert float(np.mean(host(net.predict(to_device(X))) == y)) > 0.95, backend.name


def test_linear_regression_converges_to_least_squares(backend, to_device):
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.7 + rng.normal(scale=0.1, size=50)
    net = xdnn.Network([3, 1], loss="mse", optimizer="sgd", learning_rate=0.5, dtype="float64", seed=0)
    net.fit(to_device(X), to_device(y), epochs=100, batch_size=None, verbose=0)
    exact = LinearRegression().fit(X, y)
    np.testing.assert_allclose(host(net.parameters["W1"])[0], exact.coef_, atol=1e-6, err_msg=backend.name)
    np.testing.assert_allclose(host(net.parameters["b1"])[0, 0], exact.intercept_, atol=1e-6, err_msg=backend.name)


# --- bad input: refused before anything changes ------------------------------------------------------


def _with(array, index, value):
    changed = np.array(array, dtype=np.float64)
    changed[index] = value
    return changed


# Each case maps clean host data (X, y, X_val, y_val) to fit's arguments; "host" keeps it off the device.
BINARY_FIT_CASES = {
    "X is 1-D": (lambda d: {"X": d["X"][:, 0]}, ValueError, "X must be 2-D"),
    "X is 3-D": (lambda d: {"X": d["X"][:, :, None]}, ValueError, "X must be 2-D"),
    "y is 3-D": (lambda d: {"y": d["y"][:, None, None]}, ValueError, "y must be 1-D or 2-D"),
    "sample counts differ": (lambda d: {"y": d["y"][:-1]}, ValueError, "X and y have different numbers of samples"),
    "feature count": (
        lambda d: {"X": np.hstack([d["X"], d["X"][:, :1]])},
        ValueError,
        "X has 4 features, but this network was built for 3",
    ),
    "NaN in X": (lambda d: {"X": _with(d["X"], (1, 2), np.nan)}, ValueError, "X contains NaN"),
    "inf in X": (lambda d: {"X": _with(d["X"], (0, 0), -np.inf)}, ValueError, "X contains inf"),
    "NaN in y": (lambda d: {"y": _with(d["y"], 3, np.nan)}, ValueError, "y contains NaN"),
    "inf in y": (lambda d: {"y": _with(d["y"], 3, np.inf)}, ValueError, "y contains inf"),
    "label 2 for sigmoid": (lambda d: {"y": _with(d["y"], 0, 2)}, ValueError, "0/1 labels"),
    "negative label": (lambda d: {"y": _with(d["y"], 0, -1)}, ValueError, "0/1 labels"),
    "no samples": (lambda d: {"X": d["X"][:0], "y": d["y"][:0]}, ValueError, "X is empty"),
    "no features": (lambda d: {"X": d["X"][:, :0]}, ValueError, "X is empty"),
    "strings in X": (lambda d: {"X": d["X"].astype(str), "host": True}, TypeError, "X: expected numeric"),
    "objects in X": (lambda d: {"X": np.array([[1.0, None, 2.0]] * 30), "host": True}, TypeError, "X: .*object"),
    "text labels for a network trained on numbers": (
        lambda d: {"y": np.array(["yes", "no"] * 15), "host": True},
        ValueError,
        r"y holds class labels \(\['no', 'yes'\]\), but this network was trained on numbers",
    ),
    "epochs negative": (lambda d: {"epochs": -1}, ValueError, "epochs must be an integer >= 0"),
    "epochs fractional": (lambda d: {"epochs": 2.5}, ValueError, "epochs must be an integer"),
    "epochs None": (lambda d: {"epochs": None}, ValueError, "epochs must be an integer"),
    "epochs text": (lambda d: {"epochs": "3"}, ValueError, "epochs must be an integer"),
    "epochs bool": (lambda d: {"epochs": True}, ValueError, "epochs must be an integer"),
    "batch_size zero": (lambda d: {"batch_size": 0}, ValueError, "batch_size .* must be an integer >= 1"),
    "batch_size fractional": (lambda d: {"batch_size": 1.5}, ValueError, "batch_size"),
    "batch_size bool": (lambda d: {"batch_size": True}, ValueError, "batch_size"),
    "validation not a pair": (
        lambda d: {"validation_data": (d["X_val"],)},
        ValueError,
        "validation_data must be a pair",
    ),
    "validation features": (
        lambda d: {"validation_data": (d["X_val"][:, :2], d["y_val"])},
        ValueError,
        "X_val has 2 features",
    ),
    "validation counts": (
        lambda d: {"validation_data": (d["X_val"], d["y_val"][:-1])},
        ValueError,
        "X_val and y_val have different numbers of samples",
    ),
    "NaN in validation": (
        lambda d: {"validation_data": (_with(d["X_val"], (0, 0), np.nan), d["y_val"])},
        ValueError,
        "X_val contains NaN",
    ),
    "validation label": (
        lambda d: {"validation_data": (d["X_val"], _with(d["y_val"], 0, 3))},
        ValueError,
        "y_val must hold 0/1",
    ),
}
SOFTMAX_FIT_CASES = {
    "label 3 for 3 units": (lambda d: {"y": _with(d["y"], 0, 3)}, ValueError, r"class labels 0\.\.2"),
    "negative class": (lambda d: {"y": _with(d["y"], 0, -1)}, ValueError, r"class labels 0\.\.2"),
    "fractional class": (lambda d: {"y": _with(d["y"], 0, 1.5)}, ValueError, r"class labels 0\.\.2"),
    "one-hot of 4 columns": (lambda d: {"y": np.eye(4)[d["y"]]}, ValueError, "4 columns but the output layer has 3"),
    "rows not one-hot": (lambda d: {"y": np.ones((30, 3))}, ValueError, "one-hot"),
}


def _trained(task_name, to_device):
    task = make_task(task_name)
    net = xdnn.Network(task.sizes, loss=task.loss, seed=0)
    data = {"X": task.X, "y": task.y, "X_val": task.X_val, "y_val": task.y_val}
    net.fit(
        to_device(task.X),
        to_device(task.y),
        epochs=2,
        batch_size=8,
        validation_data=(to_device(task.X_val), to_device(task.y_val)),
        verbose=0,
    )
    return net, data


def _fit_arguments(case, data, to_device):
    changes = case(data)
    on_host = changes.pop("host", False)
    merged = {**data, **changes}

    def move(value):
        if on_host or not isinstance(value, np.ndarray):
            return value
        return to_device(value)

    arguments = {
        "X": move(merged["X"]),
        "y": move(merged["y"]),
        "epochs": merged.get("epochs", 2),
        "batch_size": merged.get("batch_size", 8),
        "verbose": 0,
    }
    validation = merged.get("validation_data", (merged["X_val"], merged["y_val"]))
    arguments["validation_data"] = tuple(move(value) for value in validation)
    return arguments


FIT_CASES = [("binary", name, *case) for name, case in BINARY_FIT_CASES.items()] + [
    ("multiclass", name, *case) for name, case in SOFTMAX_FIT_CASES.items()
]


@pytest.mark.parametrize(("task_name", "case", "make", "error", "match"), FIT_CASES, ids=[c[1] for c in FIT_CASES])
def test_bad_fit_input_is_refused_before_anything_changes(backend, to_device, task_name, case, make, error, match):
    net, data = _trained(task_name, to_device)
    before = snapshot(net)
    with pytest.raises(error, match=match):
        net.fit(**_fit_arguments(make, data, to_device))
    assert_unchanged(before, net, backend)


def test_arrays_of_two_backends_are_refused(backend, to_device):
    torch = pytest.importorskip("torch")
    strict = pytest.importorskip("array_api_strict")
    net, data = _trained("binary", to_device)
    before = snapshot(net)
    X_torch, y_strict = torch.asarray(data["X"]), strict.asarray(data["y"])
    with pytest.raises(xdnn.BackendMismatchError, match="different backends"):
        net.fit(X_torch, y_strict, epochs=1, verbose=0)
    with pytest.raises(xdnn.BackendMismatchError, match="different backends"):
        net.fit(to_device(data["X"]), to_device(data["y"]), validation_data=(X_torch, y_strict), verbose=0)
    with pytest.raises(xdnn.BackendMismatchError):
        net.evaluate(X_torch, y_strict)
    assert_unchanged(before, net, backend)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda X: X[:, :2], ValueError, "X has 2 features, but this network was built for 3"),
        (lambda X: X[0], ValueError, "X must be 2-D"),
        (lambda X: _with(X, (0, 1), np.nan), ValueError, "X contains NaN"),
        (lambda X: X[:0], ValueError, "X is empty"),
    ],
)
def test_bad_input_to_predict_and_evaluate_changes_nothing(backend, to_device, make, error, match):
    net, data = _trained("binary", to_device)
    before = snapshot(net)
    bad = to_device(make(data["X_val"]))
    for call in (net.predict, net.predict_proba, lambda X: net.evaluate(X, to_device(data["y_val"]))):
        with pytest.raises(error, match=match):
            call(bad)
    with pytest.raises(TypeError, match="X: expected numeric"):
        net.predict(data["X_val"].astype(str))
    with pytest.raises(ValueError, match="y must hold 0/1"):
        net.evaluate(to_device(data["X_val"]), to_device(data["y_val"] + 2))
    assert_unchanged(before, net, backend)


# --- divergence ---------------------------------------------------------------------------------


def _regression_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(24, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.3


def on_accelerator(backend):
    return backend.name == "cupy" or "cuda" in str(backend.device)


@pytest.mark.parametrize(("batch_size", "rate"), [(None, 10.0), (8, 3.0)])  # epoch 5; epoch 2, 2nd batch
def test_divergence_stops_and_rolls_back_to_parameters_with_a_finite_cost(backend, to_device, batch_size, rate):
    """The parameters that met the NaN/inf cost are not kept: the network falls back to its last
    checkpoint (an epoch start whose cost read finite), and the history forgets the undone epochs."""
    X, y = _regression_data()
    sizes, seed = [3, 8, 1], 0
    net = xdnn.Network(sizes, loss="mse", optimizer="sgd", learning_rate=rate, dtype="float64", seed=seed)
    settings = dict(batch_size=batch_size, learning_rate=rate, loss="mse", hidden="relu")
    initial, Y = reference_parameters(sizes, seed, "he"), reference_targets(y, "mse", 1)
    reference = reference_sgd(initial, X, Y, epochs=50, permutations=host_permutations(seed, 24), **settings)
    assert reference.diverged is not None, "the reference should diverge with this learning rate"
    epoch = reference.diverged[0]
    messages = record_divergence(
        lambda: net.fit(
            to_device(X), to_device(y), epochs=50, batch_size=batch_size, callbacks=[xdnn.Callback()], verbose=0
        )
    )
    kept = net.epochs_trained
    assert len(messages) == 1 and f"epoch {epoch}" in messages[0] and f"after {kept} epochs" in messages[0], messages
    assert net.diverged_epoch == epoch and kept < epoch, (net.diverged_epoch, kept, backend.name)
    rolled_back = reference_sgd(initial, X, Y, epochs=kept, permutations=host_permutations(seed, 24), **settings)
    assert rolled_back.diverged is None
    assert len(net.history["loss"]) == kept == len(net.history.epoch)
    np.testing.assert_allclose(net.history["loss"], rolled_back.history["loss"], rtol=1e-9, err_msg=backend.name)
    assert_parameters_close(net.parameters, rolled_back.parameters, backend, rtol=1e-9, atol=0.0)
    assert math.isfinite(net.evaluate(to_device(X), to_device(y))["loss"]), backend.name
    assert np.isfinite(host(net.predict(to_device(X)))).all(), backend.name


def test_divergence_from_an_overflowing_update_keeps_finite_parameters(backend, to_device):
    """float32 with a rate beyond its range: the update itself overflows while the cost read
    before it was finite; the network falls back to the last parameters with a finite cost."""
    task = make_task("binary")

    class RecordStart(xdnn.Callback):
        def on_train_begin(self, network):
            self.weights = {name: host(value).copy() for name, value in network.parameters.items()}

    start = RecordStart()
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=1e40, seed=0)
    messages = record_divergence(
        lambda: net.fit(to_device(task.X), to_device(task.y), epochs=5, batch_size=None, callbacks=[start], verbose=0)
    )
    assert len(messages) == 1 and "epoch 1" in messages[0] and net.diverged_epoch == 1, (messages, backend.name)
    assert "after 0 epochs" in messages[0] and len(net.history["loss"]) == 0, messages
    parameters = {name: host(value) for name, value in net.parameters.items()}
    assert all(np.isfinite(value).all() for value in parameters.values()), backend.name
    for name, value in start.weights.items():
        np.testing.assert_array_equal(parameters[name], value, err_msg=f"{name} ({backend.name})")
    assert net.epochs_trained == 0 and net.optimizer.iterations == 0


def test_a_last_update_that_overflows_is_rolled_back_too(backend, to_device):
    """No cost is read after a fit's last update: one that makes the weights NaN/inf still rolls the
    network back to its last checkpoint with a warning, so the next call does not start from NaN."""
    task = make_task("binary")
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=1e40, seed=0)
    net.build(task.X.shape[1])
    start = {name: host(value).copy() for name, value in net.parameters.items()}
    messages = record_divergence(
        lambda: net.fit(to_device(task.X), to_device(task.y), epochs=1, batch_size=None, verbose=0)
    )
    assert len(messages) == 1 and "last update" in messages[0] and "after 0 epochs" in messages[0], messages
    assert net.diverged_epoch == 0 and net.epochs_trained == 0 and len(net.history["loss"]) == 0
    for name, value in start.items():
        np.testing.assert_array_equal(host(net.parameters[name]), value, err_msg=f"{name} ({backend.name})")
    assert np.isfinite(host(net.predict_proba(to_device(task.X)))).all(), backend.name


def test_parameters_that_were_already_non_finite_are_not_a_divergence(backend, to_device):
    """A dead relu unit whose bias the user set to -inf trains on (its cost stays finite): the
    end-of-fit check undoes only an update that made the parameters non-finite."""
    task = make_task("binary")
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=0.1, seed=0, dtype="float64")
    net.build(task.X.shape[1])
    weights = net.get_weights()
    b1 = host(weights["parameters"]["b1"]).copy()  # a new array: backend arrays may be immutable (JAX)
    b1[0, 0] = -np.inf
    weights["parameters"]["b1"] = b1
    net.set_weights(weights)
    messages = record_divergence(
        lambda: net.fit(to_device(task.X), to_device(task.y), epochs=3, batch_size=None, verbose=0)
    )
    assert messages == [] and net.diverged_epoch is None and net.epochs_trained == 3, messages
    assert len(net.history["loss"]) == 3 and all(math.isfinite(loss) for loss in net.history["loss"])


def test_early_stopping_never_restores_the_weights_of_an_overflowing_last_update(backend, to_device):
    """The last epoch's cost (read before its update) may be the best, but the weights that update
    made NaN/inf are not kept as the best: the network ends finite."""

    class SpikeAtLastEpoch(xdnn.optimizers.Schedule):
        def __call__(self, epoch):
            return 1e40 if epoch == 4 else self.initial

    task = make_task("binary")
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=SpikeAtLastEpoch(0.5), seed=0)
    stopper = xdnn.EarlyStopping("loss", patience=10, restore_best_weights=True)
    messages = record_divergence(
        lambda: net.fit(to_device(task.X), to_device(task.y), epochs=5, batch_size=None, callbacks=[stopper], verbose=0)
    )
    assert len(messages) == 1 and "last update" in messages[0], messages
    assert all(np.isfinite(host(value)).all() for value in net.parameters.values()), backend.name
    assert stopper.best_epoch is not None and stopper.best_epoch < 4


@pytest.mark.parametrize(("seed", "kept"), [(np.int64(3), 3), (np.uint32(3), 3), (3.0, 3), ((1, np.int64(2)), [1, 2])])
def test_a_numpy_integer_seed_or_a_sequence_is_kept_in_plain_python(seed, kept, tmp_path):
    net = xdnn.Network([3, 4, 1], seed=seed)
    assert net.seed == kept and type(net.seed) is type(kept)
    net.save(tmp_path / "model.npz")  # the seed is written as JSON
    assert xdnn.load(tmp_path / "model.npz").seed == kept


def test_a_sequence_seed_draws_as_numpy_seed_sequence_does():
    first, second = xdnn.Network([3, 4, 1], seed=[1, 2]), xdnn.Network([3, 4, 1], seed=(1, 2))
    for name, value in first.parameters.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), xdnn.to_numpy(second.parameters[name]))
    other = xdnn.Network([3, 4, 1], seed=[2, 1])
    assert not np.array_equal(xdnn.to_numpy(first.parameters["W1"]), xdnn.to_numpy(other.parameters["W1"]))


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", float("nan"), [], [1, -2], np.random.default_rng(0)])
def test_a_bad_seed_is_refused_by_name(seed):
    with pytest.raises(ValueError, match="seed"):
        xdnn.Network([3, 4, 1], seed=seed)


# --- where a network lives --------------------------------------------------------------------------


def test_untrained_network_adopts_the_backend_of_its_data(backend, to_device):
    task = make_task("binary")
    with xdnn.use_backend("numpy"):
        net = xdnn.Network(task.sizes, seed=0)
    assert net.backend == "numpy"
    net.fit(to_device(task.X), to_device(task.y), epochs=1, verbose=0)
    assert net.backend == backend.name
    for group in (net.parameters, net.optimizer.state):
        for value in group.values():
            assert_on_backend(value, backend)
    unbuilt = xdnn.Network([xdnn.Dense(4, "relu"), xdnn.Dense(1, "sigmoid")], seed=0)
    with xdnn.use_backend("numpy"):
        unbuilt.fit(to_device(task.X), to_device(task.y), epochs=1, verbose=0)
    assert unbuilt.backend == backend.name
    host_only = xdnn.Network([xdnn.Dense(4, "relu"), xdnn.Dense(1, "sigmoid")], seed=0)
    host_only.fit(task.X.tolist(), task.y.tolist(), epochs=1, verbose=0)  # lists: the active backend
    assert host_only.backend == backend.name


def test_failed_fit_does_not_move_an_untrained_network(backend, to_device):
    task = make_task("binary")
    with xdnn.use_backend("numpy"):
        net = xdnn.Network(task.sizes, seed=0)
    before = snapshot(net)
    with pytest.raises(ValueError, match="X contains NaN"):
        net.fit(to_device(_with(task.X, (0, 0), np.nan)), to_device(task.y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="y must hold 0/1"):
        net.fit(to_device(task.X), to_device(task.y + 2), epochs=1, verbose=0)
    assert_unchanged(before, net, backend)
    assert isinstance(net.parameters["W1"], np.ndarray)


def test_to_moves_parameters_and_optimizer_state(backend, to_device):
    task = make_task("multiclass")
    net = xdnn.Network(task.sizes, seed=0)
    net.fit(to_device(task.X), to_device(task.y), epochs=2, batch_size=8, verbose=0)
    before = snapshot(net)
    expected = host(net.predict_proba(to_device(task.X_val)))
    assert net.to("numpy") is net and net.backend == "numpy"
    for group in (net.parameters, net.optimizer.state):
        assert all(isinstance(value, np.ndarray) and value.dtype == np.float32 for value in group.values())
    moved = snapshot(net)
    for group in ("parameters", "optimizer"):
        for name, value in before[group].items():
            np.testing.assert_array_equal(moved[group][name], value)
    probabilities = net.predict_proba(task.X_val)
    assert isinstance(probabilities, np.ndarray)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
    if backend.name != "numpy":
        with pytest.raises(xdnn.BackendMismatchError, match=r"network\.to"):
            net.fit(to_device(task.X), to_device(task.y), epochs=1, verbose=0)
    net.fit(task.X, task.y, epochs=1, verbose=0)  # host data trains where the network now lives
    assert net.backend == "numpy" and net.epochs_trained == 3
    net.to(backend.name)
    assert net.backend == backend.name
    assert_on_backend(net.predict(to_device(task.X_val)), backend)
    with pytest.raises(ValueError, match="unknown backend"):
        net.to("tensorflow")


def test_trained_network_refuses_arrays_of_another_backend(backend, to_device):
    net, data = _trained("binary", to_device)
    other = other_backend(backend)
    foreign_X = other.xp.asarray(data["X"], device=other.device)
    foreign_y = other.xp.asarray(data["y"], device=other.device)
    before = snapshot(net)
    for call in (
        lambda: net.fit(foreign_X, foreign_y, epochs=1, verbose=0),
        lambda: net.fit(foreign_X, data["y"], epochs=1, verbose=0),
        lambda: net.predict(foreign_X),
        lambda: net.predict_proba(foreign_X),
        lambda: net.evaluate(foreign_X, foreign_y),
    ):
        with pytest.raises(xdnn.BackendMismatchError, match=f"lives on backend '{backend.name}'"):
            call()
    assert_unchanged(before, net, backend)


def test_host_data_is_accepted_by_a_trained_network(backend, to_device):
    net, data = _trained("binary", to_device)
    from_device = host(net.predict_proba(to_device(data["X_val"])))
    for X_val in (data["X_val"], data["X_val"].tolist(), data["X_val"].astype(np.float32)):
        probabilities = net.predict_proba(X_val)
        assert_on_backend(probabilities, backend)
        np.testing.assert_allclose(host(probabilities), from_device, rtol=1e-6, err_msg=backend.name)
    assert net.evaluate(data["X_val"].tolist(), data["y_val"].tolist()) == net.evaluate(
        to_device(data["X_val"]), to_device(data["y_val"])
    )
    net.fit(data["X"], data["y"].tolist(), epochs=1, verbose=0)
    assert net.backend == backend.name and net.epochs_trained == 3


# --- weights and seeds --------------------------------------------------------------------------------


def test_get_weights_and_set_weights_round_trip(backend, to_device):
    task = make_task("binary")
    net = xdnn.Network(task.sizes, batch_norm=True, seed=0)
    net.fit(to_device(task.X), to_device(task.y), epochs=2, batch_size=8, verbose=0)
    weights = net.get_weights()
    saved = snapshot(net)
    expected = host(net.predict_proba(to_device(task.X_val)))
    assert set(weights) == {"parameters", "state", "optimizer", "optimizer_iterations"}
    assert weights["optimizer_iterations"] == net.optimizer.iterations == 8
    net.fit(to_device(task.X), to_device(task.y), epochs=2, batch_size=8, verbose=0)
    for name, value in saved["parameters"].items():  # get_weights returned copies
        np.testing.assert_array_equal(host(weights["parameters"][name]), value)
    assert not np.array_equal(host(net.parameters["W1"]), saved["parameters"]["W1"])
    net.set_weights(weights)
    for group in ("parameters", "state", "optimizer"):
        for name, value in saved[group].items():
            np.testing.assert_array_equal(snapshot(net)[group][name], value, err_msg=f"{group} {name}")
    assert net.optimizer.iterations == 8
    np.testing.assert_array_equal(host(net.predict_proba(to_device(task.X_val))), expected)
    if array_api_compat.is_writeable_array(net.parameters["W1"]):  # JAX arrays cannot be written to at all
        net.parameters["W1"][...] = 0.0  # set_weights copied in: the saved dict is untouched
    np.testing.assert_array_equal(host(weights["parameters"]["W1"]), saved["parameters"]["W1"])


def _train_seeded(seed, to_device, task, **options):
    net = xdnn.Network(task.sizes, dropout=0.2, seed=seed, **options)
    net.fit(to_device(task.X), to_device(task.y), epochs=3, batch_size=8, verbose=0)
    return host_parameters(net)


def test_same_seed_gives_identical_parameters(backend, to_device):
    task = make_task("multiclass")
    first, second = _train_seeded(11, to_device, task), _train_seeded(11, to_device, task)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=f"{name} ({backend.name})")
    other = _train_seeded(12, to_device, task)
    assert not np.array_equal(first["W1"], other["W1"])


@pytest.mark.parametrize(("dtype", "rtol"), [("float32", 2e-4), ("float64", 1e-10)])
def test_same_seed_gives_the_same_parameters_on_every_backend(backend, to_device, dtype, rtol):
    task = make_task("multiclass")
    options = {"dtype": dtype, "dropout_masks": "host", "optimizer": "sgd", "learning_rate": 0.1}
    here = _train_seeded(11, to_device, task, **options)
    with xdnn.use_backend("numpy"):
        on_numpy = _train_seeded(11, np.asarray, task, **options)
    for name in here:
        np.testing.assert_allclose(here[name], on_numpy[name], rtol=rtol, atol=rtol * 0.1, err_msg=backend.name)


def test_torch_inputs_that_require_grad_build_no_autograd_graph(backend):
    torch = pytest.importorskip("torch")
    if backend.name != "torch":
        pytest.skip("a torch-only input")
    task = make_task("binary")
    X = torch.tensor(task.X, dtype=torch.float64, requires_grad=True)
    net = xdnn.Network(task.sizes, dtype="float64", seed=0)
    net.fit(X, torch.tensor(task.y), epochs=2, verbose=0)
    assert not any(value.requires_grad for value in net.parameters.values())
    assert not net.predict_proba(X).requires_grad


def test_an_interrupted_fit_keeps_the_history_of_the_epochs_it_finished(backend, to_device):
    task = make_task("binary")
    net = xdnn.Network(task.sizes, optimizer="sgd", seed=0)
    update = net.optimizer.update
    steps = []

    def interrupted_update(*arguments, **keywords):
        if len(steps) == 100:
            raise KeyboardInterrupt
        steps.append(1)
        return update(*arguments, **keywords)

    net.optimizer.update = interrupted_update
    with pytest.raises(KeyboardInterrupt):
        net.fit(to_device(task.X), to_device(task.y), epochs=500, batch_size=None, verbose=0)
    assert net.epochs_trained == 100 and len(net.history["loss"]) == 100, (net.epochs_trained, backend.name)
    net.optimizer.update = update
    net.evaluate(to_device(task.X), to_device(task.y))  # nothing of the interrupted fit is left bound


def test_a_fit_that_diverges_in_its_first_epoch_returns_an_empty_history(backend, to_device):
    """Rolled back to the start, no epoch recorded: the returned history still has its names, as empty lists."""
    X = np.random.RandomState(0).randn(64, 3) * 100
    y = (X[:, 0] > 0).astype(np.int64)
    net = xdnn.Network([3, 8, 1], optimizer="sgd", learning_rate=1e6, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(
            to_device(X), to_device(y), epochs=30, verbose=0, validation_data=(to_device(X), to_device(y))
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, xdnn.DivergenceWarning)]
    assert len(messages) == 1 and f"epoch {net.diverged_epoch} of this fit" in messages[0], messages
    assert "after 0 epochs" in messages[0] and net.epochs_trained == 0 and history.epoch == [], backend.name
    assert history["loss"] == [] and history["val_loss"] == [] and history["accuracy"] == [], dict(history)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "categorical_crossentropy", "mse"])
def test_integer_sample_weights_are_repeated_rows(backend, to_device, loss):
    """Full-batch gradient descent with integer sample weights (zeros included) trains exactly as on
    the data with each row repeated that many times: the weighted mean cost, its gradient and the
    L2 term over sum(w) are scikit-learn's sample_weight."""
    random_state = np.random.RandomState(0)
    X = random_state.randn(30, 4)
    y = {
        "binary_crossentropy": (X[:, 0] + X[:, 1] > 0).astype(np.int64),
        "categorical_crossentropy": np.argmax(X[:, :3], axis=1),
        "mse": X[:, 2] - X[:, 3],
    }[loss]
    weights = random_state.randint(0, 4, size=30)
    sizes = [4, 5, 3 if loss == "categorical_crossentropy" else 1]

    def network():
        return xdnn.Network(sizes, loss=loss, optimizer="sgd", learning_rate=0.1, l2=0.05, dtype="float64", seed=0)

    weighted, repeated = network(), network()
    history = weighted.fit(
        to_device(X), to_device(y), epochs=4, batch_size=None, sample_weight=to_device(weights), verbose=0
    )
    reference = repeated.fit(
        to_device(np.repeat(X, weights, axis=0)), to_device(np.repeat(y, weights)), epochs=4, batch_size=None, verbose=0
    )
    np.testing.assert_allclose(history["loss"], reference["loss"], rtol=1e-12, err_msg=backend.name)
    for name, value in weighted.parameters.items():
        np.testing.assert_allclose(
            host(value), host(repeated.parameters[name]), rtol=1e-10, atol=1e-14, err_msg=f"{name} ({backend.name})"
        )


def test_sample_weights_are_checked_before_anything_changes(backend, to_device):
    X = np.random.RandomState(1).randn(12, 3)
    y = (X[:, 0] > 0).astype(np.int64)
    net = xdnn.Network([3, 4, 1], seed=0)
    net.fit(to_device(X), to_device(y), epochs=1, verbose=0)
    before = {name: host(value).copy() for name, value in net.parameters.items()}
    for weights, error, message in [
        (np.ones(11), ValueError, r"sample_weight must have shape \(12,\)"),
        (np.ones((12, 1)), ValueError, r"sample_weight must have shape \(12,\)"),
        (np.where(np.arange(12) == 3, -1.0, 1.0), ValueError, "non-negative"),
        (np.where(np.arange(12) == 3, np.nan, 1.0), ValueError, "NaN"),
        (np.zeros(12), ValueError, "all zero"),
    ]:
        with pytest.raises(error, match=message):
            net.fit(to_device(X), to_device(y), epochs=2, sample_weight=to_device(weights), verbose=0)
    assert net.epochs_trained == 1, backend.name
    for name, value in before.items():
        np.testing.assert_array_equal(host(net.parameters[name]), value, err_msg=f"{name} ({backend.name})")
    net.fit(to_device(X), to_device(y), epochs=1, batch_size=5, sample_weight=2.0, verbose=0)  # a number: all alike
    assert net.epochs_trained == 2
    if host(backend.xp.astype(to_device(np.float64(1e-39)), backend.xp.float32)) == 0:
        pytest.skip(f"{backend.name} flushes float32 subnormals to zero (XLA on CPU): no subnormal weights to count")
    tiny = xdnn.Network([3, 4, 1], dtype="float32", seed=0)  # subnormal float32 weights: their proportions count
    tiny.fit(to_device(X), to_device(y), epochs=2, batch_size=None, sample_weight=np.full(12, 1e-39), verbose=0)
    assert tiny.diverged_epoch is None and tiny.epochs_trained == 2, backend.name


def test_a_custom_layer_keeps_the_gradients_it_returned(backend, to_device):
    """A step's update may write over the gradients of xdnn's own layers only: a layer subclass may
    keep what it returns (here: for a later look), and finds it as it was."""
    kept = []

    class Keeping(xdnn.Dense):
        def forward(self, *arguments, **keywords):
            A, backward = super().forward(*arguments, **keywords)

            def keeping_backward(dA):
                dX, grads = backward(dA)
                kept.append({name: (value, host(value).copy()) for name, value in grads.items()})
                return dX, grads

            return A, keeping_backward

    task = make_task("binary")
    net = xdnn.Network([Keeping(5, "relu"), xdnn.Dense(1, "sigmoid")], optimizer="sgd", learning_rate=0.3, seed=0)
    net.fit(to_device(task.X), to_device(task.y), epochs=3, batch_size=None, verbose=0)
    assert len(kept) == 3
    for step, grads in enumerate(kept):
        for name, (value, at_return) in grads.items():
            np.testing.assert_array_equal(host(value), at_return, err_msg=f"{backend.name} step {step} {name}")


def test_an_optimizer_whose_update_predates_overwrite_grads_still_trains(backend, to_device):
    class Halving(xdnn.optimizers.GradientDescent):
        def update(self, parameters, grads, learning_rate, *, xp):  # no overwrite_grads keyword
            super().update(parameters, grads, learning_rate / 2, xp=xp)

    task = make_task("binary")
    trained = {}
    for name, optimizer, rate in (("halving", Halving(), 0.6), ("sgd", "sgd", 0.3)):
        net = xdnn.Network(task.sizes, optimizer=optimizer, learning_rate=rate, dtype="float64", seed=0)
        net.fit(to_device(task.X), to_device(task.y), epochs=20, batch_size=None, verbose=0)
        trained[name] = host_parameters(net)
    for key, value in trained["sgd"].items():
        np.testing.assert_allclose(trained["halving"][key], value, rtol=1e-12, atol=1e-14, err_msg=backend.name)


def test_fit_lets_gradient_descent_overwrite_the_gradients_of_built_in_layers_only(backend, to_device, monkeypatch):
    seen = []
    original = xdnn.optimizers.Optimizer.update  # (the built-in update every optimizer inherits)

    def spy(self, parameters, grads, learning_rate, *, xp, overwrite_grads=False):
        seen.append(overwrite_grads)
        original(self, parameters, grads, learning_rate, xp=xp, overwrite_grads=overwrite_grads)

    monkeypatch.setattr(xdnn.optimizers.Optimizer, "update", spy)

    class Subclassed(xdnn.Dense):
        pass

    task = make_task("binary")
    for first, expected in ((xdnn.Dense(5, "relu"), True), (Subclassed(5, "relu"), False)):
        seen.clear()
        net = xdnn.Network([first, xdnn.Dense(1, "sigmoid")], optimizer="sgd", learning_rate=0.3, seed=0)
        net.fit(to_device(task.X), to_device(task.y), epochs=3, batch_size=None, verbose=0)
        assert seen == [expected] * 3, (type(first).__name__, seen, backend.name)


def test_a_callback_may_swap_in_an_optimizer_whose_update_predates_overwrite_grads(backend, to_device):
    calls = []

    class Recording(xdnn.optimizers.GradientDescent):
        def update(self, parameters, grads, learning_rate, *, xp):  # no overwrite_grads keyword
            calls.append({name: host(value).copy() for name, value in grads.items()})
            super().update(parameters, grads, learning_rate, xp=xp)
            for name, value in grads.items():  # this update keeps the gradients as they were
                np.testing.assert_array_equal(host(value), calls[-1][name], err_msg=backend.name)

    class Swap(xdnn.Callback):
        def on_epoch_end(self, network, epoch, logs):
            if epoch == 1:
                network.optimizer = Recording()

    task = make_task("binary")
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=0.3, seed=0)
    net.fit(to_device(task.X), to_device(task.y), epochs=5, batch_size=None, verbose=0, callbacks=[Swap()])
    assert len(calls) == 3 and net.epochs_trained == 5, (len(calls), backend.name)


def test_set_weights_checks_names_and_shapes_before_replacing_anything(backend, to_device):
    """Keras refuses weights of another architecture; so does set_weights, naming the array, and it
    replaces nothing then.  Arrays in another dtype come in the network's."""
    task = make_task("binary")
    net = xdnn.Network(task.sizes, seed=0, dtype="float32")
    net.fit(to_device(task.X), to_device(task.y), epochs=1, batch_size=None, verbose=0)
    before = {key: np.array(xdnn.to_numpy(value), copy=True) for key, value in net.parameters.items()}
    good = xdnn.to_numpy(net.get_weights())
    wrong_shape = copy.deepcopy(good)
    wrong_shape["parameters"]["W1"] = np.zeros((2, 2))
    unknown = copy.deepcopy(good)
    unknown["parameters"]["W9"] = np.zeros((2, 2))
    missing = copy.deepcopy(good)
    del missing["parameters"]["b1"]
    for weights, message in ((wrong_shape, r"parameters/W1 has shape \(2, 2\)"), (unknown, "W9"), (missing, "b1")):
        weights["parameters"]["W2"] = np.ones_like(good["parameters"]["W2"])  # a valid change beside it
        with pytest.raises(ValueError, match=message):
            net.set_weights(weights)
        for key, value in net.parameters.items():
            np.testing.assert_array_equal(xdnn.to_numpy(value), before[key])
    doubled = copy.deepcopy(good)
    doubled["parameters"] = {key: 2.0 * value.astype(np.float64) for key, value in good["parameters"].items()}
    net.set_weights(doubled)
    for key, value in net.parameters.items():
        assert xdnn.to_numpy(value).dtype == np.float32
        np.testing.assert_array_equal(xdnn.to_numpy(value), (2.0 * before[key].astype(np.float64)).astype(np.float32))


def test_sample_weights_whose_sum_overflows_train_as_their_proportions():
    """64 float32 weights of 1e38 each are valid but sum to inf: they train as 64 equal weights do
    (before, every normalised weight became 0 and nothing trained, silently)."""
    task = make_task("binary", m=64)
    histories = []
    for weight in (1.0, 1e38):
        net = xdnn.Network(task.sizes, seed=0, dtype="float32")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's note that the sum overflowed
            history = net.fit(task.X, task.y, epochs=3, batch_size=None, verbose=0, sample_weight=np.full(64, weight))
        histories.append(history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6)
    assert histories[0][-1] < histories[0][0]


def test_an_overflowing_batch_norm_statistic_is_a_divergence():
    """Finite inputs whose squares overflow float32 make batch norm's running variance inf while the
    cost stays finite (every output 0.5): fit treats it as a divergence, rolls back and warns, so
    that no unusable model -- one save and load refuse -- comes out of training."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(200, 3)) * 1e20).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = xdnn.Network([3, 8, 1], batch_norm=True, seed=0, dtype="float32")
    net.build(3)
    before = {key: np.array(xdnn.to_numpy(value), copy=True) for key, value in {**net.parameters, **net.state}.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        messages = record_divergence(lambda: net.fit(X, y, epochs=3, batch_size=50, verbose=0))
    assert messages and "running statistic" in messages[0] and net.diverged_epoch == 0, messages
    for key, value in {**net.parameters, **net.state}.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[key])


def test_an_optimizer_set_between_fits_starts_with_fresh_state(backend, to_device):
    """``net.optimizer = Adam()`` between fits, as Keras users recompile: fit gives the new optimizer
    zero state for every parameter (it failed with a KeyError) and trains as a network built with it."""
    task = make_task("binary")
    X, y = to_device(task.X), to_device(task.y)
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=0.01, seed=0, dtype="float64")
    net.fit(X, y, epochs=2, batch_size=None, verbose=0)
    reference = xdnn.Network(task.sizes, optimizer="adam", learning_rate=0.01, seed=0, dtype="float64")
    reference.build(task.X.shape[1])
    reference.set_weights({"parameters": net.get_weights()["parameters"], "state": {}})
    net.optimizer = xdnn.Adam()
    net.fit(X, y, epochs=3, batch_size=None, verbose=0)
    reference.fit(X, y, epochs=3, batch_size=None, verbose=0)
    for key, value in net.parameters.items():
        np.testing.assert_allclose(xdnn.to_numpy(value), xdnn.to_numpy(reference.parameters[key]), rtol=1e-12)
    assert net.optimizer.iterations == 3


def _fitted(sizes):
    net = xdnn.Network(sizes, seed=0)
    net.fit(np.ones((4, sizes[0])), [0, 1, 0, 1], verbose=0)
    return net


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: xdnn.Network([3, 4, 1], l2="a"), ValueError, "l2 must be a non-negative number, got 'a'"),
        (lambda: xdnn.Network([3, 4, 1], dropout="a"), ValueError, r"dropout must be a rate in \[0, 1\), got 'a'"),
        (lambda: xdnn.Network([3, 4, 1], l2=True), ValueError, "l2 must be a non-negative number, got True"),
        (
            lambda: xdnn.Network([3, 4, 1]).fit([[1, 2, 3], [1, 2]], [0, 1], verbose=0),
            ValueError,
            "X is not a rectangular array of numbers",
        ),
        (
            lambda: xdnn.Network([2, 4, 1]).fit(np.ones((4, 2), complex), [0, 1, 0, 1], verbose=0),
            TypeError,
            "complex128",
        ),
        (
            lambda: _fitted([2, 4, 1]).predict([[np.nan, 1.0]]),
            ValueError,
            r"X contains NaN values; remove or impute them$",  # not "before training": this is a prediction
        ),
    ],
)
def test_constructor_and_input_errors_name_the_argument(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_sizes_and_metrics_as_keras_and_numpy_users_write_them():
    """Layer sizes from a NumPy array (np.int64 entries) and metrics="accuracy" (one name, as Keras
    takes it) -- before, "not a mix" of ints and layers, and "unknown metric 'a'"."""
    net = xdnn.Network(list(np.array([3, 4, 1])), metrics="accuracy", seed=0)
    assert net.n_features == 3 and [type(layer.units) for layer in net.layers] == [int, int]
    assert net.metrics == ("accuracy",)


def test_early_stopping_restores_weights_saved_before_the_optimizer_was_swapped():
    """A callback swaps SGD for Adam after the best epoch: EarlyStopping's saved weights hold SGD's
    (empty) optimizer state, which set_weights leaves out -- the parameters are restored, Adam's
    state kept (it raised before)."""
    task = make_task("binary")

    class SwapAtEpoch3(xdnn.Callback):
        def on_epoch_end(self, network, epoch, logs):
            if epoch == 3:
                network.optimizer = xdnn.Adam()
                network.optimizer.initialize(network.parameters, xp=network.context.xp)

    # mode="max" on a falling loss: the best epoch is the first, before the swap
    stopper = xdnn.EarlyStopping("loss", patience=50, mode="max", restore_best_weights=True)
    net = xdnn.Network(task.sizes, optimizer="sgd", learning_rate=0.1, seed=0, dtype="float64")
    net.fit(task.X, task.y, epochs=8, batch_size=None, verbose=0, callbacks=[stopper, SwapAtEpoch3()])
    assert stopper.best_epoch == 0 and stopper.best_weights["optimizer"] == {}
    for key, value in stopper.best_weights["parameters"].items():
        np.testing.assert_array_equal(xdnn.to_numpy(net.parameters[key]), xdnn.to_numpy(value))
    assert set(net.optimizer.state) == {f"{slot}_{name}" for name in net.parameters for slot in ("v", "s")}
