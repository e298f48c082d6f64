"""Writing a run's output directory whole or not at all.

A run writes into a fresh staging directory beside its output directory (same parent, so same file
system). When the run has finished, ``staged_run`` swaps the staging directory in for the output
directory in one step: ``renameat2(RENAME_EXCHANGE)`` on Linux, so the output directory holds
exactly the previous run or exactly the new one at every instant; elsewhere two renames with
signals held between them. The previous run is then deleted. So an output directory always
describes one run, and a run that fails or is interrupted leaves the previous run as it was, no
staging directory, and no parent directories created for it.

An output directory may be new, empty, or a previous run (it holds ``metrics.json`` and
``config.json``); anything else is refused before any work, so a run never deletes a user's files.
A staging directory holds a lock while its run is alive; staging directories whose run died
(killed, power loss) are deleted by the next run into the same parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import math
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from scenarios.harness.config import ConfigError

STAGING_PREFIX = ".staging-"
"""Staging directories are named ``.staging-<output name>-<random>`` next to the output dir."""

LOCK_FILE = ".lock"
"""The file inside a staging directory that its live run holds locked."""

RUN_FILES = ("metrics.json", "config.json")
"""A directory holding both is a previous run, which a new run may replace."""

STALE_AFTER_S = 60.0
"""A staging directory without a lock file (one being created, or left by a killed commit) is
stale once it is this old."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_RENAMEAT2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


@contextlib.contextmanager
def staged_run(out_dir: Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success swap it in for ``out_dir`` (module doc).

    Raises ConfigError before yielding when ``out_dir`` cannot be a run's output: an existing
    file, a non-empty directory that is not a previous run, or a parent where nothing can be
    written. On any exception (``KeyboardInterrupt`` included) the staging directory is removed,
    together with whatever parent directories were created for it, and the exception propagates.
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    created = _make_parents(out_dir.parent)
    staging: Path | None = None
    try:
        remove_stale_staging(out_dir.parent)
        staging = _new_staging(out_dir)
        with _locked(staging):
            yield staging
        _swap_in(staging, out_dir)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise


@contextlib.contextmanager
def staged_files(directory: Path) -> Iterator[Path]:
    """Yield an empty staging directory inside ``directory``; on success move each of its files
    into ``directory`` with ``os.replace`` (atomic per file), keeping the directory's other files.
    For adding files to a directory that is not a run's output (a sweep's plots)."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
    try:
        yield staging
        for source in sorted(path for path in staging.iterdir() if path.is_file()):
            os.replace(source, Path(directory) / source.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_output_dir(out_dir: Path) -> None:
    """Refuse an output path a run must not write (ConfigError naming it and why)."""
    if str(out_dir) in ("", "."):
        raise ConfigError(
            f"--out {str(out_dir)!r} is not accepted; expected a directory for this run's files, "
            "e.g. --out runs/clustering"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {str(out_dir)!r} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_run_dir(out_dir):
        raise ConfigError(
            f"--out {str(out_dir)!r} is a non-empty directory that is not an attnflow run (no "
            f"{' and '.join(RUN_FILES)}); a run replaces its output directory whole, so choose a "
            "new or empty directory"
        )
    parent = check_parent_dir(out_dir)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"--out {str(out_dir)!r}: the run is staged beside it and swapped in, but "
            f"{str(parent)!r} is not writable; choose an output directory in a writable place"
        )


def check_parent_dir(out_dir: Path) -> Path:
    """The deepest existing ancestor of ``out_dir``'s parent; ConfigError if it is a file (no
    directory can be made below it)."""
    parent = _existing_ancestor(Path(out_dir).parent)
    if not parent.is_dir():
        raise ConfigError(
            f"--out {str(out_dir)!r} is below {str(parent)!r}, which is a file, not a directory; "
            "choose an output directory elsewhere"
        )
    return parent


def is_run_dir(directory: Path) -> bool:
    """Whether ``directory`` holds a previous run's ``metrics.json`` and ``config.json``."""
    return all((Path(directory) / name).is_file() for name in RUN_FILES)


def remove_stale_staging(parent: Path) -> list[Path]:
    """Delete the staging directories in ``parent`` whose run is dead: their lock is free, or
    they have no lock file and are older than ``STALE_AFTER_S``. Returns those deleted."""
    removed = []
    for staging in sorted(Path(parent).glob(f"{STAGING_PREFIX}*")):
        if staging.is_dir() and _is_stale(staging):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def _is_stale(staging: Path) -> bool:
    try:
        handle = os.open(staging / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - staging.stat().st_mtime > STALE_AFTER_S
        except FileNotFoundError:
            return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(handle)
    return True


def _new_staging(out_dir: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-", dir=out_dir.parent))


@contextlib.contextmanager
def _locked(staging: Path) -> Iterator[None]:
    """Hold ``staging/.lock`` locked while the run writes; remove it before the swap."""
    lock = staging / LOCK_FILE
    handle = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
        lock.unlink()
    finally:
        os.close(handle)


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Make ``staging`` the output directory in one step and delete the previous run."""
    staging.chmod(0o777 & ~current_umask())
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    if not _exchange(staging, out_dir):
        previous = _new_staging(out_dir)
        with _signals_held():
            os.rename(out_dir, previous / out_dir.name)
            os.rename(staging, out_dir)
        staging = previous
    shutil.rmtree(staging, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    if _RENAMEAT2 is None:
        return False
    done = _RENAMEAT2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends (they are delivered then)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _existing_ancestor(directory: Path) -> Path:
    current = directory.absolute()
    while not current.exists():
        current = current.parent
    return current


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and missing ancestors; return those created, deepest first."""
    missing = []
    current = directory.absolute()
    while not current.exists():
        missing.append(current)
        current = current.parent
    directory.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(directories: list[Path]) -> None:
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


def jsonable(value: object) -> object:
    """``value`` with tuples as lists, paths as strings and non-finite floats as ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as indented, strictly valid JSON (``NaN``/``inf`` become ``null``)."""
    text = json.dumps(jsonable(data), indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
    return Path(path)
