"""Progress bars for long runs: shown on a terminal, silent in logs, pipes and tests."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def progress(iterable: Iterable, *, desc: str, total: int | None = None) -> tqdm:
    """Wrap ``iterable`` in a tqdm bar on stderr, disabled when stderr is not a terminal."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        disable=not sys.stderr.isatty(),
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
    )
