"""The scenarios the command knows: every subpackage of ``scenarios`` that declares ``SCENARIO``.

Adding a scenario is adding its subpackage; nothing here names it.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from scenarios.harness.checks import did_you_mean
from scenarios.harness.config import ConfigError
from scenarios.harness.scenario import Scenario

SCENARIOS_DIR = Path(__file__).resolve().parent.parent
"""The ``scenarios`` package directory, whose subpackages are searched."""


@cache
def all_scenarios() -> dict[str, Scenario]:
    """name -> Scenario for every scenario subpackage, in alphabetical order."""
    found = {}
    for module in pkgutil.iter_modules([str(SCENARIOS_DIR)]):
        if not module.ispkg:
            continue
        declared = getattr(importlib.import_module(f"scenarios.{module.name}"), "SCENARIO", None)
        if isinstance(declared, Scenario):
            found[declared.name] = declared
    return dict(sorted(found.items()))


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``, or ConfigError naming the known ones."""
    known = all_scenarios()
    if name not in known:
        raise ConfigError(
            f"unknown scenario {name!r}{did_you_mean(name, list(known))}; "
            f"available: {', '.join(known)}"
        )
    return known[name]
