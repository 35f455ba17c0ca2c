"""xdnn.initializers (through the tutorial's initialize_parameters*): seeded host draws, scales, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xdnn
from xdnn import initializers
from xdnn.functional import initialize_parameters, initialize_parameters_deep


@pytest.fixture
def global_numpy_state():
    """Restore NumPy's global legacy generator after a test that seeds it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def reference_parameters(layer_dims, seed, scale_of):
    """The tutorial's draws: one RandomState(seed), W1, W2, ... in order, zero biases."""
    random_state = np.random.RandomState(seed)
    parameters = {}
    for layer in range(1, len(layer_dims)):
        n_previous, n_units = layer_dims[layer - 1], layer_dims[layer]
        parameters[f"W{layer}"] = random_state.randn(n_units, n_previous) * scale_of(n_previous, n_units)
        parameters[f"b{layer}"] = np.zeros((n_units, 1))
    return parameters


def assert_on_backend(parameters, backend, dtype):
    expected_type = type(backend.xp.asarray([0.0], device=backend.device))
    for name, array in parameters.items():
        assert type(array) is expected_type, f"{backend.name}: {name} is a {type(array).__name__}"
        assert array.dtype == getattr(backend.xp, dtype), f"{backend.name}: {name} has dtype {array.dtype}"


def test_initialize_parameters_tutorial_values(backend):
    parameters = initialize_parameters(2, 2, 1, seed=1)
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"]
    assert_on_backend(parameters, backend, "float64")
    home = xdnn.to_numpy(parameters)
    np.testing.assert_allclose(
        home["W1"], [[0.01624345, -0.00611756], [-0.00528172, -0.01072969]], atol=5e-9, err_msg=backend.name
    )
    np.testing.assert_allclose(home["W2"], [[0.00865408, -0.02301539]], atol=5e-9, err_msg=backend.name)
    np.testing.assert_array_equal(home["b1"], np.zeros((2, 1)), err_msg=backend.name)
    np.testing.assert_array_equal(home["b2"], np.zeros((1, 1)), err_msg=backend.name)


def test_initialize_parameters_later_notebook_values(backend):
    """The later notebook prints ``initialize_parameters(3, 2, 1)`` (seed 1)."""
    parameters = initialize_parameters(3, 2, 1)
    assert_on_backend(parameters, backend, "float64")
    home = xdnn.to_numpy(parameters)
    np.testing.assert_allclose(
        home["W1"],
        [[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]],
        rtol=0,
        atol=5e-9,
        err_msg=backend.name,
    )
    np.testing.assert_allclose(home["W2"], [[0.01744812, -0.00761207]], rtol=0, atol=5e-9, err_msg=backend.name)
    np.testing.assert_array_equal(home["b1"], np.zeros((2, 1)), err_msg=backend.name)
    np.testing.assert_array_equal(home["b2"], np.zeros((1, 1)), err_msg=backend.name)
    expected = reference_parameters([3, 2, 1], 1, lambda n_previous, n_units: 0.01)
    for name in expected:
        np.testing.assert_array_equal(home[name], expected[name], err_msg=f"{backend.name} {name}")


def test_planar_notebook_initialize_parameters(backend):
    """The planar notebook seeds its ``initialize_parameters(2, 4, 1)`` with 2."""
    parameters = initialize_parameters(2, 4, 1, seed=2)
    assert_on_backend(parameters, backend, "float64")
    home = xdnn.to_numpy(parameters)
    np.testing.assert_allclose(
        home["W1"],
        [[-0.00416758, -0.00056267], [-0.02136196, 0.01640271], [-0.01793436, -0.00841747], [0.00502881, -0.01245288]],
        rtol=0,
        atol=5e-9,
        err_msg=backend.name,
    )
    np.testing.assert_allclose(
        home["W2"], [[-0.01057952, -0.00909008, 0.00551454, 0.02292208]], rtol=0, atol=5e-9, err_msg=backend.name
    )
    np.testing.assert_array_equal(home["b1"], np.zeros((4, 1)), err_msg=backend.name)
    np.testing.assert_array_equal(home["b2"], np.zeros((1, 1)), err_msg=backend.name)


def test_initialize_parameters_deep_tutorial_values(backend):
    parameters = initialize_parameters_deep([5, 4, 3], seed=3)
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"]
    assert_on_backend(parameters, backend, "float64")
    home = xdnn.to_numpy(parameters)
    np.testing.assert_allclose(
        home["W1"],
        [
            [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388],
            [-0.00354759, -0.00082741, -0.00627001, -0.00043818, -0.00477218],
            [-0.01313865, 0.00884622, 0.00881318, 0.01709573, 0.00050034],
            [-0.00404677, -0.0054536, -0.01546477, 0.00982367, -0.01101068],
        ],
        atol=5e-9,
        err_msg=backend.name,
    )
    np.testing.assert_allclose(
        home["W2"],
        [
            [-0.01185047, -0.0020565, 0.01486148, 0.00236716],
            [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
            [-0.00768836, -0.00230031, 0.00745056, 0.01976111],
        ],
        atol=5e-9,
        err_msg=backend.name,
    )
    np.testing.assert_array_equal(home["b1"], np.zeros((4, 1)), err_msg=backend.name)
    np.testing.assert_array_equal(home["b2"], np.zeros((3, 1)), err_msg=backend.name)


def test_tutorial_default_seeds(backend):
    np.testing.assert_array_equal(
        xdnn.to_numpy(initialize_parameters(3, 2, 1)["W1"]), np.random.RandomState(1).randn(2, 3) * 0.01
    )
    np.testing.assert_array_equal(
        xdnn.to_numpy(initialize_parameters_deep([3, 2])["W1"]), np.random.RandomState(3).randn(2, 3) * 0.01
    )


@pytest.mark.parametrize("layer_dims", [[5, 4, 3], [7, 1], [3, 6, 6, 2, 1]])
def test_shapes_follow_layer_dims(backend, layer_dims):
    parameters = initialize_parameters_deep(layer_dims, seed=0)
    assert len(parameters) == 2 * (len(layer_dims) - 1)
    for layer in range(1, len(layer_dims)):
        assert tuple(parameters[f"W{layer}"].shape) == (layer_dims[layer], layer_dims[layer - 1]), backend.name
        assert tuple(parameters[f"b{layer}"].shape) == (layer_dims[layer], 1), backend.name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_gives_identical_parameters_on_every_backend(backend, dtype):
    """Draws happen on the host: every backend gets exactly the tutorial's RandomState numbers."""
    layer_dims = [6, 5, 4, 1]
    parameters = initialize_parameters_deep(layer_dims, seed=42, dtype=dtype)
    assert_on_backend(parameters, backend, dtype)
    expected = reference_parameters(layer_dims, 42, lambda n_previous, n_units: 0.01)
    home = xdnn.to_numpy(parameters)
    assert set(home) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(home[name], expected[name].astype(dtype), err_msg=f"{backend.name} {name}")


SCALES = {
    "small": lambda n_previous, n_units: 0.01,
    "he": lambda n_previous, n_units: math.sqrt(2.0 / n_previous),
    "xavier": lambda n_previous, n_units: 1.0 / math.sqrt(n_previous),
    "glorot": lambda n_previous, n_units: math.sqrt(2.0 / (n_previous + n_units)),
    0.5: lambda n_previous, n_units: 0.5,
}


@pytest.mark.parametrize("initialization", list(SCALES))
def test_initialization_scales(backend, initialization):
    layer_dims = [9, 7, 3]
    parameters = initialize_parameters_deep(layer_dims, seed=5, initialization=initialization)
    expected = reference_parameters(layer_dims, 5, SCALES[initialization])
    home = xdnn.to_numpy(parameters)
    for name in expected:
        np.testing.assert_allclose(home[name], expected[name], rtol=1e-15, err_msg=f"{backend.name} {name}")


@pytest.mark.parametrize("initialization", ["he", "xavier", "glorot"])
def test_initialization_standard_deviation_on_a_large_layer(initialization):
    n_previous, n_units = 400, 300
    W = xdnn.to_numpy(initialize_parameters_deep([n_previous, n_units], seed=7, initialization=initialization)["W1"])
    expected = SCALES[initialization](n_previous, n_units)
    # 120 000 draws: the sample standard deviation is within 1% of the scale with overwhelming probability.
    assert abs(W.std() / expected - 1.0) < 0.01, f"{initialization}: std {W.std():.5f}, expected {expected:.5f}"
    assert abs(W.mean()) < 0.01 * expected


def test_seed_none_uses_the_global_numpy_generator(backend, global_numpy_state):
    np.random.seed(3)
    first = xdnn.to_numpy(initialize_parameters_deep([5, 4, 3], seed=None))
    np.testing.assert_allclose(
        first["W1"][0], [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388], atol=5e-9, err_msg=backend.name
    )
    np.random.seed(1)
    two_layer = xdnn.to_numpy(initialize_parameters(2, 2, 1, seed=None))
    np.testing.assert_allclose(two_layer["W2"], [[0.00865408, -0.02301539]], atol=5e-9, err_msg=backend.name)
    # The global generator advanced: a second unseeded call draws different numbers.
    second = xdnn.to_numpy(initialize_parameters_deep([5, 4, 3], seed=None))
    assert not np.allclose(second["W1"], first["W1"])


def test_an_explicit_seed_leaves_the_global_generator_alone(global_numpy_state):
    np.random.seed(11)
    expected = np.random.rand()
    np.random.seed(11)
    initialize_parameters_deep([5, 4, 3], seed=3)
    assert np.random.rand() == expected


@pytest.mark.parametrize(
    "layer_dims",
    [[5], [], [5, 0, 1], [5, -2, 1], [5, 2.5, 1], "abc", None, [5, "four", 1]],
    ids=["one-layer", "empty", "zero", "negative", "fractional", "string", "none", "word"],
)
def test_bad_layer_dims_are_value_errors(layer_dims):
    with pytest.raises(ValueError, match="layer_dims"):
        initialize_parameters_deep(layer_dims)


def test_unknown_initialization_lists_the_choices():
    with pytest.raises(ValueError, match="unknown initialization 'lecun'") as raised:
        initialize_parameters_deep([3, 2], initialization="lecun")
    assert all(name in str(raised.value) for name in initializers.INITIALIZATIONS)


def test_bad_dtype_is_an_error():
    with pytest.raises(ValueError, match="float32 or float64"):
        initialize_parameters_deep([3, 2], dtype="int32")
