"""Fixtures for the scenario tests."""

from __future__ import annotations

import pytest

from scenarios.clustering import ClusteringConfig
from tests.scenarios.helpers import TINY


@pytest.fixture
def tiny_config() -> ClusteringConfig:
    """The ``TINY`` clustering config."""
    return ClusteringConfig(**TINY)
