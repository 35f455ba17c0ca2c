"""Backend registry: the only module that knows backend names.

A *backend* is an Array API library plus the device xdnn allocates on.  The
active backend is chosen, in order of precedence, by

1. :func:`use_backend` (a context manager, for the current context), then
   :func:`set_backend` (for the whole process);
2. the environment variable ``XDNN_BACKEND``;
3. ``"auto"``: CuPy when it imports and a CUDA device is present, else NumPy.

Optional libraries (CuPy, PyTorch, JAX, array-api-strict) are imported lazily, the
first time a backend that needs them is resolved, so ``import xdnn`` stays
cheap on a CPU-only machine.  This module also builds each backend's own seeded
random generator (:func:`device_generator`), so no other module asks which
backend it is on.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib
import math
import os
from typing import Any, Callable, Iterator

BACKEND_NAMES = ("auto", "numpy", "cupy", "torch", "jax", "array_api_strict")
ENVIRONMENT_VARIABLE = "XDNN_BACKEND"

# The distribution's name on the package index (`xdnn` there is an unrelated project); the import
# name and the command stay `xdnn`.
DIST_NAME = "xdnn-array"

INSTALL_HINTS = {
    "numpy": "pip install numpy",
    "cupy": (
        'pip install "xdnn-array[cuda12]" (CUDA 12) or pip install "xdnn-array[cuda13]" (CUDA 13); '
        'from a source checkout, pip install ".[cuda12]" or ".[cuda13]"'
    ),
    "torch": 'pip install "torch==2.13.0" (or pip install "xdnn-array[test]")',
    "jax": 'pip install "jax[cpu]" (or pip install "xdnn-array[test]"; "jax[cuda12]" for its NVIDIA GPU)',
    "array_api_strict": 'pip install array-api-strict (or pip install "xdnn-array[test]")',
}


class BackendError(RuntimeError):
    """A backend was asked for that is unknown, not installed or unusable."""


class UnknownBackendError(BackendError, ValueError):
    """A backend name that is not one of :data:`BACKEND_NAMES` (also a ``ValueError``)."""


@dataclasses.dataclass(frozen=True)
class Backend:
    """A resolved backend: its name, Array API namespace ``xp`` and default device."""

    name: str
    xp: Any
    device: Any

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={str(self.device)!r})"  # str: JAX's repr is CpuDevice(id=0)


_explicit_choice: contextvars.ContextVar[str | None] = contextvars.ContextVar("xdnn_backend", default=None)
_resolved_cache: dict[str, Backend] = {}
# set_backend() is process-wide (it must survive between notebook cells, which do not all keep
# context variables); use_backend() overrides it in the current context only.
_process_choice: dict[str, str | None] = {"name": None}


def validate_backend_name(name: str) -> str:
    """Return ``name`` normalised (lower case, ``-`` as ``_``) or raise :class:`UnknownBackendError`."""
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a string, got {type(name).__name__}")
    normalised = name.strip().lower().replace("-", "_")
    if normalised not in BACKEND_NAMES:
        raise UnknownBackendError(f"unknown backend {name!r}; valid backends are: {', '.join(BACKEND_NAMES)}")
    return normalised


def _import_optional(module_name: str, backend_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise BackendError(
            f"backend {backend_name!r} is not installed ({error}); install it with: {INSTALL_HINTS[backend_name]}"
        ) from error


def cuda_device_count() -> int:
    """Number of CUDA devices CuPy can see; 0 when CuPy or CUDA is missing."""
    try:
        import cupy
    except Exception:  # ImportError, or a CUDA library that fails to load
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def _build_backend(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", numpy_namespace(), "cpu")
    if name == "cupy":
        cupy = _import_optional("cupy", "cupy")
        if cuda_device_count() == 0:
            raise BackendError(
                "backend 'cupy' is installed but no CUDA device is available; "
                "use backend 'numpy' (or 'auto') on this machine"
            )
        import array_api_compat.cupy as xp

        return Backend("cupy", xp, cupy.cuda.Device())
    if name == "torch":
        torch = _import_optional("torch", "torch")
        import array_api_compat.torch as xp

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return Backend("torch", xp, device)
    if name == "jax":
        jax = _import_optional("jax", "jax")
        # xdnn trains in float64 too: without x64 JAX silently makes every float64 array float32.
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as xp  # implements the Array API standard itself: no compat wrapper

        return Backend("jax", xp, jax.devices()[0])
    if name == "array_api_strict":
        xp = _import_optional("array_api_strict", "array_api_strict")
        return Backend("array_api_strict", xp, xp.Device("CPU_DEVICE"))
    raise AssertionError(name)  # pragma: no cover - names are validated first


def numpy_namespace() -> Any:
    """The namespace for NumPy arrays: NumPy itself where it implements the Array API
    standard (NumPy >= 2.1: no wrapper cost per call), else ``array_api_compat.numpy``."""
    import numpy  # noqa: TID251 - the namespace object itself, not a call on arrays

    major, minor = (int(part) for part in numpy.__version__.split(".")[:2])
    if (major, minor) >= (2, 1):
        return numpy
    import array_api_compat.numpy as compat

    return compat


def _resolve_auto() -> str:
    return "cupy" if cuda_device_count() > 0 else "numpy"


def resolve_backend(name: str) -> Backend:
    """Return the :class:`Backend` for ``name`` (``"auto"`` included), importing it if needed."""
    name = validate_backend_name(name)
    if name == "auto":
        name = _resolve_auto()
    backend = _resolved_cache.get(name)
    if backend is None:
        backend = _build_backend(name)
        _resolved_cache[name] = backend
    return backend


def _requested_name() -> str:
    explicit = _explicit_choice.get()
    if explicit is not None:
        return explicit
    if _process_choice["name"] is not None:
        return _process_choice["name"]
    from_environment = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if from_environment:
        try:
            return validate_backend_name(from_environment)
        except ValueError as error:
            raise UnknownBackendError(f"{ENVIRONMENT_VARIABLE}: {error}") from None
    return "auto"


def active_backend() -> Backend:
    """The :class:`Backend` new host data is moved to."""
    return resolve_backend(_requested_name())


def get_backend() -> str:
    """Name of the active backend, with ``"auto"`` resolved (e.g. ``"numpy"``).

    >>> import xdnn
    >>> with xdnn.use_backend("numpy"):
    ...     xdnn.get_backend()
    'numpy'
    """
    return active_backend().name


def set_backend(name: str) -> None:
    """Make ``name`` the active backend for the whole process (it overrides ``XDNN_BACKEND``).

    ``name`` is one of ``auto``, ``numpy``, ``cupy``, ``torch``, ``jax``, ``array_api_strict``.
    The backend is imported immediately, so a missing library is reported here
    (with the command that installs it) rather than in the middle of training.
    Inside a :func:`use_backend` block, that block's backend still wins.
    """
    name = validate_backend_name(name)
    resolve_backend(name)
    _process_choice["name"] = name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Context manager that activates ``name`` and restores the previous choice on exit.

    >>> import xdnn
    >>> with xdnn.use_backend("numpy") as backend:
    ...     backend.name
    'numpy'
    """
    name = validate_backend_name(name)
    backend = resolve_backend(name)
    token = _explicit_choice.set(name)
    try:
        yield backend
    finally:
        _explicit_choice.reset(token)


def backend_of_namespace(xp: Any) -> str:
    """Backend name of an Array API namespace module (``"other"`` when unknown)."""
    parts = getattr(xp, "__name__", "").split(".")
    # The library is the top-level package (jax.numpy is JAX), or the wrapped one of array_api_compat.
    library = parts[-1] if parts[0] == "array_api_compat" else parts[0]
    return library if library in BACKEND_NAMES[1:] else "other"


# --- each backend's own seeded generator (per-step dropout masks) ---------------------------------

Uniform = Callable[[tuple[int, ...], str], Any]


class JaxKeys:
    """JAX's generator: a ``jax.random`` key on ``device``, split once per draw (JAX keeps no state).

    ``state`` (the key's data, a list of integers) is what a model file keeps to continue the stream.
    """

    def __init__(self, seed: int, device: Any) -> None:
        import jax

        self.key = jax.device_put(jax.random.key(seed), device)

    def uniform(self, shape: tuple[int, ...], dtype_name: str) -> Any:
        import jax

        self.key, subkey = jax.random.split(self.key)
        return jax.random.uniform(subkey, shape, getattr(jax.numpy, dtype_name))

    @property
    def state(self) -> list[int]:
        import jax

        return [int(word) for word in jax.device_get(jax.random.key_data(self.key)).ravel()]

    @state.setter
    def state(self, words: list[int]) -> None:
        import jax
        import jax.numpy as jnp

        shape = jax.random.key_data(self.key).shape
        if (
            not isinstance(words, list)
            or len(words) != math.prod(shape)
            or not all(type(word) is int and 0 <= word < 2**32 for word in words)
        ):
            raise ValueError(f"a JAX key state is a list of {math.prod(shape)} unsigned 32-bit integers, got {words!r}")
        data = jnp.asarray(words, dtype=jnp.uint32, device=self.key.device).reshape(shape)
        self.key = jax.random.wrap_key_data(data, impl=jax.random.key_impl(self.key))


def device_generator(name: str, seed: int, device: Any) -> tuple[Any, Uniform] | None:
    """Backend ``name``'s own generator seeded with ``seed`` on ``device``, and its uniform ``[0, 1)`` draw
    ``uniform(shape, "float32" | "float64")``: NumPy's ``default_rng``, CuPy's ``default_rng``, a
    ``torch.Generator``, JAX keys (:class:`JaxKeys`).  ``None`` for a library without one
    (array-api-strict): the caller then draws on the host."""
    if name == "numpy":
        import numpy  # noqa: TID251 - NumPy's own generator

        generator = numpy.random.default_rng(seed)
        return generator, lambda shape, dtype_name: generator.random(shape, dtype=dtype_name)
    if name == "cupy":
        import cupy

        generator = cupy.random.default_rng(seed)
        return generator, lambda shape, dtype_name: generator.random(shape, dtype=dtype_name)
    if name == "torch":
        import torch

        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        return generator, lambda shape, dtype_name: torch.rand(
            shape, generator=generator, device=device, dtype=getattr(torch, dtype_name)
        )
    if name == "jax":
        keys = JaxKeys(seed, device)
        return keys, keys.uniform
    return None
