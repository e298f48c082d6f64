"""How many CPU threads torch uses: the one policy of the library, read by the scenario runner
and by ``solve_ensemble``.

Small problems run on one thread: their kernels take microseconds, a second OpenMP thread only
adds a wait for it, and on a busy machine that wait is a scheduler time slice per operation
(measured on a shared 2-core machine: a 5 s run took 190 s with two threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

SMALL_WORK = 1 << 16
"""Problems whose largest kernel has at most this many entries run single-threaded by default."""


def thread_count(requested: int, work: int) -> int | None:
    """``requested`` threads if > 0; else 1 when ``work`` <= ``SMALL_WORK``, None (torch's
    default) otherwise."""
    if requested:
        return requested
    return 1 if work <= SMALL_WORK else None


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(count)`` (None: unchanged), then restore."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
