"""Resolve the array namespace once at an API boundary and move host data once.

Rules (the same as scikit-learn's Array API support):

* arrays that already belong to an Array API library other than NumPy
  (CuPy, PyTorch, JAX, array-api-strict, ...) decide the namespace and device;
* host data -- Python scalars, lists, NumPy arrays -- belongs to no backend and
  is moved to the decided namespace (or the active backend) once, here;
* arrays from two different libraries, or from two devices, in one call are an
  error that says so.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import array_api_compat
import numpy as np

from xdnn._backend import BACKEND_NAMES, active_backend, backend_of_namespace, numpy_namespace, resolve_backend


class BackendMismatchError(TypeError):
    """Arrays of two different backends or devices were mixed in one call."""


@dataclasses.dataclass(frozen=True)
class ArrayContext:
    """Where a computation happens: Array API namespace ``xp`` and ``device``."""

    xp: Any
    device: Any

    @property
    def backend_name(self) -> str:
        return backend_of_namespace(self.xp)

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """``data`` as an array of this namespace/device (no copy when it already is one)."""
        return to_backend(data, self, dtype=dtype)


# The sparse libraries xdnn takes ``X`` from (:mod:`xdnn.sparse_input`), each looked up only once it is loaded.
SPARSE_MODULES = ("scipy.sparse", "cupyx.scipy.sparse")


def sparse_library(value: Any) -> str | None:
    """``"scipy.sparse"`` or ``"cupyx.scipy.sparse"`` for a sparse matrix or array of that library, else
    ``None`` (neither library is imported here: a value of one exists only once it is loaded)."""
    for name in SPARSE_MODULES:
        module = sys.modules.get(name)
        if module is not None and module.issparse(value):
            return name
    return None


def is_sparse(value: Any) -> bool:
    """True for a ``scipy.sparse`` or ``cupyx.scipy.sparse`` matrix or array."""
    return sparse_library(value) is not None


def is_host_data(value: Any) -> bool:
    """True for data that belongs to no accelerator library: scalars, sequences, NumPy arrays and
    ``scipy.sparse`` matrices (a ``cupyx.scipy.sparse`` one belongs to CuPy)."""
    if isinstance(value, (np.ndarray, np.generic, list, tuple, int, float, bool)):
        return True
    library = sparse_library(value)
    if library is not None:
        return library == "scipy.sparse"
    return not array_api_compat.is_array_api_obj(value)


def array_context(*values: Any) -> ArrayContext:
    """Resolve ``(xp, device)`` once from the arguments of a public call.

    ``None`` and host data are ignored; when only host data is given the active
    backend decides.  Raises :class:`BackendMismatchError` for mixed backends or
    devices.
    """
    # (a sparse matrix of an accelerator's library stands for its stored values: their namespace and device)
    backend_arrays = [v.data if is_sparse(v) else v for v in values if v is not None and not is_host_data(v)]
    if not backend_arrays:
        backend = active_backend()
        return ArrayContext(backend.xp, backend.device)
    try:
        xp = array_api_compat.array_namespace(*backend_arrays)
    except TypeError as error:
        names = sorted({type(v).__module__.split(".")[0] + "." + type(v).__name__ for v in backend_arrays})
        raise BackendMismatchError(
            "arrays from different backends were mixed in one call "
            f"({', '.join(names)}); move them to one backend first, "
            "e.g. with xdnn.asarray(...) or xdnn.to_numpy(...)"
        ) from error
    devices = []
    for value in backend_arrays:
        device = array_api_compat.device(value)
        if all(device != seen for seen in devices):
            devices.append(device)
    if len(devices) > 1:
        raise BackendMismatchError(
            f"input arrays use different devices ({', '.join(str(d) for d in devices)}); move them to one device first"
        )
    if array_api_compat.is_numpy_namespace(xp):
        xp = numpy_namespace()
    name = backend_of_namespace(xp)
    if name in BACKEND_NAMES:
        resolve_backend(name)  # the backend's one-time set-up (JAX: float64 on), cached after the first call
    return ArrayContext(xp, devices[0])


def _host_array(data: Any) -> np.ndarray:
    array = np.asarray(data)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(
            f"expected numeric data, got an array of dtype {array.dtype} "
            "(strings or mixed objects cannot be trained on)"
        )
    return array


def to_backend(data: Any, context: ArrayContext, dtype: Any = None) -> Any:
    """Move ``data`` to ``context`` once, optionally casting to ``dtype`` of that namespace."""
    xp = context.xp
    if is_host_data(data):
        host = _host_array(data)
        # A PyTorch tensor cannot be read-only: sharing a read-only NumPy array's memory (a memmap
        # opened "r", a broadcast view) would warn and hand out writable memory, so it is copied.
        copy = True if not host.flags.writeable and array_api_compat.is_torch_namespace(xp) else None
        array = xp.asarray(host, device=context.device, copy=copy)
    elif array_api_compat.is_torch_array(data) and data.requires_grad:
        array = data.detach()  # xdnn computes its own gradients: an autograd graph would only grow
    else:
        array = data
    if dtype is not None and array.dtype != dtype:
        array = xp.astype(array, dtype)
    return array


def to_numpy(value: Any) -> Any:
    """Bring an array (or a dict of arrays) from any backend home as NumPy.

    A CPU array of a library that shares its memory (JAX, through DLPack) comes back as a
    read-only view when the library's arrays are immutable: copy it (``numpy.array``) to write.

    >>> import xdnn
    >>> xdnn.to_numpy([1.0, 2.0])
    array([1., 2.])
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: to_numpy(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value
    if is_host_data(value):
        return np.asarray(value)
    if array_api_compat.is_cupy_array(value):
        return value.get()
    if array_api_compat.is_torch_array(value):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    try:
        return np.from_dlpack(value)
    except Exception:  # libraries without CPU DLPack export
        return np.asarray(value)


# The name portable code uses: it moves data to the host, whatever backend it is on.
to_host = to_numpy


def asarray(data: Any, dtype: Any = None) -> Any:
    """Move ``data`` to the active backend (see :func:`xdnn.set_backend`).

    ``dtype`` may be a dtype of that namespace or a name such as ``"float32"``.
    """
    backend = active_backend()
    context = ArrayContext(backend.xp, backend.device)
    if isinstance(dtype, str):
        dtype = resolve_dtype(dtype, context.xp)
    if not is_host_data(data):
        data = to_numpy(data)
    return to_backend(data, context, dtype=dtype)


def floating_dtype_name(dtype: Any) -> str:
    """``"float32"`` or ``"float64"`` from a name or a dtype object of any library."""
    text = str(getattr(dtype, "__name__", dtype)).split(".")[-1]
    if text in ("float32", "float64"):
        return text
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


def resolve_dtype(name: Any, xp: Any) -> Any:
    """A floating dtype of ``xp`` from a name (``"float32"``/``"float64"``) or dtype object."""
    if name is None:
        return None
    return getattr(xp, floating_dtype_name(name))
