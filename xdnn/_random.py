"""Seeded random streams: host draws for what must match across backends, device draws per step.

* :func:`host_generator` -- NumPy ``Generator`` for shuffles: every backend sees the
  same permutation because it is drawn on the host (one small transfer per epoch).
* :class:`DeviceRandom` -- uniform draws from the backend's *own* seeded generator on
  its device (NumPy ``Generator``, ``cupy.random`` generator, ``torch.Generator``, a JAX
  key split per draw), so per-step dropout masks are never copied from the host.
  Libraries without a generator (array-api-strict is CPU-only) fall back to a host draw.
* :class:`HostRandom` -- the same interface drawing on the host: identical masks on
  every backend, for reproducibility tests and gradient checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xdnn._backend import backend_of_namespace, device_generator


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
    """Uniform ``[0, 1)`` draws from the backend's own seeded generator, on its device
    (see :func:`xdnn._backend.device_generator`); a host draw where the library has none."""

    def __init__(self, context: Any, seed: int | None, stream: int = 2) -> None:
        self.context = context
        self.backend = backend_of_namespace(context.xp)
        source = device_generator(self.backend, _seed_integer(seed, stream), context.device)
        if source is None:
            self._generator: Any = HostRandom(context, seed, stream)
            self._draw = self._generator.uniform  # it takes a dtype name too
        else:
            self._generator, self._draw = source

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self._draw(shape, _dtype_name(dtype))
