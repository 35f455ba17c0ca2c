"""xdnn._namespace: moving host data once, bringing results home, refusing mixed backends."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xdnn
from xdnn import functional
from xdnn._backend import resolve_backend
from xdnn._namespace import array_context, is_host_data

HOST = np.array([[1.5, -2.0, 0.25], [3.0, 4.0, -0.5]])


def assert_on_backend(array, backend):
    """``array`` is an array of ``backend`` (its type and device)."""
    expected = backend.xp.asarray([0.0], device=backend.device)
    assert type(array) is type(expected), f"{backend.name}: got {type(array).__module__}.{type(array).__name__}"
    assert array.device == expected.device, backend.name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_numpy_brings_each_backend_home(backend, xp, dtype):
    array = xp.asarray(HOST.astype(dtype), device=backend.device)
    home = xdnn.to_numpy(array)
    assert isinstance(home, np.ndarray), backend.name
    assert home.dtype == np.dtype(dtype), backend.name
    np.testing.assert_array_equal(home, HOST.astype(dtype), err_msg=backend.name)


def test_to_numpy_of_a_torch_bfloat16_tensor():
    torch = pytest.importorskip("torch")
    result = xdnn.to_numpy(torch.tensor([1.5, -2.0], dtype=torch.bfloat16))
    np.testing.assert_array_equal(result, np.array([1.5, -2.0], dtype=np.float32))


def test_to_numpy_of_a_dict_and_of_host_data(backend, xp):
    parameters = {"W1": xp.asarray(HOST, device=backend.device), "b1": xp.zeros((2, 1), device=backend.device)}
    home = xdnn.to_numpy(parameters)
    assert set(home) == {"W1", "b1"}
    assert all(isinstance(value, np.ndarray) for value in home.values()), backend.name
    np.testing.assert_array_equal(home["W1"], HOST, err_msg=backend.name)
    np.testing.assert_array_equal(home["b1"], np.zeros((2, 1)), err_msg=backend.name)
    assert xdnn.to_numpy(None) is None
    np.testing.assert_array_equal(xdnn.to_numpy([[1.0, 2.0]]), np.array([[1.0, 2.0]]))


@pytest.mark.parametrize("source", ["list", "numpy"])
def test_asarray_moves_host_data_to_the_active_backend(backend, source):
    data = HOST.tolist() if source == "list" else HOST
    array = xdnn.asarray(data)
    assert_on_backend(array, backend)
    np.testing.assert_array_equal(xdnn.to_numpy(array), HOST, err_msg=backend.name)

    single = xdnn.asarray(data, dtype="float32")
    assert_on_backend(single, backend)
    assert single.dtype == backend.xp.float32, backend.name
    np.testing.assert_array_equal(xdnn.to_numpy(single), HOST.astype(np.float32), err_msg=backend.name)


def test_asarray_of_read_only_host_data_warns_nothing_and_leaves_it_alone(backend):
    """A read-only array (a memmap opened "r", a broadcast view) moves without a warning, and writing
    to the backend array never reaches it (PyTorch tensors cannot be read-only: it is copied)."""
    data = HOST.copy()
    data.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        array = xdnn.asarray(data)
    assert_on_backend(array, backend)
    np.testing.assert_array_equal(xdnn.to_numpy(array), HOST, err_msg=backend.name)
    if backend.name == "torch":
        array[0, 0] = 99.0
        np.testing.assert_array_equal(data, HOST)


def test_asarray_moves_arrays_of_another_backend(backend):
    other = "numpy" if backend.name != "numpy" else "array_api_strict"
    try:
        with xdnn.use_backend(other):
            foreign = xdnn.asarray(HOST)
    except xdnn.BackendError:
        pytest.skip(f"{other} is not installed here")
    array = xdnn.asarray(foreign)
    assert_on_backend(array, backend)
    np.testing.assert_array_equal(xdnn.to_numpy(array), HOST, err_msg=backend.name)


def test_mixing_two_backends_in_one_call_is_refused():
    torch = pytest.importorskip("torch")
    strict = pytest.importorskip("array_api_strict")
    A = torch.ones((3, 2), dtype=torch.float64)
    W = strict.ones((1, 3), dtype=strict.float64)
    b = strict.zeros((1, 1), dtype=strict.float64)
    with pytest.raises(xdnn.BackendMismatchError, match="different backends") as raised:
        functional.linear_forward(A, W, b)
    message = str(raised.value)
    assert "torch.Tensor" in message and "array_api_strict" in message, message
    assert "xdnn.asarray" in message, message  # says what to do
    assert isinstance(raised.value, TypeError)


def test_mixing_two_devices_in_one_call_is_refused():
    strict = pytest.importorskip("array_api_strict")
    A = strict.ones((3, 2), dtype=strict.float64, device=strict.Device("device1"))
    W = strict.ones((1, 3), dtype=strict.float64)
    b = strict.zeros((1, 1), dtype=strict.float64)
    with pytest.raises(xdnn.BackendMismatchError, match="different devices") as raised:
        functional.linear_forward(A, W, b)
    assert "device1" in str(raised.value) and "CPU_DEVICE" in str(raised.value)


def test_host_inputs_give_results_on_the_active_backend(backend):
    """NumPy arrays and lists belong to no backend: the active one computes."""
    A, W, b = HOST.T, [[1.0, -1.0, 2.0]], np.array([[0.5]])
    Z, (A_cached, W_cached, b_cached) = functional.linear_forward(A, W, b)
    for array in (Z, A_cached, W_cached, b_cached):
        assert_on_backend(array, backend)
    np.testing.assert_allclose(xdnn.to_numpy(Z), np.array(W) @ HOST.T + 0.5, rtol=1e-15, err_msg=backend.name)


def test_backend_arrays_decide_where_a_call_runs(backend, to_device):
    """A backend array keeps the computation on its backend even when another backend is active."""
    W = to_device(np.array([[1.0, -1.0, 2.0]]))
    other = "array_api_strict" if backend.name == "numpy" else "numpy"
    try:
        with xdnn.use_backend(other):
            Z, _ = functional.linear_forward(HOST.T, W, [[0.5]])
    except xdnn.BackendError:
        pytest.skip(f"{other} is not installed here")
    if backend.name != "numpy":  # NumPy arrays are host data: the active backend wins
        assert_on_backend(Z, backend)
    np.testing.assert_allclose(xdnn.to_numpy(Z), [[1.0, -1.0, 2.0]] @ HOST.T + 0.5, err_msg=backend.name)


@pytest.mark.parametrize("data", [["a", "b"], np.array([["1.0", "2.0"]]), np.array([[1.0, None]], dtype=object)])
def test_non_numeric_data_is_a_type_error(backend, data):
    with pytest.raises(TypeError, match="numeric"):
        xdnn.asarray(data)
    with pytest.raises(TypeError, match="numeric"):
        functional.linear_forward(np.atleast_2d(data).T, [[1.0] * np.atleast_2d(data).shape[1]], [[0.0]])


def test_host_data_follows_the_device_of_the_backend_arrays():
    strict = pytest.importorskip("array_api_strict")
    device = strict.Device("device1")
    A = strict.asarray(HOST, device=device)
    Z, (_, W, b) = functional.linear_forward(A, [[1.0, -1.0]], [[0.5]])
    assert Z.device == device and W.device == device and b.device == device
    np.testing.assert_allclose(xdnn.to_numpy(Z), np.array([[1.0, -1.0]]) @ HOST + 0.5)


# --- JAX ----------------------------------------------------------------------------------------


@pytest.fixture
def jax_numpy():
    """``jax.numpy`` with the jax backend resolved (float64 on); skips where jax is not installed."""
    try:
        return resolve_backend("jax").xp
    except xdnn.BackendError as error:
        pytest.skip(f"jax not available here: {error}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_arrays_round_trip_and_keep_their_dtype(jax_numpy, dtype):
    import array_api_compat

    with xdnn.use_backend("jax"):
        array = xdnn.asarray(HOST.astype(dtype))
        b = np.array([[0.5]], dtype=dtype)
        computed = functional.linear_forward(array, jax_numpy.ones((1, 2), dtype=array.dtype), b)[0]
    assert array_api_compat.is_jax_array(array) and array.dtype == getattr(jax_numpy, dtype)
    assert not is_host_data(array)
    home = xdnn.to_numpy(array)
    assert isinstance(home, np.ndarray) and home.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(home, HOST.astype(dtype))
    assert array_api_compat.is_jax_array(computed) and computed.dtype == getattr(jax_numpy, dtype)
    np.testing.assert_allclose(xdnn.to_numpy(computed), HOST.astype(dtype).sum(axis=0, keepdims=True) + 0.5)


def test_jax_arrays_decide_where_a_call_runs(jax_numpy):
    """Host data joins a JAX array's backend and device, whatever backend is active."""
    A = jax_numpy.asarray(HOST)
    with xdnn.use_backend("numpy"):
        context = array_context(A, HOST)
        Z, (_, W, b) = functional.linear_forward(A, [[1.0, -1.0]], [[0.5]])
    assert context.xp is jax_numpy and context.device == A.device and context.backend_name == "jax"
    for array in (Z, W, b):
        assert type(array) is type(A) and array.device == A.device
    np.testing.assert_allclose(xdnn.to_numpy(Z), np.array([[1.0, -1.0]]) @ HOST + 0.5)


def test_mixing_jax_and_torch_arrays_is_refused(jax_numpy):
    torch = pytest.importorskip("torch")
    A = jax_numpy.ones((3, 2), dtype=jax_numpy.float64)
    W = torch.ones((1, 3), dtype=torch.float64)
    with pytest.raises(xdnn.BackendMismatchError, match="different backends") as raised:
        functional.linear_forward(A, W, [[0.0]])
    message = str(raised.value)
    assert "torch.Tensor" in message and "jax" in message and "xdnn.asarray" in message, message
