"""Shared fixtures: every test that takes ``backend`` runs once per selected backend.

Select backends with ``pytest --backend numpy --backend torch`` (nox passes one per
session) or ``XDNN_TEST_BACKENDS=numpy,torch``; by default every installed backend
is used.  A backend that is selected but not usable here is skipped with the reason.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import xdnn
from xdnn._backend import BackendError, resolve_backend

ALL_BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "cupy")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        action="append",
        default=None,
        choices=ALL_BACKENDS,
        help="backend(s) to run the suite on (repeatable); default: all installed",
    )


def _selected_backends(config) -> list[str]:
    chosen = config.getoption("--backend")
    if chosen:
        return list(dict.fromkeys(chosen))
    from_environment = os.environ.get("XDNN_TEST_BACKENDS", "").strip()
    if from_environment:
        return [name.strip() for name in from_environment.split(",") if name.strip()]
    return list(ALL_BACKENDS)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _selected_backends(metafunc.config), indirect=True)


@pytest.fixture(autouse=True)
def restore_process_backend():
    """A test that calls xdnn.set_backend (process-wide) must not change the next test's backend."""
    from xdnn import _backend

    saved = _backend._process_choice["name"]
    yield
    _backend._process_choice["name"] = saved


@pytest.fixture
def fast_paths():
    """Yields a function that turns the fast paths (NumPy, CuPy) on or off; restores the default afterwards."""
    yield xdnn.set_fast_paths
    xdnn.set_fast_paths(True)


@pytest.fixture
def backend(request):
    """The active :class:`xdnn._backend.Backend` for this test (``backend.xp``, ``backend.device``).

    Resolving a backend does its set-up: for JAX, float64 is switched on (``jax_enable_x64``)."""
    name = request.param
    try:
        resolved = resolve_backend(name)
    except BackendError as error:
        pytest.skip(f"backend {name} not available here: {error}")
    with xdnn.use_backend(name):
        yield resolved


@pytest.fixture
def xp(backend):
    """The Array API namespace of the backend under test."""
    return backend.xp


@pytest.fixture
def to_device(backend):
    """Move a NumPy array to the backend under test, keeping its dtype."""

    def move(array):
        return backend.xp.asarray(np.asarray(array), device=backend.device)

    return move
