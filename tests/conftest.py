"""Shared fixtures and settings."""

from __future__ import annotations

import pytest
import torch

# Every problem in the suite is small. Two OpenMP threads on tiny kernels gain nothing and, on a
# shared 2-core machine with another busy process, make each operation wait for a descheduled
# thread (measured: a 5 s scenario run took 190 s), so the suite runs on one thread.
torch.set_num_threads(1)


@pytest.fixture
def generator() -> torch.Generator:
    """A seeded generator: every random test input is reproducible."""
    return torch.Generator().manual_seed(1234)
