"""The C allocator's policy in sweep workers: keep freed memory for reuse.

A streamed sweep point allocates and frees the same MiB-sized temporaries (stages, dense outputs,
n x n statistics) thousands of times. glibc's malloc serves blocks above its mmap threshold
(dynamic, from 128 KiB) with fresh mapped pages, and returns the top of its heap to the system
beyond its trim threshold, so each step pays page faults on memory it has just released.
``keep_freed_memory`` sets the mmap threshold to 32 MiB (glibc's ceiling on 64-bit), the trim
threshold to 256 MiB and the top pad to 64 MiB. Measured on a 512-seed d = 32 point (n = 32,
T = 30, 201 output times, float64, one thread, two rounds): 5.1-5.4 s CPU instead of 5.8-5.9 s,
peak RSS 461-481 MiB instead of 460-462 MiB; the mmap threshold alone made it slower (7.4-8.3 s),
the trim threshold and pad alone changed nothing measurable.
"""

from __future__ import annotations

import ctypes
import functools
import platform

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
"""glibc's ``mallopt`` parameters (malloc.h)."""

SETTINGS = {M_MMAP_THRESHOLD: 32 * 2**20, M_TRIM_THRESHOLD: 256 * 2**20, M_TOP_PAD: 64 * 2**20}


@functools.cache
def keep_freed_memory() -> bool:
    """Apply ``SETTINGS`` with glibc's ``mallopt`` for the rest of the process (once: later calls
    return the first answer); False (nothing changed) where the C library is not glibc or refuses
    a setting."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
