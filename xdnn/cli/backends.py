"""Which backend a command runs on (``--backend``, else ``XDNN_BACKEND``), and what ``xdnn info`` says
of each backend: installed or not, available or not, on which device."""

from __future__ import annotations

import argparse

from xdnn._backend import INSTALL_HINTS, BackendError, get_backend, resolve_backend
from xdnn.cli.errors import InputError


def backend_name(arguments: argparse.Namespace) -> str:
    """``--backend``, else xdnn's process default (``XDNN_BACKEND``, else ``auto``), resolved."""
    if arguments.backend is not None:
        return arguments.backend
    try:
        return get_backend()
    except ValueError as error:  # an invalid XDNN_BACKEND
        raise InputError(f"{error} (or pass --backend)") from None


def describe_active() -> str:
    """The backend xdnn uses by default, and its device, or why it is unavailable."""
    from xdnn._backend import active_backend

    try:
        backend = active_backend()
    except (BackendError, ValueError) as error:
        return f"unavailable ({error})"
    return f"{backend.name} (device {backend.device})"


def describe_backend(name: str) -> str:
    """Whether backend ``name`` is installed (which version), available, and on which device."""
    import importlib

    try:
        module = importlib.import_module(name)  # every backend is named after the library it imports
    except ImportError:
        return f"not installed ({INSTALL_HINTS[name]})"
    except Exception as error:  # e.g. a CuPy whose CUDA libraries fail to load
        return f"installed but fails to import: {type(error).__name__}: {error}"
    version = getattr(module, "__version__", "?")
    try:
        backend = resolve_backend(name)
    except BackendError as error:
        return f"installed {version}, not available: {error}"
    device = backend.device
    if name == "cupy":
        try:
            properties = module.cuda.runtime.getDeviceProperties(device.id)
            device = f"{properties['name'].decode()} (cuda:{device.id})"
        except Exception:
            pass
    if name == "torch":
        extra = f", CUDA {module.version.cuda}" if module.version.cuda else ", CPU build"
        return f"installed {version}{extra}, available, device {device}"
    return f"installed {version}, available, device {device}"
