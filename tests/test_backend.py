"""xdnn._backend: choosing, scoping and resolving backends, and the errors that say what to do."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import xdnn
from xdnn import _backend
from xdnn._backend import BackendError

OPTIONAL_BACKENDS = ("array_api_strict", "torch", "jax")


@pytest.fixture
def clean_choice():
    """No explicit backend choice for the test; the previous choices are restored afterwards."""
    token = _backend._explicit_choice.set(None)
    process_choice = _backend._process_choice["name"]
    _backend._process_choice["name"] = None
    yield
    _backend._explicit_choice.reset(token)
    _backend._process_choice["name"] = process_choice


@pytest.fixture
def no_environment_choice(monkeypatch):
    monkeypatch.delenv(_backend.ENVIRONMENT_VARIABLE, raising=False)


@pytest.fixture
def no_cuda(monkeypatch):
    """Pretend there is no CUDA device, whatever this machine has."""
    monkeypatch.setattr(_backend, "cuda_device_count", lambda: 0)


@pytest.fixture
def empty_cache(monkeypatch):
    """A fresh resolution cache for the test; the real cache comes back afterwards."""
    monkeypatch.setattr(_backend, "_resolved_cache", {})


def available(name: str) -> bool:
    try:
        _backend.resolve_backend(name)
    except BackendError:
        return False
    return True


def other_backend(name: str) -> str:
    """An installed backend different from ``name`` (skip the test when there is none)."""
    for candidate in ("numpy", *OPTIONAL_BACKENDS):
        if candidate != name and available(candidate):
            return candidate
    pytest.skip(f"needs a second installed backend besides {name}")


# --- set / get / use ----------------------------------------------------------------------------


def test_set_backend_changes_get_backend(backend, clean_choice):
    xdnn.set_backend(backend.name)
    assert xdnn.get_backend() == backend.name
    assert _backend.active_backend() is _backend.resolve_backend(backend.name)


def test_set_backend_normalises_the_name(clean_choice):
    xdnn.set_backend("  NumPy ")
    assert xdnn.get_backend() == "numpy"
    if available("array_api_strict"):
        xdnn.set_backend("Array-API-Strict")
        assert xdnn.get_backend() == "array_api_strict"


def test_use_backend_restores_the_previous_choice(backend):
    inner = other_backend(backend.name)
    with xdnn.use_backend(inner) as resolved:
        assert resolved.name == inner
        assert xdnn.get_backend() == inner, backend.name
        with xdnn.use_backend(backend.name):
            assert xdnn.get_backend() == backend.name
        assert xdnn.get_backend() == inner, backend.name
    assert xdnn.get_backend() == backend.name


def test_use_backend_restores_on_exception(backend):
    inner = other_backend(backend.name)
    with pytest.raises(KeyError, match="raised inside"):
        with xdnn.use_backend(inner):
            assert xdnn.get_backend() == inner
            raise KeyError("raised inside")
    assert xdnn.get_backend() == backend.name


def test_use_backend_overrides_the_process_wide_set_backend_in_its_block(backend, clean_choice):
    other = other_backend(backend.name)
    xdnn.set_backend(other)
    with xdnn.use_backend(backend.name):
        assert xdnn.get_backend() == backend.name
    assert xdnn.get_backend() == other


def test_set_backend_is_seen_by_other_threads(backend, clean_choice):
    import threading

    xdnn.set_backend(backend.name)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(xdnn.get_backend()))
    thread.start()
    thread.join()
    assert seen == [backend.name]


# --- XDNN_BACKEND and auto ----------------------------------------------------------------------


def test_environment_variable_sets_the_default(monkeypatch, clean_choice):
    name = next((candidate for candidate in OPTIONAL_BACKENDS if available(candidate)), None)
    if name is None:
        pytest.skip("needs torch or array_api_strict installed to tell the variable's choice from the default")
    monkeypatch.setenv("XDNN_BACKEND", f" {name.upper().replace('_', '-')} ")
    assert xdnn.get_backend() == name
    with xdnn.use_backend("numpy"):  # an explicit choice beats the variable
        assert xdnn.get_backend() == "numpy"
    assert xdnn.get_backend() == name


def test_invalid_environment_variable_names_the_variable(monkeypatch, clean_choice):
    monkeypatch.setenv("XDNN_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="XDNN_BACKEND") as raised:
        xdnn.get_backend()
    assert "tensorflow" in str(raised.value)
    assert all(name in str(raised.value) for name in xdnn.BACKEND_NAMES)


def test_auto_is_numpy_without_a_gpu(monkeypatch, clean_choice, no_environment_choice, no_cuda):
    assert _backend.resolve_backend("auto").name == "numpy"
    assert xdnn.get_backend() == "numpy"  # no choice at all means "auto"
    with xdnn.use_backend("auto") as resolved:
        assert resolved.name == "numpy"
        assert xdnn.get_backend() == "numpy"


def test_auto_prefers_cupy_when_a_cuda_device_is_present(monkeypatch):
    monkeypatch.setattr(_backend, "cuda_device_count", lambda: 1)
    assert _backend._resolve_auto() == "cupy"


# --- errors -------------------------------------------------------------------------------------


def test_unknown_backend_lists_the_valid_names(clean_choice):
    for attempt in (xdnn.set_backend, _backend.resolve_backend, lambda name: xdnn.use_backend(name).__enter__()):
        with pytest.raises(ValueError, match="unknown backend 'tensorflow'") as raised:
            attempt("tensorflow")
        assert all(name in str(raised.value) for name in xdnn.BACKEND_NAMES), str(raised.value)
    assert _backend._explicit_choice.get() is None and _backend._process_choice["name"] is None


def test_unknown_backend_is_a_backend_error_and_a_value_error(monkeypatch, clean_choice):
    with pytest.raises(xdnn.BackendError, match="valid backends are"):
        xdnn.set_backend("tensorflow")
    monkeypatch.setenv("XDNN_BACKEND", "tensorflow")
    with pytest.raises(xdnn.BackendError, match="XDNN_BACKEND"):
        xdnn.get_backend()


def test_backend_name_must_be_a_string():
    with pytest.raises(TypeError, match="string"):
        xdnn.set_backend(3)


@pytest.mark.parametrize(
    "name, module, extra",
    [
        ("torch", "torch", "xdnn-array[test]"),
        ("array_api_strict", "array_api_strict", "xdnn-array[test]"),
        ("jax", "jax", "jax[cpu]"),
        ("cupy", "cupy", "xdnn-array[cuda12]"),
    ],
)
def test_missing_library_names_the_pip_extra(monkeypatch, empty_cache, clean_choice, name, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(BackendError, match="not installed") as raised:
        xdnn.set_backend(name)
    message = str(raised.value)
    assert "pip install" in message and extra in message, message
    assert _backend._process_choice["name"] is None  # the failed choice was not kept
    with pytest.raises(BackendError, match="pip install"):
        with xdnn.use_backend(name):
            pass


def test_cupy_without_cuda_device_is_a_clear_error(monkeypatch, empty_cache):
    """A CuPy that imports but finds no CUDA driver (simulated: getDeviceCount raises)."""

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake_cupy = types.ModuleType("cupy")
    fake_cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    assert _backend.cuda_device_count() == 0
    with pytest.raises(BackendError, match="no CUDA device") as raised:
        _backend.resolve_backend("cupy")
    assert "numpy" in str(raised.value)
    assert _backend.resolve_backend("auto").name == "numpy"


def test_real_cupy_without_cuda_is_a_clear_error(empty_cache):
    try:
        import cupy  # noqa: F401
    except Exception:
        pytest.skip("cupy is not installed (or cannot load) here")
    if _backend.cuda_device_count() > 0:
        pytest.skip("cupy is usable here: a CUDA device is present")
    with pytest.raises(BackendError, match="no CUDA device"):
        _backend.resolve_backend("cupy")


def test_backend_repr_names_backend_and_device(backend):
    text = repr(backend)
    assert backend.name in text and str(backend.device) in text


def test_backend_of_namespace_names_each_library(backend):
    assert _backend.backend_of_namespace(backend.xp) == backend.name
    assert _backend.backend_of_namespace(types.ModuleType("tensorflow.experimental.numpy")) == "other"


# --- JAX ----------------------------------------------------------------------------------------


@pytest.fixture
def jax_backend():
    try:
        return _backend.resolve_backend("jax")
    except BackendError as error:
        pytest.skip(f"jax not available here: {error}")


def test_set_backend_jax_gives_jax_numpy_with_float64(jax_backend, clean_choice):
    import array_api_compat
    import jax

    xdnn.set_backend("jax")
    assert xdnn.get_backend() == "jax"
    assert jax_backend.xp is jax.numpy and jax_backend.device == jax.devices()[0]
    assert jax.config.jax_enable_x64, "resolving the jax backend must switch float64 on"
    array = xdnn.asarray([[1.0, 2.0]])
    assert array_api_compat.is_jax_array(array) and array_api_compat.array_namespace(array) is jax.numpy
    assert array.dtype == jax.numpy.float64  # not silently float32
    assert _backend.backend_of_namespace(array_api_compat.array_namespace(array)) == "jax"


def test_auto_never_picks_jax(jax_backend, clean_choice, no_environment_choice, no_cuda):
    assert _backend.resolve_backend("auto").name == "numpy"


# --- each backend's own seeded generator ---------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_generator_same_seed_same_draws(backend, dtype):
    """Same seed, same draws; another seed, other draws; on the backend's device, in ``dtype``."""
    import array_api_compat

    def draws(seed):
        source = _backend.device_generator(backend.name, seed, backend.device)
        if source is None:
            pytest.skip(f"{backend.name} has no generator of its own: DeviceRandom draws on the host")
        _, uniform = source
        return [uniform((4, 5), dtype) for _ in range(2)]

    first, again, other = draws(7), draws(7), draws(8)
    for array in first:
        assert array_api_compat.device(array) == backend.device, backend.name
        assert array.dtype == getattr(backend.xp, dtype), f"{backend.name}: {array.dtype}"
        values = xdnn.to_numpy(array)
        assert values.shape == (4, 5) and np.all((values >= 0) & (values < 1)), backend.name
    for step in range(2):
        np.testing.assert_array_equal(xdnn.to_numpy(first[step]), xdnn.to_numpy(again[step]), err_msg=backend.name)
        assert not np.array_equal(xdnn.to_numpy(first[step]), xdnn.to_numpy(other[step])), backend.name
    assert not np.array_equal(xdnn.to_numpy(first[0]), xdnn.to_numpy(first[1])), f"{backend.name}: a draw repeated"


def test_jax_keys_state_continues_the_stream(jax_backend):
    keys = _backend.JaxKeys(3, jax_backend.device)
    keys.uniform((2,), "float64")
    saved = keys.state
    expected = [xdnn.to_numpy(keys.uniform((3,), "float64")) for _ in range(2)]
    restored = _backend.JaxKeys(99, jax_backend.device)
    restored.state = saved
    for values in expected:
        np.testing.assert_array_equal(xdnn.to_numpy(restored.uniform((3,), "float64")), values)
    for bad in ("abc", [1], [1, -2], [1.5, 2]):
        with pytest.raises(ValueError, match="JAX key state"):
            restored.state = bad
