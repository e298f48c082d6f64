"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def generator() -> torch.Generator:
    """A seeded generator: every random test input is reproducible."""
    return torch.Generator().manual_seed(1234)
