"""Seeded random streams: host draws for what must match across backends, device draws per step.

* :func:`host_generator` -- NumPy ``Generator`` for shuffles: every backend sees the
  same permutation because it is drawn on the host (one small transfer per epoch).
* :class:`DeviceRandom` -- uniform draws from the backend's *own* seeded generator on
  its device (NumPy ``Generator``, ``cupy.random`` generator, ``torch.Generator``), so
  per-step dropout masks are never copied from the host.  Libraries without a
  generator (array-api-strict is CPU-only) fall back to a host draw.
* :class:`HostRandom` -- the same interface drawing on the host: identical masks on
  every backend, for reproducibility tests and gradient checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xdnn._backend import backend_of_namespace


def seed_sequence(seed: int | None, stream: int) -> np.random.SeedSequence:
    """Independent child stream ``stream`` of ``SeedSequence(seed)`` (init, shuffle, dropout...)."""
    return np.random.SeedSequence(seed).spawn(stream + 1)[stream]


def host_generator(seed: int | None, stream: int) -> np.random.Generator:
    """A NumPy ``Generator`` on child stream ``stream`` of ``seed``."""
    return np.random.default_rng(seed_sequence(seed, stream))


def _seed_integer(seed: int | None, stream: int) -> int:
    return int(seed_sequence(seed, stream).generate_state(1, dtype=np.uint32)[0])


def _dtype_name(dtype: Any) -> str:
    return "float32" if "32" in str(dtype) else "float64"


class HostRandom:
    """Uniform ``[0, 1)`` draws made on the host and moved: the same numbers on every backend."""

    def __init__(self, context: Any, seed: int | None, stream: int = 2) -> None:
        self.context = context
        self.generator = host_generator(seed, stream)

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        values = self.generator.random(shape, dtype=np.float64).astype(_dtype_name(dtype))
        return self.context.asarray(values)


class DeviceRandom:
    """Uniform ``[0, 1)`` draws from the backend's own seeded generator, on its device."""

    def __init__(self, context: Any, seed: int | None, stream: int = 2) -> None:
        self.context = context
        self.backend = backend_of_namespace(context.xp)
        integer_seed = _seed_integer(seed, stream)
        if self.backend == "numpy":
            self._generator = np.random.default_rng(integer_seed)
        elif self.backend == "cupy":
            import cupy

            self._generator = cupy.random.default_rng(integer_seed)
        elif self.backend == "torch":
            import torch

            self._generator = torch.Generator(device=context.device)
            self._generator.manual_seed(integer_seed)
        else:
            self._generator = HostRandom(context, seed, stream)

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        if self.backend in ("numpy", "cupy"):
            return self._generator.random(shape, dtype=_dtype_name(dtype))
        if self.backend == "torch":
            import torch

            return torch.rand(shape, generator=self._generator, device=self.context.device, dtype=dtype)
        return self._generator.uniform(shape, dtype)
