"""Data-parallel NumPy training steps: a large batch's samples split across the CPU's cores.

OpenBLAS runs each product of a NumPy training step on every core, and NumPy's elementwise work
runs on one.  On a narrow network neither uses the cores well: deep-narrow's (64, 64) x (64, 8192)
products take 0.55-0.6 of their single-core time on two cores, and its relu, bias and cost work
leaves the second core idle.  Splitting the batch's ``m`` samples into ``S`` slices instead, one
thread each, with single-threaded BLAS in every thread, keeps each core on its own slice's forward
and backward from start to end.  Each slice ``s`` of ``m_s`` samples gives its own mean cost and
gradients (``dW_s = dZ_s A_s^T / m_s``), and the batch's are their means weighted by slice size:

    J = sum_s (m_s / m) J_s,        dW = sum_s (m_s / m) dW_s,        db = sum_s (m_s / m) db_s

the same sums as the whole batch's, added in another order (float32 gradients agree to about
1e-7 relative).  The split is fixed by ``m`` and the thread count, so a seeded fit repeats bit for
bit with the same thread count (``XDNN_NUM_THREADS=1``: the same bits on any machine).  ``A``
(the output activations) is the slices' outputs side by side.

Only a step that splits exactly is split: a network of :class:`xdnn.Dense` and
:class:`xdnn.Activation` layers (batch normalisation's statistics and dropout's masks are the
whole batch's) with a built-in loss, without sample weights, on NumPy with fast paths on; and
only a large one, with a slice for every thread of at least :data:`MIN_SLICE_SAMPLES` samples
and :data:`MIN_SLICE_MULTIPLY_ADDS` a layer.  BLAS's thread count is set to one through
OpenBLAS's own ``openblas_set_num_threads`` (found among the process's loaded libraries, Linux
only, pthreads builds: process-wide, so another thread's BLAS work runs single-threaded during a
split step too) and put back after the step; where no such OpenBLAS is found (NumPy on MKL or
Accelerate, an OpenMP build of OpenBLAS) steps are not split.  ``XDNN_NUM_THREADS`` (or
:func:`set_num_threads`) caps the threads; ``1`` turns splitting off.  The default is the cores
this process may run on, no more than OpenBLAS's own thread count (so ``OPENBLAS_NUM_THREADS=1``
also turns it off); on more than :data:`MAX_THREADS` cores steps are not split unless a cap asks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import ctypes
import functools
import math
import os
import sys
import threading
from typing import Any, Callable, Iterator, NamedTuple

import numpy

# A slice has at least this many samples.  The cat classifier's 209 samples (12288 features) ran
# 1.2x slower split in two: its first product, long in n_features, is one BLAS already spreads well.
MIN_SLICE_SAMPLES = 1024
# ... and at least this many multiply-adds a layer (mean n_in * n_out over the Dense layers, times the
# slice's samples): below it per-call costs and the interpreter lock outweigh the split.
MIN_SLICE_MULTIPLY_ADDS = 3 << 20
# Slice boundaries fall on a multiple of this many samples: a feature-major slice's rows then
# start on a cache line (16 float32).
SLICE_ALIGNMENT = 16
# The most cores a step is split across by default (measured on two cores only): beyond them BLAS's
# own threads are left to the step.
MAX_THREADS = 8

_SETTING: dict[str, int | None] = {"threads": None}


def _threads_from_environment() -> int | None:
    value = os.environ.get("XDNN_NUM_THREADS", "").strip()
    if not value:
        return None
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"XDNN_NUM_THREADS must be a whole number of threads, got {value!r}") from None
    if threads < 1:
        raise ValueError(f"XDNN_NUM_THREADS must be at least 1, got {threads}")
    return threads


def set_num_threads(threads: int | None) -> None:
    """Cap the threads a NumPy training step's samples are split across (:mod:`xdnn.backends.numpy_threads`);
    ``1`` runs every step on one thread (BLAS still uses its own threads), ``None`` restores the
    default: the cores this process may use, at most OpenBLAS's thread count."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise TypeError(f"threads must be an int of at least 1 or None, got {type(threads).__name__} {threads!r}")
        if threads < 1:
            raise ValueError(f"threads must be at least 1 (or None for the default), got {threads}")
    _SETTING["threads"] = threads


def get_num_threads() -> int:
    """The most threads a NumPy training step is split across now (1: none is split).  A step is split
    only where it splits exactly and is large enough (see :mod:`xdnn.backends.numpy_threads`)."""
    return available_threads()


class OpenBlas(NamedTuple):
    """One loaded OpenBLAS library's thread-count getter and setter."""

    get_threads: Callable[[], int]
    set_threads: Callable[[int], None]


# The symbol names' prefix and suffix: NumPy's own scipy-openblas (ILP64 and LP64), a system OpenBLAS.
_NAMINGS = (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", "64_"), ("openblas_", ""))
# openblas_get_parallel()'s answer for a build whose threads are its own pthreads: its thread count
# is one process-wide number, which the calling thread sets for every other (an OpenMP build reads
# each calling thread's OpenMP setting instead, and a sequential one has no threads to hold back).
PTHREADS_BUILD = 1


def _loaded_library_paths() -> list[str]:
    """The paths of the shared libraries this process has loaded whose name mentions OpenBLAS."""
    try:
        with open("/proc/self/maps") as maps:
            fields = [line.split(maxsplit=5) for line in maps]
    except OSError:
        return []
    paths = {entry[5].strip() for entry in fields if len(entry) == 6}
    return sorted(path for path in paths if "openblas" in os.path.basename(path).lower())


def _thread_controls(library: Any) -> tuple[OpenBlas | None, int | None]:
    """``(controls, parallel)`` of one loaded OpenBLAS: its thread-count functions and
    ``openblas_get_parallel()``'s answer, or ``(None, None)`` for a library without them."""
    for prefix, suffix in _NAMINGS:
        names = ("set_num_threads", "get_num_threads", "get_parallel")
        functions = [getattr(library, f"{prefix}{name}{suffix}", None) for name in names]
        if None in functions:
            continue
        setter, getter, get_parallel = functions
        setter.argtypes, setter.restype = (ctypes.c_int,), None
        getter.argtypes, getter.restype = (), ctypes.c_int
        get_parallel.argtypes, get_parallel.restype = (), ctypes.c_int
        return OpenBlas(getter, setter), get_parallel()
    return None, None


@functools.lru_cache(maxsize=1)
def openblas_libraries() -> tuple[OpenBlas, ...]:
    """Every OpenBLAS loaded in this process (NumPy's among them), found once: ``()`` off Linux, or
    when any of them is not a pthreads build (an OpenMP one is not held to one thread this way)."""
    if not sys.platform.startswith("linux"):
        return ()
    libraries = []
    for path in _loaded_library_paths():
        try:  # RTLD_NOLOAD: a handle to the library already loaded, never a second copy
            library = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:
            continue
        controls, parallel = _thread_controls(library)
        if controls is None:
            continue
        if parallel != PTHREADS_BUILD:
            return ()
        libraries.append(controls)
    return tuple(libraries)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_threads() -> int:
    """Threads a step is split across: the usable cores, at most every OpenBLAS's thread count and
    the :func:`set_num_threads` / ``XDNN_NUM_THREADS`` cap; 1 (not split) when no OpenBLAS is
    controlled, or when that leaves more than :data:`MAX_THREADS` without a cap (a step of one
    slice a core would hold BLAS back on more cores than measured)."""
    libraries = openblas_libraries()
    if not libraries:
        return 1
    cap = _SETTING["threads"] if _SETTING["threads"] is not None else _threads_from_environment()
    threads = min(_usable_cores(), *(library.get_threads() for library in libraries))
    if cap is not None:
        return max(1, min(threads, cap))
    return threads if threads <= MAX_THREADS else 1


def min_slice_samples(multiply_adds_per_sample: float) -> int:
    """The fewest samples of a slice of a network whose layers average ``multiply_adds_per_sample``
    (``n_in * n_out``) a sample: :data:`MIN_SLICE_SAMPLES`, or more to reach :data:`MIN_SLICE_MULTIPLY_ADDS`."""
    return max(MIN_SLICE_SAMPLES, math.ceil(MIN_SLICE_MULTIPLY_ADDS / max(multiply_adds_per_sample, 1.0)))


def slice_bounds(m: int, threads: int, min_samples: int = MIN_SLICE_SAMPLES) -> tuple[int, ...] | None:
    """``(0, b_1, ..., m)``: the boundaries of ``m`` samples split into one slice for each of the
    ``threads``, about equal (inner boundaries a multiple of :data:`SLICE_ALIGNMENT`); ``None`` for
    one thread, or when a slice would have fewer than about ``min_samples`` (BLAS's own threads,
    which a split holds back, would then be idle on the cores without a slice)."""
    slices = threads
    if slices < 2 or m // min_samples < slices:
        return None
    inner = ((m * s // slices) // SLICE_ALIGNMENT * SLICE_ALIGNMENT for s in range(1, slices))
    return (0, *inner, m)


def _set_threads(libraries: tuple[OpenBlas, ...], counts: list[int]) -> None:
    for library, count in zip(libraries, counts, strict=True):
        library.set_threads(count)


# Split steps running now (fits in several threads of the caller's) and BLAS's thread counts from
# before the first of them: the last to end puts those back, not a count another step had set.
_SINGLE_THREADED = {"steps": 0, "previous": []}
_SINGLE_THREADED_LOCK = threading.Lock()


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS (every one of :func:`openblas_libraries`) on one thread for the ``with`` block,
    process-wide (a pthreads OpenBLAS has one thread count), then as before."""
    libraries = openblas_libraries()
    with _SINGLE_THREADED_LOCK:
        if _SINGLE_THREADED["steps"] == 0:
            _SINGLE_THREADED["previous"] = [library.get_threads() for library in libraries]
        _SINGLE_THREADED["steps"] += 1
        _set_threads(libraries, [1] * len(libraries))
    try:
        yield
    finally:
        with _SINGLE_THREADED_LOCK:
            _SINGLE_THREADED["steps"] -= 1
            if _SINGLE_THREADED["steps"] == 0:
                _set_threads(libraries, _SINGLE_THREADED["previous"])


def _weighted_sum(parts: list[Any], weights: list[float]) -> Any:
    """``sum_s weights[s] * parts[s]``, overwriting the parts (fresh arrays of the slices)."""
    total = parts[0]
    total *= weights[0]
    for part, weight in zip(parts[1:], weights[1:], strict=True):
        part *= weight
        total += part
    return total


class SplitSteps:
    """Runs a training step's ``gradients(Xt, Yt) -> (cost, A, grads)`` on slices of the batch's
    samples, one thread each (see the module docstring); made for one fit, then :meth:`close`\\ d."""

    def __init__(self, threads: int, min_samples: int = MIN_SLICE_SAMPLES) -> None:
        self.threads, self.min_samples = threads, min_samples
        self._pool = concurrent.futures.ThreadPoolExecutor(threads - 1, thread_name_prefix="xdnn-step")

    @classmethod
    def for_batches(cls, batch_samples: int, multiply_adds_per_sample: float) -> "SplitSteps | None":
        """A runner when batches of ``batch_samples`` samples of a network whose layers average
        ``multiply_adds_per_sample`` split across the available threads, else ``None``."""
        threads = available_threads()
        min_samples = min_slice_samples(multiply_adds_per_sample)
        if slice_bounds(batch_samples, threads, min_samples) is None:
            return None
        return cls(threads, min_samples)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"SplitSteps(threads={self.threads}, min_samples={self.min_samples})"

    def run(self, gradients: Callable[[Any, Any], tuple[Any, Any, dict[str, Any]]], Xt: Any, Yt: Any):
        """``(cost, A, grads)`` of the ``(n, m)`` batch ``Xt`` with targets ``Yt`` from its slices'
        (weighted means; ``A`` side by side), or ``None`` when ``m`` is too small to split."""
        m = Xt.shape[1]
        bounds = slice_bounds(m, self.threads, self.min_samples)
        if bounds is None:
            return None
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        with _single_threaded_blas():
            futures = []
            try:
                for start, stop in spans[1:]:
                    # in a copy of the caller's context: NumPy's errstate (a context variable) holds there too
                    context = contextvars.copy_context()
                    futures.append(self._pool.submit(context.run, gradients, Xt[:, start:stop], Yt[:, start:stop]))
                first = gradients(Xt[:, : spans[0][1]], Yt[:, : spans[0][1]])
            finally:  # every slice finishes before BLAS's threads are put back, even after an error
                concurrent.futures.wait(futures)
            results = [first, *(future.result() for future in futures)]
        weights = [(stop - start) / m for start, stop in spans]
        cost = sum(result[0] * weight for result, weight in zip(results, weights, strict=True))
        A = numpy.concatenate([result[1] for result in results], axis=1)
        grads = {name: _weighted_sum([result[2][name] for result in results], weights) for name in first[2]}
        return cost, A, grads
