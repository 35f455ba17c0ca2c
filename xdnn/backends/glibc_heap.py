"""glibc's heap kept between NumPy training steps, so a step's large arrays reuse warm memory.

A training step allocates its activations and gradients (deep-narrow's are 2 MB each), and frees
them all when it ends.  glibc then finds the top of its heap free and, above its *trim threshold*,
hands that memory back to the kernel; the next step asks for it again, and every 4 KiB page of it
is faulted in and zero-filled anew.  On a (64, 8192) network of 11 layers that was about 4,400 page
faults and 6 ms of a 25 ms step.  Whether it happens depends on the process's history (glibc raises
its thresholds only after an mmapped block of that size is freed), so the same step ran 19 or 25 ms.

:func:`keep_freed_blocks` sets the two thresholds once, at the first NumPy fit with fast paths on,
to the values glibc's own adjustment reaches after freeing one 32 MiB block (``M_MMAP_THRESHOLD``
32 MiB, the most it ever moves to on 64-bit; ``M_TRIM_THRESHOLD`` twice that): blocks below 32 MiB
come from the heap, and up to 64 MiB of freed heap is kept for reuse.  It does nothing elsewhere
than glibc, and leaves a process alone whose allocator the user has tuned (``MALLOC_*_`` or
``GLIBC_TUNABLES`` in the environment).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (<malloc.h>)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
USER_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def _glibc_mallopt():
    """glibc's ``mallopt`` (``int mallopt(int, int)``), or ``None`` off glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):  # glibc's own symbol: musl lacks it
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


@functools.lru_cache(maxsize=1)
def keep_freed_blocks() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); ``True`` if they were set.

    ``False`` off glibc and when the environment already sets the allocator's thresholds."""
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    # (the trim threshold first: setting either one ends glibc's own adjustment of both)
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)) & bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
