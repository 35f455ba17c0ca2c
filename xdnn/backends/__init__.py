"""Backend executors: one module per backend that runs some of xdnn's definitions faster.

* :mod:`xdnn.backends.numpy` -- NumPy's cheaper entry points, in-place activations, row-padded
  products; with :mod:`xdnn.backends.numpy_threads` (a batch split across cores) and
  :mod:`xdnn.backends.glibc_heap` (freed blocks kept for the next step);
* :mod:`xdnn.backends.cupy` -- fused CuPy kernels; with :mod:`xdnn.backends.cuda_graph` (a whole
  training step recorded once and replayed);
* :mod:`xdnn.backends.jax` -- a step's gradients and its optimizer update compiled by ``jax.jit``
  (JAX otherwise compiles every operation on its own, for every new shape).

Each module registers its executors against the portable definitions they run
(:func:`xdnn.executors.register`) when it is imported; :func:`backend_of` imports the one a
namespace needs on first use, so a CPU-only ``import xdnn`` never loads CuPy.  This package is the
only place that tells one array namespace from another for the sake of speed.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import array_api_compat

# backend name -> (test on a namespace, module that registers its executors)
_BACKENDS = {
    "numpy": (array_api_compat.is_numpy_namespace, "xdnn.backends.numpy"),
    "cupy": (array_api_compat.is_cupy_namespace, "xdnn.backends.cupy"),
    "jax": (array_api_compat.is_jax_namespace, "xdnn.backends.jax"),
}


@functools.lru_cache(maxsize=None)
def backend_of(xp: Any) -> str | None:
    """The name of the backend whose executors apply to namespace ``xp`` (its module imported), or ``None``."""
    for name, (applies, module) in _BACKENDS.items():
        if applies(xp):
            importlib.import_module(module)
            return name
    return None


def load_all() -> None:
    """Import every backend module (their executors registered); none of them needs its library to import."""
    for _, module in _BACKENDS.values():
        importlib.import_module(module)
