"""Imports of packages that come with one of attnflow's optional extras."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str, what: str, extra: str) -> ModuleType:
    """Import ``name``, which the extra ``extra`` installs, or raise RuntimeError saying that
    ``what`` needs it and how to install the extra."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise RuntimeError(
            f"{what} needs the package {name.split('.')[0]!r}, which is not installed; "
            f'install the extra: pip install -e ".[{extra}]"'
        ) from error
