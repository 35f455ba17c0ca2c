"""xdnn.functional: the tutorial's published test cases on every backend, training, prediction, errors.

Every tutorial case is built with NumPy's legacy ``np.random.seed`` exactly as the notebook
does, then passed twice: as NumPy arrays (host data, moved to the active backend) and as
arrays already on the backend (``to_device``).
"""

from __future__ import annotations

import numpy as np
import pytest

import xdnn
from xdnn import functional

TUTORIAL_ATOL = 5e-8  # the notebook prints 8 significant digits


@pytest.fixture(autouse=True)
def global_numpy_state():
    """The tutorial cases seed NumPy's global generator; put it back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.fixture(params=["host", "device"])
def place(request, to_device):
    """How inputs are passed: NumPy arrays as they are, or moved to the backend first."""
    if request.param == "host":
        return lambda array: array
    return to_device


def randn(*shape):
    return np.random.randn(*shape)


def assert_on_backend(array, backend):
    expected = backend.xp.asarray([0.0], device=backend.device)
    assert type(array) is type(expected), f"{backend.name}: got {type(array).__module__}.{type(array).__name__}"
    assert array.device == expected.device, backend.name


def assert_tutorial(actual, expected, backend, name=""):
    assert_on_backend(actual, backend)
    np.testing.assert_allclose(
        xdnn.to_numpy(actual), np.array(expected), rtol=0, atol=TUTORIAL_ATOL, err_msg=f"{backend.name} {name}"
    )


def reference_forward(X, parameters):
    """Plain NumPy float64: relu hidden layers, sigmoid output."""
    L = len(parameters) // 2
    A = X
    for layer in range(1, L + 1):
        Z = parameters[f"W{layer}"] @ A + parameters[f"b{layer}"]
        A = 1.0 / (1.0 + np.exp(-Z)) if layer == L else np.maximum(Z, 0.0)
    return A


# --- the tutorial's published cases -------------------------------------------------------------


def test_linear_forward(backend, place):
    np.random.seed(1)
    A, W, b = randn(3, 2), randn(1, 3), randn(1, 1)
    Z, linear_cache = functional.linear_forward(place(A), place(W), place(b))
    assert_tutorial(Z, [[3.26295337, -1.23429987]], backend, "Z")
    assert len(linear_cache) == 3
    for cached, original in zip(linear_cache, (A, W, b), strict=True):
        np.testing.assert_array_equal(xdnn.to_numpy(cached), original, err_msg=backend.name)


def test_linear_activation_forward(backend, place):
    np.random.seed(2)
    A_prev, W, b = randn(3, 2), randn(1, 3), randn(1, 1)
    expected = {"sigmoid": [[0.96890023, 0.11013289]], "relu": [[3.43896131, 0.0]]}
    for activation, values in expected.items():
        A, ((A_cached, W_cached, b_cached), Z) = functional.linear_activation_forward(
            place(A_prev), place(W), place(b), activation=activation
        )
        assert_tutorial(A, values, backend, activation)
        np.testing.assert_allclose(xdnn.to_numpy(Z), W @ A_prev + b, rtol=1e-14, err_msg=backend.name)
        np.testing.assert_array_equal(xdnn.to_numpy(A_cached), A_prev, err_msg=backend.name)


def test_L_model_forward_three_layers(backend, place):
    np.random.seed(6)
    X = randn(5, 4)
    W1, b1, W2, b2, W3, b3 = randn(4, 5), randn(4, 1), randn(3, 4), randn(3, 1), randn(1, 3), randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    AL, caches = functional.L_model_forward(place(X), {name: place(value) for name, value in parameters.items()})
    assert_tutorial(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]], backend, "AL")
    assert len(caches) == 3
    (A_prev, W, b), Z = caches[2]
    assert tuple(A_prev.shape) == (3, 4) and tuple(W.shape) == (1, 3) and tuple(Z.shape) == (1, 4), backend.name


def test_L_model_forward_two_layers(backend, place):
    np.random.seed(1)
    X = randn(4, 2)
    W1, b1, W2, b2 = randn(3, 4), randn(3, 1), randn(1, 3), randn(1, 1)
    parameters = {"W1": place(W1), "b1": place(b1), "W2": place(W2), "b2": place(b2)}
    AL, caches = functional.L_model_forward(place(X), parameters)
    assert_tutorial(AL, [[0.17007265, 0.2524272]], backend, "AL")
    assert len(caches) == 2


def test_compute_cost(backend, place):
    cost = functional.compute_cost(place(np.array([[0.8, 0.9, 0.4]])), place(np.array([[1, 1, 1]])))
    assert cost.ndim == 0, backend.name
    np.testing.assert_allclose(float(xdnn.to_numpy(cost)), 0.414931599615, rtol=1e-11, err_msg=backend.name)


def test_compute_cost_accepts_lists(backend):
    cost = functional.compute_cost([[0.8, 0.9, 0.4]], [[1, 1, 1]])
    assert cost.ndim == 0, backend.name
    if backend.name != "numpy":  # NumPy's reductions return a NumPy scalar
        assert_on_backend(cost, backend)
    np.testing.assert_allclose(float(xdnn.to_numpy(cost)), 0.414931599615, rtol=1e-11, err_msg=backend.name)


def test_linear_backward(backend, place):
    np.random.seed(1)
    dZ, A, W, b = randn(1, 2), randn(3, 2), randn(1, 3), randn(1, 1)
    dA_prev, dW, db = functional.linear_backward(place(dZ), (place(A), place(W), place(b)))
    assert_tutorial(
        dA_prev, [[0.51822968, -0.19517421], [-0.40506361, 0.15255393], [2.37496825, -0.89445391]], backend, "dA_prev"
    )
    assert_tutorial(dW, [[-0.10076895, 1.40685096, 1.64992505]], backend, "dW")
    assert_tutorial(db, [[0.50629448]], backend, "db")


def test_linear_activation_backward(backend, place):
    np.random.seed(2)
    dA, A, W, b, Z = randn(1, 2), randn(3, 2), randn(1, 3), randn(1, 1), randn(1, 2)
    cache = ((place(A), place(W), place(b)), place(Z))
    expected = {
        "sigmoid": (
            [[0.11017994, 0.01105339], [0.09466817, 0.00949723], [-0.05743092, -0.00576154]],
            [[0.10266786, 0.09778551, -0.01968084]],
            [[-0.05729622]],
        ),
        "relu": (
            [[0.44090989, 0.0], [0.37883606, 0.0], [-0.2298228, 0.0]],
            [[0.44513824, 0.37371418, -0.10478989]],
            [[-0.20837892]],
        ),
    }
    for activation, (dA_prev_expected, dW_expected, db_expected) in expected.items():
        dA_prev, dW, db = functional.linear_activation_backward(place(dA), cache, activation=activation)
        assert_tutorial(dA_prev, dA_prev_expected, backend, f"{activation} dA_prev")
        assert_tutorial(dW, dW_expected, backend, f"{activation} dW")
        assert_tutorial(db, db_expected, backend, f"{activation} db")


def test_L_model_backward(backend, place):
    np.random.seed(3)
    AL = randn(1, 2)
    Y = np.array([[1, 0]])
    A1, W1, b1, Z1 = randn(4, 2), randn(3, 4), randn(3, 1), randn(3, 2)
    A2, W2, b2, Z2 = randn(3, 2), randn(1, 3), randn(1, 1), randn(1, 2)
    caches = [((place(A1), place(W1), place(b1)), place(Z1)), ((place(A2), place(W2), place(b2)), place(Z2))]
    grads = functional.L_model_backward(place(AL), place(Y), caches)
    assert {"dA0", "dA1", "dW1", "db1", "dW2", "db2"} <= set(grads), sorted(grads)
    assert_tutorial(
        grads["dW1"],
        [
            [0.41010002, 0.07807203, 0.13798444, 0.10502167],
            [0.0, 0.0, 0.0, 0.0],
            [0.05283652, 0.01005865, 0.01777766, 0.0135308],
        ],
        backend,
        "dW1",
    )
    assert_tutorial(grads["db1"], [[-0.22007063], [0.0], [-0.02835349]], backend, "db1")
    assert_tutorial(
        grads["dA1"], [[0.12913162, -0.44014127], [-0.14175655, 0.48317296], [0.01663708, -0.05670698]], backend, "dA1"
    )
    assert tuple(grads["dA0"].shape) == (4, 2) and tuple(grads["dW2"].shape) == (1, 3), backend.name


def test_update_parameters(backend, place):
    np.random.seed(2)
    W1, b1, W2, b2 = randn(3, 4), randn(3, 1), randn(1, 3), randn(1, 1)
    np.random.seed(3)
    dW1, db1, dW2, db2 = randn(3, 4), randn(3, 1), randn(1, 3), randn(1, 1)
    parameters = {"W1": place(W1), "b1": place(b1), "W2": place(W2), "b2": place(b2)}
    grads = {"dW1": place(dW1), "db1": place(db1), "dW2": place(dW2), "db2": place(db2)}
    before = {name: np.array(xdnn.to_numpy(value), copy=True) for name, value in {**parameters, **grads}.items()}

    updated = functional.update_parameters(parameters, grads, learning_rate=0.1)

    assert_tutorial(
        updated["W1"],
        [
            [-0.59562069, -0.09991781, -2.14584584, 1.82662008],
            [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
            [-1.0535704, -0.86128581, 0.68284052, 2.20374577],
        ],
        backend,
        "W1",
    )
    assert_tutorial(updated["b1"], [[-0.04659241], [-1.28888275], [0.53405496]], backend, "b1")
    assert_tutorial(updated["W2"], [[-0.55569196, 0.0354055, 1.32964895]], backend, "W2")
    assert_tutorial(updated["b2"], [[-0.84610769]], backend, "b2")
    for name, value in {**parameters, **grads}.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[name], err_msg=f"{backend.name}: {name} modified")


def test_update_parameters_needs_every_gradient(backend):
    parameters = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    with pytest.raises(ValueError, match="db1"):
        functional.update_parameters(parameters, {"dW1": np.ones((2, 2))}, learning_rate=0.1)


def test_activation_helpers_return_caches(backend, place):
    Z = np.array([[-2.0, -0.5, 0.5, 3.0]])
    dA = np.array([[1.0, -2.0, 0.5, 4.0]])
    s = 1.0 / (1.0 + np.exp(-Z))
    cases = {
        "sigmoid": (s, dA * s * (1 - s)),
        "relu": (np.maximum(Z, 0), dA * (Z > 0)),
        "tanh": (np.tanh(Z), dA * (1 - np.tanh(Z) ** 2)),
    }
    for name, (A_expected, dZ_expected) in cases.items():
        A, cache = getattr(functional, name)(place(Z))
        assert_on_backend(A, backend)
        np.testing.assert_allclose(xdnn.to_numpy(A), A_expected, rtol=1e-14, err_msg=f"{backend.name} {name}")
        np.testing.assert_array_equal(xdnn.to_numpy(cache), Z, err_msg=backend.name)
        dZ = getattr(functional, f"{name}_backward")(place(dA), cache)
        np.testing.assert_allclose(xdnn.to_numpy(dZ), dZ_expected, rtol=1e-14, err_msg=f"{backend.name} {name}")


# --- training and prediction --------------------------------------------------------------------


def separable_problem(m=60, seed=0):
    """Two features, label 1 where x0 + x1 > 0, with a margin."""
    random_state = np.random.RandomState(seed)
    X = random_state.randn(2, m)
    X += np.sign(X[0] + X[1]) * 0.5  # push the points away from the boundary
    Y = (X[0:1] + X[1:2] > 0).astype(np.float64)
    return X, Y


def test_L_layer_model_costs_decrease(backend, to_device, capsys):
    X, Y = separable_problem()
    parameters, costs = functional.L_layer_model(
        to_device(X), to_device(Y), [2, 4, 1], learning_rate=0.5, num_iterations=301, print_cost=True
    )
    assert isinstance(costs, list) and all(type(cost) is float for cost in costs), backend.name
    assert len(costs) == 4, f"{backend.name}: one cost per 100 iterations (0, 100, 200, 300), got {costs}"
    assert np.all(np.diff(costs) < 0), f"{backend.name}: {costs}"
    assert costs[-1] < 0.5 * costs[0], f"{backend.name}: {costs}"
    # The first recorded cost is the cost of the initial parameters (seed 1, xavier).
    initial = np.random.RandomState(1)
    W1, W2 = initial.randn(4, 2) / np.sqrt(2), initial.randn(1, 4) / np.sqrt(4)
    AL = reference_forward(X, {"W1": W1, "b1": np.zeros((4, 1)), "W2": W2, "b2": np.zeros((1, 1))})
    expected_first = -np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    np.testing.assert_allclose(costs[0], expected_first, rtol=1e-12, err_msg=backend.name)
    printed = capsys.readouterr().out
    for iteration in (0, 100, 200, 300):
        assert f"Cost after iteration {iteration}:" in printed, backend.name
    for name in ("W1", "b1", "W2", "b2"):
        assert_on_backend(parameters[name], backend)


@pytest.mark.parametrize("labels", ["float64", "int64", "uint8", "bool"])
def test_L_layer_model_trains_in_the_dtype_of_X(backend, place, labels):
    X, Y = separable_problem(m=20)
    parameters, costs = functional.L_layer_model(
        place(X.astype(np.float32)), place(Y.astype(labels)), [2, 3, 1], num_iterations=3
    )
    for name, value in parameters.items():
        assert value.dtype == backend.xp.float32, f"{backend.name}: {name} is {value.dtype} with {labels} labels"
    reference, _ = functional.L_layer_model(X.astype(np.float32), Y, [2, 3, 1], num_iterations=3)
    for name, value in xdnn.to_numpy(reference).items():
        np.testing.assert_array_equal(xdnn.to_numpy(parameters[name]), value, err_msg=f"{backend.name} {name}")


def test_predict_prints_accuracy(backend, place, capsys):
    X, Y = separable_problem(seed=1)
    random_state = np.random.RandomState(2)
    host_parameters = {
        "W1": random_state.randn(4, 2),
        "b1": random_state.randn(4, 1),
        "W2": random_state.randn(1, 4),
        "b2": random_state.randn(1, 1),
    }
    AL = reference_forward(X, host_parameters)
    expected = (AL > 0.5).astype(np.float64)
    assert 0 < expected.sum() < X.shape[1]  # both classes predicted: the check below can tell them apart
    parameters = {name: place(value) for name, value in host_parameters.items()}

    p = functional.predict(place(X), place(Y), parameters)

    assert_on_backend(p, backend)
    assert tuple(p.shape) == (1, X.shape[1]), backend.name
    p_home = xdnn.to_numpy(p)
    assert set(np.unique(p_home)) <= {0.0, 1.0}, backend.name
    np.testing.assert_array_equal(p_home, expected, err_msg=backend.name)
    printed = capsys.readouterr().out
    assert printed.startswith("Accuracy:"), printed
    assert float(printed.split(":")[1]) == pytest.approx(np.mean(expected == Y)), printed

    p_without_labels = functional.predict(place(X), parameters)  # the two-argument form
    np.testing.assert_array_equal(xdnn.to_numpy(p_without_labels), expected, err_msg=backend.name)
    assert capsys.readouterr().out == ""


def test_predict_without_parameters_is_an_error():
    with pytest.raises(TypeError, match="parameters"):
        functional.predict(np.ones((2, 3)), np.ones((1, 3)))


# --- errors that name the problem ---------------------------------------------------------------


def test_linear_forward_shape_mismatch_names_the_shapes(backend, place):
    with pytest.raises(ValueError, match="shape mismatch") as raised:
        functional.linear_forward(place(np.ones((4, 2))), place(np.ones((1, 3))), place(np.ones((1, 1))))
    assert "(1, 3)" in str(raised.value) and "(4, 2)" in str(raised.value), str(raised.value)
    with pytest.raises(ValueError, match=r"b has shape \(2, 1\)"):
        functional.linear_forward(place(np.ones((3, 2))), place(np.ones((1, 3))), place(np.ones((2, 1))))


def test_linear_forward_rejects_a_one_dimensional_bias(backend, place):
    """``b`` of shape ``(n,)`` would broadcast along the samples axis: with ``m == n`` silently wrong."""
    A, W, b = np.ones((3, 2)), np.ones((2, 3)), np.array([1.0, -1.0])
    with pytest.raises(ValueError, match=r"b has shape \(2,\), expected \(2, 1\)"):
        functional.linear_forward(place(A), place(W), place(b))
    with pytest.raises(ValueError, match=r"b has shape \(2,\)"):
        functional.L_model_forward(place(A), {"W1": place(W), "b1": place(b)})


def test_mixed_float32_and_float64_inputs_promote_to_float64(backend, place):
    """Float32 data with float64 parameters computes in float64 on every backend (as NumPy promotes)."""
    random_state = np.random.RandomState(7)
    X = random_state.randn(3, 5).astype(np.float32)
    host_parameters = {
        "W1": random_state.randn(4, 3),
        "b1": random_state.randn(4, 1),
        "W2": random_state.randn(1, 4),
        "b2": random_state.randn(1, 1),
    }
    parameters = {name: place(value) for name, value in host_parameters.items()}
    AL, _ = functional.L_model_forward(place(X), parameters)
    assert AL.dtype == backend.xp.float64, f"{backend.name}: {AL.dtype}"
    expected = reference_forward(X.astype(np.float64), host_parameters)
    np.testing.assert_allclose(xdnn.to_numpy(AL), expected, rtol=1e-13, err_msg=backend.name)
    p = functional.predict(place(X), parameters, print_accuracy=False)
    np.testing.assert_array_equal(xdnn.to_numpy(p), (expected > 0.5).astype(np.float64), err_msg=backend.name)
    Z, _ = functional.linear_forward(place(X), parameters["W1"], parameters["b1"])
    assert Z.dtype == backend.xp.float64, f"{backend.name}: {Z.dtype}"


def test_compute_cost_shape_mismatch(backend, place):
    with pytest.raises(ValueError, match="same shape"):
        functional.compute_cost(place(np.full((1, 3), 0.5)), place(np.ones((1, 4))))


@pytest.mark.parametrize(
    "problem, message",
    [
        ("nan in X", "X contains NaN"),
        ("inf in X", "X contains inf"),
        ("label 2", "binary labels"),
        ("wrong n_x", r"layers_dims\[0\] = 3 but X has 2 features"),
        ("wrong n_y", r"layers_dims\[-1\] = 2 but Y has 1 rows"),
        ("sample counts", "different numbers of samples"),
        ("empty X", "X is empty"),
        ("3-D X", "X must be 2-D"),
        ("negative iterations", "num_iterations must be >= 0"),
    ],
)
def test_L_layer_model_input_errors(backend, place, problem, message):
    X, Y = separable_problem(m=10)
    layers_dims = [2, 3, 1]
    iterations = 1
    if problem == "nan in X":
        X[1, 4] = np.nan
    elif problem == "inf in X":
        X[0, 0] = np.inf
    elif problem == "label 2":
        Y[0, 3] = 2
    elif problem == "wrong n_x":
        layers_dims = [3, 3, 1]
    elif problem == "wrong n_y":
        layers_dims = [2, 3, 2]
    elif problem == "sample counts":
        Y = Y[:, :-1]
    elif problem == "empty X":
        X, Y = X[:, :0], Y[:, :0]
    elif problem == "3-D X":
        X = X[None]
    elif problem == "negative iterations":
        iterations = -1
    with pytest.raises(ValueError, match=message):
        functional.L_layer_model(place(X), place(Y), layers_dims, num_iterations=iterations)
