"""Where a sweep's points are solved: a local process pool, or a Dask cluster.

A backend is opened before any point is written (``open_backend``, a context manager; for Dask this
is where the scheduler is reached) and yields a function ``run(solve, tasks)`` that calls the
picklable, module-level ``solve`` on every task and yields the results in the order they finish.

- ``local`` (default): a pool of ``workers`` processes (default: one per CPU core); each ignores
  SIGINT, so that Ctrl-C reaches the sweep, which then terminates them. On Linux the workers are
  forked from the sweep process, sharing its imported modules: a worker starts in milliseconds,
  where a fresh interpreter spends seconds importing torch (measured: 10-25 s on a loaded 2-core
  machine). This is safe because the sweep process runs no torch work before the pool starts, and
  a worker sets torch to one thread before its first operation, so it never enters an inherited
  OpenMP pool. Points on a GPU (``gpu=True``) are spawned instead: checking a config's device
  calls ``torch.cuda.is_available()``, which initialises the CUDA driver in the sweep process,
  and a child forked after that cannot use CUDA (torch's "poison fork"). Elsewhere (macOS,
  Windows) the workers are spawned. With one worker the points run in this process, with torch
  on one thread for the duration.
- ``dask``: a ``dask.distributed.Client`` on ``address``, or, with no address, on a ``LocalCluster``
  of ``workers`` single-threaded worker processes started for the sweep and closed after it. Needs
  the ``distributed`` extra (``pip install 'attnflow[distributed]'``) here and, for a remote
  cluster, ``attnflow`` installed on every worker.

Each worker runs torch on one thread (``solve`` sets it): the parallelism is across points, and one
thread per worker keeps the floating-point work of a point the same on every backend.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from scenarios.harness.checks import did_you_mean
from scenarios.harness.config import ConfigError
from solvers.threads import torch_threads

BACKENDS = ("local", "dask")
"""The backends ``attnflow sweep --backend`` accepts."""

Task = TypeVar("Task")
Result = TypeVar("Result")
Runner = Callable[[Callable[[Task], Result], Sequence[Task]], Iterator[Result]]


def default_workers() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_backend(backend: str, workers: int | None, address: str | None) -> None:
    """Refuse (ConfigError, one line) a backend, worker count or address that cannot work."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"--backend {backend!r} is not accepted{did_you_mean(backend, BACKENDS)}; "
            f"choose one of {', '.join(BACKENDS)}"
        )
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers} is not accepted; expected an integer >= 1")
    if address is not None and backend != "dask":
        raise ConfigError(
            f"--address {address!r} applies to --backend dask only (the backend is {backend!r})"
        )
    if address is not None and not address.strip():
        raise ConfigError(
            "--address '' is not accepted; expected a scheduler address, e.g. tcp://127.0.0.1:8786"
        )
    if backend == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ConfigError(
                "--backend dask needs dask.distributed, which is not installed: "
                "pip install 'attnflow[distributed]'"
            ) from None


@contextmanager
def open_backend(
    backend: str, workers: int | None, address: str | None, *, gpu: bool = False
) -> Iterator[Runner]:
    """Open ``backend`` (see the module docstring) and yield its ``run(solve, tasks)``; ``gpu``:
    the tasks run on a GPU (a local pool then spawns its workers)."""
    check_backend(backend, workers, address)
    count = default_workers() if workers is None else workers
    if backend == "local":
        method = "fork" if sys.platform == "linux" and not gpu else "spawn"
        yield lambda solve, tasks: _run_local(solve, tasks, count, method)
        return
    with _dask_client(count, address) as client:
        yield lambda solve, tasks: _run_dask(client, solve, tasks)


def _worker_signals() -> None:
    """A pool worker ignores Ctrl-C (the parent stops the pool) and ends quietly on SIGTERM or
    SIGHUP (the default action, not the handlers a forked worker inherits from the command)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _run_local(solve: Callable, tasks: Sequence, workers: int, method: str) -> Iterator:
    workers = min(workers, len(tasks))
    if workers <= 1:
        with torch_threads(1):
            for task in tasks:
                yield solve(task)
        return
    pool = multiprocessing.get_context(method).Pool(workers, initializer=_worker_signals)
    try:
        yield from pool.imap_unordered(solve, tasks)
        pool.close()
    except BaseException:  # an error, an interrupt, or the consumer stopped: stop the workers
        pool.terminate()
        raise
    finally:
        pool.join()


@contextmanager
def _dask_client(workers: int, address: str | None) -> Iterator:
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address is None:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster if cluster is not None else address, timeout="10s")
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        where = "a local Dask cluster" if address is None else f"the Dask scheduler at {address!r}"
        raise ConfigError(f"cannot reach {where}: {error}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_dask(client, solve: Callable, tasks: Sequence) -> Iterator:
    from distributed import as_completed

    futures = client.map(solve, list(tasks), pure=False)
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)
