"""Writing a run's files all at once or not at all.

A run writes into a fresh staging directory beside its output directory; only when it has finished
does ``staged_output`` move each file into place with ``os.replace`` (atomic per file, since staging
and output share a parent). A run that fails or is interrupted leaves neither the staging directory
nor any file in the output directory, nor the output directory or its parents if they were created
for it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

STAGING_PREFIX = ".staging-"
"""Staging directories are named ``.staging-<output name>-<random>`` next to the output dir."""


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success move its files into ``out_dir``.

    Files already in ``out_dir`` whose names the run does not write are left as they are. On any
    exception (including ``KeyboardInterrupt``) the staging directory is removed, together with
    whatever parent directories were created for it, and the exception propagates.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output path {str(out_dir)!r} exists and is not a directory")
    created = _make_parents(out_dir.parent)
    staging: Path | None = None
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-", dir=out_dir.parent)
        )
        yield staging
        _commit(staging, out_dir)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise


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


def _commit(staging: Path, out_dir: Path) -> None:
    """Move every file of ``staging`` (recursively) into ``out_dir``, then remove ``staging``."""
    out_dir.mkdir(exist_ok=True)
    for source in sorted(path for path in staging.rglob("*") if path.is_file()):
        target = out_dir / source.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    shutil.rmtree(staging)


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
